//! Per-port statistics and drop reasons: plain integers, no atomics on the data path.

use core::fmt;

use frame_link::{ErrorKind, LinkFault};

/// Why a frame was dropped. Every ingress frame is forwarded or counted under exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Source address not the port's own (or, from the uplink, a partition's address).
    Spoofed,
    /// No port to deliver to (unknown unicast from the uplink, own address, isolation).
    NoRoute,
    /// VLAN violation: wrong or foreign tag, double tag, untagged on a trunk without native.
    Vlan,
    /// Longer than the port's `max_frame`.
    Oversized,
    /// Runt, cut-off tag, length field, bad source address.
    Malformed,
    /// Over the rate budget and the rate queue full.
    Rate,
    /// No destination had room.
    QueueFull,
    /// EtherType not in the port's allow-list.
    EtherType,
    /// A link-control frame from a partition: MAC control (`0x8808`: PAUSE, PFC) or
    /// slow protocols (`0x8809`: LACP, OAM) to any destination, or a destination in the
    /// IEEE 802.1D reserved range `01:80:c2:00:00:00`–`0f` (STP, EAPOL, LLDP, ...) the
    /// port's [`link_local`](crate::PortConfig::link_local) policy does not allow.
    LinkControl,
}

impl DropReason {
    /// Number of reasons (size of [`PortStats::rx_drops`]).
    pub const COUNT: usize = 9;
    /// All reasons, in index order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Spoofed,
        DropReason::NoRoute,
        DropReason::Vlan,
        DropReason::Oversized,
        DropReason::Malformed,
        DropReason::Rate,
        DropReason::QueueFull,
        DropReason::EtherType,
        DropReason::LinkControl,
    ];
    /// The index of this reason in [`PortStats::rx_drops`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl DropReason {
    /// The reason in a few words (also its `Display`).
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::Spoofed => "spoofed source address",
            DropReason::NoRoute => "no route",
            DropReason::Vlan => "VLAN violation",
            DropReason::Oversized => "oversized frame",
            DropReason::Malformed => "malformed frame",
            DropReason::Rate => "over rate budget",
            DropReason::QueueFull => "queue full",
            DropReason::EtherType => "EtherType not allowed",
            DropReason::LinkControl => "link-control frame",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters of one port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames taken from the port (each ends forwarded or in exactly one `rx_drops`).
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Ingress frames delivered to at least one port.
    pub rx_forwarded: u64,
    /// Ingress frames dropped, by [`DropReason::index`].
    pub rx_drops: [u64; DropReason::COUNT],
    /// Frames committed to the port.
    pub tx_frames: u64,
    /// Copies for this port lost because it had no room (or a higher class took it).
    pub tx_queue_full: u64,
    // Not next to `tx_frames`: two increments of neighbouring counters per frame are
    // otherwise merged into vector code that takes more instructions than the two adds.
    /// Bytes of the frames committed to the port.
    pub tx_bytes: u64,
    /// Copies for this port its link refused (reserve, write or commit).
    pub tx_errors: u64,
    /// Learned addresses refused (quota reached or table neighbourhood full).
    pub learn_refused: u64,
    /// Errors of the link's `rx_take` (each ends the port's turn in that poll).
    pub rx_errors: u64,
    /// Errors of the link's `service` (once per poll at most).
    pub service_errors: u64,
    /// Link errors of every call, by kind (read with [`PortStats::link_errors`]).
    pub errors_by_kind: [u64; LINK_ERROR_KINDS],
    /// The kind of the last link error, if any.
    pub last_error: Option<ErrorKind>,
}

/// Number of link error kinds counted apart in [`PortStats::errors_by_kind`].
pub const LINK_ERROR_KINDS: usize = 7;

/// The index of `kind` in [`PortStats::errors_by_kind`]: peer, down, frame length, out of
/// bounds, bad slot, unsupported, other (kinds added later count as other).
const fn kind_index(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::Peer => 0,
        ErrorKind::Down => 1,
        ErrorKind::FrameLength => 2,
        ErrorKind::OutOfBounds => 3,
        ErrorKind::BadSlot => 4,
        ErrorKind::Unsupported => 5,
        _ => 6,
    }
}

impl PortStats {
    /// Drops counted under `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.rx_drops[reason.index()]
    }
    /// All ingress drops.
    pub fn total_drops(&self) -> u64 {
        self.rx_drops.iter().sum()
    }
    /// Link errors of `kind` (every call: take, reserve, write, commit, service).
    pub fn link_errors(&self, kind: ErrorKind) -> u64 {
        self.errors_by_kind[kind_index(kind)]
    }
    /// Counts one link error by its kind.
    #[cold]
    #[inline(never)]
    pub(crate) fn fault<F: LinkFault>(&mut self, e: &F) {
        let kind = e.kind();
        // The typed cause to `log`; its kind to `defmt` (which cannot print `Display`).
        #[cfg(feature = "log")]
        log::warn!("vnet-switch: link error: {}", e);
        #[cfg(all(feature = "defmt", target_os = "none"))]
        defmt::warn!("vnet-switch: link error: {}", kind.as_str());
        self.errors_by_kind[kind_index(kind)] += 1;
        self.last_error = Some(kind);
    }
}
