//! Why a vhost-user frontend was refused or cut off.

use core::fmt;

use crate::adapters::virtio_net::VirtioNetError;

/// What a vhost-user frontend (or its guest) got wrong. Each variant carries the values.
///
/// A request error is answered with a failure (`REPLY_ACK`) and remembered; an error that
/// makes the device unusable cuts the frontend off (see [`CutOff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VhostUserError {
    /// `SET_MEM_TABLE` with a count of regions and files that do not match (or 0, or
    /// more than [`MAX_REGIONS`](super::MAX_REGIONS)).
    MemTable {
        /// Regions in the message.
        regions: u32,
        /// Files attached.
        files: u32,
    },
    /// A memory region that is empty, overflows, or overlaps another.
    BadRegion {
        /// Its guest-physical address.
        guest_phys_addr: u64,
        /// Its size.
        memory_size: u64,
        /// Its frontend user address.
        user_addr: u64,
    },
    /// A region's file is shorter than the region, or can still shrink (no
    /// `F_SEAL_SHRINK`) and the backend cannot guard its mapping against that: a page of
    /// the mapping could vanish under the backend.
    RegionFile {
        /// The region's guest-physical address.
        guest_phys_addr: u64,
        /// The file's size.
        file_size: u64,
        /// The bytes the region needs (offset + size).
        needed: u64,
        /// Whether the file is sealed against shrinking.
        sealed: bool,
    },
    /// A region's file shrank under the running rings: an access past its new end
    /// faulted (the backend mapped zero pages there and went on).
    RegionTruncated {
        /// The region's guest-physical address.
        guest_phys_addr: u64,
    },
    /// A region's fd is not a memfd (a pipe, a socket, an eventfd, a file on disk or on
    /// FUSE, ...): only memfds (tmpfs or hugetlbfs) can be sealed and are never served by
    /// another process, so only they are looked at further.
    RegionFd {
        /// The region's guest-physical address.
        guest_phys_addr: u64,
        /// What the fd is.
        kind: FdKind,
    },
    /// A region's memfd is on hugetlbfs and the port does not allow that
    /// ([`VhostUserPort::with_hugetlbfs`](super::VhostUserPort::with_hugetlbfs)): a
    /// frontend could punch a hole in it that the backend then faults on (`SIGBUS`) when
    /// the huge page pool is exhausted.
    HugetlbfsRegion {
        /// The region's guest-physical address.
        guest_phys_addr: u64,
    },
    /// The memory table would map more bytes than the port's budget
    /// ([`VhostUserPort::with_memory_budget`](super::VhostUserPort::with_memory_budget)).
    MemoryBudget {
        /// Bytes the table needs mapped (each region rounded out to whole pages).
        needed: u64,
        /// The port's budget.
        budget: u64,
    },
    /// `mmap` of a region failed.
    Map {
        /// The region's guest-physical address.
        guest_phys_addr: u64,
        /// The OS error number.
        errno: i32,
    },
    /// The memory table changed while the rings were running.
    MemTableChanged {
        /// Regions in the new table.
        regions: u32,
    },
    /// A vring index other than 0 (receiveq) and 1 (transmitq): multiqueue is not offered.
    BadQueue {
        /// The index asked for.
        index: u32,
    },
    /// A queue size that is 0, not a power of two, or above the backend's limit.
    BadQueueSize {
        /// The queue.
        index: u32,
        /// The size asked for.
        num: u32,
    },
    /// A ring address (frontend user address) outside the guest memory.
    BadRingAddress {
        /// The queue.
        index: u32,
        /// The address.
        user_addr: u64,
    },
    /// A `SET_VRING_BASE` ring state that does not fit the ring: a split index above 16
    /// bits, or a packed offset (bits 0..=14 avail, 16..=30 used) not inside the ring
    /// (checked when set and again when the ring starts).
    BadRingBase {
        /// The queue.
        index: u32,
        /// The value sent.
        base: u32,
        /// Whether the rings are packed.
        packed: bool,
    },
    /// A kick or call fd that is not an eventfd in counting mode (a pipe, a socket, a
    /// file, an `EFD_SEMAPHORE` eventfd for a kick): it could block the backend or keep
    /// its event loop awake.
    NotifierFd {
        /// The queue.
        index: u32,
        /// Which of the queue's fds.
        notifier: Notifier,
        /// What the fd is.
        kind: FdKind,
    },
    /// Features acked that were not offered, or `VERSION_1` missing.
    Features {
        /// The offending bits.
        bits: u64,
    },
    /// A ring request before the memory table, or a ring set up while it was running.
    Sequence {
        /// The queue.
        index: u32,
    },
    /// The rings refused attachment (alignment, size, bounds), or the port refused the
    /// negotiated features.
    Attach(VirtioNetError),
    /// The guest's rings broke while running (a fatal ring error of the port).
    Ring(VirtioNetError),
    /// A protocol message the backend cannot parse or does not support.
    Protocol,
    /// A request header announcing a body above the protocol's limit (4096 bytes).
    Oversized {
        /// The body size in the header.
        size: u32,
    },
    /// The frontend closed the socket.
    Disconnected,
    /// The socket failed (a reset connection).
    Socket {
        /// The OS error number.
        errno: i32,
    },
    /// A request stayed incomplete (or its reply found no room) for longer than
    /// [`REQUEST_TIMEOUT`](super::REQUEST_TIMEOUT).
    Stalled {
        /// Bytes of the request that had arrived.
        bytes: u32,
    },
    /// The running data path refused a call of the switch (a bad handle, a frame
    /// length above the port's limit, a ring error).
    Link(VirtioNetError),
}

