//! Errors: each link keeps its own typed error ([`FrameLink::Error`](crate::FrameLink::Error));
//! generic code reads its [`ErrorKind`] through [`LinkFault`].
//!
//! A NIC driver reports which register or descriptor field the device got wrong and with
//! which value, a virtio-net port which ring rule the guest broke, a queuing-port pair
//! which header field the peer scribbled: the cause stays typed all the way to the log.
//! A switch or a stack that only needs to count and carry on asks for the kind.

use core::fmt;

/// The category of a link error, for code generic over links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The peer (the other partition, the device, the frontend) broke the channel's
    /// rules. The link may have stopped serving ([`LinkState::Down`](crate::LinkState)).
    Peer,
    /// The link is down or closed and moves no frames.
    Down,
    /// A frame length the link does not take (a caller error).
    FrameLength,
    /// A write outside a reservation (a caller error).
    OutOfBounds,
    /// A handle the link did not hand out, or gave back already (a caller error).
    BadSlot,
    /// The link does not do this.
    Unsupported,
    /// Anything else (an operating-system error, a resource limit).
    Other,
}

impl ErrorKind {
    /// `true` for the kinds that are the caller's mistake, not the peer's.
    pub const fn is_caller_error(self) -> bool {
        matches!(
            self,
            ErrorKind::FrameLength | ErrorKind::OutOfBounds | ErrorKind::BadSlot
        )
    }
}

impl ErrorKind {
    /// What the kind means, in a few words (also its `Display`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Peer => "the peer broke the channel's rules",
            ErrorKind::Down => "the link is down",
            ErrorKind::FrameLength => "frame length not accepted",
            ErrorKind::OutOfBounds => "write outside the reservation",
            ErrorKind::BadSlot => "not a handle of this link",
            ErrorKind::Unsupported => "not supported",
            ErrorKind::Other => "link error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a link returns: typed, printable, and with a [`kind`](LinkFault::kind).
pub trait LinkFault: fmt::Debug + fmt::Display {
    /// The category.
    fn kind(&self) -> ErrorKind;
}

impl LinkFault for ErrorKind {
    fn kind(&self) -> ErrorKind {
        *self
    }
}

impl LinkFault for core::convert::Infallible {
    fn kind(&self) -> ErrorKind {
        match *self {}
    }
}

/// The error of links that have no richer one of their own (the in-memory
/// [`PortPair`](crate::PortPair), test doubles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// A frame of `len` bytes outside `min..=max`.
    FrameLength {
        /// The length.
        len: usize,
        /// Smallest length accepted.
        min: usize,
        /// Largest length accepted.
        max: usize,
    },
    /// A write of `len` bytes at `offset` past the `reserved` length.
    OutOfBounds {
        /// Where the write started.
        offset: usize,
        /// Bytes written.
        len: usize,
        /// The reservation's length.
        reserved: usize,
    },
    /// The handle names no slot this link handed out: its index.
    BadSlot {
        /// The handle's index.
        index: u16,
    },
    /// The link is down.
    Down,
    /// Not supported: what.
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LinkError::FrameLength { len, min, max } => {
                write!(f, "a frame of {len} bytes is outside {min}..={max}")
            }
            LinkError::OutOfBounds {
                offset,
                len,
                reserved,
            } => write!(
                f,
                "a write of {len} bytes at offset {offset} passes the {reserved} bytes reserved"
            ),
            LinkError::BadSlot { index } => {
                write!(f, "slot {index} was not handed out by this link")
            }
            LinkError::Down => write!(f, "the link is down"),
            LinkError::Unsupported { what } => write!(f, "not supported: {what}"),
        }
    }
}

impl LinkFault for LinkError {
    fn kind(&self) -> ErrorKind {
        match self {
            LinkError::FrameLength { .. } => ErrorKind::FrameLength,
            LinkError::OutOfBounds { .. } => ErrorKind::OutOfBounds,
            LinkError::BadSlot { .. } => ErrorKind::BadSlot,
            LinkError::Down => ErrorKind::Down,
            LinkError::Unsupported { .. } => ErrorKind::Unsupported,
        }
    }
}

impl core::error::Error for LinkError {}
