//! The memory-ordering protocol of split and packed rings, in one place (VirtIO 1.x 2.7.13
//! "Supplying Buffers to The Device", 2.7.14 "Receiving Used Buffers", 2.7.10 "Used Buffer
//! Notification Suppression", 2.7.7/2.7.13.4 "Notifying the device"; for packed rings
//! 2.8.21 "Supplying Buffers", 2.8.22 "Receiving Used Buffers", 2.8.10 "Event
//! Suppression"; and 6 `VIRTIO_F_ORDER_PLATFORM`).
//!
//! Ring indices and flags are 16-bit atomics accessed *relaxed*; the ordering comes from
//! explicit fences, exactly where the specification puts its memory barriers:
//!
//! | step | who | rule | here |
//! |---|---|---|---|
//! | descriptors and avail entry written before `avail.idx` | driver | 2.7.13.3 | [`publish`]: release fence, then store |
//! | `avail.idx` read before the entries it covers | device | 2.7.13.3 | [`observe`]: load, then acquire fence |
//! | used element and buffers written before `used.idx` | device | 2.7.14 | [`publish`] |
//! | `used.idx` read before the used elements | driver | 2.7.14 | [`observe`] |
//! | index published before reading the peer's suppression (`avail_event` / `used.flags`, `used_event` / `avail.flags`) | both | 2.7.13.4, 2.7.10 | [`load_after_publish`]: full fence, then load |
//! | event/flag written before re-checking the peer's index (no lost wake-up) | both | 2.7.10 | [`store_then_load`]: store, full fence, load |
//! | packed: a chain's other descriptors (and the later chains of a batch) written before the `flags` of its first descriptor | driver | 2.8.21.2 | [`publish`] on that flags word |
//! | packed: the first descriptor's `flags` read before the chain's other fields and descriptors | device | 2.8.21.2 | [`observe`] on that flags word |
//! | packed: a used descriptor's `id`, `len` and the buffers written before its `flags` | device | 2.8.22 | [`publish`] on the flags word |
//! | packed: a used descriptor's `flags` read before its `id` and `len` | driver | 2.8.22 | [`observe`] |
//! | packed: flags published before reading the peer's event suppression structure | both | 2.8.10 | [`load_after_publish`] |
//! | packed: own event suppression (`off_wrap` then `flags`) written before re-checking the descriptor at the next position | both | 2.8.10 | [`store_then_load`] |
//!
//! In a packed ring the *flags word of a descriptor* is the publication point that the
//! index is in a split ring: the flags of the first descriptor of a chain (or of the first
//! used descriptor of a batch) are stored last, after a release fence, and read first,
//! followed by an acquire fence.
//!
//! With `VIRTIO_F_ORDER_PLATFORM` negotiated ([`Barriers::Platform`]) every fence is a
//! sequentially consistent fence followed by the platform's strongest barrier (`dmb sy` on
//! AArch64, `fence iorw, iorw` on RISC-V), as the device may be a real device behind the
//! memory system rather than another CPU; on x86 (TSO, coherent DMA) the acquire and
//! release steps stay compiler-only fences and only the full fences are locked
//! instructions. Otherwise ([`Barriers::Smp`]) the CPU-to-CPU fences above are used: on x86
//! only [`load_after_publish`] and [`store_then_load`] (the notification paths) emit an
//! instruction, never the pop / add-used hot path.
//!
//! The functions are generic over [`IndexCell`] so that `tests/loom.rs` model-checks this
//! very code with loom atomics.

use crate::sync::{fence, Ordering};

/// A 16-bit ring field (an index, flags or an event field), accessed relaxed.
pub trait IndexCell {
    /// Relaxed load.
    fn load(&self) -> u16;
    /// Relaxed store.
    fn store(&self, value: u16);
}

/// Which barriers the ring needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Barriers {
    /// CPU-to-CPU (SMP) ordering: the peer is software on another core.
    Smp,
    /// `VIRTIO_F_ORDER_PLATFORM`: the peer may be hardware; platform barriers too.
    Platform,
}

