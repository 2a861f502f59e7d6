//! A partition's network stack: smoltcp over a netstack-glue device, with the demo's
//! services (UDP and TCP echo on port 7, UDP discard on port 9; smoltcp answers pings
//! itself) and client sockets for the checks.
//!
//! [`Station`] is the object-safe face the scenario drives; each check is a small state
//! machine started on one station and completed while the caller keeps stepping every
//! partition ([`Net`](crate::checks::Net)).

use netstack_glue::smoltcp;
use netstack_glue::{
    build_interface, AdapterStats, DeviceConfig, FrameLink, GlueDevice, InterfaceConfig,
};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::{ChecksumCapabilities, Device, TxToken};
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

/// The echo port (UDP and TCP).
pub const ECHO_PORT: u16 = 7;
/// The discard port (UDP).
pub const DISCARD_PORT: u16 = 9;
/// Bytes of each TCP socket buffer.
const TCP_BUF: usize = 8192;

/// What a station can be asked to do.
pub trait Station {
    /// Its name.
    fn name(&self) -> &'static str;
    /// Its IPv4 address.
    fn ip(&self) -> Ipv4Address;
    /// Its MAC.
    fn mac(&self) -> [u8; 6];
    /// One poll of the stack and its services at `now_ns`.
    fn poll(&mut self, now_ns: u64);
    /// Sends ICMP echo request `seq` to `to`.
    fn ping_send(&mut self, to: Ipv4Address, seq: u16) -> bool;
    /// Whether the echo reply `seq` arrived.
    fn ping_done(&mut self, seq: u16) -> bool;
    /// Sends `data` to `to`:`port` from the client UDP socket.
    fn udp_send(&mut self, to: Ipv4Address, port: u16, data: &[u8]) -> bool;
    /// The next datagram the client UDP socket received.
    fn udp_recv(&mut self) -> Option<Vec<u8>>;
    /// Opens a TCP connection to `to`:[`ECHO_PORT`] from `local_port`.
    fn tcp_connect(&mut self, to: Ipv4Address, local_port: u16) -> bool;
    /// Whether the client connection is established.
    fn tcp_established(&mut self) -> bool;
    /// Sends what fits of `data`; returns the bytes taken.
    fn tcp_send(&mut self, data: &[u8]) -> usize;
    /// Receives into `buf`; returns the bytes read.
    fn tcp_recv(&mut self, buf: &mut [u8]) -> usize;
    /// Closes the client connection (abort: the echo check is done).
    fn tcp_abort(&mut self);
    /// Hands a raw frame to the link, bypassing the stack (the spoofing attempt).
    fn send_raw(&mut self, frame: &[u8], now_ns: u64) -> bool;
    /// The adapter's counters.
    fn net_stats(&self) -> AdapterStats;
}

/// A partition's stack over link `L`.
pub struct Node<L: FrameLink> {
    name: &'static str,
    mac: [u8; 6],
    ip: Ipv4Address,
    /// The interface.
    pub iface: Interface,
    /// The device.
    pub dev: GlueDevice<L>,
    /// The sockets.
    pub sockets: SocketSet<'static>,
    udp_echo: SocketHandle,
    udp_discard: SocketHandle,
    tcp_echo: SocketHandle,
    udp_client: SocketHandle,
    tcp_client: SocketHandle,
    icmp: SocketHandle,
    icmp_ident: u16,
    pongs: Vec<u16>,
}

fn udp_socket(packets: usize, bytes: usize) -> udp::Socket<'static> {
    udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; packets], vec![0; bytes]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; packets], vec![0; bytes]),
    )
}

fn tcp_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; TCP_BUF]),
        tcp::SocketBuffer::new(vec![0; TCP_BUF]),
    )
}

impl<L: FrameLink> Node<L> {
    /// A stack named `name` with `mac` and `ip`/24 over `link`.
    pub fn new(name: &'static str, mac: [u8; 6], ip: Ipv4Address, link: L) -> Self {
        match Self::with_cidr(name, mac, Ipv4Cidr::new(ip, 24), link) {
            Ok(n) => n,
            // The MACs and the one address are fixed by the demo: this cannot fail.
            Err(e) => panic!("interface set-up: {e}"),
        }
    }

