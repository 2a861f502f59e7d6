//! The AFDX frame: Ethernet, IPv4, UDP, the AFDX payload, one sequence-number byte.
//!
//! ```text
//! 0..6    destination MAC  03:00:00:00:VL_hi:VL_lo
//! 6..12   source MAC       02:00:00:network_id:equipment_id:(interface << 5)
//!                          interface 001 = network A, 010 = network B
//! 12..14  EtherType 0x0800
//! 14..34  IPv4 header (IHL 5, no options, DF, TTL 1, protocol 17)
//!         destination 224.224.VL_hi.VL_lo
//! 34..42  UDP header (checksum 0: not computed; a non-zero one is verified)
//! 42..    AFDX payload, padded with zeros to 17 bytes at least
//! last    sequence number (0 after reset, then 1..=255 wrapping to 1)
//! ```
//!
//! The frame on the link excludes the FCS; lengths compared with a VL's Lmax include it
//! ([`FCS_LEN`]). [`parse`] reads every field once, from the caller's private copy, and
//! checks lengths before it reads a byte past them: a typed [`FrameError`], never a
//! panic.

use crate::config::Network;
use crate::error::FrameError;

/// Bytes of the Ethernet, IPv4 and UDP headers.
pub const HEADERS_LEN: usize = 42;
/// The smallest AFDX payload (shorter messages are padded with zeros).
pub const MIN_PAYLOAD: usize = 17;
/// Bytes of the Ethernet FCS (counted in Lmax, not carried by links).
pub const FCS_LEN: usize = 4;
/// The sequence-number byte.
pub const SEQ_LEN: usize = 1;
/// Frame bytes besides the payload, FCS included: Lmax minus this is the largest payload.
pub const OVERHEAD: usize = HEADERS_LEN + SEQ_LEN + FCS_LEN;
/// The smallest frame on a link (no FCS): 60 bytes.
pub const MIN_FRAME: usize = HEADERS_LEN + MIN_PAYLOAD + SEQ_LEN;
/// The largest frame on a link (no FCS): 1514 bytes.
pub const MAX_FRAME: usize = 1514;
/// The largest payload: 1471 bytes.
pub const MAX_PAYLOAD: usize = MAX_FRAME - HEADERS_LEN - SEQ_LEN;
/// Offset of the source MAC's last byte (the interface id).
pub const SRC_IFACE_OFFSET: usize = 11;

/// Field offsets (the whole map; tests use some).
#[allow(dead_code)]
mod field {
    pub const DST: core::ops::Range<usize> = 0..6;
    pub const SRC: core::ops::Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const IP: usize = 14;
    pub const IP_TOTAL: usize = IP + 2;
    pub const IP_ID: usize = IP + 4;
    pub const IP_FLAGS: usize = IP + 6;
    pub const IP_TTL: usize = IP + 8;
    pub const IP_PROTO: usize = IP + 9;
    pub const IP_CSUM: usize = IP + 10;
    pub const IP_SRC: usize = IP + 12;
    pub const IP_DST: usize = IP + 16;
    pub const UDP: usize = 34;
    pub const UDP_SRC: usize = UDP;
    pub const UDP_DST: usize = UDP + 2;
    pub const UDP_LEN: usize = UDP + 4;
    pub const UDP_CSUM: usize = UDP + 6;
    pub const PAYLOAD: usize = 42;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const PROTO_UDP: u8 = 17;
const DF: u16 = 0x4000;

/// The destination MAC of a VL.
pub const fn vl_mac(vl: u16) -> [u8; 6] {
    let b = vl.to_be_bytes();
    [0x03, 0, 0, 0, b[0], b[1]]
}

/// The destination IP of a VL (multicast `224.224.VL_hi.VL_lo`).
pub const fn vl_ip(vl: u16) -> [u8; 4] {
    let b = vl.to_be_bytes();
    [224, 224, b[0], b[1]]
}

/// The source MAC of an end system on a network.
pub const fn source_mac(network_id: u8, equipment_id: u8, net: Network) -> [u8; 6] {
    [
        0x02,
        0,
        0,
        network_id,
        equipment_id,
        net.interface_id() << 5,
    ]
}

/// The frame length on a link (no FCS) for a payload of `payload` bytes.
pub const fn frame_len(payload: usize) -> usize {
    let p = if payload < MIN_PAYLOAD {
        MIN_PAYLOAD
    } else {
        payload
    };
    HEADERS_LEN + p + SEQ_LEN
}

/// The addressing of one transmit port, fixed at configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addressing {
    /// The VL.
    pub vl: u16,
    /// The end system's network id (source MAC byte 3).
    pub network_id: u8,
    /// The end system's equipment id (source MAC byte 4).
    pub equipment_id: u8,
    /// Source IP (unicast, the end system's partition address).
    pub src_ip: [u8; 4],
    /// Source UDP port.
    pub src_udp: u16,
    /// Destination UDP port.
    pub dst_udp: u16,
}

