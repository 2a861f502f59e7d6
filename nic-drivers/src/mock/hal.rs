//! [`FakeHal`]: a heap-backed [`Hal`].
#![allow(unsafe_code)]

use core::cell::Cell;

use virtqueue::{MemoryRegion, OwnedMemory, SharedMemory};

use crate::{BufferDirection, Hal, HalError, MmioWindow};

/// DMA memory on the heap seen at physical address `base`; the device sees it at
/// `base + iova_offset` (0: identity).
#[derive(Debug)]
pub struct FakeHal {
    mem: OwnedMemory,
    next: Cell<u64>,
    live: Cell<usize>,
    shares: Cell<i64>,
    iova_offset: u64,
}

impl FakeHal {
    /// `len` bytes of DMA memory at physical `base`, identity device addresses.
    pub fn new(base: u64, len: usize) -> Self {
        Self::with_iova_offset(base, len, 0)
    }

    /// Like [`FakeHal::new`], with the device seeing the memory `iova_offset` higher (an
    /// IOMMU): every address the driver gives the device must go through `share`.
    pub fn with_iova_offset(base: u64, len: usize, iova_offset: u64) -> Self {
        FakeHal {
            mem: OwnedMemory::new(base, len),
            next: Cell::new(base),
            live: Cell::new(0),
            shares: Cell::new(0),
            iova_offset,
        }
    }

    /// The memory as the device sees it (device addresses).
    pub fn device_memory(&self) -> MemoryRegion<'_> {
        let base = self.mem.base();
        match self.mem.region().get(base, self.mem.len()) {
            Ok(view) => MemoryRegion::new(base + self.iova_offset, view),
            Err(_) => self.mem.region(),
        }
    }

    /// Allocations not freed yet.
    pub fn live_allocations(&self) -> usize {
        self.live.get()
    }

    /// `share` calls minus `unshare` calls.
    pub fn outstanding_shares(&self) -> i64 {
        self.shares.get()
    }
}

// SAFETY: allocations are disjoint ranges of `mem` handed out by a bump allocator (never
// reused, so still zeroed); `memory` views exactly those bytes through `OwnedMemory`;
// `share` returns the IOVA at which `device_memory` shows the same bytes; `mmio_map`
// maps nothing.
unsafe impl Hal for FakeHal {
    type Memory = OwnedMemory;
    type Mmio = MmioWindow;

    fn dma_alloc(&self, len: usize, align: usize) -> Result<u64, HalError> {
        let align = align.max(1) as u64;
        let at = self.next.get().next_multiple_of(align);
        let end = at + len as u64;
        if end > self.mem.base() + self.mem.len() as u64 {
            return Err(HalError::OutOfDmaMemory { len });
        }
        self.next.set(end);
        self.live.set(self.live.get() + 1);
        Ok(at)
    }

    fn dma_dealloc(&self, _paddr: u64, _len: usize) {
        self.live.set(self.live.get().saturating_sub(1));
    }

    fn memory(&self) -> &OwnedMemory {
        &self.mem
    }

    fn share(&self, paddr: u64, len: usize, _dir: BufferDirection) -> Result<u64, HalError> {
        if self.mem.slice(paddr, len).is_err() {
            return Err(HalError::Unmappable { addr: paddr, len });
        }
        self.shares.set(self.shares.get() + 1);
        Ok(paddr + self.iova_offset)
    }

    fn unshare(&self, device_addr: u64, paddr: u64, _len: usize, _dir: BufferDirection) {
        assert_eq!(
            device_addr,
            paddr + self.iova_offset,
            "unshare of a foreign address"
        );
        self.shares.set(self.shares.get() - 1);
    }

    fn mmio_map(&self, _paddr: u64, _len: usize) -> Result<MmioWindow, HalError> {
        Err(HalError::Unsupported {
            what: "MMIO in the fake HAL",
        })
    }
}
