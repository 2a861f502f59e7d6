//! Per-port statistics and drop reasons: plain integers, no atomics on the data path.

use core::fmt;

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

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Spoofed => "spoofed source address",
            DropReason::NoRoute => "no route",
            DropReason::Vlan => "VLAN violation",
            DropReason::Oversized => "oversized frame",
            DropReason::Malformed => "malformed frame",
            DropReason::Rate => "over rate budget",
            DropReason::QueueFull => "queue full",
            DropReason::EtherType => "EtherType not allowed",
            DropReason::LinkControl => "link-control frame",
        })
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
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Copies for this port lost because it had no room (or a higher class took it).
    pub tx_queue_full: u64,
    /// Copies for this port its endpoint refused to write.
    pub tx_errors: u64,
    /// Learned addresses refused (quota reached or table neighbourhood full).
    pub learn_refused: u64,
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
}
