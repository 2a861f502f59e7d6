//! The guest memory of one vhost-user frontend: the regions of `SET_MEM_TABLE`, each
//! mapped from its file, as a [`SharedMemory`] (guest-physical → region), plus the
//! translation of the frontend's own user addresses (`SET_VRING_ADDR`) to guest-physical.

use std::fs::File;
use std::os::unix::fs::MetadataExt;

use virtqueue::{SharedMemory, VolatileSlice};

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

/// The default budget of mapped guest memory per port: 8 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 8 << 30;

/// The mapped guest memory. Views handed out borrow it; the mappings are unmapped when it
/// is dropped.
#[derive(Debug)]
pub struct GuestMemory {
    info: heapless::Vec<RegionInfo, MAX_REGIONS>,
    /// Each region's mapping and where the region starts in it, index for index with
    /// `info`.
    maps: heapless::Vec<(Mapping, usize), MAX_REGIONS>,
}

/// Where one region is mapped from its file: the aligned file offset, the region's start
/// inside the mapping, and the mapping's length.
#[derive(Debug, Clone, Copy)]
struct Placement {
    sealed: bool,
    file_size: u64,
    needed: u64,
    file_offset: u64,
    start: usize,
    len: usize,
}

impl GuestMemory {
    /// Map every region from its file, each only over the bytes it covers (its offset
    /// rounded down, its end rounded up to the file's page size), and no more than
    /// `budget` bytes for the whole table.
    ///
    /// Fails (typed, naming the region) on: a count of files that differs from the count
    /// of regions, 0 or more than [`MAX_REGIONS`] regions; a size of 0, an offset or size
    /// that overflows; an fd that is not a memfd (checked first, before anything else is
    /// asked of it: [`VhostUserError::RegionFd`]); a file shorter than the region's end, or
    /// not sealed against shrinking (`F_SEAL_SHRINK`) when its mapping cannot be guarded
    /// against the file shrinking (see [`GuestMemory::truncated`]); a region overlapping another (in
    /// guest-physical or frontend addresses); a table above the budget
    /// ([`VhostUserError::MemoryBudget`], nothing mapped); a memfd on hugetlbfs unless
    /// `hugetlbfs` allows it ([`VhostUserError::HugetlbfsRegion`]); a failed `mmap`.
    ///
    /// Why hugetlbfs is opt-in: sealing against shrinking does not stop the frontend
    /// from punching a hole in the file (`FALLOC_FL_PUNCH_HOLE`); the backend's next
    /// access to that page must take a fresh huge page from the system's pool, and when
    /// the pool is exhausted the access faults (`SIGBUS`), which ends the whole process.
    /// On tmpfs a punched page reads back as zeros.
    pub fn map(
        regions: &[RegionInfo],
        files: &[File],
        budget: u64,
        hugetlbfs: bool,
    ) -> Result<GuestMemory, VhostUserError> {
        if regions.len() != files.len() || regions.len() > MAX_REGIONS || regions.is_empty() {
            return Err(VhostUserError::MemTable {
                regions: regions.len() as u32,
                files: files.len() as u32,
            });
        }
        // Check every region and what it would map before mapping any.
        let mut places = heapless::Vec::<Placement, MAX_REGIONS>::new();
        let mut needed = 0u64;
        for (i, (r, file)) in regions.iter().zip(files).enumerate() {
            let p = Self::check(r, file, hugetlbfs)?;
            for o in &regions[..i] {
                let disjoint = |a: u64, b: u64| a + r.memory_size <= b || b + o.memory_size <= a;
                if !disjoint(r.user_addr, o.user_addr)
                    || !disjoint(r.guest_phys_addr, o.guest_phys_addr)
                {
                    return Err(bad(r));
                }
            }
            needed = needed.saturating_add(p.len as u64);
            places.push(p).map_err(|_| bad(r))?;
        }
        if needed > budget {
            return Err(VhostUserError::MemoryBudget { needed, budget });
        }
        let mut mem = GuestMemory {
            info: heapless::Vec::new(),
            maps: heapless::Vec::new(),
        };
        for ((r, file), p) in regions.iter().zip(files).zip(places) {
            let map =
                Mapping::map(file, p.file_offset, p.len).map_err(|e| VhostUserError::Map {
                    guest_phys_addr: r.guest_phys_addr,
                    errno: e.raw_os_error().unwrap_or(0),
                })?;
            if !p.sealed && !map.guarded() {
                return Err(VhostUserError::RegionFile {
                    guest_phys_addr: r.guest_phys_addr,
                    file_size: p.file_size,
                    needed: p.needed,
                    sealed: false,
                });
            }
            // `memory_size` fits `usize` (checked): the region lies inside its mapping.
            map.view(p.start, r.memory_size as usize).ok_or(bad(r))?;
            mem.maps.push((map, p.start)).map_err(|_| bad(r))?;
            mem.info.push(*r).map_err(|_| bad(r))?;
        }
        Ok(mem)
    }

