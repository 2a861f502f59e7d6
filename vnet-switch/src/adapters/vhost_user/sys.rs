//! The few system calls of the backend, through `rustix`: mapping a guest memory region
//! from its file, telling what kind of file a received fd is, waiting on fds, and
//! signalling / draining eventfds. Every `unsafe` of the adapter's system side is here:
//! the views into a guest memory mapping (each borrowing the mapping) and the wait on the
//! raw fds of a [`WaitList`](super::WaitList).
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{OFlags, SealFlags};
use rustix::net::RecvFlags;

use super::error::FdKind;
use super::fault::Guard;

/// A shared, read-write mapping of `len` bytes of a file (memmap2's raw mapping: it
/// hands out a pointer, never a reference), unmapped on drop; guarded against its file
/// shrinking ([`Guard`]) when the guard could be set up.
#[derive(Debug)]
pub(crate) struct Mapping {
    // Dropped first: the range is unregistered before it is unmapped.
    guard: Option<Guard>,
    map: memmap2::MmapRaw,
}

impl Mapping {
    /// Map `len` bytes of `file` from `offset` (`MAP_SHARED`, read-write); `offset` must
    /// be a multiple of the file's page size (the caller aligns it).
    pub(crate) fn map(file: &File, offset: u64, len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let map = memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .map_raw(file)?;
        let guard = Guard::register(map.as_mut_ptr(), map.len());
        Ok(Mapping { guard, map })
    }

    /// Whether a file shrinking under this mapping would be survived ([`Guard`]).
    pub(crate) fn guarded(&self) -> bool {
        self.guard.is_some()
    }

    /// Whether an access faulted because the file shrank.
    pub(crate) fn faulted(&self) -> bool {
        self.guard.as_ref().is_some_and(Guard::faulted)
    }

    /// The bytes mapped.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// A volatile view of `len` bytes at `offset`, or `None` when outside the mapping.
    /// The view borrows the mapping, so it cannot outlive it.
    #[inline]
    pub(crate) fn view(&self, offset: usize, len: usize) -> Option<virtqueue::VolatileSlice<'_>> {
        let end = offset.checked_add(len)?;
        if end > self.map.len() {
            return None;
        }
        // SAFETY: `offset..offset + len` lies inside the mapping (checked above), which
        // stays mapped as long as the borrow of `self` the view carries; the mapping is
        // read-write and shared memory only ever accessed through volatile copies (no
        // `&[u8]` to it exists). A page of it cannot vanish: the file is sealed against
        // shrinking, or the mapping is guarded (`fault.rs`: a page past a new end of file
        // is replaced by a zero page on the fault, and the range stays mapped).
        Some(unsafe {
            virtqueue::VolatileSlice::from_raw_parts(self.map.as_mut_ptr().add(offset), len)
        })
    }
}

/// Set `O_NONBLOCK` on `file` (kick eventfds are drained without waiting).
pub(crate) fn set_nonblocking(file: &File) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    rustix::fs::fcntl_setfl(file, flags | OFlags::NONBLOCK)?;
    Ok(())
}

/// Wait until one of `fds` is readable or `timeout_ms` passed (`-1`: no limit). Returns
/// which ones are readable (or hung up) in `ready`, index for index. A signal ends the
/// wait with nothing ready. `fds` are the open fds of a [`WaitList`](super::WaitList).
pub(crate) fn wait_readable(
    fds: &[RawFd],
    ready: &mut Vec<bool>,
    timeout_ms: i32,
) -> io::Result<usize> {
    ready.clear();
    ready.resize(fds.len(), false);
    let mut pfd: Vec<PollFd<'_>> = fds
        .iter()
        .map(|&fd| {
            // SAFETY: the fds of a wait list are borrowed from the objects that own them
            // (listeners, sockets, eventfds) for the list's life, which is shorter than
            // theirs; `poll` only passes the numbers to the kernel (a number that was
            // closed would come back as POLLNVAL, never touch memory).
            PollFd::from_borrowed_fd(unsafe { BorrowedFd::borrow_raw(fd) }, PollFlags::IN)
        })
        .collect();
    let timeout = u64::try_from(timeout_ms).ok().map(|ms| Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    });
    let n = match rustix::event::poll(&mut pfd, timeout.as_ref()) {
        Ok(n) => n,
        Err(rustix::io::Errno::INTR) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    for (r, p) in ready.iter_mut().zip(&pfd) {
        *r = !p.revents().is_empty();
    }
    Ok(n)
}

/// Bytes waiting on a socket, up to `buf.len()`, without taking them (`MSG_PEEK`, never
/// blocks; attached fds stay queued). `Ok(0)`: the peer closed.
pub(crate) fn peek(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let (n, _) = rustix::net::recv(socket, buf, RecvFlags::PEEK | RecvFlags::DONTWAIT)?;
    Ok(n)
}

/// Whether a socket can take a write now (a reply would not block).
pub(crate) fn writable(socket: BorrowedFd<'_>) -> bool {
    let mut p = [PollFd::from_borrowed_fd(socket, PollFlags::OUT)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut p, Some(&now)), Ok(1))
        && p[0].revents().contains(PollFlags::OUT)
}

/// The seals of `file` (`F_GET_SEALS`). Only memfds (tmpfs or hugetlbfs files) have
/// seals: any other file (a pipe, a socket, an eventfd, a file on disk or on FUSE) is an
/// `Err`. Unlike `fstat`, this never reaches a FUSE daemon, so it is safe on any fd.
pub(crate) fn seals(file: &File) -> io::Result<SealFlags> {
    Ok(rustix::fs::fcntl_get_seals(file)?)
}

/// Whether the memfd `file` lives on hugetlbfs (`fstatfs`; only called on memfds,
/// which no FUSE daemon serves). `false` when the call fails.
pub(crate) fn on_hugetlbfs(file: &File) -> bool {
    /// `HUGETLBFS_MAGIC` of `linux/magic.h`.
    const HUGETLBFS_MAGIC: u32 = 0x9584_58f6;
    // `f_type`'s integer type differs between architectures; the magic fits 32 bits.
    rustix::fs::fstatfs(file).is_ok_and(|st| st.f_type as u32 == HUGETLBFS_MAGIC)
}

/// The system's page size.
pub(crate) fn page_size() -> u64 {
    (rustix::param::page_size() as u64).max(4096)
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
