//! The memory the peer can reach: address translation and a bounds-checked volatile view.
//!
//! The peer names memory by *peer addresses* (guest-physical, bus or IOVA addresses). A
//! [`SharedMemory`] translates a peer range `(addr, len)` into a [`VolatileSlice`] — a
//! bounds-checked view that is only ever accessed through volatile copies and atomics,
//! never through `&[u8]`/`&mut [u8]`, because the peer may change it at any time.
//!
//! Implementations provided: [`MemoryRegion`] (one region at a base address — the offset
//! translation, and with [`MemoryRegion::identity`] the identity one) and
//! [`MultiRegion`] (several regions, e.g. the guest memory table of a vhost-user
//! backend). Integrators with their own translation (an IOMMU, a hypervisor's page
//! table) implement [`SharedMemory`] themselves.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::AtomicU16;

use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::sync::Ordering;
use crate::Error;

/// A bounds-checked view of `len` bytes of shared memory, valid for `'a`.
///
/// All accesses are volatile (payload, descriptors) or atomic (ring indices and flags):
/// the compiler never assumes the bytes stay the same between two reads, and no Rust
/// reference to the bytes is ever created. Control values are read once by the caller
/// into private memory.
#[derive(Clone, Copy)]
pub struct VolatileSlice<'a> {
    ptr: *mut u8,
    len: usize,
    _life: PhantomData<&'a UnsafeCell<[u8]>>,
}

// SAFETY: a `VolatileSlice` is a view of memory shared with another party anyway; every
// access is volatile or atomic, so moving or sharing the view between threads adds no
// data race the peer could not already cause, and no reference to the bytes is handed out.
unsafe impl Send for VolatileSlice<'_> {}
// SAFETY: as for `Send`.
unsafe impl Sync for VolatileSlice<'_> {}

impl core::fmt::Debug for VolatileSlice<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VolatileSlice")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .finish()
    }
}

impl<'a> VolatileSlice<'a> {
    /// A view of `len` bytes at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be valid for reads and writes for all of `'a`, and during
    /// `'a` this process must access those bytes only through volatile or atomic
    /// operations (such as those of this type), never through Rust references.
    pub unsafe fn from_raw_parts(ptr: *mut u8, len: usize) -> Self {
        VolatileSlice {
            ptr,
            len,
            _life: PhantomData,
        }
    }

