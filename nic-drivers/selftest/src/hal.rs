//! Identity-mapped [`Hal`] over a static DMA pool (bump allocation, never freed).
#![allow(unsafe_code)]

use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;

use nic_drivers::{Hal, HalError, MmioWindow};
use virtqueue::{MemoryRegion, VolatileSlice};

const POOL_LEN: usize = 1 << 20;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[u8; POOL_LEN]>);

// SAFETY: single hart, and the pool is only reached through volatile views.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([0; POOL_LEN]));

/// The selftest's HAL: physical = virtual (no MMU, S-mode with satp = 0).
pub struct IdentityHal {
    memory: MemoryRegion<'static>,
    next: Cell<usize>,
}

impl IdentityHal {
    /// The HAL over the static pool. Call once.
    pub fn new() -> Self {
        let base = POOL.0.get().cast::<u8>();
        // SAFETY: the pool is a static of POOL_LEN bytes, used only through this view
        // (the HAL is created once by `main`).
        let view = unsafe { VolatileSlice::from_raw_parts(base, POOL_LEN) };
        IdentityHal {
            memory: MemoryRegion::identity(view),
            next: Cell::new(0),
        }
    }
}

// SAFETY: allocations are disjoint aligned ranges of the zero-initialised static pool,
// never reused; `memory` is the identity view of exactly that pool; without an MMU and
// IOMMU the device sees physical = virtual addresses; `mmio_map` maps the given physical
// register range at the same (identity) address.
unsafe impl Hal for IdentityHal {
    type Memory = MemoryRegion<'static>;
    type Mmio = MmioWindow;

    fn dma_alloc(&self, len: usize, align: usize) -> Result<u64, HalError> {
        let base = POOL.0.get() as usize;
        let align = align.max(1);
        let start = (base + self.next.get()).div_ceil(align) * align;
        let end = start
            .checked_add(len)
            .ok_or(HalError::OutOfDmaMemory { len })?;
        if end > base + POOL_LEN {
            return Err(HalError::OutOfDmaMemory { len });
        }
        self.next.set(end - base);
        Ok(start as u64)
    }

    fn dma_dealloc(&self, _paddr: u64, _len: usize) {}

    fn memory(&self) -> &Self::Memory {
        &self.memory
    }

    fn mmio_map(&self, paddr: u64, len: usize) -> Result<MmioWindow, HalError> {
        let p = NonNull::new(paddr as usize as *mut u8)
            .ok_or(HalError::Unmappable { addr: paddr, len })?;
        // SAFETY: identity-mapped device registers the caller (a driver given the address
        // by `main`, from PCI BAR assignment or the virtio-mmio slot list) asked for.
        Ok(unsafe { MmioWindow::new(p, len) })
    }
}
