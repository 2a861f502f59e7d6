//! Link probes for self-tests of a driver on a real or emulated network: an ARP request /
//! reply check and an ICMP echo request / reply check over any [`FrameLink`], built and
//! parsed with `smoltcp::wire` (no network stack: just enough IPv4 to ask a peer "are
//! you there").
//!
//! Used by this bare-metal image (peer: QEMU user networking's gateway 10.0.2.2) and by
//! nic-drivers' TAP test (peer: the kernel inside a private network namespace), which
//! includes this file. A short or foreign frame is "not ours", never a panic.

use nic_drivers::{FrameLink, FrameMeta, MacAddress};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr,
};

/// Length of an ARP request frame (padded to the Ethernet minimum without FCS).
pub const ARP_LEN: usize = 60;
/// Length of the echo payload.
pub const PAYLOAD_LEN: usize = 32;
/// Length of an echo request frame: Ethernet 14 + IPv4 20 + ICMP 8 + payload.
pub const ECHO_LEN: usize = 14 + 20 + 8 + PAYLOAD_LEN;

/// Our station (MAC, IPv4 address) and the peer's IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Our MAC address.
    pub mac: MacAddress,
    /// Our IPv4 address.
    pub ip: [u8; 4],
    /// The peer's IPv4 address.
    pub peer_ip: [u8; 4],
}

/// Why a frame is not the echo reply waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoMismatch {
    /// Not an ICMP echo reply from the peer to us (another frame: ignore it).
    NotOurs,
    /// An echo reply from the peer to us with this field wrong.
    Wrong(&'static str),
}

/// The echo payload for sequence number `seq`.
pub fn payload(seq: u16) -> [u8; PAYLOAD_LEN] {
    let mut p = [0u8; PAYLOAD_LEN];
    for (i, b) in p.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seq as u8) ^ 0x5a;
    }
    p
}

fn eth(mac: MacAddress) -> EthernetAddress {
    EthernetAddress(mac.0)
}

impl Probe {
    fn our_ip(&self) -> Ipv4Address {
        Ipv4Address::from(self.ip)
    }

    fn peer(&self) -> Ipv4Address {
        Ipv4Address::from(self.peer_ip)
    }

