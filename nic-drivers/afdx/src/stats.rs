//! Statistics per VL and per network, and the drop reasons: plain integers.

use core::fmt;

/// Why a frame (or one network's copy of it) was not transmitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TxDrop {
    /// The message made a frame longer than the VL's Lmax.
    OverLmax,
    /// The VL's queue was at its bound.
    QueueFull,
    /// The network's link had no room for the copy.
    NoRoom,
    /// The network's link refused the copy with an error.
    LinkError,
}

impl TxDrop {
    /// Number of reasons.
    pub const COUNT: usize = 4;
    /// All reasons, in index order.
    pub const ALL: [TxDrop; Self::COUNT] = [
        TxDrop::OverLmax,
        TxDrop::QueueFull,
        TxDrop::NoRoom,
        TxDrop::LinkError,
    ];
    /// The index of this reason in the `tx_drops` arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for TxDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TxDrop::OverLmax => "over Lmax",
            TxDrop::QueueFull => "VL queue full",
            TxDrop::NoRoom => "no room on the link",
            TxDrop::LinkError => "link error",
        })
    }
}

/// Why a received frame was not delivered. Every frame taken from a network is
/// delivered or counted under exactly one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(all(feature = "defmt", target_os = "none"), derive(defmt::Format))]
#[non_exhaustive]
pub enum RxDrop {
    /// Not well-formed AFDX Ethernet/IPv4/UDP (or it names the other network).
    Malformed,
    /// A VL not received here.
    UnknownVl,
    /// A VL not configured on this network.
    WrongNetwork,
    /// Longer than the VL's Lmax.
    OverLmax,
    /// Sequence number outside the integrity window.
    Integrity,
    /// A copy of a frame already delivered (redundancy management).
    Redundant,
    /// No receive port for its UDP port.
    NoPort,
}

impl RxDrop {
    /// Number of reasons.
    pub const COUNT: usize = 7;
    /// All reasons, in index order.
    pub const ALL: [RxDrop; Self::COUNT] = [
        RxDrop::Malformed,
        RxDrop::UnknownVl,
        RxDrop::WrongNetwork,
        RxDrop::OverLmax,
        RxDrop::Integrity,
        RxDrop::Redundant,
        RxDrop::NoPort,
    ];
    /// The index of this reason in the `rx_drops` arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RxDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RxDrop::Malformed => "malformed frame",
            RxDrop::UnknownVl => "unknown VL",
            RxDrop::WrongNetwork => "VL not on this network",
            RxDrop::OverLmax => "over Lmax",
            RxDrop::Integrity => "integrity error",
            RxDrop::Redundant => "redundant copy",
            RxDrop::NoPort => "no port",
        })
    }
}

/// Counters of one network (of one VL, or of the whole end system).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Copies committed to the network's link.
    pub tx_frames: u64,
    /// Bytes of those copies (no FCS).
    pub tx_bytes: u64,
    /// Copies not sent, by [`TxDrop::index`] (`NoRoom`, `LinkError`).
    pub tx_drops: [u64; TxDrop::COUNT],
    /// Frames taken from the network's link.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames of this network that were delivered (the first valid copy).
    pub rx_delivered: u64,
    /// Frames not delivered, by [`RxDrop::index`].
    pub rx_drops: [u64; RxDrop::COUNT],
    /// Errors of the link itself (receive side).
    pub rx_link_errors: u64,
}

impl NetStats {
    /// Receive drops under `reason`.
    pub fn rx_dropped(&self, reason: RxDrop) -> u64 {
        self.rx_drops[reason.index()]
    }
    /// Transmit drops under `reason`.
    pub fn tx_dropped(&self, reason: TxDrop) -> u64 {
        self.tx_drops[reason.index()]
    }
    /// All receive drops.
    pub fn rx_total_drops(&self) -> u64 {
        self.rx_drops.iter().sum()
    }
}

/// Counters of one transmitted VL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VlTxStats {
    /// Messages queued.
    pub queued: u64,
    /// Frames released by the regulator (each sent on every network that had room).
    pub released: u64,
    /// Messages refused, by [`TxDrop::index`] (`OverLmax`, `QueueFull`).
    pub drops: [u64; TxDrop::COUNT],
    /// Sampling messages that replaced a fresher-to-be-sent frame on a full queue.
    pub replaced: u64,
    /// The largest delay from eligibility to departure seen, in ns.
    pub max_jitter_ns: u64,
    /// Frames that left later than the jitter bound after their eligibility (the caller
    /// polled late or the links had no room).
    pub jitter_overruns: u64,
    /// Per network, by [`Network::index`](crate::Network::index).
    pub net: [NetStats; 2],
}

/// Counters of one received VL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VlRxStats {
    /// Messages delivered to a port.
    pub delivered: u64,
    /// Per network, by [`Network::index`](crate::Network::index).
    pub net: [NetStats; 2],
}