/// Writes the frame for `payload` into `buf` (everything but the sequence number, and
/// the source MAC's interface byte set for network A): its length on the link, or
/// `None` if `buf` or the payload limit is too small.
pub fn build(buf: &mut [u8], a: &Addressing, ip_id: u16, payload: &[u8]) -> Option<usize> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    let len = frame_len(payload.len());
    let frame = buf.get_mut(..len)?;
    let ip_total = (len - field::IP - SEQ_LEN) as u16;
    let udp_len = ip_total - 20;
    frame[field::DST].copy_from_slice(&vl_mac(a.vl));
    frame[field::SRC].copy_from_slice(&source_mac(a.network_id, a.equipment_id, Network::A));
    frame[field::ETHERTYPE..field::IP].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let ip = &mut frame[field::IP..field::UDP];
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&ip_total.to_be_bytes());
    ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
    ip[6..8].copy_from_slice(&DF.to_be_bytes());
    ip[8] = 1;
    ip[9] = PROTO_UDP;
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&a.src_ip);
    ip[16..20].copy_from_slice(&vl_ip(a.vl));
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    frame[field::UDP_SRC..field::UDP_DST].copy_from_slice(&a.src_udp.to_be_bytes());
    frame[field::UDP_DST..field::UDP_LEN].copy_from_slice(&a.dst_udp.to_be_bytes());
    frame[field::UDP_LEN..field::UDP_CSUM].copy_from_slice(&udp_len.to_be_bytes());
    frame[field::UDP_CSUM..field::PAYLOAD].copy_from_slice(&[0, 0]);
    let body = &mut frame[field::PAYLOAD..len - SEQ_LEN];
    let (msg, pad) = body.split_at_mut(payload.len());
    msg.copy_from_slice(payload);
    pad.fill(0);
    frame[len - 1] = 0;
    Some(len)
}

/// Sets the network (source MAC interface id) and the sequence number of a built frame.
#[inline]
pub fn stamp(frame: &mut [u8], net: Network, seq: u8) {
    if let Some(b) = frame.get_mut(SRC_IFACE_OFFSET) {
        *b = net.interface_id() << 5;
    }
    if let Some(b) = frame.last_mut() {
        *b = seq;
    }
}

/// A parsed, validated AFDX frame (borrowing the caller's private copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfdxFrame<'a> {
    /// The VL (from the destination MAC; the destination IP agrees).
    pub vl: u16,
    /// The network the source MAC names.
    pub network: Network,
    /// Source MAC bytes 3 and 4 (network id, equipment id).
    pub source_id: [u8; 2],
    /// Source IP.
    pub src_ip: [u8; 4],
    /// Source UDP port.
    pub src_udp: u16,
    /// Destination UDP port.
    pub dst_udp: u16,
    /// The UDP payload (padding included).
    pub payload: &'a [u8],
    /// The sequence number.
    pub seq: u8,
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[h, l]) => u16::from_be_bytes([h, l]),
        _ => 0,
    }
}

/// Parses and validates a frame (no FCS) without trusting any field.
pub fn parse(frame: &[u8]) -> Result<AfdxFrame<'_>, FrameError> {
    let len = frame.len();
    if len < MIN_FRAME {
        return Err(FrameError::TooShort { len });
    }
    if len > MAX_FRAME {
        return Err(FrameError::TooLong { len });
    }
    // From here every offset below MIN_FRAME is in bounds; `get` keeps it panic-free anyway.
    let dst = frame.get(field::DST).unwrap_or(&[0; 6]);
    if dst[..4] != [0x03, 0, 0, 0] {
        return Err(FrameError::Destination {
            prefix: [dst[0], dst[1], dst[2], dst[3]],
        });
    }
    let vl = u16::from_be_bytes([dst[4], dst[5]]);
    let src = frame.get(field::SRC).unwrap_or(&[0; 6]);
    let last = src[5];
    let network = match (src[..3] == [0x02, 0, 0], last >> 5, last & 0x1f) {
        (true, 0b001, 0) => Network::A,
        (true, 0b010, 0) => Network::B,
        _ => return Err(FrameError::Source { last }),
    };
    let ethertype = be16(frame, field::ETHERTYPE);
    if ethertype != ETHERTYPE_IPV4 {
        return Err(FrameError::EtherType { value: ethertype });
    }
    let vihl = frame[field::IP];
    if vihl >> 4 != 4 {
        return Err(FrameError::IpVersion { version: vihl >> 4 });
    }
    if vihl & 0xf != 5 {
        return Err(FrameError::IpHeaderLen { ihl: vihl & 0xf });
    }
    let total = be16(frame, field::IP_TOTAL);
    if usize::from(total) + field::IP + SEQ_LEN != len {
        return Err(FrameError::IpTotalLen { total, frame: len });
    }
    let flags_offset = be16(frame, field::IP_FLAGS);
    if flags_offset & !DF != 0 {
        return Err(FrameError::Fragment { flags_offset });
    }
    let ip = &frame[field::IP..field::UDP];
    if checksum(ip) != 0 {
        return Err(FrameError::IpChecksum {
            field: be16(frame, field::IP_CSUM),
        });
    }
    let proto = frame[field::IP_PROTO];
    if proto != PROTO_UDP {
        return Err(FrameError::Protocol { value: proto });
    }
    let dst_ip = [ip[16], ip[17], ip[18], ip[19]];
    if dst_ip != vl_ip(vl) {
        return Err(FrameError::DestinationIp { ip: dst_ip });
    }
    let src_ip = [ip[12], ip[13], ip[14], ip[15]];
    let udp_len = be16(frame, field::UDP_LEN);
    let ip_payload = total - 20; // total >= 60 - 15 = 45 by the length check above
    if udp_len != ip_payload {
        return Err(FrameError::UdpLen {
            udp: udp_len,
            ip_payload,
        });
    }
    let udp_end = len - SEQ_LEN;
    let csum = be16(frame, field::UDP_CSUM);
    if csum != 0 && udp_checksum(&src_ip, &dst_ip, &frame[field::UDP..udp_end]) != 0 {
        return Err(FrameError::UdpChecksum { field: csum });
    }
    Ok(AfdxFrame {
        vl,
        network,
        source_id: [src[3], src[4]],
        src_ip,
        src_udp: be16(frame, field::UDP_SRC),
        dst_udp: be16(frame, field::UDP_DST),
        payload: &frame[field::PAYLOAD..udp_end],
        seq: frame[udp_end],
    })
}