impl Barriers {
    /// [`Barriers::Platform`] when `ORDER_PLATFORM` is negotiated, else [`Barriers::Smp`].
    pub fn for_features(features: crate::Features) -> Barriers {
        if features.contains(crate::Features::ORDER_PLATFORM) {
            Barriers::Platform
        } else {
            Barriers::Smp
        }
    }
}

/// x86 is TSO for the device too (DMA to write-back memory is snooped and ordered like
/// another core's accesses): its acquire and release fences need no instruction even under
/// `ORDER_PLATFORM`, only the full (store → load) fence does, as in Linux's `dma_rmb` /
/// `dma_wmb` (compiler barriers) and `mb` on x86.
const TSO: bool = cfg!(any(target_arch = "x86", target_arch = "x86_64"));

#[inline]
fn barrier(b: Barriers, order: Ordering) {
    match b {
        Barriers::Smp => fence(order),
        Barriers::Platform if TSO && order != Ordering::SeqCst => fence(order),
        Barriers::Platform => {
            fence(Ordering::SeqCst);
            platform_barrier();
        }
    }
}

#[cfg(all(target_arch = "aarch64", not(miri), not(loom)))]
#[allow(unsafe_code)]
#[inline]
fn platform_barrier() {
    // SAFETY: `dmb sy` is a full-system memory barrier; it touches no memory or registers.
    unsafe { core::arch::asm!("dmb sy", options(nostack, preserves_flags)) };
}

#[cfg(all(target_arch = "riscv64", not(miri), not(loom)))]
#[allow(unsafe_code)]
#[inline]
fn platform_barrier() {
    // SAFETY: `fence iorw, iorw` orders all memory and I/O accesses; no other effect.
    unsafe { core::arch::asm!("fence iorw, iorw", options(nostack, preserves_flags)) };
}

#[cfg(not(all(
    any(target_arch = "aarch64", target_arch = "riscv64"),
    not(miri),
    not(loom)
)))]
#[inline]
fn platform_barrier() {
    // x86 (TSO, locked instructions order I/O too) and other targets: the SeqCst fence
    // already emitted is the platform barrier.
}

/// Make everything written before visible, then store `value` into `cell` (publishing
/// `avail.idx` or `used.idx`).
#[inline]
pub fn publish<C: IndexCell + ?Sized>(b: Barriers, cell: &C, value: u16) {
    barrier(b, Ordering::Release);
    cell.store(value);
}

/// Load `cell` (the peer's `avail.idx` or `used.idx`); everything the peer wrote before
/// publishing it is visible afterwards.
#[inline]
pub fn observe<C: IndexCell + ?Sized>(b: Barriers, cell: &C) -> u16 {
    let v = cell.load();
    barrier(b, Ordering::Acquire);
    v
}

/// After publishing an index, read the peer's suppression field (its event index or
/// flags) with a full fence in between, so that the peer either sees the new index or
/// this side sees its up-to-date request for a notification.
#[inline]
pub fn load_after_publish<C: IndexCell + ?Sized>(b: Barriers, cell: &C) -> u16 {
    barrier(b, Ordering::SeqCst);
    cell.load()
}

/// Write this side's event/flag field, full fence, then re-read the peer's index: the
/// other half of [`load_after_publish`] (no lost wake-up).
#[inline]
pub fn store_then_load<S: IndexCell + ?Sized, L: IndexCell + ?Sized>(
    b: Barriers,
    store: &S,
    value: u16,
    load: &L,
) -> u16 {
    store.store(value);
    barrier(b, Ordering::SeqCst);
    let v = load.load();
    barrier(b, Ordering::Acquire);
    v
}

/// A little-endian 16-bit field of a ring in shared memory.
#[derive(Clone, Copy)]
pub(crate) struct RingU16<'a>(pub(crate) &'a core::sync::atomic::AtomicU16);

impl IndexCell for RingU16<'_> {
    #[inline]
    fn load(&self) -> u16 {
        u16::from_le(self.0.load(core::sync::atomic::Ordering::Relaxed))
    }
    #[inline]
    fn store(&self, value: u16) {
        self.0
            .store(value.to_le(), core::sync::atomic::Ordering::Relaxed)
    }
}
