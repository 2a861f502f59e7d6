//! Address translation: [`SharedMemory`] and the provided translations.

use crate::Error;

use super::VolatileSlice;

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
    #[inline]
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
    #[inline]
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
