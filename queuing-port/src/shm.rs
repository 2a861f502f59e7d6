//! Hosted channels in a named shared-memory file (`/dev/shm`, or the temp directory),
//! so two OS processes can be the two partitions.
//!
//! `std` has no memory mapping, hence the `libc` dependency for `mmap`/`munmap` only.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use crate::region::Region;

/// A shared-memory file mapped read-write and shared.
#[derive(Debug)]
pub struct SharedMemory {
    ptr: *mut u8,
    len: usize,
    path: PathBuf,
}

// SAFETY: the mapping is plain memory that is only ever accessed through `Region`
// (atomic words), which is safe to share and send between threads.
unsafe impl Send for SharedMemory {}
// SAFETY: as above; `&SharedMemory` only gives out `Region`s.
unsafe impl Sync for SharedMemory {}

fn path_of(name: &str) -> io::Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad shared-memory name {name:?}"),
        ));
    }
    let dir = PathBuf::from("/dev/shm");
    let dir = if dir.is_dir() {
        dir
    } else {
        std::env::temp_dir()
    };
    Ok(dir.join(name))
}

impl SharedMemory {
    /// Create (or truncate) the file `name` with `len` zeroed bytes and map it.
    pub fn create(name: &str, len: usize) -> io::Result<Self> {
        let path = path_of(name)?;
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        f.set_len(len as u64)?;
        Self::map(&f, len, path)
    }

    /// Open the existing file `name` and map all of it.
    pub fn open(name: &str) -> io::Result<Self> {
        let path = path_of(name)?;
        let f = OpenOptions::new().read(true).write(true).open(&path)?;
        let len = usize::try_from(f.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
        Self::map(&f, len, path)
    }

    fn map(f: &File, len: usize, path: PathBuf) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        // SAFETY: a fresh shared mapping of an open file descriptor; the kernel picks
        // the address; the result is checked against MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            ptr: ptr.cast(),
            len,
            path,
        })
    }

    /// The mapped bytes as a region (page aligned, so never misaligned).
    pub fn region(&self) -> Region<'_> {
        // SAFETY: `ptr..ptr+len` is our live mapping for the lifetime of `&self`; it is
        // only accessed through `Region` atomics here, and by the peer process.
        match unsafe { Region::from_raw_parts(self.ptr, self.len) } {
            Ok(r) => r,
            Err(_) => Region::new(&[]),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Remove the file name (the mapping stays valid).
    pub fn unlink(&self) -> io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` is the mapping created in `map`, unmapped exactly once;
        // no `Region` borrowed from `self` outlives it.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}
