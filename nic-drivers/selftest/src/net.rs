//! Hand-built ARP and ICMP echo frames (no network stack in nic-drivers or here).
//!
//! Every parser checks lengths before reading a field; a short or foreign frame gives
//! `None`.

/// Our address under QEMU user networking.
pub const OUR_IP: [u8; 4] = [10, 0, 2, 15];
/// QEMU user networking's gateway: answers ARP and ICMP echo.
pub const PEER_IP: [u8; 4] = [10, 0, 2, 2];

const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];

/// ARP request "who has `PEER_IP`, tell `OUR_IP`" from `mac`, broadcast (60 bytes, padded).
pub fn arp_request(mac: [u8; 6], out: &mut [u8; 60]) -> usize {
    *out = [0; 60];
    out[0..6].copy_from_slice(&[0xff; 6]);
    out[6..12].copy_from_slice(&mac);
    out[12..14].copy_from_slice(&ETHERTYPE_ARP);
    // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4, op 1 (request).
    out[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    out[22..28].copy_from_slice(&mac);
    out[28..32].copy_from_slice(&OUR_IP);
    // Target hardware address unknown (zero).
    out[38..42].copy_from_slice(&PEER_IP);
    60
}

/// If `frame` is an ARP reply from `PEER_IP` to (`mac`, `OUR_IP`), the peer's MAC.
pub fn parse_arp_reply(frame: &[u8], mac: [u8; 6]) -> Option<[u8; 6]> {
    if frame.len() < 42 || frame[12..14] != ETHERTYPE_ARP || frame[0..6] != mac {
        return None;
    }
    if frame[14..22] != [0, 1, 8, 0, 6, 4, 0, 2] {
        return None;
    }
    if frame[28..32] != PEER_IP || frame[32..38] != mac || frame[38..42] != OUR_IP {
        return None;
    }
    let mut peer = [0u8; 6];
    peer.copy_from_slice(&frame[22..28]);
    // The sender MAC in the ARP body must be the frame's source.
    (frame[6..12] == peer).then_some(peer)
}

/// Internet checksum (RFC 1071) over `data`.
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

/// Length of the echo payload we send.
pub const PAYLOAD_LEN: usize = 32;
/// Size of an echo request frame: Ethernet 14 + IPv4 20 + ICMP 8 + payload.
pub const ECHO_LEN: usize = 14 + 20 + 8 + PAYLOAD_LEN;

/// The payload pattern for sequence `seq`.
pub fn payload(seq: u16) -> [u8; PAYLOAD_LEN] {
    let mut p = [0u8; PAYLOAD_LEN];
    for (i, b) in p.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seq as u8) ^ 0x5a;
    }
    p
}

/// ICMP echo request from (`mac`, `OUR_IP`) to (`peer`, `PEER_IP`).
pub fn echo_request(mac: [u8; 6], peer: [u8; 6], id: u16, seq: u16) -> [u8; ECHO_LEN] {
    let mut f = [0u8; ECHO_LEN];
    f[0..6].copy_from_slice(&peer);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETHERTYPE_IPV4);
    let ip_len = (20 + 8 + PAYLOAD_LEN) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = 1; // ICMP
    ip[12..16].copy_from_slice(&OUR_IP);
    ip[16..20].copy_from_slice(&PEER_IP);
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

/// Why an IPv4 frame addressed to us is not the echo reply we wait for.
#[derive(Debug)]
pub enum EchoMismatch {
    /// Not IPv4/ICMP echo reply from the peer to us (some other frame: ignored).
    NotOurs,
    /// A reply from the peer, but a field differs from the request.
    Wrong(&'static str),
}

/// Checks that `frame` is the echo reply to [`echo_request`]`(mac, _, id, seq)`.
pub fn check_echo_reply(frame: &[u8], mac: [u8; 6], id: u16, seq: u16) -> Result<(), EchoMismatch> {
    if frame.len() < ECHO_LEN || frame[0..6] != mac || frame[12..14] != ETHERTYPE_IPV4 {
        return Err(EchoMismatch::NotOurs);
    }
    let ip = &frame[14..34];
    if ip[0] != 0x45 || ip[9] != 1 || ip[12..16] != PEER_IP || ip[16..20] != OUR_IP {
        return Err(EchoMismatch::NotOurs);
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let icmp = frame
        .get(34..14 + total)
        .ok_or(EchoMismatch::Wrong("IPv4 total length"))?;
    if icmp.first() != Some(&0) {
        return Err(EchoMismatch::NotOurs);
    }
    if checksum(ip) != 0 {
        return Err(EchoMismatch::Wrong("IPv4 header checksum"));
    }
    if checksum(icmp) != 0 {
        return Err(EchoMismatch::Wrong("ICMP checksum"));
    }
    if icmp.len() != 8 + PAYLOAD_LEN {
        return Err(EchoMismatch::Wrong("ICMP length"));
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

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}