impl frame_link::LinkFault for VhostUserError {
    fn kind(&self) -> frame_link::ErrorKind {
        match self {
            VhostUserError::Link(e) => frame_link::LinkFault::kind(e),
            VhostUserError::Disconnected => frame_link::ErrorKind::Down,
            VhostUserError::Socket { .. } => frame_link::ErrorKind::Other,
            _ => frame_link::ErrorKind::Peer,
        }
    }
}

impl fmt::Display for VhostUserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VhostUserError::MemTable { regions, files } => write!(
                f,
                "memory table with {regions} regions and {files} files (1..=8, equal)"
            ),
            VhostUserError::BadRegion {
                guest_phys_addr,
                memory_size,
                user_addr,
            } => write!(
                f,
                "memory region at {guest_phys_addr:#x} of {memory_size:#x} bytes (user {user_addr:#x}) is empty, overflows or overlaps"
            ),
            VhostUserError::RegionTruncated { guest_phys_addr } => write!(
                f,
                "region at {guest_phys_addr:#x}: its file shrank under the running rings"
            ),
            VhostUserError::RegionFile {
                guest_phys_addr,
                file_size,
                needed,
                sealed,
            } => write!(
                f,
                "region at {guest_phys_addr:#x}: file of {file_size} bytes (needs {needed}), sealed against shrinking: {sealed}"
            ),
            VhostUserError::RegionFd {
                guest_phys_addr,
                kind,
            } => write!(
                f,
                "region at {guest_phys_addr:#x}: its fd is {kind}, not a memfd"
            ),
            VhostUserError::HugetlbfsRegion { guest_phys_addr } => write!(
                f,
                "region at {guest_phys_addr:#x}: a memfd on hugetlbfs, which this port does not allow"
            ),
            VhostUserError::MemoryBudget { needed, budget } => write!(
                f,
                "memory table needs {needed} bytes mapped, above the port's budget of {budget}"
            ),
            VhostUserError::Map {
                guest_phys_addr,
                errno,
            } => write!(f, "mmap of the region at {guest_phys_addr:#x} failed (errno {errno})"),
            VhostUserError::MemTableChanged { regions } => write!(
                f,
                "memory table changed ({regions} regions) while the rings were running"
            ),
            VhostUserError::BadQueue { index } => {
                write!(f, "vring {index} does not exist (queues 0 and 1 only)")
            }
            VhostUserError::BadQueueSize { index, num } => {
                write!(f, "vring {index} size {num} is not a power of two within the limit")
            }
            VhostUserError::BadRingAddress { index, user_addr } => write!(
                f,
                "vring {index} address {user_addr:#x} is outside the guest memory"
            ),
            VhostUserError::NotifierFd {
                index,
                notifier,
                kind,
            } => write!(
                f,
                "vring {index} {notifier} fd is {kind}, not an eventfd in counting mode"
            ),
            VhostUserError::Features { bits } => {
                write!(f, "feature bits {bits:#x} not offered or VERSION_1 missing")
            }
            VhostUserError::Sequence { index } => write!(
                f,
                "vring {index} request out of sequence (no memory table, or ring running)"
            ),
            VhostUserError::BadRingBase {
                index,
                base,
                packed: true,
            } => write!(
                f,
                "packed ring {index}: state {base:#010x} (avail offset {}, used offset {}) outside the ring",
                base & 0x7fff,
                (base >> 16) & 0x7fff
            ),
            VhostUserError::BadRingBase {
                index,
                base,
                packed: false,
            } => write!(f, "split ring {index}: base {base:#x} above 16 bits"),
            VhostUserError::Attach(e) => write!(f, "rings refused: {e}"),
            VhostUserError::Ring(e) => write!(f, "guest broke its rings: {e}"),
            VhostUserError::Protocol => f.write_str("malformed or unsupported protocol message"),
            VhostUserError::Oversized { size } => {
                write!(f, "request body of {size} bytes (at most 4096)")
            }
            VhostUserError::Disconnected => f.write_str("frontend disconnected"),
            VhostUserError::Socket { errno } => write!(f, "socket failed (errno {errno})"),
            VhostUserError::Stalled { bytes } => write!(
                f,
                "request stalled after {bytes} bytes (or its reply found no room)"
            ),
            VhostUserError::Link(e) => write!(f, "data path: {e}"),
        }
    }
}