    /// A view of a private, exclusively borrowed buffer (for tests and for memory the
    /// integrator owns and shares).
    pub fn from_mut_slice(buf: &'a mut [u8]) -> Self {
        // SAFETY: the exclusive borrow lasts for 'a, so nothing else in this process
        // accesses the bytes except through views derived from this one.
        unsafe { Self::from_raw_parts(buf.as_mut_ptr(), buf.len()) }
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The host address of the first byte (for alignment checks and diagnostics).
    pub fn host_addr(&self) -> usize {
        self.ptr.addr()
    }

    #[inline]
    fn check(&self, offset: usize, len: usize) -> Result<(), Error> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::SliceBounds {
                offset,
                len,
                slice_len: self.len,
            }),
        }
    }

    /// The sub-view `offset..offset + len`.
    #[inline]
    pub fn subslice(&self, offset: usize, len: usize) -> Result<VolatileSlice<'a>, Error> {
        self.check(offset, len)?;
        // SAFETY: offset + len <= self.len (checked), so the new view is inside this one
        // and inherits its validity and access rules.
        Ok(unsafe { Self::from_raw_parts(self.ptr.add(offset), len) })
    }

    /// Copy `dst.len()` bytes starting at `offset` into private memory.
    #[inline]
    pub fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<(), Error> {
        self.check(offset, dst.len())?;
        // SAFETY: the range is inside the view (checked above).
        unsafe { volatile_read(self.ptr.add(offset), dst) };
        Ok(())
    }

    /// Copy `src` into the view starting at `offset`.
    #[inline]
    pub fn write_from(&self, offset: usize, src: &[u8]) -> Result<(), Error> {
        self.check(offset, src.len())?;
        // SAFETY: the range is inside the view (checked above).
        unsafe { volatile_write(self.ptr.add(offset), src) };
        Ok(())
    }

    /// Fill `len` bytes at `offset` with `byte`.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<(), Error> {
        self.check(offset, len)?;
        for i in 0..len {
            // SAFETY: offset + i < offset + len <= self.len.
            unsafe { ptr::write_volatile(self.ptr.add(offset + i), byte) };
        }
        Ok(())
    }

    /// Read one plain-data value (a snapshot: the copy is private afterwards).
    #[inline]
    pub fn read_obj<T: FromBytes + IntoBytes>(&self, offset: usize) -> Result<T, Error> {
        let mut v = T::new_zeroed();
        self.read_into(offset, v.as_mut_bytes())?;
        Ok(v)
    }

    /// Write one plain-data value.
    #[inline]
    pub fn write_obj<T: IntoBytes + Immutable>(&self, offset: usize, v: &T) -> Result<(), Error> {
        self.write_from(offset, v.as_bytes())
    }

    /// One volatile load of a little-endian `u16`/`u32`/`u64` at `offset` when it is
    /// naturally aligned in host memory (bytewise otherwise): the fast path for ring and
    /// descriptor fields.
    #[inline]
    pub fn read_u16(&self, offset: usize) -> Result<u16, Error> {
        self.check(offset, 2)?;
        // SAFETY: in bounds (checked); the pointer is only dereferenced when aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(2) {
                return Ok(u16::from_le(ptr::read_volatile(p.cast::<u16>())));
            }
        }
        let mut b = [0u8; 2];
        self.read_into(offset, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// See [`VolatileSlice::read_u16`].
    #[inline]
    pub fn read_u32(&self, offset: usize) -> Result<u32, Error> {
        self.check(offset, 4)?;
        // SAFETY: in bounds (checked); the pointer is only dereferenced when aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(4) {
                return Ok(u32::from_le(ptr::read_volatile(p.cast::<u32>())));
            }
        }
        let mut b = [0u8; 4];
        self.read_into(offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// See [`VolatileSlice::read_u16`].
    #[inline]
    pub fn read_u64(&self, offset: usize) -> Result<u64, Error> {
        self.check(offset, 8)?;
        // SAFETY: in bounds (checked); the pointer is only dereferenced when aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(8) {
                return Ok(u64::from_le(ptr::read_volatile(p.cast::<u64>())));
            }
        }
        let mut b = [0u8; 8];
        self.read_into(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Two little-endian `u64`s at `offset` and `offset + 8` (a descriptor), with one
    /// bounds check and, when 8-aligned in host memory, two single volatile loads.
    #[inline]
    pub fn read_u64_pair(&self, offset: usize) -> Result<(u64, u64), Error> {
        self.check(offset, 16)?;
        // SAFETY: offset + 16 <= len (checked); the pointers are only dereferenced as
        // `u64` when 8-aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(8) {
                let lo = ptr::read_volatile(p.cast::<u64>());
                let hi = ptr::read_volatile(p.add(8).cast::<u64>());
                return Ok((u64::from_le(lo), u64::from_le(hi)));
            }
        }
        let mut b = [0u8; 16];
        self.read_into(offset, &mut b)?;
        let (lo, hi) = b.split_at(8);
        let word = |h: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(h);
            u64::from_le_bytes(w)
        };
        Ok((word(lo), word(hi)))
    }

    /// Two little-endian `u32`s at `offset` and `offset + 4` (a used element): one
    /// 8-byte volatile store when 8-aligned in host memory, two 4-byte stores when
    /// 4-aligned, bytewise otherwise.
    #[inline]
    pub fn write_u32_pair(&self, offset: usize, first: u32, second: u32) -> Result<(), Error> {
        self.check(offset, 8)?;
        // SAFETY: offset + 8 <= len (checked); each pointer is dereferenced only with the
        // alignment of the type it is cast to.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(8) {
                let v = u64::from(first) | u64::from(second) << 32;
                ptr::write_volatile(p.cast::<u64>(), v.to_le());
                return Ok(());
            }
            if p.addr().is_multiple_of(4) {
                ptr::write_volatile(p.cast::<u32>(), first.to_le());
                ptr::write_volatile(p.add(4).cast::<u32>(), second.to_le());
                return Ok(());
            }
        }
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&first.to_le_bytes());
        b[4..].copy_from_slice(&second.to_le_bytes());
        self.write_from(offset, &b)
    }

    /// One volatile store of a little-endian `u64` when aligned (bytewise otherwise).
    #[inline]
    pub fn write_u64(&self, offset: usize, value: u64) -> Result<(), Error> {
        self.check(offset, 8)?;
        // SAFETY: in bounds (checked); the pointer is only dereferenced when aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(8) {
                ptr::write_volatile(p.cast::<u64>(), value.to_le());
                return Ok(());
            }
        }
        self.write_from(offset, &value.to_le_bytes())
    }

    /// The 16-bit field at `offset` as an atomic (must be 2-aligned in host memory).
    #[inline]
    pub(crate) fn atomic_u16(&self, offset: usize) -> Result<&'a AtomicU16, Error> {
        self.check(offset, 2)?;
        // SAFETY: in bounds (checked).
        let p = unsafe { self.ptr.add(offset) };
        if !p.addr().is_multiple_of(2) {
            return Err(Error::Misaligned {
                part: "16-bit ring field",
                addr: p.addr() as u64,
                align: 2,
            });
        }
        // SAFETY: `p` is in bounds, 2-aligned, valid for 'a, and accessed by this process
        // only through volatile/atomic operations (the `from_raw_parts` contract), so
        // treating it as an `AtomicU16` for the duration of the borrow is sound.
        Ok(unsafe { AtomicU16::from_ptr(p.cast::<u16>()) })
    }

    /// Atomically load a little-endian `u16` (ring `idx`, `flags`, event fields). The
    /// ordering is given by the fences of [`crate::ordering`]; the load itself is relaxed.
    pub fn load_u16(&self, offset: usize) -> Result<u16, Error> {
        Ok(u16::from_le(
            self.atomic_u16(offset)?.load(Ordering::Relaxed),
        ))
    }

    /// Atomically store a little-endian `u16` (relaxed; see [`crate::ordering`]).
    pub fn store_u16(&self, offset: usize, value: u16) -> Result<(), Error> {
        self.atomic_u16(offset)?
            .store(value.to_le(), Ordering::Relaxed);
        Ok(())
    }
}

