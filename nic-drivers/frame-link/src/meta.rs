//! [`FrameMeta`]: what travels with a frame besides its bytes — checksum state and
//! segmentation offload — as plain values a link validated when it read them.

/// The state of a frame's TCP/UDP checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checksum {
    /// Nothing is known: whoever needs the checksum verifies it.
    #[default]
    None,
    /// The sender or device already verified it (virtio-net `DATA_VALID`).
    Verified,
    /// Only the pseudo-header sum is stored; it still has to be completed
    /// (virtio-net `NEEDS_CSUM`).
    Partial(PartialChecksum),
}

/// A checksum to complete: sum from byte `start` of the frame to its end, store the
/// result at `start + offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialChecksum {
    /// First byte summed, from the first byte of the Ethernet header.
    pub start: u16,
    /// Offset of the 16-bit checksum field from `start`.
    pub offset: u16,
}

/// The protocol of a segmentation offload super-frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsoKind {
    /// TCP over IPv4 (TSO).
    Tcpv4,
    /// TCP over IPv6 (TSO).
    Tcpv6,
    /// UDP fragmentation offload (UFO, IPv4 fragments).
    Udp,
    /// UDP segmentation offload (USO: one UDP header per segment).
    UdpL4,
}

/// A super-frame that is to be cut into segments of `size` payload bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gso {
    /// The protocol.
    pub kind: GsoKind,
    /// Bytes of headers (Ethernet, IP, TCP/UDP) repeated in every segment.
    pub hdr_len: u16,
    /// Payload bytes per segment (the MSS for TCP).
    pub size: u16,
    /// The TCP CWR flag is set with ECN in use (virtio-net `GSO_ECN`).
    pub ecn: bool,
}

/// Offload metadata carried with one frame: validated plain values, never a reference to
/// memory a peer can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameMeta {
    /// The checksum state.
    pub checksum: Checksum,
    /// Segmentation offload, if the frame is a super-frame.
    pub gso: Option<Gso>,
}

impl FrameMeta {
    /// No offload information.
    pub const NONE: FrameMeta = FrameMeta {
        checksum: Checksum::None,
        gso: None,
    };

    /// A frame whose checksum was verified.
    pub const VERIFIED: FrameMeta = FrameMeta {
        checksum: Checksum::Verified,
        gso: None,
    };

    /// A frame whose checksum is still to be completed from `start` (stored at
    /// `start + offset`).
    pub const fn partial(start: u16, offset: u16) -> FrameMeta {
        FrameMeta {
            checksum: Checksum::Partial(PartialChecksum { start, offset }),
            gso: None,
        }
    }

    /// `true` when there is nothing to carry.
    #[inline]
    pub fn is_none(&self) -> bool {
        *self == FrameMeta::NONE
    }

    /// The partial checksum to complete, if any.
    #[inline]
    pub fn partial_checksum(&self) -> Option<PartialChecksum> {
        match self.checksum {
            Checksum::Partial(p) => Some(p),
            _ => None,
        }
    }

    /// The same metadata once the frame's header grew or shrank from `from` to `to`
    /// bytes (a VLAN tag added or removed in front of the payload): offsets measured from
    /// the frame's start move with the payload. An offset inside the old header cannot
    /// move; the offload request is then dropped ([`FrameMeta::NONE`]).
    #[inline]
    pub fn moved(self, from: usize, to: usize) -> FrameMeta {
        if self.is_none() || from == to {
            return self;
        }
        let shift = |at: u16| {
            usize::from(at)
                .checked_sub(from)
                .and_then(|rest| u16::try_from(rest + to).ok())
        };
        let checksum = match self.checksum {
            Checksum::Partial(p) => match shift(p.start) {
                Some(start) => Checksum::Partial(PartialChecksum { start, ..p }),
                None => return FrameMeta::NONE,
            },
            other => other,
        };
        let gso = match self.gso {
            Some(g) => match shift(g.hdr_len) {
                Some(hdr_len) => Some(Gso { hdr_len, ..g }),
                None => return FrameMeta::NONE,
            },
            None => None,
        };
        FrameMeta { checksum, gso }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_the_header_moves_the_offsets() {
        let m = FrameMeta::partial(34, 16);
        assert_eq!(m.moved(14, 18), FrameMeta::partial(38, 16));
        assert_eq!(m.moved(18, 14), FrameMeta::partial(30, 16));
        assert_eq!(m.moved(14, 14), m);
        // A start inside the header cannot move: the request is dropped.
        assert_eq!(FrameMeta::partial(10, 6).moved(14, 18), FrameMeta::NONE);
        // Past u16: dropped, no overflow.
        assert_eq!(
            FrameMeta::partial(u16::MAX, 6).moved(14, 18),
            FrameMeta::NONE
        );
        assert_eq!(FrameMeta::VERIFIED.moved(14, 18), FrameMeta::VERIFIED);
        let g = FrameMeta {
            checksum: Checksum::Partial(PartialChecksum {
                start: 34,
                offset: 16,
            }),
            gso: Some(Gso {
                kind: GsoKind::Tcpv4,
                hdr_len: 66,
                size: 1448,
                ecn: false,
            }),
        };
        let moved = g.moved(14, 18);
        assert_eq!(moved.gso.map(|g| g.hdr_len), Some(70));
        assert_eq!(moved.partial_checksum().map(|p| p.start), Some(38));
        assert!(FrameMeta::NONE.is_none() && !g.is_none());
    }
}
