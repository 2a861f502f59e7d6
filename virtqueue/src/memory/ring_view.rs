//! Views of ring memory the queues index into: strided slots of ring entries.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::AtomicU16;

use crate::Error;

use super::volatile::{volatile_read, volatile_write};
use super::VolatileSlice;

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
        self.store_u64_pair_unaligned(i, lo, hi);
    }

    /// [`Slots::store_u64_pair`] into slots that are not 8-aligned in host memory (out of
    /// line: the aligned store stays small enough to inline).
    #[cold]
    #[inline(never)]
    fn store_u64_pair_unaligned(&self, i: u16, lo: u64, hi: u64) {
        let p = self.slot(i);
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
