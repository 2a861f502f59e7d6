//! Owned shared memory on the heap (`alloc`): for hosted tests, examples and loopbacks.
#![allow(unsafe_code)]

use crate::{Error, MemoryRegion, SharedMemory, VolatileSlice};

/// A heap-allocated, 8-byte aligned buffer the peer sees at `base`: shared memory for
/// hosted tests, examples and same-process loopbacks (`alloc` feature).
pub struct OwnedMemory {
    ptr: *mut u64,
    words: usize,
    base: u64,
}

// SAFETY: the buffer is only accessed through volatile/atomic views (VolatileSlice), so
// sharing it between threads adds no access the peer could not already make.
unsafe impl Send for OwnedMemory {}
// SAFETY: as for `Send`.
unsafe impl Sync for OwnedMemory {}

impl OwnedMemory {
    /// `len` zeroed bytes (rounded up to 8) seen by the peer at `base`.
    pub fn new(base: u64, len: usize) -> Self {
        let words = len.div_ceil(8);
        let boxed: alloc::boxed::Box<[u64]> = alloc::vec![0u64; words].into_boxed_slice();
        let ptr = alloc::boxed::Box::into_raw(boxed).cast::<u64>();
        OwnedMemory { ptr, words, base }
    }

    /// The whole buffer as a region (offset translation at `base`).
    #[inline]
    pub fn region(&self) -> MemoryRegion<'_> {
        // SAFETY: `ptr` owns `words * 8` bytes until drop; the borrow of `self` keeps the
        // view from outliving them, and this type never hands out references to them.
        let view = unsafe { VolatileSlice::from_raw_parts(self.ptr.cast::<u8>(), self.words * 8) };
        MemoryRegion::new(self.base, view)
    }

    /// First peer address.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.words * 8
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.words == 0
    }
}

impl SharedMemory for OwnedMemory {
    #[inline]
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, Error> {
        self.region().get(addr, len)
    }
}

/// Memory shared by reference count (a device model and a HAL over one buffer, a backend
/// and its rings): the same translation as the memory itself.
impl<T: SharedMemory + ?Sized> SharedMemory for alloc::rc::Rc<T> {
    #[inline]
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, Error> {
        (**self).slice(addr, len)
    }
}

/// As for `Rc`, across threads.
#[cfg(target_has_atomic = "ptr")]
impl<T: SharedMemory + ?Sized> SharedMemory for alloc::sync::Arc<T> {
    #[inline]
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, Error> {
        (**self).slice(addr, len)
    }
}

impl Drop for OwnedMemory {
    fn drop(&mut self) {
        let slice = core::ptr::slice_from_raw_parts_mut(self.ptr, self.words);
        // SAFETY: `ptr`/`words` come from `Box::into_raw` in `new` and are freed only here.
        drop(unsafe { alloc::boxed::Box::from_raw(slice) });
    }
}

impl core::fmt::Debug for OwnedMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnedMemory")
            .field("base", &self.base)
            .field("len", &self.len())
            .finish()
    }
}
