//! The virtio-net wire formats both sides share (VirtIO 1.x 5.1): the per-packet
//! header (5.1.6), its flags and GSO types, the device feature bits (5.1.3), the
//! configuration layout (5.1.4) and the control-queue commands (5.1.6.5).
//!
//! Definitions only: what a driver or a device accepts in a header is its own
//! validation rule (`nic-drivers` checks what a device wrote, the switch's device side
//! what a driver wrote). A header is always decoded from a private copy of its bytes.
//!
//! ```
//! use virtqueue::net::{GsoType, HeaderFlags, NetHeader, HEADER_LEN};
//!
//! let h = NetHeader::partial_checksum(34, 16);
//! let bytes = h.encode();
//! assert_eq!(bytes.len(), HEADER_LEN);
//! let back = NetHeader::decode(&bytes);
//! assert_eq!(back.flags(), HeaderFlags::NEEDS_CSUM);
//! assert_eq!(back.gso_type, GsoType::NONE.0);
//! assert_eq!((back.csum_start.get(), back.csum_offset.get()), (34, 16));
//! ```

/// The little-endian 16-bit field type of [`NetHeader`] (`U16::new(v)`, `.get()`).
pub use zerocopy::little_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Device type of a network card (VirtIO 1.x 5).
pub const DEVICE_TYPE_NET: u32 = 1;

/// Header length with `num_buffers` (`VERSION_1`, or legacy with `MRG_RXBUF`).
pub const HEADER_LEN: usize = 12;
/// Header length of a legacy device without `MRG_RXBUF`.
pub const LEGACY_HEADER_LEN: usize = 10;

