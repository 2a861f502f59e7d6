//! Hosted channels in a named shared-memory file (`/dev/shm`, or the temp directory),
//! so two OS processes can be the two partitions.
//!
//! `std` has no memory mapping: the file is mapped with `memmap2`'s raw mapping (no
//! reference to the bytes is ever formed; the peer process writes them concurrently) and
//! seen only through [`Region`]'s atomic words.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::path::PathBuf;

use memmap2::{MmapOptions, MmapRaw};

use crate::region::Region;

/// A shared-memory file mapped read-write and shared.
#[derive(Debug)]
pub struct ShmFile {
    map: MmapRaw,
    path: PathBuf,
}

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

impl ShmFile {
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
        let map = MmapOptions::new().len(len).map_raw(f)?;
        Ok(Self { map, path })
    }

    /// The mapped bytes as a region (page aligned, so never misaligned).
    pub fn region(&self) -> Region<'_> {
        // SAFETY: `as_mut_ptr()..+len()` is our live shared mapping, readable and writable,
        // until `self` drops it, which the borrow of `&self` prevents while the region
        // lives; this process accesses it only through `Region` atomics (and the peer
        // process through its own mapping).
        match unsafe { Region::from_raw_parts(self.map.as_mut_ptr(), self.map.len()) } {
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