/// A [`VolatileSlice`] of at most 4 GiB in 12 bytes (a descriptor buffer), so that a
/// chain of them stays small enough to move cheaply.
#[derive(Clone, Copy)]
pub(crate) struct CompactSlice<'a> {
    ptr: *mut u8,
    len: u32,
    _life: PhantomData<&'a UnsafeCell<[u8]>>,
}

// SAFETY: as for `VolatileSlice`, which this is a compressed form of.
unsafe impl Send for CompactSlice<'_> {}
// SAFETY: as for `VolatileSlice`.
unsafe impl Sync for CompactSlice<'_> {}

impl<'a> CompactSlice<'a> {
    /// Compress `v`, whose length must fit in 32 bits.
    #[inline]
    pub(crate) fn new(v: VolatileSlice<'a>) -> Option<Self> {
        Some(CompactSlice {
            ptr: v.ptr,
            len: u32::try_from(v.len).ok()?,
            _life: PhantomData,
        })
    }

    #[inline]
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// The full view again.
    #[inline]
    pub(crate) fn expand(self) -> VolatileSlice<'a> {
        // SAFETY: `ptr`/`len` come from a `VolatileSlice<'a>` (see `new`), so they satisfy
        // its contract for 'a.
        unsafe { VolatileSlice::from_raw_parts(self.ptr, self.len as usize) }
    }
}

/// `count` slots of `STRIDE` bytes inside a [`VolatileSlice`] (the element array of a
/// ring part), bounds-checked once at construction. Slot `i` is slot `i mod count`
/// (`count` is a power of two), so no access needs another bounds check.
#[derive(Clone, Copy)]
pub(crate) struct Slots<'a, const STRIDE: usize> {
    base: *mut u8,
    mask: usize,
    /// The first slot is 8-aligned in host memory (so is every slot when `STRIDE` is a
    /// multiple of 8).
    aligned8: bool,
    _life: PhantomData<&'a UnsafeCell<[u8]>>,
}

// SAFETY: as for `VolatileSlice`, of which this is a checked part.
unsafe impl<const STRIDE: usize> Send for Slots<'_, STRIDE> {}
// SAFETY: as for `VolatileSlice`.
unsafe impl<const STRIDE: usize> Sync for Slots<'_, STRIDE> {}

impl<'a, const STRIDE: usize> Slots<'a, STRIDE> {
    /// `count` slots starting at `offset` of `view`. Fails when `count` is not a power of
    /// two, the slots do not fit in `view`, or the first slot is not aligned in host
    /// memory to `min(STRIDE, 4)` bytes.
    pub(crate) fn new(view: &VolatileSlice<'a>, offset: usize, count: u16) -> Result<Self, Error> {
        let bytes = STRIDE * usize::from(count);
        if !count.is_power_of_two() {
            return Err(Error::SliceBounds {
                offset,
                len: bytes,
                slice_len: view.len,
            });
        }
        let part = view.subslice(offset, bytes)?;
        let align = STRIDE.min(4);
        if !part.ptr.addr().is_multiple_of(align) {
            return Err(Error::Misaligned {
                part: "ring slots",
                addr: part.ptr.addr() as u64,
                align: align as u64,
            });
        }
        Ok(Slots {
            base: part.ptr,
            mask: usize::from(count) - 1,
            aligned8: part.ptr.addr().is_multiple_of(8),
            _life: PhantomData,
        })
    }

    /// The first byte of slot `i mod count`.
    #[inline(always)]
    fn slot(&self, i: u16) -> *mut u8 {
        // SAFETY: (i & mask) < count, so the slot's STRIDE bytes lie inside the
        // count * STRIDE bytes checked in `new`.
        unsafe { self.base.add((usize::from(i) & self.mask) * STRIDE) }
    }
}

impl Slots<'_, 2> {
    /// One volatile load of the little-endian `u16` in slot `i mod count`.
    #[inline]
    pub(crate) fn load_u16(&self, i: u16) -> u16 {
        // SAFETY: the slot is inside the checked view and 2-aligned (checked in `new`).
        u16::from_le(unsafe { ptr::read_volatile(self.slot(i).cast::<u16>()) })
    }

    /// One volatile store of a little-endian `u16` into slot `i mod count`.
    #[inline]
    pub(crate) fn store_u16(&self, i: u16, value: u16) {
        // SAFETY: the slot is inside the checked view and 2-aligned (checked in `new`).
        unsafe { ptr::write_volatile(self.slot(i).cast::<u16>(), value.to_le()) }
    }
}