/// `struct virtio_net_hdr` (12 bytes, little-endian; a legacy header without
/// `MRG_RXBUF` is the first 10).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct NetHeader {
    /// `VIRTIO_NET_HDR_F_*` ([`HeaderFlags`]).
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*` ([`GsoType`]).
    pub gso_type: u8,
    /// Length of the headers to copy into every segment (GSO).
    pub hdr_len: U16,
    /// Segment payload size (GSO).
    pub gso_size: U16,
    /// First byte of the partial checksum.
    pub csum_start: U16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: U16,
    /// Buffers the frame spans (`MRG_RXBUF`; received frames only).
    pub num_buffers: U16,
}

impl NetHeader {
    /// The header of its 12 wire bytes.
    #[inline]
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> NetHeader {
        NetHeader::read_from_bytes(bytes).unwrap_or_default()
    }

    /// The 12 wire bytes.
    #[inline]
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b.copy_from_slice(self.as_bytes());
        b
    }

    /// The header from its first 8 bytes and the next 4 as little-endian words (as read
    /// with single aligned loads, no byte copies). For a 10-byte header pass only the
    /// `csum_offset` half in `hi`.
    #[inline]
    pub fn from_words(lo: u64, hi: u32) -> Self {
        NetHeader {
            flags: lo as u8,
            gso_type: (lo >> 8) as u8,
            hdr_len: U16::new((lo >> 16) as u16),
            gso_size: U16::new((lo >> 32) as u16),
            csum_start: U16::new((lo >> 48) as u16),
            csum_offset: U16::new(hi as u16),
            num_buffers: U16::new((hi >> 16) as u16),
        }
    }

    /// A header asking the other side to complete a partial checksum.
    #[inline]
    pub fn partial_checksum(start: u16, offset: u16) -> NetHeader {
        NetHeader {
            flags: HeaderFlags::NEEDS_CSUM.bits(),
            csum_start: U16::new(start),
            csum_offset: U16::new(offset),
            ..NetHeader::default()
        }
    }

    /// The flags this crate knows (unknown bits dropped: check
    /// [`HeaderFlags::from_bits`] on `flags` to refuse them).
    #[inline]
    pub fn flags(&self) -> HeaderFlags {
        HeaderFlags::from_bits_truncate(self.flags)
    }
}

bitflags::bitflags! {
    /// `flags` of the header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HeaderFlags: u8 {
        /// The checksum is partial: complete it from `csum_start`.
        const NEEDS_CSUM = 1;
        /// The checksum was validated (received frames, `GUEST_CSUM`).
        const DATA_VALID = 2;
        /// `csum_start`/`csum_offset` carry coalescing information (`RSC_EXT`).
        const RSC_INFO = 4;
    }
}

/// `gso_type` of the header: the segmentation the frame asks for, plus the ECN bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GsoType(pub u8);

impl GsoType {
    /// No segmentation.
    pub const NONE: GsoType = GsoType(0);
    /// TCP over IPv4.
    pub const TCPV4: GsoType = GsoType(1);
    /// UDP fragmentation offload (deprecated).
    pub const UDP: GsoType = GsoType(3);
    /// TCP over IPv6.
    pub const TCPV6: GsoType = GsoType(4);
    /// UDP segmentation (`USO`).
    pub const UDP_L4: GsoType = GsoType(5);
    /// Flag: the TCP segments carry the ECN CWR bit (`*_ECN` features).
    pub const ECN: u8 = 0x80;

    /// The segmentation type without the ECN flag.
    #[inline]
    pub const fn kind(self) -> GsoType {
        GsoType(self.0 & !Self::ECN)
    }

    /// Whether the ECN flag is set.
    #[inline]
    pub const fn ecn(self) -> bool {
        self.0 & Self::ECN != 0
    }
}

bitflags::bitflags! {
    /// The virtio-net feature word: the device-specific bits (5.1.3) and the generic ones
    /// a net device and its driver negotiate with them (one type for the driver side and
    /// the device side).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct NetFeatures: u64 {
        /// The device completes partial checksums of transmitted frames.
        const CSUM = 1 << 0;
        /// The driver accepts received frames with partial checksums.
        const GUEST_CSUM = 1 << 1;
        /// Offloads can be changed through the control queue.
        const CTRL_GUEST_OFFLOADS = 1 << 2;
        /// `mtu` in the configuration is valid.
        const MTU = 1 << 3;
        /// `mac` in the configuration is valid.
        const MAC = 1 << 5;
        /// The driver accepts TSOv4 frames.
        const GUEST_TSO4 = 1 << 7;
        /// The driver accepts TSOv6 frames.
        const GUEST_TSO6 = 1 << 8;
        /// The driver accepts TSO with ECN.
        const GUEST_ECN = 1 << 9;
        /// The driver accepts UFO frames.
        const GUEST_UFO = 1 << 10;
        /// The device segments TSOv4 frames.
        const HOST_TSO4 = 1 << 11;
        /// The device segments TSOv6 frames.
        const HOST_TSO6 = 1 << 12;
        /// The device segments TSO with ECN.
        const HOST_ECN = 1 << 13;
        /// The device takes UFO frames.
        const HOST_UFO = 1 << 14;
        /// Received frames may span several buffers (`num_buffers`).
        const MRG_RXBUF = 1 << 15;
        /// `status` in the configuration is valid.
        const STATUS = 1 << 16;
        /// A control queue exists.
        const CTRL_VQ = 1 << 17;
        /// Receive-filter commands on the control queue.
        const CTRL_RX = 1 << 18;
        /// VLAN-filter commands on the control queue.
        const CTRL_VLAN = 1 << 19;
        /// The driver can send gratuitous packets on request.
        const GUEST_ANNOUNCE = 1 << 21;
        /// Several queue pairs.
        const MQ = 1 << 22;
        /// The MAC address can be set through the control queue.
        const CTRL_MAC_ADDR = 1 << 23;
        /// The driver accepts USO frames over IPv4.
        const GUEST_USO4 = 1 << 54;
        /// The driver accepts USO frames over IPv6.
        const GUEST_USO6 = 1 << 55;
        /// The device segments USO frames.
        const HOST_USO = 1 << 56;
        /// `VIRTIO_F_ANY_LAYOUT` (27, legacy devices): header and frame may share a
        /// descriptor.
        const ANY_LAYOUT = 1 << 27;
        /// `VIRTIO_F_INDIRECT_DESC` (28), as [`Features::INDIRECT_DESC`](crate::Features::INDIRECT_DESC).
        const INDIRECT_DESC = crate::Features::INDIRECT_DESC.bits();
        /// `VIRTIO_F_RING_EVENT_IDX` (29), as [`Features::RING_EVENT_IDX`](crate::Features::RING_EVENT_IDX).
        const RING_EVENT_IDX = crate::Features::RING_EVENT_IDX.bits();
        /// `VIRTIO_F_VERSION_1` (32), as [`Features::VERSION_1`](crate::Features::VERSION_1).
        const VERSION_1 = crate::Features::VERSION_1.bits();
        /// `VIRTIO_F_ACCESS_PLATFORM` (33), as [`Features::ACCESS_PLATFORM`](crate::Features::ACCESS_PLATFORM).
        const ACCESS_PLATFORM = crate::Features::ACCESS_PLATFORM.bits();
        /// `VIRTIO_F_RING_PACKED` (34), as [`Features::RING_PACKED`](crate::Features::RING_PACKED).
        const RING_PACKED = crate::Features::RING_PACKED.bits();
        /// `VIRTIO_F_ORDER_PLATFORM` (36), as [`Features::ORDER_PLATFORM`](crate::Features::ORDER_PLATFORM).
        const ORDER_PLATFORM = crate::Features::ORDER_PLATFORM.bits();
    }
}

impl NetFeatures {
    /// The bits of the 64-bit feature word that belong to the device type (0–23 and
    /// 41 upwards); the rest are transport and ring features.
    pub const DEVICE_SPECIFIC: u64 = 0x00ff_ffff | !((1u64 << 41) - 1);
}

/// Device configuration offsets (5.1.4).
pub mod config {
    /// `mac[6]` (with `MAC`).
    pub const MAC: usize = 0;
    /// `status` (with `STATUS`).
    pub const STATUS: usize = 6;
    /// `max_virtqueue_pairs` (with `MQ`).
    pub const MAX_VIRTQUEUE_PAIRS: usize = 8;
    /// `mtu` (with `MTU`).
    pub const MTU: usize = 10;
    /// `status` bit: link up.
    pub const STATUS_LINK_UP: u16 = 1;
    /// `status` bit: the driver should announce itself.
    pub const STATUS_ANNOUNCE: u16 = 2;
}

/// Control-queue classes and commands (5.1.6.5).
pub mod ctrl {
    /// Class: receive filtering.
    pub const CLASS_RX: u8 = 0;
    /// `RX` command: promiscuous on/off.
    pub const RX_PROMISC: u8 = 0;
    /// `RX` command: all-multicast on/off.
    pub const RX_ALLMULTI: u8 = 1;
    /// Class: MAC address.
    pub const CLASS_MAC: u8 = 1;
    /// `MAC` command: the unicast and multicast filter tables.
    pub const MAC_TABLE_SET: u8 = 0;
    /// `MAC` command: set the station address.
    pub const MAC_ADDR_SET: u8 = 1;
    /// Class: VLAN filtering.
    pub const CLASS_VLAN: u8 = 2;
    /// Class: several queue pairs.
    pub const CLASS_MQ: u8 = 4;
    /// `MQ` command: the number of queue pairs in use.
    pub const MQ_VQ_PAIRS_SET: u8 = 0;
    /// Class: offload switching (`CTRL_GUEST_OFFLOADS`).
    pub const CLASS_GUEST_OFFLOADS: u8 = 5;
    /// `GUEST_OFFLOADS` command: set the offloads.
    pub const GUEST_OFFLOADS_SET: u8 = 0;
    /// Acknowledgement: success.
    pub const OK: u8 = 0;
    /// Acknowledgement: failure.
    pub const ERR: u8 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_version_1() {
        assert_eq!(core::mem::size_of::<NetHeader>(), HEADER_LEN);
        let h = NetHeader {
            flags: 1,
            gso_type: 0x81,
            hdr_len: U16::new(0x0203),
            gso_size: U16::new(0x0405),
            csum_start: U16::new(0x0607),
            csum_offset: U16::new(0x0809),
            num_buffers: U16::new(0x0a0b),
        };
        let b = h.encode();
        assert_eq!(b, [1, 0x81, 3, 2, 5, 4, 7, 6, 9, 8, 0x0b, 0x0a]);
        assert_eq!(NetHeader::decode(&b), h);
        let lo = u64::from_le_bytes(b[..8].try_into().unwrap());
        let hi = u32::from_le_bytes(b[8..].try_into().unwrap());
        assert_eq!(NetHeader::from_words(lo, hi), h);
        let gso = GsoType(h.gso_type);
        assert_eq!((gso.kind(), gso.ecn()), (GsoType::TCPV4, true));
    }

    #[test]
    fn unknown_flags_are_visible_to_validation() {
        let h = NetHeader {
            flags: 0x81,
            ..NetHeader::default()
        };
        assert_eq!(h.flags(), HeaderFlags::NEEDS_CSUM);
        assert_eq!(HeaderFlags::from_bits(h.flags), None);
    }

    #[test]
    fn device_specific_bits_are_the_net_features() {
        let generic = NetFeatures::ANY_LAYOUT
            | NetFeatures::INDIRECT_DESC
            | NetFeatures::RING_EVENT_IDX
            | NetFeatures::VERSION_1
            | NetFeatures::ACCESS_PLATFORM
            | NetFeatures::RING_PACKED
            | NetFeatures::ORDER_PLATFORM;
        assert_eq!(generic.bits() & NetFeatures::DEVICE_SPECIFIC, 0);
        assert_eq!(
            NetFeatures::all().difference(generic).bits() & !NetFeatures::DEVICE_SPECIFIC,
            0
        );
        // Bits 24..=40 (transport and ring features) are not device-specific.
        assert_eq!(NetFeatures::DEVICE_SPECIFIC & (1 << 32), 0);
        assert_eq!(NetFeatures::DEVICE_SPECIFIC & (1 << 24), 0);
        assert_ne!(NetFeatures::DEVICE_SPECIFIC & (1 << 41), 0);
    }
}