    /// One region's values and file, and where it would be mapped.
    fn check(r: &RegionInfo, file: &File, hugetlbfs: bool) -> Result<Placement, VhostUserError> {
        let size = usize::try_from(r.memory_size).map_err(|_| bad(r))?;
        let end = r.mmap_offset.checked_add(r.memory_size).ok_or(bad(r))?;
        if size == 0
            || end > i64::MAX as u64
            || r.user_addr.checked_add(r.memory_size).is_none()
            || r.guest_phys_addr.checked_add(r.memory_size).is_none()
        {
            return Err(bad(r));
        }
        // The fd's kind first: only a memfd has seals, and only then is `fstat` safe (on
        // a FUSE file it would wait for the FUSE daemon, which may be the frontend).
        let Ok(seals) = super::sys::seals(file) else {
            return Err(VhostUserError::RegionFd {
                guest_phys_addr: r.guest_phys_addr,
                kind: super::sys::fd_kind(file),
            });
        };
        if !hugetlbfs && super::sys::on_hugetlbfs(file) {
            return Err(VhostUserError::HugetlbfsRegion {
                guest_phys_addr: r.guest_phys_addr,
            });
        }
        let meta = file.metadata().ok().filter(|m| m.is_file());
        let Some(meta) = meta else {
            return Err(VhostUserError::RegionFd {
                guest_phys_addr: r.guest_phys_addr,
                kind: super::sys::fd_kind(file),
            });
        };
        // A mapped page beyond the end of the file would fault (SIGBUS) on access: the
        // file must be long enough now. One the frontend can still shrink (DPDK's memfd;
        // QEMU's memory-backend-memfd seals by default) is mapped under a fault guard
        // (checked when mapping).
        let sealed = seals.contains(rustix::fs::SealFlags::SHRINK);
        if meta.len() < end {
            return Err(VhostUserError::RegionFile {
                guest_phys_addr: r.guest_phys_addr,
                file_size: meta.len(),
                needed: end,
                sealed,
            });
        }
        // Map from the offset rounded down to the file's page size (hugetlbfs: its huge
        // page size, which it reports as the block size) to the end rounded up.
        let page = super::sys::page_size();
        let blk = meta.blksize();
        let align = if blk.is_power_of_two() && (page..=1 << 30).contains(&blk) {
            blk
        } else {
            page
        };
        let file_offset = r.mmap_offset & !(align - 1);
        let start = r.mmap_offset - file_offset;
        let len = (start + r.memory_size)
            .checked_next_multiple_of(align)
            .ok_or(bad(r))?;
        Ok(Placement {
            sealed,
            file_size: meta.len(),
            needed: end,
            file_offset,
            start: usize::try_from(start).map_err(|_| bad(r))?,
            len: usize::try_from(len).map_err(|_| bad(r))?,
        })
    }

    /// Bytes mapped for this table (the regions rounded out to whole pages): at most the
    /// budget it was mapped with.
    pub fn mapped_bytes(&self) -> u64 {
        self.maps.iter().map(|(m, _)| m.len() as u64).sum()
    }

    /// The guest-physical address of a region whose file shrank under an access (the
    /// frontend truncated it; the backend read zeros there), if any.
    pub fn truncated(&self) -> Option<u64> {
        self.maps
            .iter()
            .zip(&self.info)
            .find_map(|((m, _), r)| m.faulted().then_some(r.guest_phys_addr))
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

fn bad(r: &RegionInfo) -> VhostUserError {
    VhostUserError::BadRegion {
        guest_phys_addr: r.guest_phys_addr,
        memory_size: r.memory_size,
        user_addr: r.user_addr,
    }
}

impl SharedMemory for GuestMemory {
    /// Guest-physical `addr..addr + len` inside one region, as a view of its mapping
    /// (borrowing the memory, so it cannot outlive the mapping).
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, virtqueue::Error> {
        self.info
            .iter()
            .zip(&self.maps)
            .find_map(|(r, (map, start))| {
                let off = addr.checked_sub(r.guest_phys_addr)?;
                if off.checked_add(len as u64)? > r.memory_size {
                    return None;
                }
                // `off < memory_size`, which fits `usize` (checked at map time).
                map.view(start + off as usize, len)
            })
            .ok_or(virtqueue::Error::OutOfMemory {
                addr,
                len: len as u64,
            })
    }
}
