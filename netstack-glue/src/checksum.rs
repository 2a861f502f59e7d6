//! Software receive verification (the adapter acting as a NIC's receive checksum
//! offload), so a corrupt frame is dropped *and counted* before it reaches the stack.
//!
//! Parsing is smoltcp's own `wire` module (`new_checked` everywhere). An IPv4 or IPv6
//! frame whose IP, TCP, UDP or ICMP part does not parse is one smoltcp would drop
//! anyway: it is reported malformed. A frame of another EtherType (ARP, ...) is left to
//! smoltcp.

use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, Icmpv4Packet, Icmpv6Packet, IpAddress, IpProtocol, Ipv4Packet,
    Ipv6Packet, TcpPacket, UdpPacket,
};

use crate::stats::AdapterDrop;

/// `Err` with the reason when `frame` is provably corrupt. `transport_verified`: the link
/// already verified the TCP/UDP checksum (only the IPv4 header is checked then).
pub(crate) fn verify(frame: &[u8], transport_verified: bool) -> Result<(), AdapterDrop> {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Ok(());
    };
    match eth.ethertype() {
        EthernetProtocol::Ipv4 => ipv4(eth.payload(), transport_verified),
        EthernetProtocol::Ipv6 => ipv6(eth.payload(), transport_verified),
        _ => Ok(()),
    }
}

fn ipv4(packet: &[u8], transport_verified: bool) -> Result<(), AdapterDrop> {
    // The header checksum first, from the raw header length: a flipped length field is a
    // checksum failure, not a parse failure.
    let ihl = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    let header = packet
        .get(..ihl)
        .filter(|_| ihl >= 20)
        .ok_or(AdapterDrop::RxMalformed)?;
    // `header` holds the whole `ihl` bytes the unchecked view sums.
    if !Ipv4Packet::new_unchecked(header).verify_checksum() {
        return Err(AdapterDrop::RxBadChecksum);
    }
    let ip = Ipv4Packet::new_checked(packet).map_err(|_| AdapterDrop::RxMalformed)?;
    // A fragment's transport checksum covers the reassembled datagram.
    if transport_verified || ip.more_frags() || ip.frag_offset() != 0 {
        return Ok(());
    }
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    match ip.next_header() {
        IpProtocol::Icmp => {
            let p =
                Icmpv4Packet::new_checked(ip.payload()).map_err(|_| AdapterDrop::RxMalformed)?;
            checked(p.verify_checksum())
        }
        proto => transport(proto, ip.payload(), &src, &dst),
    }
}

fn ipv6(packet: &[u8], transport_verified: bool) -> Result<(), AdapterDrop> {
    let ip = Ipv6Packet::new_checked(packet).map_err(|_| AdapterDrop::RxMalformed)?;
    if transport_verified {
        return Ok(());
    }
    let (s, d) = (ip.src_addr(), ip.dst_addr());
    match ip.next_header() {
        IpProtocol::Icmpv6 => {
            let p =
                Icmpv6Packet::new_checked(ip.payload()).map_err(|_| AdapterDrop::RxMalformed)?;
            checked(p.verify_checksum(&s, &d))
        }
        proto => transport(
            proto,
            ip.payload(),
            &IpAddress::Ipv6(s),
            &IpAddress::Ipv6(d),
        ),
    }
}

fn transport(
    proto: IpProtocol,
    payload: &[u8],
    src: &IpAddress,
    dst: &IpAddress,
) -> Result<(), AdapterDrop> {
    match proto {
        IpProtocol::Tcp => {
            let p = TcpPacket::new_checked(payload).map_err(|_| AdapterDrop::RxMalformed)?;
            checked(p.verify_checksum(src, dst))
        }
        IpProtocol::Udp => {
            let p = UdpPacket::new_checked(payload).map_err(|_| AdapterDrop::RxMalformed)?;
            checked(p.verify_checksum(src, dst))
        }
        _ => Ok(()),
    }
}

fn checked(ok: bool) -> Result<(), AdapterDrop> {
    if ok {
        Ok(())
    } else {
        Err(AdapterDrop::RxBadChecksum)
    }
}