impl std::error::Error for VhostUserError {}

/// What kind of file a frontend's fd is (named by the kernel, `/proc/self/fd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FdKind {
    /// An eventfd (counting mode).
    Eventfd,
    /// An eventfd in semaphore mode (`EFD_SEMAPHORE`: one read takes 1 of its count).
    SemaphoreEventfd,
    /// A memfd.
    Memfd,
    /// A pipe or FIFO.
    Pipe,
    /// A socket.
    Socket,
    /// Another anonymous file (timerfd, signalfd, epoll, ...).
    OtherAnonymous,
    /// A file with a path (on disk, FUSE, a device, a directory; not a memfd).
    File,
    /// Not named by `/proc` (not mounted).
    Unknown,
}

impl fmt::Display for FdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FdKind::Eventfd => "an eventfd",
            FdKind::SemaphoreEventfd => "an eventfd in semaphore mode",
            FdKind::Memfd => "a memfd",
            FdKind::Pipe => "a pipe",
            FdKind::Socket => "a socket",
            FdKind::OtherAnonymous => "an anonymous file (not an eventfd)",
            FdKind::File => "a file with a path (not a memfd)",
            FdKind::Unknown => "an fd /proc cannot name",
        })
    }
}

/// One of a vring's two eventfds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notifier {
    /// The kick fd (guest → backend: "buffers are available").
    Kick,
    /// The call fd (backend → guest: an interrupt).
    Call,
}

impl fmt::Display for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Notifier::Kick => "kick",
            Notifier::Call => "call",
        })
    }
}

/// A frontend that was cut off: the port dropped its rings and its connection, and waits
/// for a new connection. The switch and every other port are not affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutOff {
    /// Why.
    pub reason: VhostUserError,
}

impl fmt::Display for CutOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frontend cut off: {}", self.reason)
    }
}

impl std::error::Error for CutOff {}
