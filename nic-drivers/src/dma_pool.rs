//! [`DmaPool`]: the bump allocator behind simple [`Hal`](crate::Hal)s.

use core::cell::Cell;

use virtqueue::MemoryRegion;

use crate::HalError;

/// DMA allocation from one [`MemoryRegion`]: bump allocation of zeroed, disjoint
/// ranges (alignment clamped to `1..=4096`), the whole region reused once every
/// allocation was freed (a driver dropped after its device reset). What
/// [`IdentityHal`](crate::IdentityHal) allocates from, and what an integrator's own
/// `Hal` over a fixed DMA window can use for its `dma_alloc` / `dma_dealloc`.
#[derive(Debug)]
pub struct DmaPool<'a> {
    memory: MemoryRegion<'a>,
    base: u64,
    end: u64,
    next: Cell<u64>,
    live: Cell<usize>,
}

impl<'a> DmaPool<'a> {
    /// A pool handing out the bytes of `memory`, at its addresses.
    pub fn new(memory: MemoryRegion<'a>) -> Self {
        let base = memory.base();
        DmaPool {
            memory,
            base,
            end: base.saturating_add(memory.len() as u64),
            next: Cell::new(base),
            live: Cell::new(0),
        }
    }

    /// The memory the pool allocates from.
    pub fn memory(&self) -> &MemoryRegion<'a> {
        &self.memory
    }

    /// Bytes not allocated yet.
    pub fn free_bytes(&self) -> u64 {
        self.end.saturating_sub(self.next.get())
    }

    /// `len` zeroed bytes aligned to `align`: their address, or
    /// [`HalError::OutOfDmaMemory`].
    pub fn alloc(&self, len: usize, align: usize) -> Result<u64, HalError> {
        let err = HalError::OutOfDmaMemory { len };
        let align = align.clamp(1, 4096) as u64;
        let at = self.next.get().checked_next_multiple_of(align).ok_or(err)?;
        let end = at
            .checked_add(len as u64)
            .filter(|&e| e <= self.end)
            .ok_or(err)?;
        self.memory
            .get(at, len)
            .and_then(|v| v.fill(0, len, 0))
            .map_err(|_| err)?;
        self.next.set(end);
        self.live.set(self.live.get() + 1);
        Ok(at)
    }

    /// One allocation freed; the pool starts over once none is left.
    pub fn dealloc(&self) {
        let live = self.live.get().saturating_sub(1);
        self.live.set(live);
        if live == 0 {
            self.next.set(self.base);
        }
    }
}
