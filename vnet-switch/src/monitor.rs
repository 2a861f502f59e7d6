//! Mirroring: what the monitor port and a [`Tap`] see.
//!
//! Mirrored frames are taken *before* the policy checks, so a spoofed or malformed frame
//! is visible too; each is annotated with the switch's verdict. The monitor port receives
//! the raw frames (an ordinary Ethernet port for a development-tools partition); a
//! [`Tap`] (e.g. the [`PcapWriter`](crate::pcap::PcapWriter)) receives them with the
//! annotation.

use crate::{DropReason, PortId};

/// Which way a mirrored frame was going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the port's peer.
    Ingress,
    /// Sent to the port's peer.
    Egress,
}

/// What the switch did with a mirrored frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered to `copies` ports (ingress) or written to the port (egress).
    Forwarded {
        /// Number of destination ports that took a copy.
        copies: u8,
    },
    /// Dropped, and why.
    Dropped(DropReason),
}

/// The annotation of a mirrored frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapEvent {
    /// The port the frame was received on or sent to.
    pub port: PortId,
    /// Ingress or egress.
    pub direction: Direction,
    /// The verdict.
    pub verdict: Verdict,
    /// The caller-supplied time of the poll, in nanoseconds.
    pub time_ns: u64,
}

/// A receiver of mirrored frames. The frame is `header` followed by `payload`.
pub trait Tap {
    /// Called once per mirrored frame.
    fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]);
}

/// A tap that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTap;

impl Tap for NoTap {
    #[inline]
    fn frame(&mut self, _: &TapEvent, _: &[u8], _: &[u8]) {}
}

impl<T: Tap + ?Sized> Tap for &mut T {
    fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) {
        (**self).frame(event, header, payload)
    }
}
