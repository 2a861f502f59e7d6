//! The device side's rules for the virtio-net header (VirtIO 1.x 5.1.6, `VERSION_1`
//! layout: 12 bytes, little-endian) and the feature bits this backend knows. The wire
//! formats are `virtqueue::net`'s, shared with the driver side.
//!
//! Parsed smoltcp style from a private copy: the port reads the 12 bytes once from the
//! driver's chain into a `[u8; 12]`, then [`parse_tx`] validates them.

use frame_link::{Checksum, FrameMeta};
use virtqueue::net::{GsoType, HeaderFlags};
pub use virtqueue::net::{NetHeader, HEADER_LEN as NET_HDR_LEN, U16};

use super::error::VirtioNetError;

/// `flags`: the checksum is partial, complete it from `csum_start`.
pub const F_NEEDS_CSUM: u8 = HeaderFlags::NEEDS_CSUM.bits();
/// `flags`: the checksum was validated.
pub const F_DATA_VALID: u8 = HeaderFlags::DATA_VALID.bits();
/// `gso_type`: no segmentation.
pub const GSO_NONE: u8 = GsoType::NONE.0;

/// The virtio-net feature word, shared with the driver side (`nic-drivers`):
/// `virtqueue`'s definition.
pub use virtqueue::net::NetFeatures;

/// The device features this backend can offer: checksum offload both ways, MTU, MAC,
/// merged receive buffers, link status.
pub const SUPPORTED_FEATURES: NetFeatures = NetFeatures::CSUM
    .union(NetFeatures::GUEST_CSUM)
    .union(NetFeatures::MTU)
    .union(NetFeatures::MAC)
    .union(NetFeatures::MRG_RXBUF)
    .union(NetFeatures::STATUS);

/// Validates the header of a transmitted frame (a private copy) against what was
/// negotiated (`csum`: `VIRTIO_NET_F_CSUM`) and the frame's length: its offload
/// metadata, or a typed error naming the chain `head`.
pub fn parse_tx(
    b: &[u8; NET_HDR_LEN],
    csum: bool,
    head: u16,
    frame_len: u32,
) -> Result<FrameMeta, VirtioNetError> {
    let h = NetHeader::decode(b);
    let known = F_NEEDS_CSUM | F_DATA_VALID;
    let needs = h.flags & F_NEEDS_CSUM != 0;
    if h.flags & !known != 0 || h.gso_type != GSO_NONE || (needs && !csum) {
        return Err(VirtioNetError::BadHeader {
            head,
            flags: h.flags,
            gso_type: h.gso_type,
        });
    }
    let (start, offset) = (h.csum_start.get(), h.csum_offset.get());
    let meta = if needs {
        FrameMeta::partial(start, offset)
    } else {
        FrameMeta::NONE
    };
    if needs && crate::adapters::csum::checksum_range(&meta, frame_len as usize).is_none() {
        return Err(VirtioNetError::BadChecksumOffsets {
            head,
            start,
            offset,
            frame_len,
        });
    }
    Ok(meta)
}

/// The header of a frame delivered to the driver: its checksum state and the number of
/// chains it spans.
pub fn rx_header(meta: &FrameMeta, num_buffers: u16) -> NetHeader {
    let (flags, csum_start, csum_offset) = match meta.checksum {
        Checksum::Partial(p) => (F_NEEDS_CSUM, p.start, p.offset),
        Checksum::Verified => (F_DATA_VALID, 0, 0),
        Checksum::None => (0, 0, 0),
    };
    NetHeader {
        flags,
        csum_start: U16::new(csum_start),
        csum_offset: U16::new(csum_offset),
        num_buffers: U16::new(num_buffers),
        ..NetHeader::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmit_rules() {
        let mut b = [0u8; NET_HDR_LEN];
        assert_eq!(parse_tx(&b, false, 0, 60), Ok(FrameMeta::NONE));
        b[0] = F_NEEDS_CSUM;
        b[6] = 34; // csum_start
        b[8] = 16; // csum_offset (TCP)
        assert!(matches!(
            parse_tx(&b, false, 3, 60),
            Err(VirtioNetError::BadHeader {
                head: 3,
                flags: 1,
                ..
            })
        ));
        let m = parse_tx(&b, true, 3, 60).unwrap();
        assert_eq!(m, FrameMeta::partial(34, 16));
        assert_eq!(
            parse_tx(&b, true, 3, 51),
            Err(VirtioNetError::BadChecksumOffsets {
                head: 3,
                start: 34,
                offset: 16,
                frame_len: 51
            })
        );
        b[0] = F_DATA_VALID;
        assert_eq!(parse_tx(&b, true, 0, 60), Ok(FrameMeta::NONE));
        b[0] = 0;
        b[1] = 1; // TCPv4 GSO
        assert!(parse_tx(&b, true, 0, 60).is_err());
        b[1] = 0;
        b[0] = 4; // RSC_INFO: not negotiable here
        assert!(parse_tx(&b, true, 0, 60).is_err());
    }
}
