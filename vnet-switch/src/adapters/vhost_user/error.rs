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
    /// `F_SEAL_SHRINK`): a page of the mapping could vanish under the backend.
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
    /// The frontend closed the socket.
    Disconnected,
    /// A request stayed incomplete (or its reply found no room) for longer than
    /// [`REQUEST_TIMEOUT`](super::REQUEST_TIMEOUT).
    Stalled {
        /// Bytes of the request that had arrived.
        bytes: u32,
    },
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
            VhostUserError::RegionFile {
                guest_phys_addr,
                file_size,
                needed,
                sealed,
            } => write!(
                f,
                "region at {guest_phys_addr:#x}: file of {file_size} bytes (needs {needed}), sealed against shrinking: {sealed}"
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
            VhostUserError::Disconnected => f.write_str("frontend disconnected"),
            VhostUserError::Stalled { bytes } => write!(
                f,
                "request stalled after {bytes} bytes (or its reply found no room)"
            ),
        }
    }
}

impl std::error::Error for VhostUserError {}

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
