//! The virtio-net header (VirtIO 1.x 5.1.6, `VERSION_1` layout: 12 bytes, little-endian)
//! and the device-specific feature bits this backend knows.
//!
//! Parsed smoltcp style from a private copy: the port reads the 12 bytes once from the
//! driver's chain into a `[u8; 12]`, then [`NetHeader::parse`] validates them.

use super::error::VirtioNetError;
use frame_link::{Checksum, FrameMeta};

/// Size of `struct virtio_net_hdr` with `VERSION_1` (`num_buffers` always present).
pub const NET_HDR_LEN: usize = 12;

/// Byte ranges of the header fields.
mod field {
    use core::ops::Range;
    pub const FLAGS: usize = 0;
    pub const GSO_TYPE: usize = 1;
    pub const HDR_LEN: Range<usize> = 2..4;
    pub const GSO_SIZE: Range<usize> = 4..6;
    pub const CSUM_START: Range<usize> = 6..8;
    pub const CSUM_OFFSET: Range<usize> = 8..10;
    pub const NUM_BUFFERS: Range<usize> = 10..12;
}

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`.
pub const F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_GSO_NONE`: the only GSO type accepted (GSO is not negotiated).
pub const GSO_NONE: u8 = 0;

/// virtio-net device feature bits (VirtIO 1.x 5.1.3) known to this backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetFeatures;

impl NetFeatures {
    /// `VIRTIO_NET_F_CSUM` (0): the driver may send frames with `NEEDS_CSUM`.
    pub const CSUM: u64 = 1 << 0;
    /// `VIRTIO_NET_F_GUEST_CSUM` (1): the driver accepts frames with `NEEDS_CSUM` /
    /// `DATA_VALID`; without it the port completes checksums in software.
    pub const GUEST_CSUM: u64 = 1 << 1;
    /// `VIRTIO_NET_F_MTU` (3): the device reports an MTU (config space, integrator).
    pub const MTU: u64 = 1 << 3;
    /// `VIRTIO_NET_F_MAC` (5): the device reports a MAC (config space, integrator).
    pub const MAC: u64 = 1 << 5;
    /// `VIRTIO_NET_F_MRG_RXBUF` (15): a received frame may span several chains.
    pub const MRG_RXBUF: u64 = 1 << 15;
    /// `VIRTIO_NET_F_STATUS` (16): link status in config space (integrator).
    pub const STATUS: u64 = 1 << 16;
    /// Every device-specific bit this backend can negotiate. GSO/TSO/UFO/USO, the control
    /// queue, multiqueue, RSS and the hash report are not offered.
    pub const SUPPORTED: u64 =
        Self::CSUM | Self::GUEST_CSUM | Self::MTU | Self::MAC | Self::MRG_RXBUF | Self::STATUS;
    /// The device-specific range of the 64-bit feature word (bits 0..=23 and 41..=63).
    pub const DEVICE_SPECIFIC: u64 = 0x00ff_ffff | !((1u64 << 41) - 1);
}

/// A validated virtio-net header, in private memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetHeader {
    /// `flags` (`F_NEEDS_CSUM`, `F_DATA_VALID`).
    pub flags: u8,
    /// `gso_type` (always `GSO_NONE` here).
    pub gso_type: u8,
    /// `hdr_len` (a hint; 0 when written by this device).
    pub hdr_len: u16,
    /// `gso_size`.
    pub gso_size: u16,
    /// `csum_start`, from the start of the Ethernet frame.
    pub csum_start: u16,
    /// `csum_offset`, from `csum_start`.
    pub csum_offset: u16,
    /// `num_buffers`: receive chains used by this frame (1 without `MRG_RXBUF`).
    pub num_buffers: u16,
}

fn le16(b: &[u8; NET_HDR_LEN], r: core::ops::Range<usize>) -> u16 {
    match b.get(r) {
        Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
        _ => 0,
    }
}

impl NetHeader {
    /// Decodes the 12 bytes (no validation).
    pub fn decode(b: &[u8; NET_HDR_LEN]) -> NetHeader {
        NetHeader {
            flags: b[field::FLAGS],
            gso_type: b[field::GSO_TYPE],
            hdr_len: le16(b, field::HDR_LEN),
            gso_size: le16(b, field::GSO_SIZE),
            csum_start: le16(b, field::CSUM_START),
            csum_offset: le16(b, field::CSUM_OFFSET),
            num_buffers: le16(b, field::NUM_BUFFERS),
        }
    }

