//! [`DmaPool`]: the bump allocator behind simple [`Hal`](crate::Hal)s.

use core::cell::Cell;

use virtqueue::{MemoryRegion, SharedMemory};

use crate::HalError;

/// The next `len` bytes aligned to `align` (not 0) from `next`, ending at or
/// before `end`: `(start, new next)`. The arithmetic of every bump allocator of the crate
/// (DMA pools, BAR windows).
pub(crate) fn bump(next: u64, end: u64, len: u64, align: u64) -> Option<(u64, u64)> {
    let at = next.checked_next_multiple_of(align)?;
    let after = at.checked_add(len).filter(|&e| e <= end)?;
    Some((at, after))
}

/// DMA allocation from one range of memory `M` (a [`MemoryRegion`], or any
/// [`SharedMemory`] over `base..base + len`): bump allocation of zeroed, disjoint ranges
/// (alignment clamped to `1..=4096`), the whole range reused once every allocation was
/// freed (a driver dropped after its device reset). What
/// [`IdentityHal`](crate::IdentityHal) allocates from, and what an integrator's own `Hal`
/// over a fixed DMA window can use for its `dma_alloc` / `dma_dealloc`.
#[derive(Debug)]
pub struct DmaPool<M> {
    memory: M,
    base: u64,
    end: u64,
    next: Cell<u64>,
    live: Cell<usize>,
}

impl<'a> DmaPool<MemoryRegion<'a>> {
    /// A pool handing out the bytes of `memory`, at its addresses.
    pub fn new(memory: MemoryRegion<'a>) -> Self {
        let (base, len) = (memory.base(), memory.len());
        Self::over(memory, base, len)
    }
}

impl<M: SharedMemory> DmaPool<M> {
    /// A pool handing out `base..base + len` of `memory` (addresses as `memory`
    /// translates them).
    pub fn over(memory: M, base: u64, len: usize) -> Self {
        DmaPool {
            memory,
            base,
            end: base.saturating_add(len as u64),
            next: Cell::new(base),
            live: Cell::new(0),
        }
    }

    /// The memory the pool allocates from.
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// Bytes not allocated yet.
    pub fn free_bytes(&self) -> u64 {
        self.end.saturating_sub(self.next.get())
    }

    /// Allocations not freed yet.
    pub fn live(&self) -> usize {
        self.live.get()
    }

    /// `len` zeroed bytes aligned to `align`: their address, or
    /// [`HalError::OutOfDmaMemory`].
    pub fn alloc(&self, len: usize, align: usize) -> Result<u64, HalError> {
        let err = HalError::OutOfDmaMemory { len };
        let align = align.clamp(1, 4096) as u64;
        let (at, next) = bump(self.next.get(), self.end, len as u64, align).ok_or(err)?;
        self.memory
            .slice(at, len)
            .and_then(|v| v.fill(0, len, 0))
            .map_err(|_| err)?;
        self.next.set(next);
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

#[cfg(test)]
mod tests {
    use super::*;
    use virtqueue::OwnedMemory;

    #[test]
    fn allocations_are_aligned_disjoint_zeroed_and_the_pool_starts_over_when_all_are_freed() {
        let pool = DmaPool::over(OwnedMemory::new(0x1000, 0x1000), 0x1000, 0x1000);
        let a = pool.alloc(10, 1).unwrap();
        pool.memory()
            .slice(a, 10)
            .unwrap()
            .fill(0, 10, 0xee)
            .unwrap();
        let b = pool.alloc(16, 64).unwrap();
        assert_eq!((a, b), (0x1000, 0x1040));
        assert_eq!(pool.live(), 2);
        assert_eq!(pool.free_bytes(), 0x1000 - 0x50);
        assert_eq!(
            pool.alloc(0x1000, 1),
            Err(HalError::OutOfDmaMemory { len: 0x1000 })
        );
        pool.dealloc();
        assert_eq!(pool.alloc(4, 1).unwrap(), 0x1050, "one still live");
        pool.dealloc();
        pool.dealloc();
        assert_eq!(pool.live(), 0);
        let again = pool.alloc(10, 1).unwrap();
        assert_eq!(again, 0x1000, "started over");
        let mut bytes = [0xffu8; 10];
        pool.memory()
            .slice(again, 10)
            .unwrap()
            .read_into(0, &mut bytes)
            .unwrap();
        assert_eq!(bytes, [0; 10], "handed out zeroed again");
    }

    #[test]
    fn bump_refuses_overflow_and_ranges_past_the_end() {
        assert_eq!(bump(0x10, 0x100, 0x10, 0x40), Some((0x40, 0x50)));
        assert_eq!(bump(0x10, 0x50, 0x41, 0x40), None);
        assert_eq!(bump(u64::MAX - 2, u64::MAX, 1, 8), None);
        assert_eq!(bump(0, u64::MAX, u64::MAX, 1), Some((0, u64::MAX)));
    }
}
