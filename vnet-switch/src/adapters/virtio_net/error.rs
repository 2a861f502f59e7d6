//! What a virtio-net driver (or the integrator) can get wrong, and the port's counters.

use core::fmt;

/// The two queues of the port, by their virtio-net names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetQueue {
    /// `receiveq1` (queue 0): device → driver, frames the switch sends to the partition.
    Receive,
    /// `transmitq1` (queue 1): driver → device, frames the partition sends.
    Transmit,
}

impl fmt::Display for NetQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetQueue::Receive => "receiveq",
            NetQueue::Transmit => "transmitq",
        })
    }
}

/// Everything that can be wrong with a virtio-net port: the driver's rings, chains and
/// headers, or the port's configuration. Each variant carries the offending values.
///
/// Per-chain errors are counted in [`VirtioNetStats`] and the chain is returned used with
/// length 0; the port goes on. A fatal ring error takes the port down
/// ([`PortState::Down`]); the rest of the switch is not affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VirtioNetError {
    /// The virtqueue crate refused a chain or the ring (fatal when
    /// [`virtqueue::Error::is_fatal`]).
    Ring {
        /// Which queue.
        queue: NetQueue,
        /// What the virtqueue crate found.
        error: virtqueue::Error,
    },
    /// A transmit chain is shorter than the 12-byte virtio-net header.
    ShortHeader {
        /// Chain head.
        head: u16,
        /// Readable bytes of the chain.
        len: u32,
    },
    /// A transmit chain carries a frame above the port's limit.
    FrameTooLong {
        /// Chain head.
        head: u16,
        /// Frame bytes (after the header).
        len: u32,
        /// The port's largest frame.
        max: u16,
    },
    /// A transmit chain has device-writable buffers.
    WritableTransmitChain {
        /// Chain head.
        head: u16,
        /// Writable bytes.
        len: u32,
    },
    /// A transmit header has unknown flags, a GSO type, or `NEEDS_CSUM` without
    /// `VIRTIO_NET_F_CSUM` negotiated.
    BadHeader {
        /// Chain head.
        head: u16,
        /// `flags` as sent.
        flags: u8,
        /// `gso_type` as sent.
        gso_type: u8,
    },
    /// `NEEDS_CSUM` with a checksum field outside the frame.
    BadChecksumOffsets {
        /// Chain head.
        head: u16,
        /// `csum_start`.
        start: u16,
        /// `csum_offset`.
        offset: u16,
        /// Frame bytes.
        frame_len: u32,
    },
    /// A receive chain has device-readable buffers.
    ReadableReceiveChain {
        /// Chain head.
        head: u16,
        /// Readable bytes.
        len: u32,
    },
    /// A receive chain is too small: below the 12-byte header (any chain), or below the
    /// header plus the port's largest frame without `MRG_RXBUF` (VirtIO 5.1.6.3.1).
    ReceiveChainTooSmall {
        /// Chain head.
        head: u16,
        /// Writable bytes.
        len: u32,
        /// Bytes every receive chain must have.
        needed: u32,
    },
    /// Configuration: the negotiated word lacks `VIRTIO_F_VERSION_1` or has device bits
    /// this backend does not implement.
    Features {
        /// The offending bits.
        bits: u64,
    },
    /// Configuration: the frame limit is outside `14..=FRAME` (the slot size).
    FrameLimit {
        /// The limit asked for.
        max_frame: u16,
        /// The slot size.
        capacity: usize,
    },
    /// A handle, a length or a write the port refused (a caller error).
    Slot(frame_link::LinkError),
}

impl frame_link::LinkFault for VirtioNetError {
    fn kind(&self) -> frame_link::ErrorKind {
        use frame_link::ErrorKind;
        match self {
            VirtioNetError::Features { .. } | VirtioNetError::FrameLimit { .. } => {
                ErrorKind::Unsupported
            }
            VirtioNetError::Slot(e) => frame_link::LinkFault::kind(e),
            _ => ErrorKind::Peer,
        }
    }
}

impl VirtioNetError {
    /// Whether the error took the port down.
    pub fn is_fatal(&self) -> bool {
        matches!(self, VirtioNetError::Ring { error, .. } if error.is_fatal())
    }
}

impl fmt::Display for VirtioNetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VirtioNetError::Ring { queue, error } => write!(f, "{queue}: {error}"),
            VirtioNetError::ShortHeader { head, len } => write!(
                f,
                "transmitq chain {head} has {len} readable bytes, less than the 12-byte header"
            ),
            VirtioNetError::FrameTooLong { head, len, max } => write!(
                f,
                "transmitq chain {head} carries a {len}-byte frame, above the limit {max}"
            ),
            VirtioNetError::WritableTransmitChain { head, len } => write!(
                f,
                "transmitq chain {head} has {len} device-writable bytes"
            ),
            VirtioNetError::BadHeader {
                head,
                flags,
                gso_type,
            } => write!(
                f,
                "transmitq chain {head}: header flags {flags:#x} / gso_type {gso_type} not negotiated"
            ),
            VirtioNetError::BadChecksumOffsets {
                head,
                start,
                offset,
                frame_len,
            } => write!(
                f,
                "transmitq chain {head}: checksum at {start}+{offset} is outside the {frame_len}-byte frame"
            ),
            VirtioNetError::ReadableReceiveChain { head, len } => write!(
                f,
                "receiveq chain {head} has {len} device-readable bytes"
            ),
            VirtioNetError::ReceiveChainTooSmall { head, len, needed } => write!(
                f,
                "receiveq chain {head} has {len} writable bytes, needs at least {needed}"
            ),
            VirtioNetError::Features { bits } => {
                write!(f, "feature bits {bits:#x} missing or not supported")
            }
            VirtioNetError::FrameLimit {
                max_frame,
                capacity,
            } => write!(
                f,
                "frame limit {max_frame} is outside 14..={capacity} (the slot size)"
            ),
            VirtioNetError::Slot(e) => fmt::Display::fmt(&e, f),
        }
    }
}

/// Whether the port serves its driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// Serving.
    Up,
    /// A fatal ring error: the port takes and delivers nothing until the integrator
    /// resets the device (`DEVICE_NEEDS_RESET`) and builds a new port.
    Down(VirtioNetError),
}

/// Counters of one virtio-net port (the switch keeps its own per-port statistics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirtioNetStats {
    /// Frames taken from the transmitq and handed to the switch.
    pub tx_frames: u64,
    /// Transmit chains refused (bad chain, short header, bad header, oversized frame),
    /// returned used with length 0.
    pub tx_errors: u64,
    /// Frames written to the receiveq.
    pub rx_frames: u64,
    /// Receive chains used by them (more than `rx_frames` with `MRG_RXBUF`).
    pub rx_chains: u64,
    /// Receive chains refused (bad chain, readable part, too small), returned used with
    /// length 0.
    pub rx_errors: u64,
    /// Reservations that found too few receive buffers (the switch counts the drop).
    pub rx_no_buffers: u64,
    /// Frames whose `NEEDS_CSUM` was completed in software (no `GUEST_CSUM`).
    pub csum_completed: u64,
    /// The last error seen (per-chain or fatal).
    pub last_error: Option<VirtioNetError>,
}