impl Slots<'_, 16> {
    /// Store two little-endian `u64`s into slot `i mod count` (a descriptor).
    #[inline]
    pub(crate) fn store_u64_pair(&self, i: u16, lo: u64, hi: u64) {
        let p = self.slot(i);
        if self.aligned8 {
            // SAFETY: the slot's 16 bytes are inside the checked view and 8-aligned.
            unsafe {
                ptr::write_volatile(p.cast::<u64>(), lo.to_le());
                ptr::write_volatile(p.add(8).cast::<u64>(), hi.to_le());
            }
            return;
        }
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&lo.to_le_bytes());
        b[8..].copy_from_slice(&hi.to_le_bytes());
        // SAFETY: the slot's 16 bytes are inside the checked view.
        unsafe { volatile_write(p, &b) };
    }

    /// The two little-endian `u64`s of slot `i mod count` (a descriptor), each read once.
    #[inline]
    pub(crate) fn load_u64_pair(&self, i: u16) -> (u64, u64) {
        let p = self.slot(i);
        if self.aligned8 {
            // SAFETY: the slot's 16 bytes are inside the checked view and 8-aligned.
            unsafe {
                let lo = ptr::read_volatile(p.cast::<u64>());
                let hi = ptr::read_volatile(p.add(8).cast::<u64>());
                return (u64::from_le(lo), u64::from_le(hi));
            }
        }
        let mut b = [0u8; 16];
        // SAFETY: the slot's 16 bytes are inside the checked view.
        unsafe { volatile_read(p, &mut b) };
        let [l0, l1, l2, l3, l4, l5, l6, l7, h0, h1, h2, h3, h4, h5, h6, h7] = b;
        (
            u64::from_le_bytes([l0, l1, l2, l3, l4, l5, l6, l7]),
            u64::from_le_bytes([h0, h1, h2, h3, h4, h5, h6, h7]),
        )
    }
}

/// Packed descriptors (VirtIO 2.8.13): the `flags` word is the publication point and is
/// accessed as an atomic; the other fields with single volatile accesses.
impl<'a> Slots<'a, 16> {
    /// The `flags` word of descriptor `i mod count` as an atomic.
    #[inline]
    pub(crate) fn flags_cell(&self, i: u16) -> &'a AtomicU16 {
        // SAFETY: the slot's 16 bytes are inside the checked view, which is valid for 'a and
        // accessed only through volatile/atomic operations; the slot is at least 4-aligned
        // (checked in `new`), so offset 14 is 2-aligned.
        unsafe { AtomicU16::from_ptr(self.slot(i).add(14).cast::<u16>()) }
    }

    /// `addr`, `len` and `id` of descriptor `i mod count`, each read once (not `flags`).
    #[inline]
    pub(crate) fn load_addr_len_id(&self, i: u16) -> (u64, u32, u16) {
        let p = self.slot(i);
        // SAFETY: the slot's 16 bytes are inside the checked view and at least 4-aligned;
        // the 8-byte load happens only when 8-aligned.
        unsafe {
            let addr = if self.aligned8 {
                u64::from_le(ptr::read_volatile(p.cast::<u64>()))
            } else {
                let lo = u64::from(u32::from_le(ptr::read_volatile(p.cast::<u32>())));
                let hi = u64::from(u32::from_le(ptr::read_volatile(p.add(4).cast::<u32>())));
                lo | hi << 32
            };
            let (len, id) = self.load_len_id_at(p);
            (addr, len, id)
        }
    }

    /// `len` and `id` of descriptor `i mod count` (a used descriptor), each read once.
    #[inline]
    pub(crate) fn load_len_id(&self, i: u16) -> (u32, u16) {
        // SAFETY: see `load_len_id_at`; the slot is inside the checked view.
        unsafe { self.load_len_id_at(self.slot(i)) }
    }

    /// # Safety
    /// `p` is the start of a slot of this (checked, 4-aligned) array.
    #[inline]
    unsafe fn load_len_id_at(&self, p: *mut u8) -> (u32, u16) {
        // SAFETY: by the contract, offsets 8 (4-aligned) and 12 (2-aligned) are in bounds.
        unsafe {
            (
                u32::from_le(ptr::read_volatile(p.add(8).cast::<u32>())),
                u16::from_le(ptr::read_volatile(p.add(12).cast::<u16>())),
            )
        }
    }

    /// Write `addr`, `len` and `id` of descriptor `i mod count` (not `flags`).
    #[inline]
    pub(crate) fn store_addr_len_id(&self, i: u16, addr: u64, len: u32, id: u16) {
        let p = self.slot(i);
        // SAFETY: the slot's 16 bytes are inside the checked view and at least 4-aligned;
        // the 8-byte store happens only when 8-aligned.
        unsafe {
            if self.aligned8 {
                ptr::write_volatile(p.cast::<u64>(), addr.to_le());
            } else {
                ptr::write_volatile(p.cast::<u32>(), (addr as u32).to_le());
                ptr::write_volatile(p.add(4).cast::<u32>(), ((addr >> 32) as u32).to_le());
            }
        }
        self.store_len_id(i, len, id);
    }

    /// Write `len` and `id` of descriptor `i mod count` (a used descriptor).
    #[inline]
    pub(crate) fn store_len_id(&self, i: u16, len: u32, id: u16) {
        let p = self.slot(i);
        // SAFETY: offsets 8 (4-aligned) and 12 (2-aligned) of a checked slot.
        unsafe {
            ptr::write_volatile(p.add(8).cast::<u32>(), len.to_le());
            ptr::write_volatile(p.add(12).cast::<u16>(), id.to_le());
        }
    }
}

