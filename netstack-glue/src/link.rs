//! The frame link: the small abstraction every partnet link is mapped onto.
//!
//! A link moves whole Ethernet frames (without FCS) in both directions with owned
//! handles, like the `LinkDevice` of `nic-drivers` and the `PortEndpoint` of
//! `vnet-switch`, but with the one shape the smoltcp and embassy adapters need:
//!
//! * **receive**: [`FrameLink::rx_take`] hands out an owned [`FrameLink::Rx`] handle whose
//!   bytes [`FrameLink::rx_read`] shows to a closure. Those bytes cannot change while the
//!   closure runs: they are in memory private to this partition (a link over shared
//!   memory copies the frame out first: no double fetch), or, for an in-process link,
//!   behind a borrow no writer can take meanwhile. The handle goes back with
//!   [`FrameLink::rx_release`];
//! * **transmit**: [`FrameLink::tx_reserve`] reserves one slot of up to
//!   [`LinkCaps::max_frame`] bytes *before* the frame length is known (smoltcp hands out
//!   a transmit token first and asks for the length later); [`FrameLink::tx_send`] sends a
//!   frame into a reserved slot, [`FrameLink::tx_abort`] gives it back unsent. A
//!   reservation that was granted must make the send succeed, unless the peer broke the
//!   channel.
//!
//! Every call does bounded work; [`FrameLink::service`] takes a budget.

use core::fmt;

/// Largest frame (without FCS) the adapters of this crate handle: 14-byte header, one
/// 802.1Q tag, 1500 bytes of payload.
pub const MAX_FRAME: usize = 1518;

/// Smallest frame a link accepts for transmission (an Ethernet header).
pub const MIN_FRAME: usize = 14;

/// What a link can do, as negotiated with its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkCaps {
    /// Largest Ethernet frame (without FCS) in either direction, `MIN_FRAME..=MAX_FRAME`.
    pub max_frame: u16,
    /// The link may mark received frames' TCP/UDP checksums as verified
    /// ([`RxInfo::checksum_verified`]).
    pub rx_checksum_verified: bool,
    /// The station address the link reports, if it has one.
    pub mac: Option<[u8; 6]>,
}

impl LinkCaps {
    /// Capabilities of a plain link: `max_frame` bytes, no offloads, no MAC.
    pub const fn plain(max_frame: u16) -> Self {
        LinkCaps {
            max_frame,
            rx_checksum_verified: false,
            mac: None,
        }
    }
}

/// Per-frame receive information a link validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxInfo {
    /// The peer or device verified the TCP/UDP checksum.
    pub checksum_verified: bool,
    /// The frame carries only a partial checksum (`NEEDS_CSUM`) still to be completed.
    pub checksum_partial: bool,
}

/// A link failed (typed; the adapter counts it and goes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// The peer or device violated the channel protocol (a corrupt index, length or
    /// descriptor); the value is a short description from the lower crate.
    Peer(&'static str),
    /// The link is down or broken and serves no frames.
    Down,
    /// A frame of `len` bytes outside `min..=max` was handed to the link.
    FrameLength {
        /// The frame length.
        len: usize,
        /// Smallest length accepted.
        min: usize,
        /// Largest length accepted.
        max: usize,
    },
    /// A reservation was refused at send time although it had been granted (the peer
    /// took room back): the frame was lost.
    Refused,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Peer(what) => write!(f, "the peer violated the channel protocol: {what}"),
            LinkError::Down => write!(f, "the link is down"),
            LinkError::FrameLength { len, min, max } => {
                write!(f, "a frame of {len} bytes is outside {min}..={max}")
            }
            LinkError::Refused => write!(f, "a granted transmit reservation was refused"),
        }
    }
}

/// A link that moves whole Ethernet frames with owned handles (see the
/// [module documentation](self)).
pub trait FrameLink {
    /// An owned handle to a received frame.
    type Rx;
    /// An owned handle to a reserved transmit slot.
    type Tx;

    /// Frame size, offloads, station address.
    fn caps(&self) -> LinkCaps;

    /// Takes the next received frame, `Ok(None)` when none is waiting.
    fn rx_take(&mut self) -> Result<Option<Self::Rx>, LinkError>;

    /// Shows the bytes of a taken frame to `f` (bytes nobody can change meanwhile).
    fn rx_read<R>(&self, rx: &Self::Rx, f: impl FnOnce(&[u8]) -> R) -> R;

    /// Validated per-frame information; the default has none.
    fn rx_info(&self, rx: &Self::Rx) -> RxInfo {
        let _ = rx;
        RxInfo::default()
    }

    /// Gives a taken frame back.
    fn rx_release(&mut self, rx: Self::Rx);

    /// Reserves a slot for one frame of up to `caps().max_frame` bytes, `Ok(None)` when
    /// no slot is free.
    fn tx_reserve(&mut self) -> Result<Option<Self::Tx>, LinkError>;

    /// Sends `frame` (`MIN_FRAME..=max_frame` bytes) in a reserved slot.
    fn tx_send(&mut self, tx: Self::Tx, frame: &[u8]) -> Result<(), LinkError>;

    /// Gives a reservation back unsent.
    fn tx_abort(&mut self, tx: Self::Tx);

    /// Builds a frame of `len` bytes (`MIN_FRAME..=max_frame`) with `f` and sends it in
    /// the reserved slot `tx`. The default builds it in `scratch` and calls
    /// [`tx_send`](Self::tx_send); a link whose slot memory is private until the send
    /// (an in-process queue) lets `f` write in place and saves a copy.
    fn tx_build<R>(
        &mut self,
        tx: Self::Tx,
        len: usize,
        scratch: &mut [u8; MAX_FRAME],
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> (R, Result<(), LinkError>) {
        let frame = &mut scratch[..len.min(MAX_FRAME)];
        let r = f(frame);
        (r, self.tx_send(tx, frame))
    }

    /// Free transmit slots now (not counting reservations held), if the link can tell.
    fn tx_room(&mut self) -> Option<usize>;

    /// Bounded housekeeping: reclaim at most `budget` sent buffers, repost receive
    /// buffers, publish indices, kick the peer.
    fn service(&mut self, budget: u16) -> Result<(), LinkError>;

    /// Whether the link is up (bounded, no waiting); the default says up.
    fn link_up(&mut self) -> bool {
        true
    }
}
