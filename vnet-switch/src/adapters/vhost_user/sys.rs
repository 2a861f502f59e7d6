//! The few system calls of the backend: mapping a guest memory region from its file,
//! telling what kind of file a received fd is, and signalling / draining eventfds. Every
//! `unsafe` of the adapter's system side is here.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

use super::error::FdKind;

/// A shared, read-write mapping of `len` bytes of a file, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; every access goes through volatile copies
// (`virtqueue::VolatileSlice`), so moving or sharing the owner between threads is sound.
unsafe impl Send for Mapping {}
// SAFETY: as above: no `&[u8]` to the bytes is ever created.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Map `len` bytes of `file` from `offset` (`MAP_SHARED`, read-write); `offset` must
    /// be a multiple of the file's page size (the caller aligns it).
    pub(crate) fn map(file: &File, offset: u64, len: usize) -> io::Result<Mapping> {
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        if len == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: a fresh mapping at an address the kernel chooses: no existing memory is
        // affected. The fd is valid for the call (borrowed from `file`); the result is
        // checked for MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The bytes mapped.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A volatile view of `len` bytes at `offset`, or `None` when outside the mapping.
    /// The view is `'static` as far as the type system knows: the caller keeps it no
    /// longer than the mapping (see `memory.rs`).
    pub(crate) fn view(
        &self,
        offset: usize,
        len: usize,
    ) -> Option<virtqueue::VolatileSlice<'static>> {
        let end = offset.checked_add(len)?;
        if end > self.len || len == 0 {
            return None;
        }
        // SAFETY: `offset..offset + len` lies inside the live mapping (checked above); the
        // mapping is read-write; the slice is only used through volatile accesses, and its
        // owner (`GuestMemory`) drops it before this mapping (field order there).
        Some(unsafe { virtqueue::VolatileSlice::from_raw_parts(self.ptr.add(offset), len) })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned; no view outlives the
        // mapping (the owner drops views first).
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// Set `O_NONBLOCK` on `file` (kick eventfds are drained without waiting).
pub(crate) fn set_nonblocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a valid, owned fd; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Wait until one of `fds` is readable or `timeout_ms` passed (`-1`: no limit). Returns
/// which ones are readable (or hung up) in `ready`, index for index.
pub fn wait_readable(fds: &[i32], ready: &mut Vec<bool>, timeout_ms: i32) -> io::Result<usize> {
    let mut pfd: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfd` is a valid array of `pfd.len()` pollfd structs for the call.
    let n = unsafe { libc::poll(pfd.as_mut_ptr(), pfd.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        ready.clear();
        ready.resize(fds.len(), false);
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(0)
        } else {
            Err(e)
        };
    }
    ready.clear();
    ready.extend(pfd.iter().map(|p| p.revents != 0));
    Ok(n as usize)
}

/// Bytes waiting on a socket, up to `buf.len()`, without taking them (`MSG_PEEK`, never
/// blocks; attached fds stay queued). `Ok(0)`: the peer closed.
pub(crate) fn peek(fd: i32, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Whether a socket can take a write now (a reply would not block).
pub(crate) fn writable(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call; timeout 0 (no wait).
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & libc::POLLOUT != 0
}

/// The seals of `file` (`F_GET_SEALS`). Only memfds (tmpfs or hugetlbfs files) have
/// seals: any other file (a pipe, a socket, an eventfd, a file on disk or on FUSE) is an
/// `Err`. Unlike `fstat`, this never reaches a FUSE daemon, so it is safe on any fd.
pub(crate) fn seals(file: &File) -> io::Result<i32> {
    // SAFETY: fcntl on a valid, borrowed fd; no memory is passed.
    let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
    if seals < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(seals)
    }
}

/// Whether the memfd `file` lives on hugetlbfs (`fstatfs`; only called on memfds,
/// which no FUSE daemon serves). `false` when the call fails.
pub(crate) fn on_hugetlbfs(file: &File) -> bool {
    /// `HUGETLBFS_MAGIC` of `linux/magic.h`.
    const HUGETLBFS_MAGIC: u32 = 0x9584_58f6;
    // SAFETY: all-zero bytes are a valid `statfs` (plain integers).
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: fstatfs on a valid, borrowed fd, writing into one `statfs` we own.
    let rc = unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) };
    // `f_type`'s integer type differs between architectures; the magic fits 32 bits.
    rc == 0 && st.f_type as u32 == HUGETLBFS_MAGIC
}

/// The system's page size.
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).unwrap_or(4096).max(4096)
}

/// What kind of file `file` is, from the name the kernel gives its fd
/// (`/proc/self/fd/N`): this reads no file data and never reaches a FUSE daemon.
/// `Unknown` when `/proc` cannot tell.
pub(crate) fn fd_kind(file: &File) -> FdKind {
    let Ok(link) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) else {
        return FdKind::Unknown;
    };
    let name = link.as_os_str().as_bytes();
    if name == b"anon_inode:[eventfd]" {
        FdKind::Eventfd
    } else if name.starts_with(b"anon_inode:") {
        FdKind::OtherAnonymous
    } else if name.starts_with(b"pipe:") {
        FdKind::Pipe
    } else if name.starts_with(b"socket:") {
        FdKind::Socket
    } else if name.starts_with(b"/memfd:") {
        FdKind::Memfd
    } else if name.starts_with(b"/") {
        FdKind::File
    } else {
        FdKind::Unknown
    }
}

/// Whether the eventfd `file` (non-blocking) hands its whole count to one read, as a
/// kick eventfd must: one read then drains every pending kick. An `EFD_SEMAPHORE`
/// eventfd hands out 1 per read, so a large count would keep it readable for ever.
/// Takes the kicks pending (the rings are polled when they start anyway).
pub(crate) fn eventfd_reads_whole(file: &File) -> bool {
    let mut b = [0u8; 8];
    let _ = (&*file).read(&mut b);
    if !matches!((&*file).write(&2u64.to_ne_bytes()), Ok(8)) {
        return false;
    }
    // Normal mode: the whole count (2, or more if a kick raced in); semaphore mode: 1.
    matches!((&*file).read(&mut b), Ok(8)) && u64::from_ne_bytes(b) >= 2
}

/// Drain a non-blocking kick eventfd: `true` when it held kicks. One read takes the
/// whole count (counting mode was checked when the fd was set); a kick that races in
/// after it leaves the fd readable for the next wait.
pub(crate) fn drain_eventfd(file: &File) -> bool {
    let mut b = [0u8; 8];
    matches!((&*file).read(&mut b), Ok(8))
}