impl Slots<'_, 8> {
    /// The two little-endian `u32`s of slot `i mod count` (a used element), each read
    /// once (the slot is at least 4-aligned, checked in `new`).
    #[inline]
    pub(crate) fn load_u32_pair(&self, i: u16) -> (u32, u32) {
        let p = self.slot(i);
        // SAFETY: the slot's 8 bytes are inside the checked view and 4-aligned.
        unsafe {
            (
                u32::from_le(ptr::read_volatile(p.cast::<u32>())),
                u32::from_le(ptr::read_volatile(p.add(4).cast::<u32>())),
            )
        }
    }

    /// Store two little-endian `u32`s into slot `i mod count` (a used element): one
    /// 8-byte store when 8-aligned, two 4-byte stores otherwise.
    #[inline]
    pub(crate) fn store_u32_pair(&self, i: u16, first: u32, second: u32) {
        let p = self.slot(i);
        // SAFETY: the slot's 8 bytes are inside the checked view and at least 4-aligned
        // (checked in `new`); the 8-byte store happens only when 8-aligned.
        unsafe {
            if self.aligned8 {
                let v = u64::from(first) | u64::from(second) << 32;
                ptr::write_volatile(p.cast::<u64>(), v.to_le());
            } else {
                ptr::write_volatile(p.cast::<u32>(), first.to_le());
                ptr::write_volatile(p.add(4).cast::<u32>(), second.to_le());
            }
        }
    }
}

/// Alignment of the shared side of a 32-byte copy block: 16 on x86-64 (two SSE2 16-byte
/// volatile accesses per block, baseline on every x86-64 CPU), 8 elsewhere (four 8-byte
/// volatile accesses).
const BLOCK_ALIGN: usize = if cfg!(target_arch = "x86_64") { 16 } else { 8 };

