//! The virtio-net header rules of the driver side: the wire formats are
//! `virtqueue::net`'s (shared with the device side); this module validates a header the
//! device wrote (a private copy) and builds the ones the driver writes.

use zerocopy::little_endian::U16;

use crate::{Checksum, Error, FrameMeta, PartialChecksum};

// The wire formats are `virtqueue::net`'s, shared with the device side.
pub use virtqueue::net::{config, ctrl, NetHeader, HEADER_LEN, LEGACY_HEADER_LEN};
use virtqueue::net::{GsoType, HeaderFlags};

/// `flags`: the checksum is partial, complete it from `csum_start`.
pub const FLAG_NEEDS_CSUM: u8 = HeaderFlags::NEEDS_CSUM.bits();
/// `flags`: the checksum was validated by the device.
pub const FLAG_DATA_VALID: u8 = HeaderFlags::DATA_VALID.bits();
/// `gso_type`: no segmentation.
pub const GSO_NONE: u8 = GsoType::NONE.0;

/// Most buffers one merged frame may span (`MRG_RXBUF`): a full frame fits in two of the
/// driver's receive buffers; four leaves room for devices that fill buffers partly.
pub const MAX_MERGED_BUFFERS: u16 = 4;

/// The validated content of a received header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxHeader {
    /// Buffers the frame spans (1 without `MRG_RXBUF`).
    pub num_buffers: u16,
    /// Checksum metadata.
    pub meta: FrameMeta,
}

/// What the driver negotiated that matters for header validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRules {
    /// `MRG_RXBUF` negotiated.
    pub merged: bool,
    /// `num_buffers` is present (modern, or `MRG_RXBUF`).
    pub has_num_buffers: bool,
    /// `GUEST_CSUM` negotiated (the device may set `NEEDS_CSUM` / `DATA_VALID`).
    pub guest_csum: bool,
}

impl HeaderRules {
    /// Header length under these rules.
    pub const fn len(&self) -> usize {
        if self.has_num_buffers {
            HEADER_LEN
        } else {
            LEGACY_HEADER_LEN
        }
    }

    /// Whether the header is empty (never).
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Validate a received header (a private copy) for a first buffer carrying
    /// `frame_len` frame bytes (the frame total is checked later for merged frames).
    pub fn parse(&self, h: &NetHeader) -> Result<RxHeader, Error> {
        let known = if self.guest_csum {
            FLAG_NEEDS_CSUM | FLAG_DATA_VALID
        } else {
            0
        };
        if h.flags & !known != 0 {
            return Err(Error::DeviceViolation {
                field: "virtio-net header flags",
                value: u64::from(h.flags),
            });
        }
        if h.gso_type != GSO_NONE {
            return Err(Error::DeviceViolation {
                field: "virtio-net header gso_type",
                value: u64::from(h.gso_type),
            });
        }
        let num_buffers = if self.has_num_buffers {
            h.num_buffers.get()
        } else {
            1
        };
        let max = if self.merged { MAX_MERGED_BUFFERS } else { 1 };
        if num_buffers == 0 || num_buffers > max {
            return Err(Error::DeviceViolation {
                field: "virtio-net header num_buffers",
                value: u64::from(num_buffers),
            });
        }
        // `NEEDS_CSUM` wins over `DATA_VALID`: the checksum field is not final yet.
        let checksum = if h.flags & FLAG_NEEDS_CSUM != 0 {
            Checksum::Partial(PartialChecksum {
                start: h.csum_start.get(),
                offset: h.csum_offset.get(),
            })
        } else if h.flags & FLAG_DATA_VALID != 0 {
            Checksum::Verified
        } else {
            Checksum::None
        };
        Ok(RxHeader {
            num_buffers,
            meta: FrameMeta {
                checksum,
                gso: None,
            },
        })
    }
}

/// Whether a partial checksum request fits a frame of `frame_len` bytes: the 16-bit
/// field at `start + offset` lies inside the frame, after the Ethernet header.
pub fn checksum_fits(c: &PartialChecksum, frame_len: usize) -> bool {
    let field = usize::from(c.start) + usize::from(c.offset);
    usize::from(c.start) >= 14 && field + 2 <= frame_len
}

/// The header the driver writes for a transmitted frame.
pub fn tx_header(checksum: Option<PartialChecksum>) -> NetHeader {
    let mut h = NetHeader::default();
    if let Some(c) = checksum {
        h.flags = FLAG_NEEDS_CSUM;
        h.csum_start = U16::new(c.start);
        h.csum_offset = U16::new(c.offset);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(merged: bool) -> HeaderRules {
        HeaderRules {
            merged,
            has_num_buffers: true,
            guest_csum: true,
        }
    }

    #[test]
    fn parse_rejects_what_was_not_negotiated() {
        let mut h = NetHeader {
            num_buffers: U16::new(1),
            ..Default::default()
        };
        assert_eq!(rules(false).parse(&h).unwrap().num_buffers, 1);
        h.gso_type = 1;
        assert_eq!(
            rules(false).parse(&h),
            Err(Error::DeviceViolation {
                field: "virtio-net header gso_type",
                value: 1
            })
        );
        h.gso_type = 0;
        h.num_buffers = U16::new(2);
        assert!(
            rules(false).parse(&h).is_err(),
            "2 buffers without MRG_RXBUF"
        );
        assert_eq!(rules(true).parse(&h).unwrap().num_buffers, 2);
        h.num_buffers = U16::new(0);
        assert!(rules(true).parse(&h).is_err());
        h.num_buffers = U16::new(1);
        h.flags = FLAG_DATA_VALID;
        let no_csum = HeaderRules {
            guest_csum: false,
            ..rules(false)
        };
        assert!(no_csum.parse(&h).is_err());
        assert_eq!(
            rules(false).parse(&h).unwrap().meta.checksum,
            Checksum::Verified
        );
        h.flags = 0x80;
        assert!(rules(true).parse(&h).is_err());
    }

    #[test]
    fn checksum_request_must_fit_the_frame() {
        let c = PartialChecksum {
            start: 34,
            offset: 16,
        };
        assert!(checksum_fits(&c, 52));
        assert!(!checksum_fits(&c, 51));
        assert!(!checksum_fits(
            &PartialChecksum {
                start: 4,
                offset: 0
            },
            60
        ));
        assert!(!checksum_fits(
            &PartialChecksum {
                start: u16::MAX,
                offset: u16::MAX
            },
            1518
        ));
    }
}