    /// Broadcast "who has `peer_ip`? tell `ip`".
    pub fn arp_request(&self) -> [u8; ARP_LEN] {
        let mut f = [0u8; ARP_LEN];
        let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
        EthernetRepr {
            src_addr: eth(self.mac),
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        }
        .emit(&mut frame);
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: eth(self.mac),
            source_protocol_addr: self.our_ip(),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: self.peer(),
        }
        .emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        f
    }

    /// The peer's MAC if `frame` is its ARP reply to us (sender MAC = frame source).
    pub fn parse_arp_reply(&self, frame: &[u8]) -> Option<MacAddress> {
        let frame = EthernetFrame::new_checked(frame).ok()?;
        let eth_repr = EthernetRepr::parse(&frame).ok()?;
        if eth_repr.dst_addr != eth(self.mac) || eth_repr.ethertype != EthernetProtocol::Arp {
            return None;
        }
        let arp = ArpPacket::new_checked(frame.payload()).ok()?;
        let ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr,
            source_protocol_addr,
            target_hardware_addr,
            target_protocol_addr,
        } = ArpRepr::parse(&arp).ok()?
        else {
            return None;
        };
        let ours = source_protocol_addr == self.peer()
            && target_hardware_addr == eth(self.mac)
            && target_protocol_addr == self.our_ip()
            && source_hardware_addr == eth_repr.src_addr;
        ours.then_some(MacAddress(source_hardware_addr.0))
    }

    /// ICMP echo request to the peer at `peer_mac`.
    pub fn echo_request(&self, peer_mac: MacAddress, id: u16, seq: u16) -> [u8; ECHO_LEN] {
        let mut f = [0u8; ECHO_LEN];
        let data = payload(seq);
        let icmp = Icmpv4Repr::EchoRequest {
            ident: id,
            seq_no: seq,
            data: &data,
        };
        let ip = Ipv4Repr {
            src_addr: self.our_ip(),
            dst_addr: self.peer(),
            next_header: IpProtocol::Icmp,
            payload_len: icmp.buffer_len(),
            hop_limit: 64,
        };
        let caps = ChecksumCapabilities::default();
        let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
        EthernetRepr {
            src_addr: eth(self.mac),
            dst_addr: eth(peer_mac),
            ethertype: EthernetProtocol::Ipv4,
        }
        .emit(&mut frame);
        let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut packet, &caps);
        packet.set_ident(id);
        packet.fill_checksum();
        icmp.emit(
            &mut Icmpv4Packet::new_unchecked(packet.payload_mut()),
            &caps,
        );
        f
    }

    /// Checks that `frame` is the peer's reply to [`Probe::echo_request`]`(_, id, seq)`:
    /// checksums, id, sequence and payload.
    pub fn check_echo_reply(&self, frame: &[u8], id: u16, seq: u16) -> Result<(), EchoMismatch> {
        use EchoMismatch::{NotOurs, Wrong};
        let frame = EthernetFrame::new_checked(frame).map_err(|_| NotOurs)?;
        if frame.dst_addr() != eth(self.mac) || frame.ethertype() != EthernetProtocol::Ipv4 {
            return Err(NotOurs);
        }
        // The addresses and protocol say whether it is ours; a bad length after that is a
        // wrong reply, not a foreign frame.
        let bytes = frame.payload();
        if bytes.len() < 20 {
            return Err(NotOurs);
        }
        let ip = Ipv4Packet::new_unchecked(bytes);
        if ip.version() != 4
            || ip.header_len() != 20
            || ip.next_header() != IpProtocol::Icmp
            || ip.src_addr() != self.peer()
            || ip.dst_addr() != self.our_ip()
        {
            return Err(NotOurs);
        }
        ip.check_len().map_err(|_| Wrong("IPv4 total length"))?;
        let icmp = Icmpv4Packet::new_checked(ip.payload()).map_err(|_| Wrong("ICMP length"))?;
        let no_check = ChecksumCapabilities::ignored();
        let Ok(Icmpv4Repr::EchoReply {
            ident,
            seq_no,
            data,
        }) = Icmpv4Repr::parse(&icmp, &no_check)
        else {
            return Err(NotOurs);
        };
        if !ip.verify_checksum() {
            return Err(Wrong("IPv4 header checksum"));
        }
        if data.len() != PAYLOAD_LEN {
            return Err(Wrong("ICMP length"));
        }
        if !icmp.verify_checksum() {
            return Err(Wrong("ICMP checksum"));
        }
        if ident != id {
            return Err(Wrong("echo id"));
        }
        if seq_no != seq {
            return Err(Wrong("echo sequence"));
        }
        if data != payload(seq) {
            return Err(Wrong("echo payload"));
        }
        Ok(())
    }
}

/// Sends one frame: reserve, write, commit, service (the device is notified at once).
/// `Ok(false)` when the device has no free transmit buffer (try again after
/// [`FrameLink::service`]).
pub fn transmit<D: FrameLink + ?Sized>(dev: &mut D, frame: &[u8]) -> Result<bool, D::Error> {
    let Some(slot) = dev.tx_reserve(frame.len())? else {
        return Ok(false);
    };
    if let Err(e) = dev.tx_write(&slot, 0, frame) {
        dev.tx_abort(slot);
        return Err(e);
    }
    dev.tx_commit(slot, FrameMeta::NONE)?;
    dev.service(0)?;
    Ok(true)
}

