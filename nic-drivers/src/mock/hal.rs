//! [`FakeHal`]: a heap-backed [`Hal`], with the register windows of a device model when
//! the test needs them ([`FakeMmio`]).
#![allow(unsafe_code)]

use alloc::rc::Rc;
use core::cell::Cell;

use virtqueue::{MemoryRegion, OwnedMemory, SharedMemory};

use crate::{BufferDirection, DmaPool, Hal, HalError, MmioWindow, RegisterIo};

/// What [`FakeHal::mmio_map`](Hal::mmio_map) maps: the register windows of a device
/// model (the e1000 fake, a PCI BAR backing), or nothing ([`NoMmio`]).
pub trait FakeMmio {
    /// A mapped window.
    type Window: RegisterIo;
    /// The window of `len` bytes at physical `paddr`.
    fn map(&self, paddr: u64, len: usize) -> Result<Self::Window, HalError>;
}

/// No registers: every `mmio_map` is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMmio;

impl FakeMmio for NoMmio {
    type Window = MmioWindow;
    fn map(&self, _paddr: u64, _len: usize) -> Result<MmioWindow, HalError> {
        Err(HalError::Unsupported {
            what: "MMIO in the fake HAL",
        })
    }
}

/// DMA memory on the heap seen at physical address `base`; the device sees it at
/// `base + iova_offset` (0: identity). Allocation is the crate's [`DmaPool`]; the memory
/// is reference-counted so a device model can hold it too ([`FakeHal::shared_memory`]);
/// `R` maps register windows.
#[derive(Debug)]
pub struct FakeHal<R = NoMmio> {
    pool: DmaPool<Rc<OwnedMemory>>,
    shares: Cell<i64>,
    iova_offset: u64,
    mmio: R,
}

impl FakeHal {
    /// `len` bytes of DMA memory at physical `base`, identity device addresses.
    pub fn new(base: u64, len: usize) -> Self {
        Self::with_iova_offset(base, len, 0)
    }

    /// Like [`FakeHal::new`], with the device seeing the memory `iova_offset` higher (an
    /// IOMMU): every address the driver gives the device must go through `share`.
    pub fn with_iova_offset(base: u64, len: usize, iova_offset: u64) -> Self {
        let mut hal = Self::with_mmio(base, len, NoMmio);
        hal.iova_offset = iova_offset;
        hal
    }
}

impl<R: FakeMmio> FakeHal<R> {
    /// `len` bytes of DMA memory at physical `base` (identity device addresses) and the
    /// register windows of `mmio`.
    pub fn with_mmio(base: u64, len: usize, mmio: R) -> Self {
        Self::over(Rc::new(OwnedMemory::new(base, len)), mmio)
    }

    /// DMA from `memory` (which a device model may hold too), registers of `mmio`.
    pub fn over(memory: Rc<OwnedMemory>, mmio: R) -> Self {
        let (base, len) = (memory.base(), memory.len());
        FakeHal {
            pool: DmaPool::over(memory, base, len),
            shares: Cell::new(0),
            iova_offset: 0,
            mmio,
        }
    }

    /// The DMA memory, for a device model that reads and writes it by physical address.
    pub fn shared_memory(&self) -> Rc<OwnedMemory> {
        self.pool.memory().clone()
    }

    /// The register windows' model.
    pub fn mmio(&self) -> &R {
        &self.mmio
    }

    /// The memory as the device sees it (device addresses).
    pub fn device_memory(&self) -> MemoryRegion<'_> {
        let mem = self.pool.memory();
        let base = mem.base();
        match mem.region().get(base, mem.len()) {
            Ok(view) => MemoryRegion::new(base + self.iova_offset, view),
            Err(_) => mem.region(),
        }
    }

    /// Allocations not freed yet.
    pub fn live_allocations(&self) -> usize {
        self.pool.live()
    }

    /// `share` calls minus `unshare` calls.
    pub fn outstanding_shares(&self) -> i64 {
        self.shares.get()
    }
}

// SAFETY: allocations are disjoint, zeroed ranges of the heap memory handed out by the
// `DmaPool` (reused only once all were freed); `memory` views exactly those bytes through
// `OwnedMemory` (volatile views only); `share` returns the IOVA at which `device_memory`
// shows the same bytes; `mmio_map` hands out only the windows of the model `R` (safe
// `RegisterIo` values over test memory).
unsafe impl<R: FakeMmio> Hal for FakeHal<R> {
    type Memory = OwnedMemory;
    type Mmio = R::Window;

    fn dma_alloc(&self, len: usize, align: usize) -> Result<u64, HalError> {
        self.pool.alloc(len, align)
    }

    fn dma_dealloc(&self, _paddr: u64, _len: usize) {
        self.pool.dealloc()
    }

    fn memory(&self) -> &OwnedMemory {
        self.pool.memory()
    }

    fn share(&self, paddr: u64, len: usize, _dir: BufferDirection) -> Result<u64, HalError> {
        if self.memory().slice(paddr, len).is_err() {
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

    fn mmio_map(&self, paddr: u64, len: usize) -> Result<R::Window, HalError> {
        self.mmio.map(paddr, len)
    }
}
