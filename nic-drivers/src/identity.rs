//! [`IdentityHal`]: a ready-made [`Hal`] for bare-metal images with identity mapping
//! (physical address = virtual address, no IOMMU) and a static DMA pool.
#![allow(unsafe_code)]

use core::ptr::NonNull;

use virtqueue::{MemoryRegion, VolatileSlice};

use crate::{DmaPool, Hal, HalError, MmioWindow};

/// Identity-mapped DMA from a caller-provided pool (bump allocation, freed all at once
/// when every allocation was freed) and identity-mapped MMIO.
///
/// ```text
/// static mut POOL: [u8; 1 << 20] = [0; 1 << 20];
/// let hal = unsafe { IdentityHal::new(&mut *core::ptr::addr_of_mut!(POOL)) };
/// let regs = hal.mmio_map(0x1000_8000, nic_drivers::transport::mmio::WINDOW_LEN)?;
/// let net: VirtioNet<'_, _, _> = VirtioNet::new(&hal, MmioTransport::new(regs)?, NetConfig::default())?;
/// ```
#[derive(Debug)]
pub struct IdentityHal<'a> {
    pool: DmaPool<MemoryRegion<'a>>,
}

impl<'a> IdentityHal<'a> {
    /// A HAL over `pool`.
    ///
    /// # Safety
    ///
    /// - `pool` is memory devices can reach by DMA at the same (physical) addresses as the
    ///   CPU sees it (identity mapping, no IOMMU, cache-coherent DMA);
    /// - every address later passed to [`Hal::mmio_map`] is an identity-mapped device
    ///   register window of at least the length asked for.
    pub unsafe fn new(pool: &'a mut [u8]) -> Self {
        let view = VolatileSlice::from_mut_slice(pool);
        IdentityHal {
            pool: DmaPool::new(MemoryRegion::identity(view)),
        }
    }

    /// Bytes of the pool not allocated yet.
    pub fn free_bytes(&self) -> u64 {
        self.pool.free_bytes()
    }
}

// SAFETY: allocations are disjoint, zeroed ranges of the pool, whose identity view is
// `memory` (valid for 'a, accessed only through volatile views since the pool's exclusive
// borrow moved into it); identity `share` is right without an IOMMU (constructor
// contract), and `mmio_map` relies on the constructor contract for register windows.
unsafe impl<'a> Hal for IdentityHal<'a> {
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

    fn mmio_map(&self, paddr: u64, len: usize) -> Result<MmioWindow, HalError> {
        let addr = usize::try_from(paddr).map_err(|_| HalError::Unmappable { addr: paddr, len })?;
        let ptr = NonNull::new(core::ptr::with_exposed_provenance_mut::<u8>(addr))
            .ok_or(HalError::Unmappable { addr: paddr, len })?;
        // SAFETY: identity-mapped registers of at least `len` bytes (constructor contract).
        Ok(unsafe { MmioWindow::new(ptr, len) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virtqueue::SharedMemory;

    #[test]
    fn bump_allocation_is_aligned_zeroed_and_reset_when_all_freed() {
        let mut pool = vec![0xeeu8; 8192];
        // SAFETY: test only: nothing does DMA and `mmio_map` is not used.
        let hal = unsafe { IdentityHal::new(&mut pool) };
        let a = hal.dma_alloc(100, 64).unwrap();
        let b = hal.dma_alloc(10, 4096).unwrap();
        assert_eq!(a % 64, 0);
        assert_eq!(b % 4096, 0);
        assert!(b >= a + 100);
        let mut out = [1u8; 10];
        hal.memory()
            .slice(b, 10)
            .unwrap()
            .read_into(0, &mut out)
            .unwrap();
        assert_eq!(out, [0; 10], "zeroed");
        assert!(matches!(
            hal.dma_alloc(1 << 20, 8),
            Err(HalError::OutOfDmaMemory { .. })
        ));
        let before = hal.free_bytes();
        hal.dma_dealloc(a, 100);
        assert_eq!(hal.free_bytes(), before, "not reset while one is live");
        hal.dma_dealloc(b, 10);
        assert_eq!(hal.free_bytes(), 8192);
        assert_eq!(hal.share(b, 10, crate::BufferDirection::Both), Ok(b));
    }
}