/// Ones'-complement sum of `data` (16-bit big-endian words, odd byte padded), folded.
fn sum(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        acc += u32::from(*b) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// The Internet checksum of `data`: 0 over a header with a correct checksum field.
pub fn checksum(data: &[u8]) -> u16 {
    !(sum(data, 0) as u16)
}

/// The UDP checksum over the pseudo-header and `udp` (header and payload): 0 when the
/// checksum field in `udp` is correct.
pub fn udp_checksum(src: &[u8; 4], dst: &[u8; 4], udp: &[u8]) -> u16 {
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(src);
    pseudo[4..8].copy_from_slice(dst);
    pseudo[9] = PROTO_UDP;
    pseudo[10..12].copy_from_slice(&(udp.len() as u16).to_be_bytes());
    let acc = sum(&pseudo, 0);
    !(sum(udp, acc) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> Addressing {
        Addressing {
            vl: 0x1234,
            network_id: 7,
            equipment_id: 9,
            src_ip: [10, 7, 9, 1],
            src_udp: 1000,
            dst_udp: 2000,
        }
    }

    #[test]
    fn build_parse_round_trip() {
        let mut buf = [0u8; MAX_FRAME];
        for n in [0usize, 1, 16, 17, 18, 100, MAX_PAYLOAD] {
            let msg: std::vec::Vec<u8> = (0..n).map(|i| i as u8).collect();
            let len = build(&mut buf, &addr(), 5, &msg).unwrap();
            assert_eq!(len, frame_len(n));
            stamp(&mut buf[..len], Network::B, 42);
            let f = parse(&buf[..len]).unwrap();
            assert_eq!(f.vl, 0x1234);
            assert_eq!(f.network, Network::B);
            assert_eq!(f.seq, 42);
            assert_eq!(&f.payload[..n], &msg[..]);
            assert!(f.payload[n..].iter().all(|&b| b == 0));
            assert_eq!(f.dst_udp, 2000);
        }
        assert_eq!(build(&mut buf, &addr(), 0, &[0; MAX_PAYLOAD + 1]), None);
    }

    #[test]
    fn refuses_fragments_options_bad_checksums() {
        let mut buf = [0u8; 200];
        let len = build(&mut buf, &addr(), 5, &[1; 50]).unwrap();
        let good = buf;
        let f = &mut buf[..len];
        f[field::IP_FLAGS] |= 0x20; // MF
        assert!(matches!(parse(f), Err(FrameError::Fragment { .. })));
        let mut buf = good;
        buf[field::IP] = 0x46;
        assert!(matches!(
            parse(&buf[..len]),
            Err(FrameError::IpHeaderLen { ihl: 6 })
        ));
        let mut buf = good;
        buf[field::IP_TTL] = 9;
        assert!(matches!(
            parse(&buf[..len]),
            Err(FrameError::IpChecksum { .. })
        ));
        let mut buf = good;
        buf[field::UDP_CSUM] = 1;
        assert!(matches!(
            parse(&buf[..len]),
            Err(FrameError::UdpChecksum { .. })
        ));
        // A correct non-zero UDP checksum is accepted.
        let mut buf = good;
        let c = udp_checksum(&[10, 7, 9, 1], &vl_ip(0x1234), &buf[field::UDP..len - 1]);
        buf[field::UDP_CSUM..field::UDP_CSUM + 2].copy_from_slice(&c.to_be_bytes());
        assert!(parse(&buf[..len]).is_ok());
        assert!(matches!(
            parse(&good[..len - 1]),
            Err(FrameError::IpTotalLen { .. })
        ));
        assert!(matches!(
            parse(&good[..59]),
            Err(FrameError::TooShort { len: 59 })
        ));
        let mut buf = good;
        buf[SRC_IFACE_OFFSET] = 0b011 << 5;
        assert!(matches!(parse(&buf[..len]), Err(FrameError::Source { .. })));
    }
}
