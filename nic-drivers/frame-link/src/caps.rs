//! What a link can do ([`LinkCaps`]) and whether it carries frames ([`LinkState`]).

use crate::{MacAddress, MAX_FRAME};

/// Checksum offloads of a link (what it negotiated with its device or peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChecksumCaps {
    /// The link completes a partial TCP/UDP checksum on transmit
    /// ([`Checksum::Partial`](crate::Checksum::Partial) in the metadata of a committed
    /// frame).
    pub tx_partial: bool,
    /// The link may mark received frames' checksums as verified or partial
    /// ([`FrameLink::rx_meta`](crate::FrameLink::rx_meta)).
    pub rx_offload: bool,
}

/// Segmentation offloads a link accepts on transmit (super-frames with
/// [`FrameMeta::gso`](crate::FrameMeta::gso) set); none by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GsoCaps {
    /// TCP over IPv4.
    pub tcpv4: bool,
    /// TCP over IPv6.
    pub tcpv6: bool,
    /// TCP with ECN (CWR) in super-frames.
    pub ecn: bool,
    /// UDP segmentation (one UDP header per segment).
    pub udp_l4: bool,
}

/// What a link can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkCaps {
    /// Largest frame (Ethernet header included, FCS excluded) the link hands out and
    /// accepts, without segmentation offload.
    pub max_frame: usize,
    /// IP MTU (payload bytes after an untagged Ethernet header).
    pub mtu: usize,
    /// Checksum offloads.
    pub checksum: ChecksumCaps,
    /// Segmentation offloads.
    pub gso: GsoCaps,
    /// The station address of the link, if it has one (a NIC, a virtio-net device).
    pub mac: Option<MacAddress>,
}

impl LinkCaps {
    /// A plain link: frames of up to `max_frame` bytes (at most [`MAX_FRAME`] counts
    /// for the MTU), no offloads, no address.
    pub const fn new(max_frame: usize) -> Self {
        let untagged = if max_frame < MAX_FRAME {
            max_frame
        } else {
            MAX_FRAME - 4
        };
        LinkCaps {
            max_frame,
            mtu: untagged.saturating_sub(crate::HEADER_LEN),
            checksum: ChecksumCaps {
                tx_partial: false,
                rx_offload: false,
            },
            gso: GsoCaps {
                tcpv4: false,
                tcpv6: false,
                ecn: false,
                udp_l4: false,
            },
            mac: None,
        }
    }

    /// The same with an IP MTU of `mtu`.
    pub const fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }

    /// The same with checksum offloads.
    pub const fn with_checksum(mut self, checksum: ChecksumCaps) -> Self {
        self.checksum = checksum;
        self
    }

    /// The same with segmentation offloads.
    pub const fn with_gso(mut self, gso: GsoCaps) -> Self {
        self.gso = gso;
        self
    }

    /// The same with a station address.
    pub const fn with_mac(mut self, mac: MacAddress) -> Self {
        self.mac = Some(mac);
        self
    }
}

/// Whether a link carries frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Up.
    Up,
    /// Down: frames are neither taken nor delivered until it comes back.
    Down,
    /// The link cannot tell (assume up).
    Unknown,
}

impl LinkState {
    /// `true` unless the link says it is down.
    pub const fn is_up(self) -> bool {
        !matches!(self, LinkState::Down)
    }

    /// `"up"`, `"down"` or `"unknown"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
            LinkState::Unknown => "unknown",
        }
    }
}
