//! The guest memory of one vhost-user frontend: the regions of `SET_MEM_TABLE`, each
//! mapped from its file, as a [`SharedMemory`] (guest-physical → region), plus the
//! translation of the frontend's own user addresses (`SET_VRING_ADDR`) to guest-physical.

use std::fs::File;

use virtqueue::{MemoryRegion, MultiRegion, SharedMemory, VolatileSlice};

use super::error::VhostUserError;
use super::sys::Mapping;

/// Most regions a frontend may send (`VHOST_MEMORY_BASELINE_NREGIONS`).
pub const MAX_REGIONS: usize = 8;

/// One region as the frontend described it (the values of `SET_MEM_TABLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionInfo {
    /// First guest-physical address.
    pub guest_phys_addr: u64,
    /// Length in bytes.
    pub memory_size: u64,
    /// Where the frontend has the region in its own address space.
    pub user_addr: u64,
    /// Where the region starts in its file.
    pub mmap_offset: u64,
}

/// The mapped guest memory. Views handed out borrow it; the mappings are unmapped when it
/// is dropped.
#[derive(Debug)]
pub struct GuestMemory {
    // Field order matters: `regions` holds views into `maps` and is dropped first.
    regions: MultiRegion<'static, MAX_REGIONS>,
    info: heapless::Vec<RegionInfo, MAX_REGIONS>,
    _maps: heapless::Vec<Mapping, MAX_REGIONS>,
}

impl GuestMemory {
    /// Map every region from its file. Fails (typed, naming the region) on a file shorter
    /// than the region's end or not sealed against shrinking (`F_SEAL_SHRINK`), a size of 0,
    /// an offset or size that overflows, a region overlapping another (in guest-physical
    /// or frontend addresses), more than [`MAX_REGIONS`] regions, a count of files that
    /// differs from the count of regions, or a failed `mmap`.
    pub fn map(regions: &[RegionInfo], files: &[File]) -> Result<GuestMemory, VhostUserError> {
        if regions.len() != files.len() || regions.len() > MAX_REGIONS || regions.is_empty() {
            return Err(VhostUserError::MemTable {
                regions: regions.len() as u32,
                files: files.len() as u32,
            });
        }
        let mut mem = GuestMemory {
            regions: MultiRegion::new(),
            info: heapless::Vec::new(),
            _maps: heapless::Vec::new(),
        };
        for (r, file) in regions.iter().zip(files) {
            let bad = VhostUserError::BadRegion {
                guest_phys_addr: r.guest_phys_addr,
                memory_size: r.memory_size,
                user_addr: r.user_addr,
            };
            let size = usize::try_from(r.memory_size).map_err(|_| bad)?;
            let offset = usize::try_from(r.mmap_offset).map_err(|_| bad)?;
            let total = offset.checked_add(size).ok_or(bad)?;
            if size == 0 || r.user_addr.checked_add(r.memory_size).is_none() {
                return Err(bad);
            }
            // A mapped page beyond the end of the file, or a file the frontend can still
            // shrink, would fault (SIGBUS) on access: the file must be long enough and
            // sealed against shrinking (QEMU's memory-backend-memfd seals by default).
            let file_size = file.metadata().map_or(0, |m| m.len());
            let sealed = super::sys::shrink_sealed(file);
            if file_size < total as u64 || !sealed {
                return Err(VhostUserError::RegionFile {
                    guest_phys_addr: r.guest_phys_addr,
                    file_size,
                    needed: total as u64,
                    sealed,
                });
            }
            for o in &mem.info {
                let disjoint = |a: u64, b: u64| a + r.memory_size <= b || b + o.memory_size <= a;
                if !disjoint(r.user_addr, o.user_addr) {
                    return Err(bad);
                }
            }
            let map = Mapping::map(file, total).map_err(|e| VhostUserError::Map {
                guest_phys_addr: r.guest_phys_addr,
                errno: e.raw_os_error().unwrap_or(0),
            })?;
            let view = map.view(offset, size).ok_or(bad)?;
            // `add` refuses overlaps in guest-physical addresses and wraps.
            mem.regions
                .add(MemoryRegion::new(r.guest_phys_addr, view))
                .map_err(|_| bad)?;
            mem._maps.push(map).map_err(|_| bad)?;
            mem.info.push(*r).map_err(|_| bad)?;
        }
        Ok(mem)
    }

    /// The regions as the frontend described them.
    pub fn regions(&self) -> &[RegionInfo] {
        &self.info
    }

    /// Translate a frontend user address range to guest-physical (the whole range inside
    /// one region), or `None`.
    pub fn user_to_guest(&self, user_addr: u64, len: u64) -> Option<u64> {
        self.info.iter().find_map(|r| {
            let off = user_addr.checked_sub(r.user_addr)?;
            let end = off.checked_add(len)?;
            (end <= r.memory_size).then(|| r.guest_phys_addr + off)
        })
    }
}

impl SharedMemory for GuestMemory {
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, virtqueue::Error> {
        // The views are `'static` inside `regions`; the returned one is tied to `&self`,
        // so none outlives the mappings.
        self.regions.slice(addr, len)
    }
}