/// Copy one 32-byte block from shared memory at `src` (BLOCK_ALIGN-aligned) to private
/// memory at `dst` (any alignment): volatile loads, then plain unaligned stores.
///
/// # Safety
/// `src..src + 32` valid for volatile reads and BLOCK_ALIGN-aligned; `dst..dst + 32`
/// valid for writes.
#[inline(always)]
unsafe fn read_block(src: *const u8, dst: *mut u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: by the caller's contract; `__m128i` needs 16-byte alignment for the
    // volatile loads (BLOCK_ALIGN), the private stores are unaligned.
    unsafe {
        use core::arch::x86_64::__m128i;
        let a = ptr::read_volatile(src.cast::<__m128i>());
        let b = ptr::read_volatile(src.add(16).cast::<__m128i>());
        ptr::write_unaligned(dst.cast::<__m128i>(), a);
        ptr::write_unaligned(dst.add(16).cast::<__m128i>(), b);
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: by the caller's contract (8-aligned volatile loads).
    unsafe {
        let p = src.cast::<u64>();
        let w = [
            ptr::read_volatile(p),
            ptr::read_volatile(p.add(1)),
            ptr::read_volatile(p.add(2)),
            ptr::read_volatile(p.add(3)),
        ];
        ptr::write_unaligned(dst.cast::<[u64; 4]>(), w);
    }
}

/// Copy one 32-byte block from private memory at `src` (any alignment) to shared memory
/// at `dst` (BLOCK_ALIGN-aligned): plain unaligned loads, then volatile stores.
///
/// # Safety
/// `src..src + 32` valid for reads; `dst..dst + 32` valid for volatile writes and
/// BLOCK_ALIGN-aligned.
#[inline(always)]
unsafe fn write_block(src: *const u8, dst: *mut u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: by the caller's contract, as in `read_block`.
    unsafe {
        use core::arch::x86_64::__m128i;
        let a = ptr::read_unaligned(src.cast::<__m128i>());
        let b = ptr::read_unaligned(src.add(16).cast::<__m128i>());
        ptr::write_volatile(dst.cast::<__m128i>(), a);
        ptr::write_volatile(dst.add(16).cast::<__m128i>(), b);
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: by the caller's contract (8-aligned volatile stores).
    unsafe {
        let p = dst.cast::<u64>();
        let w = ptr::read_unaligned(src.cast::<[u64; 4]>());
        ptr::write_volatile(p, w[0]);
        ptr::write_volatile(p.add(1), w[1]);
        ptr::write_volatile(p.add(2), w[2]);
        ptr::write_volatile(p.add(3), w[3]);
    }
}

/// Volatile copy from shared memory to private memory: each shared byte is loaded once,
/// by naturally aligned volatile loads (1, 2 and 4 bytes up to an 8-byte boundary, one
/// 8-byte word up to [`BLOCK_ALIGN`], 32-byte blocks, 8-byte words, and a 4/2/1-byte
/// tail); `dst` is written with unaligned stores.
///
/// # Safety
/// `src..src + dst.len()` must be valid for volatile reads.
#[inline(always)]
unsafe fn volatile_read(src: *const u8, dst: &mut [u8]) {
    let n = dst.len();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    // SAFETY: every shared access is at src + i .. src + i + size with i + size <= n,
    // valid by the caller's contract, and naturally aligned for its size (each step
    // checks the address or follows an 8-aligned position); every private store is inside
    // `dst` at the same offsets.
    unsafe {
        while i < n && !src.add(i).addr().is_multiple_of(8) {
            let a = src.add(i).addr();
            if a & 1 != 0 || n - i < 2 {
                *d.add(i) = ptr::read_volatile(src.add(i));
                i += 1;
            } else if a & 2 != 0 || n - i < 4 {
                let w = ptr::read_volatile(src.add(i).cast::<u16>());
                ptr::write_unaligned(d.add(i).cast::<u16>(), w);
                i += 2;
            } else {
                let w = ptr::read_volatile(src.add(i).cast::<u32>());
                ptr::write_unaligned(d.add(i).cast::<u32>(), w);
                i += 4;
            }
        }
        if n - i >= 8 && !src.add(i).addr().is_multiple_of(BLOCK_ALIGN) {
            let w = ptr::read_volatile(src.add(i).cast::<u64>());
            ptr::write_unaligned(d.add(i).cast::<u64>(), w);
            i += 8;
        }
        // 32 bytes per round (src + i is BLOCK_ALIGN-aligned whenever a block is left).
        while i + 32 <= n {
            read_block(src.add(i), d.add(i));
            i += 32;
        }
        while i + 8 <= n {
            let w = ptr::read_volatile(src.add(i).cast::<u64>());
            ptr::write_unaligned(d.add(i).cast::<u64>(), w);
            i += 8;
        }
        // Here src + i is 8-aligned, or i == n.
        if n - i >= 4 {
            let w = ptr::read_volatile(src.add(i).cast::<u32>());
            ptr::write_unaligned(d.add(i).cast::<u32>(), w);
            i += 4;
        }
        if n - i >= 2 {
            let w = ptr::read_volatile(src.add(i).cast::<u16>());
            ptr::write_unaligned(d.add(i).cast::<u16>(), w);
            i += 2;
        }
        if n - i >= 1 {
            *d.add(i) = ptr::read_volatile(src.add(i));
        }
    }
}

/// Volatile copy from private memory to shared memory: each shared byte is stored once,
/// by naturally aligned volatile stores (as in [`volatile_read`]); `src` is read with
/// unaligned loads.
///
/// # Safety
/// `dst..dst + src.len()` must be valid for volatile writes.
#[inline(always)]
unsafe fn volatile_write(dst: *mut u8, src: &[u8]) {
    let n = src.len();
    let s = src.as_ptr();
    let mut i = 0;
    // SAFETY: as in `volatile_read`, with the roles of the two sides swapped.
    unsafe {
        while i < n && !dst.add(i).addr().is_multiple_of(8) {
            let a = dst.add(i).addr();
            if a & 1 != 0 || n - i < 2 {
                ptr::write_volatile(dst.add(i), *s.add(i));
                i += 1;
            } else if a & 2 != 0 || n - i < 4 {
                let w = ptr::read_unaligned(s.add(i).cast::<u16>());
                ptr::write_volatile(dst.add(i).cast::<u16>(), w);
                i += 2;
            } else {
                let w = ptr::read_unaligned(s.add(i).cast::<u32>());
                ptr::write_volatile(dst.add(i).cast::<u32>(), w);
                i += 4;
            }
        }
        if n - i >= 8 && !dst.add(i).addr().is_multiple_of(BLOCK_ALIGN) {
            let w = ptr::read_unaligned(s.add(i).cast::<u64>());
            ptr::write_volatile(dst.add(i).cast::<u64>(), w);
            i += 8;
        }
        // 32 bytes per round, as in `volatile_read`.
        while i + 32 <= n {
            write_block(s.add(i), dst.add(i));
            i += 32;
        }
        while i + 8 <= n {
            let w = ptr::read_unaligned(s.add(i).cast::<u64>());
            ptr::write_volatile(dst.add(i).cast::<u64>(), w);
            i += 8;
        }
        // Here dst + i is 8-aligned, or i == n.
        if n - i >= 4 {
            let w = ptr::read_unaligned(s.add(i).cast::<u32>());
            ptr::write_volatile(dst.add(i).cast::<u32>(), w);
            i += 4;
        }
        if n - i >= 2 {
            let w = ptr::read_unaligned(s.add(i).cast::<u16>());
            ptr::write_volatile(dst.add(i).cast::<u16>(), w);
            i += 2;
        }
        if n - i >= 1 {
            ptr::write_volatile(dst.add(i), *s.add(i));
        }
    }
}

/// The memory the peer can reach, as seen from this side: translates a peer range into a
/// bounds-checked view, or fails with [`Error::OutOfMemory`].
///
/// A range must lie entirely inside one translation unit (region); ranges spanning two
/// regions are rejected even if the peer addresses are contiguous.
pub trait SharedMemory {
    /// Translate `len` bytes at peer address `addr`.
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, Error>;
}

impl<T: SharedMemory + ?Sized> SharedMemory for &T {
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, Error> {
        (**self).slice(addr, len)
    }
}

/// One contiguous region of shared memory that the peer sees at `base..base + len`: the
/// offset translation (peer address `base + i` is byte `i` of the region).
#[derive(Debug, Clone, Copy)]
pub struct MemoryRegion<'a> {
    base: u64,
    view: VolatileSlice<'a>,
}

/// The offset translation: an alias of [`MemoryRegion`].
pub type OffsetMemory<'a> = MemoryRegion<'a>;

impl<'a> MemoryRegion<'a> {
    /// A region seen by the peer at `base`.
    pub fn new(base: u64, view: VolatileSlice<'a>) -> Self {
        MemoryRegion { base, view }
    }

    /// The identity translation: the peer uses this process's own addresses (a driver
    /// without IOMMU whose physical and virtual addresses coincide, or a same-process
    /// loopback).
    pub fn identity(view: VolatileSlice<'a>) -> Self {
        MemoryRegion {
            base: view.host_addr() as u64,
            view,
        }
    }

    /// First peer address of the region.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Length of the region in bytes.
    pub fn len(&self) -> usize {
        self.view.len()
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.view.is_empty()
    }

    /// Whether `addr..addr + len` is inside the region, and where.
    #[inline]
    fn offset_of(&self, addr: u64, len: usize) -> Option<usize> {
        let off = addr.checked_sub(self.base)?;
        let end = off.checked_add(len as u64)?;
        if end <= self.view.len() as u64 {
            usize::try_from(off).ok()
        } else {
            None
        }
    }
}

impl<'a> MemoryRegion<'a> {
    /// Translate `len` bytes at peer address `addr` (like [`SharedMemory::slice`], but the
    /// view lives as long as the region's memory, not the borrow of the region).
    #[inline]
    pub fn get(&self, addr: u64, len: usize) -> Result<VolatileSlice<'a>, Error> {
        self.offset_of(addr, len)
            .and_then(|off| self.view.subslice(off, len).ok())
            .ok_or(Error::OutOfMemory {
                addr,
                len: len as u64,
            })
    }
}