    /// A stack named `name` with `mac` and the address and prefix of `cidr` over `link`;
    /// fails when the interface cannot be built with them (e.g. a multicast MAC).
    pub fn with_cidr(
        name: &'static str,
        mac: [u8; 6],
        cidr: Ipv4Cidr,
        link: L,
    ) -> Result<Self, netstack_glue::SetupError> {
        let ip = cidr.address();
        let mut dev = GlueDevice::new(link, DeviceConfig::default());
        let cfg = InterfaceConfig::ipv4(mac, cidr);
        let iface = build_interface(&cfg, &mut dev, Instant::ZERO)?;
        let mut sockets = SocketSet::new(Vec::new());
        let mut udp_echo = udp_socket(16, 16 * 1500);
        let _ = udp_echo.bind(ECHO_PORT);
        let mut udp_discard = udp_socket(4, 4 * 1500);
        let _ = udp_discard.bind(DISCARD_PORT);
        let mut tcp_echo = tcp_socket();
        let _ = tcp_echo.listen(ECHO_PORT);
        let icmp_ident = u16::from_be_bytes([mac[4], mac[5]]);
        let mut icmp = icmp::Socket::new(
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 8], vec![0; 2048]),
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 8], vec![0; 2048]),
        );
        let _ = icmp.bind(icmp::Endpoint::Ident(icmp_ident));
        let mut client = udp_socket(64, 64 * 1500);
        let _ = client.bind(40_000);
        Ok(Node {
            name,
            mac,
            ip,
            udp_echo: sockets.add(udp_echo),
            udp_discard: sockets.add(udp_discard),
            tcp_echo: sockets.add(tcp_echo),
            udp_client: sockets.add(client),
            tcp_client: sockets.add(tcp_socket()),
            icmp: sockets.add(icmp),
            iface,
            dev,
            sockets,
            icmp_ident,
            pongs: Vec::new(),
        })
    }

    fn serve(&mut self) {
        let echo = self.sockets.get_mut::<udp::Socket>(self.udp_echo);
        let mut buf = [0u8; 1500];
        while echo.can_send() {
            let Ok((n, meta)) = echo.recv_slice(&mut buf) else {
                break;
            };
            let _ = echo.send_slice(&buf[..n], meta.endpoint);
        }
        let discard = self.sockets.get_mut::<udp::Socket>(self.udp_discard);
        while discard.recv_slice(&mut buf).is_ok() {}
        let tcp = self.sockets.get_mut::<tcp::Socket>(self.tcp_echo);
        if !tcp.is_open() {
            let _ = tcp.listen(ECHO_PORT);
        }
        if tcp.may_recv() {
            let room = tcp.send_capacity() - tcp.send_queue();
            let n = room.min(buf.len());
            if n > 0 {
                if let Ok(got) = tcp.recv_slice(&mut buf[..n]) {
                    let _ = tcp.send_slice(&buf[..got]);
                }
            }
        } else if tcp.state() == tcp::State::CloseWait {
            tcp.close();
        }
        let icmp = self.sockets.get_mut::<icmp::Socket>(self.icmp);
        while let Ok((data, _)) = icmp.recv() {
            let Ok(p) = Icmpv4Packet::new_checked(data) else {
                continue;
            };
            if let Ok(Icmpv4Repr::EchoReply { ident, seq_no, .. }) =
                Icmpv4Repr::parse(&p, &ChecksumCapabilities::default())
            {
                if ident == self.icmp_ident {
                    self.pongs.push(seq_no);
                }
            }
        }
    }
}

impl<L: FrameLink> Station for Node<L> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn ip(&self) -> Ipv4Address {
        self.ip
    }
    fn mac(&self) -> [u8; 6] {
        self.mac
    }
    fn poll(&mut self, now_ns: u64) {
        let now = Instant::from_micros((now_ns / 1000) as i64);
        let _ = self.dev.service(64);
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        self.serve();
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        let _ = self.dev.service(64);
    }
    fn ping_send(&mut self, to: Ipv4Address, seq: u16) -> bool {
        let repr = Icmpv4Repr::EchoRequest {
            ident: self.icmp_ident,
            seq_no: seq,
            data: b"partnet ping",
        };
        let icmp = self.sockets.get_mut::<icmp::Socket>(self.icmp);
        match icmp.send(repr.buffer_len(), IpAddress::Ipv4(to)) {
            Ok(buf) => {
                let mut p = Icmpv4Packet::new_unchecked(buf);
                repr.emit(&mut p, &ChecksumCapabilities::default());
                true
            }
            Err(_) => false,
        }
    }
    fn ping_done(&mut self, seq: u16) -> bool {
        match self.pongs.iter().position(|&s| s == seq) {
            Some(i) => {
                self.pongs.swap_remove(i);
                true
            }
            None => false,
        }
    }
    fn udp_send(&mut self, to: Ipv4Address, port: u16, data: &[u8]) -> bool {
        let s = self.sockets.get_mut::<udp::Socket>(self.udp_client);
        s.send_slice(data, IpEndpoint::new(IpAddress::Ipv4(to), port))
            .is_ok()
    }
    fn udp_recv(&mut self) -> Option<Vec<u8>> {
        let s = self.sockets.get_mut::<udp::Socket>(self.udp_client);
        let mut buf = [0u8; 1500];
        s.recv_slice(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
    }
    fn tcp_connect(&mut self, to: Ipv4Address, local_port: u16) -> bool {
        let cx = self.iface.context();
        let s = self.sockets.get_mut::<tcp::Socket>(self.tcp_client);
        s.abort();
        s.connect(cx, (IpAddress::Ipv4(to), ECHO_PORT), local_port)
            .is_ok()
    }
    fn tcp_established(&mut self) -> bool {
        let s = self.sockets.get_mut::<tcp::Socket>(self.tcp_client);
        s.state() == tcp::State::Established
    }
    fn tcp_send(&mut self, data: &[u8]) -> usize {
        let s = self.sockets.get_mut::<tcp::Socket>(self.tcp_client);
        s.send_slice(data).unwrap_or(0)
    }
    fn tcp_recv(&mut self, buf: &mut [u8]) -> usize {
        let s = self.sockets.get_mut::<tcp::Socket>(self.tcp_client);
        s.recv_slice(buf).unwrap_or(0)
    }
    fn tcp_abort(&mut self) {
        self.sockets.get_mut::<tcp::Socket>(self.tcp_client).abort();
    }
    fn send_raw(&mut self, frame: &[u8], now_ns: u64) -> bool {
        let now = Instant::from_micros((now_ns / 1000) as i64);
        let Some(token) = self.dev.transmit(now) else {
            return false;
        };
        token.consume(frame.len(), |buf| buf.copy_from_slice(frame));
        let _ = self.dev.service(64);
        true
    }
    fn net_stats(&self) -> AdapterStats {
        self.dev.stats()
    }
}