/// Polls and receives frames until `check` returns `Some` (its value is returned) or
/// `keep_waiting` returns `false` (`Ok(None)`). `keep_waiting` is called once per empty
/// poll, so it bounds the loop (a deadline, a count) and may sleep.
pub fn receive_until<D: FrameLink + ?Sized, T>(
    dev: &mut D,
    mut keep_waiting: impl FnMut() -> bool,
    mut check: impl FnMut(&[u8]) -> Option<T>,
) -> Result<Option<T>, D::Error> {
    loop {
        dev.service(16)?;
        match dev.rx_take()? {
            Some(slot) => {
                let r = check(dev.rx_frame(&slot));
                dev.rx_release(slot);
                if r.is_some() {
                    return Ok(r);
                }
            }
            None if !keep_waiting() => return Ok(None),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Probe = Probe {
        mac: MacAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
        ip: [10, 0, 2, 15],
        peer_ip: [10, 0, 2, 2],
    };
    const PEER: MacAddress = MacAddress([0x52, 0x55, 10, 0, 2, 2]);

    /// What a correct peer answers to our ARP request (built from the request's fields).
    fn arp_reply_to(req: &[u8; ARP_LEN]) -> [u8; ARP_LEN] {
        let mut r = *req;
        r[0..6].copy_from_slice(&req[6..12]);
        r[6..12].copy_from_slice(&PEER.0);
        r[21] = 2;
        r[22..28].copy_from_slice(&PEER.0);
        r[28..32].copy_from_slice(&req[38..42]);
        r[32..38].copy_from_slice(&req[22..28]);
        r[38..42].copy_from_slice(&req[28..32]);
        r
    }

    /// What a correct peer answers to an echo request.
    fn echo_reply_to(req: &[u8; ECHO_LEN]) -> [u8; ECHO_LEN] {
        let mut r = *req;
        r[0..6].copy_from_slice(&req[6..12]);
        r[6..12].copy_from_slice(&req[0..6]);
        r[26..30].copy_from_slice(&req[30..34]);
        r[30..34].copy_from_slice(&req[26..30]);
        let mut icmp = Icmpv4Packet::new_unchecked(&mut r[34..]);
        icmp.set_msg_type(smoltcp::wire::Icmpv4Message::EchoReply);
        icmp.fill_checksum();
        r
    }

    #[test]
    fn arp_reply_of_a_correct_peer_is_accepted_and_others_are_not() {
        let req = US.arp_request();
        assert_eq!(&req[0..6], &[0xff; 6]);
        assert_eq!(&req[12..14], &[0x08, 0x06]);
        let reply = arp_reply_to(&req);
        assert_eq!(US.parse_arp_reply(&reply), Some(PEER));
        assert_eq!(
            US.parse_arp_reply(&req),
            None,
            "our own request is not a reply"
        );
        assert_eq!(US.parse_arp_reply(&reply[..41]), None, "short");
        let mut other = reply;
        other[31] = 3; // from 10.0.2.3
        assert_eq!(US.parse_arp_reply(&other), None);
        let mut spoofed = reply;
        spoofed[6] ^= 2; // frame source differs from the ARP sender
        assert_eq!(US.parse_arp_reply(&spoofed), None);
    }

    #[test]
    fn echo_request_has_valid_checksums_and_its_reply_is_accepted() {
        let req = US.echo_request(PEER, 0x7e57, 3);
        let ip = Ipv4Packet::new_checked(&req[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert!(Icmpv4Packet::new_checked(ip.payload())
            .unwrap()
            .verify_checksum());
        let reply = echo_reply_to(&req);
        assert_eq!(US.check_echo_reply(&reply, 0x7e57, 3), Ok(()));
        assert_eq!(
            US.check_echo_reply(&req, 0x7e57, 3),
            Err(EchoMismatch::NotOurs)
        );
        assert_eq!(
            US.check_echo_reply(&reply, 0x7e58, 3),
            Err(EchoMismatch::Wrong("echo id"))
        );
        assert_eq!(
            US.check_echo_reply(&reply, 0x7e57, 4),
            Err(EchoMismatch::Wrong("echo sequence"))
        );
        let mut bad = reply;
        bad[50] ^= 1;
        assert_eq!(
            US.check_echo_reply(&bad, 0x7e57, 3),
            Err(EchoMismatch::Wrong("ICMP checksum"))
        );
        let mut long = reply;
        let mut ip = Ipv4Packet::new_unchecked(&mut long[14..]);
        ip.set_total_len(200);
        ip.fill_checksum();
        assert_eq!(
            US.check_echo_reply(&long, 0x7e57, 3),
            Err(EchoMismatch::Wrong("IPv4 total length"))
        );
        assert_eq!(
            US.check_echo_reply(&reply[..20], 0x7e57, 3),
            Err(EchoMismatch::NotOurs)
        );
    }
}