impl SharedMemory for MemoryRegion<'_> {
    #[inline]
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, Error> {
        self.get(addr, len)
    }
}

/// Up to `N` non-overlapping regions (e.g. the memory table of a vhost-user front-end,
/// guest-physical address → region). Lookup is a linear scan over at most `N` regions.
#[derive(Debug, Clone, Default)]
pub struct MultiRegion<'a, const N: usize> {
    regions: heapless::Vec<MemoryRegion<'a>, N>,
}

impl<'a, const N: usize> MultiRegion<'a, N> {
    /// No region yet.
    pub const fn new() -> Self {
        MultiRegion {
            regions: heapless::Vec::new(),
        }
    }

    /// Add a region. Fails with [`Error::OutOfMemory`] (naming the new region) when it
    /// overlaps an existing one, wraps the address space, or when `N` regions are present.
    pub fn add(&mut self, region: MemoryRegion<'a>) -> Result<(), Error> {
        let bad = Error::OutOfMemory {
            addr: region.base,
            len: region.len() as u64,
        };
        let end = region.base.checked_add(region.len() as u64).ok_or(bad)?;
        for r in &self.regions {
            let r_end = r.base + r.len() as u64;
            if region.base < r_end && r.base < end {
                return Err(bad);
            }
        }
        self.regions.push(region).map_err(|_| bad)
    }

    /// The regions, in insertion order.
    pub fn regions(&self) -> &[MemoryRegion<'a>] {
        &self.regions
    }
}

