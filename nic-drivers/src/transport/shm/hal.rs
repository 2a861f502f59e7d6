//! [`ShmHal`]: the driver partition's [`Hal`] over the DMA area of the shared region.
#![allow(unsafe_code)]

use virtqueue::MemoryRegion;

use crate::{DmaPool, Hal, HalError, MmioWindow};

/// DMA from the shared region's DMA area: a bump allocator ([`DmaPool`]) whose
/// addresses are region addresses ([`DMA_BASE`](virtqueue::shm::DMA_BASE) + offset), the
/// same numbers the device side translates. Nothing to share or unshare, no register
/// windows to map (the transport's registers are in the region).
#[derive(Debug)]
pub struct ShmHal<'a> {
    pool: DmaPool<MemoryRegion<'a>>,
}

impl<'a> ShmHal<'a> {
    /// A HAL handing out the bytes of `dma` (seen by both sides at `dma.base()`; the
    /// DMA area of [`virtqueue::shm::split`]).
    pub fn new(dma: MemoryRegion<'a>) -> Self {
        ShmHal {
            pool: DmaPool::new(dma),
        }
    }

    /// Bytes not allocated yet.
    pub fn free_bytes(&self) -> u64 {
        self.pool.free_bytes()
    }
}

// SAFETY: `dma_alloc` hands out disjoint ranges of `memory` (bump allocation, reused
// only once every range was freed) and zeroes them through the view first; `memory` is
// a `MemoryRegion` whose view is valid for `'a` and accessed only through
// volatile/atomic operations (the `VolatileSlice` contract its creator signed); the
// device (the service partition) sees the same bytes at the same region addresses, so
// the default identity `share` is right; `mmio_map` maps nothing.
unsafe impl<'a> Hal for ShmHal<'a> {
    type Memory = MemoryRegion<'a>;
    type Mmio = MmioWindow;

    fn dma_alloc(&self, len: usize, align: usize) -> Result<u64, HalError> {
        self.pool.alloc(len, align)
    }

    fn dma_dealloc(&self, _paddr: u64, _len: usize) {
        self.pool.dealloc()
    }

    fn memory(&self) -> &MemoryRegion<'a> {
        self.pool.memory()
    }

    fn mmio_map(&self, _paddr: u64, len: usize) -> Result<MmioWindow, HalError> {
        Err(HalError::Unmappable { addr: 0, len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virtqueue::{OwnedMemory, SharedMemory};

    #[test]
    fn allocations_are_disjoint_aligned_zeroed_and_bounded() {
        let owned = OwnedMemory::new(0x1000, 8192);
        let region = owned.region();
        region
            .get(0x1000, 8192)
            .unwrap()
            .fill(0, 8192, 0xAA)
            .unwrap();
        let hal = ShmHal::new(region);
        let a = hal.dma_alloc(100, 64).unwrap();
        let b = hal.dma_alloc(100, 4096).unwrap();
        assert_eq!(a, 0x1000);
        assert_eq!(b, 0x2000);
        let mut buf = [0xffu8; 100];
        hal.memory()
            .slice(b, 100)
            .unwrap()
            .read_into(0, &mut buf)
            .unwrap();
        assert_eq!(buf, [0u8; 100]);
        assert_eq!(
            hal.dma_alloc(8192, 8),
            Err(HalError::OutOfDmaMemory { len: 8192 })
        );
        assert_eq!(hal.free_bytes(), 8192 - 0x1000 - 100);
    }
}
