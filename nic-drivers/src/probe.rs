//! Hand-built link probes for self-tests of a driver on a real or emulated network: an
//! ARP request / reply check and an ICMP echo request / reply check over any
//! [`FrameLink`]. No network stack: just enough IPv4 to ask a peer "are you there".
//!
//! Used by the bare-metal QEMU selftest image (peer: QEMU user networking's gateway
//! 10.0.2.2) and the TAP driver's test (peer: the kernel inside a private network
//! namespace). Every parser checks lengths before reading a field; a short or foreign
//! frame is "not ours", never a panic.

use crate::link::{FrameLink, FrameMeta, MacAddress};

const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
/// htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4; then the operation.
const ARP_ETH_IPV4: [u8; 6] = [0, 1, 8, 0, 6, 4];

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

/// Internet checksum (RFC 1071) of `data`; 0 over data that includes a correct checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The echo payload for sequence number `seq`.
pub fn payload(seq: u16) -> [u8; PAYLOAD_LEN] {
    let mut p = [0u8; PAYLOAD_LEN];
    for (i, b) in p.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seq as u8) ^ 0x5a;
    }
    p
}

impl Probe {
    /// Broadcast "who has `peer_ip`? tell `ip`".
    pub fn arp_request(&self) -> [u8; ARP_LEN] {
        let mut f = [0u8; ARP_LEN];
        f[0..6].copy_from_slice(&MacAddress::BROADCAST.0);
        f[6..12].copy_from_slice(&self.mac.0);
        f[12..14].copy_from_slice(&ETHERTYPE_ARP);
        f[14..20].copy_from_slice(&ARP_ETH_IPV4);
        f[21] = 1; // request
        f[22..28].copy_from_slice(&self.mac.0);
        f[28..32].copy_from_slice(&self.ip);
        f[38..42].copy_from_slice(&self.peer_ip);
        f
    }

    /// The peer's MAC if `frame` is its ARP reply to us (sender MAC = frame source).
    pub fn parse_arp_reply(&self, frame: &[u8]) -> Option<MacAddress> {
        let f = frame.get(..42)?;
        if f[12..14] != ETHERTYPE_ARP || f[0..6] != self.mac.0 || f[14..20] != ARP_ETH_IPV4 {
            return None;
        }
        if f[20..22] != [0, 2] || f[28..32] != self.peer_ip {
            return None;
        }
        if f[32..38] != self.mac.0 || f[38..42] != self.ip || f[6..12] != f[22..28] {
            return None;
        }
        let mut m = [0u8; 6];
        m.copy_from_slice(&f[22..28]);
        Some(MacAddress(m))
    }

    /// ICMP echo request to the peer at `peer_mac`.
    pub fn echo_request(&self, peer_mac: MacAddress, id: u16, seq: u16) -> [u8; ECHO_LEN] {
        let mut f = [0u8; ECHO_LEN];
        f[0..6].copy_from_slice(&peer_mac.0);
        f[6..12].copy_from_slice(&self.mac.0);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + 8 + PAYLOAD_LEN) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        ip[8] = 64; // TTL
        ip[9] = 1; // ICMP
        ip[12..16].copy_from_slice(&self.ip);
        ip[16..20].copy_from_slice(&self.peer_ip);
        let c = checksum(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let icmp = &mut f[34..];
        icmp[0] = 8; // echo request
        icmp[4..6].copy_from_slice(&id.to_be_bytes());
        icmp[6..8].copy_from_slice(&seq.to_be_bytes());
        icmp[8..].copy_from_slice(&payload(seq));
        let c = checksum(icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        f
    }

    /// Checks that `frame` is the peer's reply to [`Probe::echo_request`]`(_, id, seq)`:
    /// checksums, id, sequence and payload.
    pub fn check_echo_reply(&self, frame: &[u8], id: u16, seq: u16) -> Result<(), EchoMismatch> {
        let f = frame.get(..34).ok_or(EchoMismatch::NotOurs)?;
        if f[0..6] != self.mac.0 || f[12..14] != ETHERTYPE_IPV4 {
            return Err(EchoMismatch::NotOurs);
        }
        let ip = &f[14..34];
        if ip[0] != 0x45 || ip[9] != 1 || ip[12..16] != self.peer_ip || ip[16..20] != self.ip {
            return Err(EchoMismatch::NotOurs);
        }
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let icmp = total
            .checked_add(14)
            .and_then(|end| frame.get(34..end))
            .ok_or(EchoMismatch::Wrong("IPv4 total length"))?;
        if icmp.first() != Some(&0) {
            return Err(EchoMismatch::NotOurs);
        }
        if checksum(ip) != 0 {
            return Err(EchoMismatch::Wrong("IPv4 header checksum"));
        }
        if icmp.len() != 8 + PAYLOAD_LEN {
            return Err(EchoMismatch::Wrong("ICMP length"));
        }
        if checksum(icmp) != 0 {
            return Err(EchoMismatch::Wrong("ICMP checksum"));
        }
        if icmp[4..6] != id.to_be_bytes() {
            return Err(EchoMismatch::Wrong("echo id"));
        }
        if icmp[6..8] != seq.to_be_bytes() {
            return Err(EchoMismatch::Wrong("echo sequence"));
        }
        if icmp[8..] != payload(seq) {
            return Err(EchoMismatch::Wrong("echo payload"));
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
        r[34] = 0;
        r[36..38].copy_from_slice(&[0, 0]);
        let c = checksum(&r[34..]);
        r[36..38].copy_from_slice(&c.to_be_bytes());
        r
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2 (one's complement 0x220d).
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), 0x00ff, "odd byte padded with zero");
    }

    #[test]
    fn arp_reply_of_a_correct_peer_is_accepted_and_others_are_not() {
        let req = US.arp_request();
        assert_eq!(&req[0..6], &[0xff; 6]);
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
        assert_eq!(checksum(&req[14..34]), 0);
        assert_eq!(checksum(&req[34..]), 0);
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
        long[16..18].copy_from_slice(&200u16.to_be_bytes());
        long[24..26].copy_from_slice(&[0, 0]);
        let c = checksum(&long[14..34]);
        long[24..26].copy_from_slice(&c.to_be_bytes());
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