impl<const N: usize> SharedMemory for MultiRegion<'_, N> {
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, Error> {
        self.regions
            .iter()
            .find_map(|r| r.slice(addr, len).ok())
            .ok_or(Error::OutOfMemory {
                addr,
                len: len as u64,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_translation_is_bounds_checked() {
        let mut buf = [0u8; 64];
        let mem = MemoryRegion::new(0x1000, VolatileSlice::from_mut_slice(&mut buf));
        let s = mem.slice(0x1010, 16).unwrap();
        s.write_from(0, &[1, 2, 3]).unwrap();
        let mut out = [0u8; 3];
        mem.slice(0x1010, 3)
            .unwrap()
            .read_into(0, &mut out)
            .unwrap();
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(
            mem.slice(0x1038, 9).unwrap_err(),
            Error::OutOfMemory {
                addr: 0x1038,
                len: 9
            }
        );
        assert!(mem.slice(0xfff, 1).is_err());
        assert!(mem.slice(u64::MAX, 2).is_err());
        assert!(s.subslice(8, 9).is_err());
        assert!(s.read_into(15, &mut [0u8; 2]).is_err());
    }

    #[test]
    fn unaligned_copies_round_trip() {
        // 8-aligned, so that offset 10 is 2-aligned in host memory (a byte array may sit
        // at an odd address, as it does under Miri).
        let mut words = [0u64; 8];
        let v = aligned(&mut words);
        let data: [u8; 29] = core::array::from_fn(|i| i as u8 * 7);
        v.write_from(3, &data).unwrap();
        let mut out = [0u8; 29];
        v.read_into(3, &mut out).unwrap();
        assert_eq!(out, data);
        v.store_u16(10, 0xbeef).unwrap();
        assert_eq!(v.load_u16(10).unwrap(), 0xbeef);
        assert!(matches!(v.load_u16(11), Err(Error::Misaligned { .. })));
    }

    /// An 8-aligned byte buffer (so that offsets choose the host alignment).
    fn aligned<const W: usize>(words: &mut [u64; W]) -> VolatileSlice<'_> {
        VolatileSlice::from_mut_slice(zerocopy::IntoBytes::as_mut_bytes(&mut words[..]))
    }

    #[test]
    fn copies_of_every_length_and_alignment() {
        let mut words = [0u64; 12];
        let v = aligned(&mut words);
        // Under Miri: a few alignments and the lengths around the 8-byte words and 32-byte
        // blocks; natively: every alignment and length.
        let lengths =
            |max: usize| (0..=max).filter(|&len| !cfg!(miri) || len < 2 || (len + 1) % 8 <= 2);
        let offsets = (0..9).filter(|&off| !cfg!(miri) || [0, 1, 4, 7].contains(&off));
        for off in offsets {
            for len in lengths(v.len() - 8 - off) {
                v.fill(0, v.len(), 0xee).unwrap();
                let data: [u8; 96] = core::array::from_fn(|i| (i * 31 + len) as u8);
                v.write_from(off, &data[..len]).unwrap();
                let mut out = [0u8; 96];
                v.read_into(off, &mut out[..len]).unwrap();
                assert_eq!(out[..len], data[..len], "off {off} len {len}");
                // Nothing outside the range was written.
                let mut all = [0u8; 96];
                v.read_into(0, &mut all).unwrap();
                assert!(all[..off].iter().all(|&b| b == 0xee));
                assert!(all[off + len..].iter().all(|&b| b == 0xee));
            }
        }
    }

    #[test]
    fn word_pairs_at_any_alignment() {
        let mut words = [0u64; 4];
        let v = aligned(&mut words);
        for off in 0..9 {
            v.write_u32_pair(off, 0x0403_0201, 0x0807_0605).unwrap();
            let mut b = [0u8; 8];
            v.read_into(off, &mut b).unwrap();
            assert_eq!(b, [1, 2, 3, 4, 5, 6, 7, 8], "off {off}");
            v.write_from(off + 8, &[9, 10, 11, 12, 13, 14, 15, 16])
                .unwrap();
            assert_eq!(
                v.read_u64_pair(off).unwrap(),
                (0x0807_0605_0403_0201, 0x100f_0e0d_0c0b_0a09),
                "off {off}"
            );
        }
        assert!(v.read_u64_pair(17).is_err());
        assert!(v.write_u32_pair(25, 0, 0).is_err());
        assert!(v.read_u64_pair(usize::MAX - 3).is_err());
    }

    #[test]
    fn slots_are_checked_once_and_wrap() {
        let mut words = [0u64; 16];
        let v = aligned(&mut words);
        // Bounds, power of two and host alignment are checked at construction.
        assert!(Slots::<16>::new(&v, 0, 8).is_ok());
        assert!(Slots::<16>::new(&v, 8, 8).is_err());
        assert!(Slots::<16>::new(&v, 0, 6).is_err());
        assert!(matches!(
            Slots::<8>::new(&v, 2, 4),
            Err(Error::Misaligned { align: 4, .. })
        ));
        assert!(matches!(
            Slots::<2>::new(&v, 1, 4),
            Err(Error::Misaligned { align: 2, .. })
        ));
        // u16 slots: index i is slot i mod count.
        let s2 = Slots::<2>::new(&v, 2, 4).unwrap();
        v.store_u16(2 + 2 * 3, 0xbeef).unwrap();
        assert_eq!(s2.load_u16(3), 0xbeef);
        assert_eq!(s2.load_u16(7), 0xbeef);
        assert_eq!(s2.load_u16(u16::MAX), 0xbeef);
        // 16-byte slots, 8-aligned and only 4-aligned.
        for base in [0, 4] {
            let s16 = Slots::<16>::new(&v, base, 4).unwrap();
            v.write_from(base + 16, &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3])
                .unwrap();
            assert_eq!(s16.load_u64_pair(1), (1, 0x0300_0000_0000_0002));
            assert_eq!(s16.load_u64_pair(5), (1, 0x0300_0000_0000_0002));
        }
        // 8-byte slots: one 8-byte store when 8-aligned, two 4-byte stores otherwise.
        for base in [0, 4] {
            let s8 = Slots::<8>::new(&v, base, 4).unwrap();
            s8.store_u32_pair(6, 7, 0x0102_0304);
            assert_eq!(v.read_u32(base + 16).unwrap(), 7);
            assert_eq!(v.read_u32(base + 20).unwrap(), 0x0102_0304);
        }
    }

    #[test]
    fn identity_and_multi_region() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        let mut c = [0u8; 8];
        let id = MemoryRegion::identity(VolatileSlice::from_mut_slice(&mut a));
        let host = id.base();
        id.slice(host + 4, 4)
            .unwrap()
            .write_from(0, &[9; 4])
            .unwrap();
        let mut multi = MultiRegion::<2>::new();
        multi.add(id).unwrap();
        multi
            .add(MemoryRegion::new(
                0x10,
                VolatileSlice::from_mut_slice(&mut b),
            ))
            .unwrap();
        let mut out = [0u8; 4];
        multi
            .slice(host + 4, 4)
            .unwrap()
            .read_into(0, &mut out)
            .unwrap();
        assert_eq!(out, [9; 4]);
        assert!(multi.slice(0x10, 32).is_ok());
        assert!(multi.slice(0x10, 33).is_err());
        let overlap = MemoryRegion::new(0x2f, VolatileSlice::from_mut_slice(&mut c));
        assert!(multi.add(overlap).is_err());
    }
}