    /// Encodes into 12 bytes.
    pub fn encode(&self) -> [u8; NET_HDR_LEN] {
        let mut b = [0u8; NET_HDR_LEN];
        b[field::FLAGS] = self.flags;
        b[field::GSO_TYPE] = self.gso_type;
        b[field::HDR_LEN].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[field::GSO_SIZE].copy_from_slice(&self.gso_size.to_le_bytes());
        b[field::CSUM_START].copy_from_slice(&self.csum_start.to_le_bytes());
        b[field::CSUM_OFFSET].copy_from_slice(&self.csum_offset.to_le_bytes());
        b[field::NUM_BUFFERS].copy_from_slice(&self.num_buffers.to_le_bytes());
        b
    }

    /// Validates a header a driver sent with a `frame_len`-byte frame (transmitq) and
    /// returns the frame's offload metadata. `csum` says whether `VIRTIO_NET_F_CSUM` was
    /// negotiated. Rules: no flag but `NEEDS_CSUM` / `DATA_VALID`; `NEEDS_CSUM` only
    /// with `CSUM`, and its two-byte field inside the frame; `gso_type` `NONE` (GSO is not
    /// negotiated). `hdr_len`, `gso_size` and `num_buffers` are ignored on transmit, and
    /// so is `DATA_VALID` (a driver must not set it, VirtIO 5.1.6.2.1: a partition cannot
    /// vouch for a checksum to another one).
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
        let meta = if needs {
            FrameMeta::partial(h.csum_start, h.csum_offset)
        } else {
            FrameMeta::NONE
        };
        if needs && crate::adapters::csum::checksum_range(&meta, frame_len as usize).is_none() {
            return Err(VirtioNetError::BadChecksumOffsets {
                head,
                start: h.csum_start,
                offset: h.csum_offset,
                frame_len,
            });
        }
        Ok(meta)
    }

    /// The header this device writes in front of a received frame.
    pub fn for_rx(meta: &FrameMeta, num_buffers: u16) -> NetHeader {
        let (flags, csum_start, csum_offset) = match meta.checksum {
            Checksum::Partial(p) => (F_NEEDS_CSUM, p.start, p.offset),
            Checksum::Verified => (F_DATA_VALID, 0, 0),
            Checksum::None => (0, 0, 0),
        };
        NetHeader {
            flags,
            gso_type: GSO_NONE,
            hdr_len: 0,
            gso_size: 0,
            csum_start,
            csum_offset,
            num_buffers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_version_1() {
        let h = NetHeader {
            flags: 1,
            gso_type: 0,
            hdr_len: 0x0203,
            gso_size: 0x0405,
            csum_start: 0x0607,
            csum_offset: 0x0809,
            num_buffers: 0x0a0b,
        };
        let b = h.encode();
        assert_eq!(b, [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 0x0b, 0x0a]);
        assert_eq!(NetHeader::decode(&b), h);
    }

    #[test]
    fn transmit_rules() {
        let mut b = [0u8; NET_HDR_LEN];
        assert_eq!(NetHeader::parse_tx(&b, false, 0, 60), Ok(FrameMeta::NONE));
        b[0] = F_NEEDS_CSUM;
        b[6] = 34; // csum_start
        b[8] = 16; // csum_offset (TCP)
        assert!(matches!(
            NetHeader::parse_tx(&b, false, 3, 60),
            Err(VirtioNetError::BadHeader {
                head: 3,
                flags: 1,
                ..
            })
        ));
        let m = NetHeader::parse_tx(&b, true, 3, 60).unwrap();
        assert_eq!(m, FrameMeta::partial(34, 16));
        assert_eq!(
            NetHeader::parse_tx(&b, true, 3, 51),
            Err(VirtioNetError::BadChecksumOffsets {
                head: 3,
                start: 34,
                offset: 16,
                frame_len: 51
            })
        );
        b[0] = F_DATA_VALID;
        assert_eq!(NetHeader::parse_tx(&b, true, 0, 60), Ok(FrameMeta::NONE));
        b[0] = 0;
        b[1] = 1; // TCPv4 GSO
        assert!(NetHeader::parse_tx(&b, true, 0, 60).is_err());
        b[1] = 0;
        b[0] = 4; // RSC_INFO: not negotiable here
        assert!(NetHeader::parse_tx(&b, true, 0, 60).is_err());
    }
}
