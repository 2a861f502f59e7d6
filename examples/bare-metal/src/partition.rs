//! One small-stack partition: a smoltcp interface with its own MAC and IP, an ICMP echo
//! responder (smoltcp's own), a TCP echo server on port 7, and the clients the self-checks
//! use (ICMP echo, one TCP connection).
//!
//! The stack runs over netstack-glue: a `GlueDevice` over the partition's end (`PairEnd`)
//! of an in-memory port pair (frame-link's `PortPair`), whose other end the switch owns. All memory is the caller's ([`Buffers`], socket storage, the port pair):
//! no heap. Each [`Partition::poll`] takes at most [`FRAMES_PER_POLL`] frames.

use netstack_glue::frame_link::{End, FrameLinkExt, PairEnd};
use netstack_glue::{
    build_interface, poll_budget, DeviceConfig, GlueDevice, InterfaceConfig, PortPair, SetupError,
};
use smoltcp::iface::{Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::{icmp, tcp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress, Ipv4Address, Ipv4Cidr};

/// Slots per direction of a partition's switch port.
pub const PORT_SLOTS: usize = 8;
/// A partition's switch port: the switch side and the partition side.
pub type Pair = PortPair<PORT_SLOTS, 1536>;
/// The partition side of a [`Pair`].
pub type Link<'a> = PairEnd<'a, PORT_SLOTS, 1536>;
/// Received frames one [`Partition::poll`] takes at most.
pub const FRAMES_PER_POLL: usize = 16;
/// Time one [`Partition::poll`] spends on received frames at most.
const POLL_BUDGET: Duration = Duration::from_millis(2);

/// The TCP echo port.
pub const ECHO_PORT: u16 = 7;
/// The ICMP identifier of the self-checks' echo requests.
const PING_IDENT: u16 = 0x7a57;
/// Payload of the self-checks' echo requests.
const PING_DATA: &[u8] = b"partnet bare-metal ping";

/// The socket buffers of one partition.
pub struct Buffers {
    server_rx: [u8; 2048],
    server_tx: [u8; 2048],
    client_rx: [u8; 1024],
    client_tx: [u8; 1024],
    icmp_rx_meta: [icmp::PacketMetadata; 4],
    icmp_rx: [u8; 512],
    icmp_tx_meta: [icmp::PacketMetadata; 4],
    icmp_tx: [u8; 512],
}

impl Buffers {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Buffers {
            server_rx: [0; 2048],
            server_tx: [0; 2048],
            client_rx: [0; 1024],
            client_tx: [0; 1024],
            icmp_rx_meta: [icmp::PacketMetadata::EMPTY; 4],
            icmp_rx: [0; 512],
            icmp_tx_meta: [icmp::PacketMetadata::EMPTY; 4],
            icmp_tx: [0; 512],
        }
    }
}

/// Socket slots of one partition (server, client, ICMP).
pub type Sockets<'a> = [SocketStorage<'a>; 3];

/// What the TCP echo server has done.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoStats {
    /// Connections closed after echoing at least one byte.
    pub sessions: u32,
    /// Of those, connections from the peer on the uplink side.
    pub sessions_from_peer: u32,
    /// Bytes echoed.
    pub bytes: u64,
}

/// One partition's stack.
pub struct Partition<'a> {
    /// "A" or "B".
    pub name: &'static str,
    /// Its address.
    pub ip: Ipv4Address,
    peer: Ipv4Address,
    dev: GlueDevice<Link<'a>>,
    iface: Interface,
    sockets: SocketSet<'a>,
    server: SocketHandle,
    client: SocketHandle,
    icmp: SocketHandle,
    /// Bytes echoed in the server's current connection.
    current: u64,
    /// The client of a connection we closed after echoing, until it is gone.
    closing: Option<Ipv4Address>,
    /// The server's record.
    pub echo: EchoStats,
}

/// Converts the `time` CSR to smoltcp's clock.
pub fn instant(ticks: u64) -> Instant {
    let us = ticks / (crate::platform::TIMEBASE_HZ / 1_000_000);
    Instant::from_micros(i64::try_from(us).unwrap_or(i64::MAX))
}

impl<'a> Partition<'a> {
    /// A stack with `mac` and `ip/prefix` on the partition side of `pair`; `peer` is the
    /// uplink-side host.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &'static str,
        mac: [u8; 6],
        ip: Ipv4Address,
        prefix: u8,
        peer: Ipv4Address,
        pair: &'a Pair,
        buffers: &'a mut Buffers,
        storage: &'a mut Sockets<'a>,
        now: Instant,
    ) -> Result<Self, SetupError> {
        let mut dev = GlueDevice::new(pair.end(End::B), DeviceConfig::default());
        let config = InterfaceConfig::ipv4(mac, Ipv4Cidr::new(ip, prefix));
        let iface = build_interface(&config, &mut dev, now)?;
        let mut sockets = SocketSet::new(&mut storage[..]);
        let b = buffers;
        let server = sockets.add(tcp::Socket::new(
            tcp::SocketBuffer::new(&mut b.server_rx[..]),
            tcp::SocketBuffer::new(&mut b.server_tx[..]),
        ));
        let client = sockets.add(tcp::Socket::new(
            tcp::SocketBuffer::new(&mut b.client_rx[..]),
            tcp::SocketBuffer::new(&mut b.client_tx[..]),
        ));
        let icmp = sockets.add(icmp::Socket::new(
            icmp::PacketBuffer::new(&mut b.icmp_rx_meta[..], &mut b.icmp_rx[..]),
            icmp::PacketBuffer::new(&mut b.icmp_tx_meta[..], &mut b.icmp_tx[..]),
        ));
        let _ = sockets
            .get_mut::<icmp::Socket>(icmp)
            .bind(icmp::Endpoint::Ident(PING_IDENT));
        Ok(Partition {
            name,
            ip,
            peer,
            dev,
            iface,
            sockets,
            server,
            client,
            icmp,
            current: 0,
            closing: None,
            echo: EchoStats::default(),
        })
    }

    /// One round: the stack takes at most [`FRAMES_PER_POLL`] frames, the echo server
    /// runs, the stack sends.
    pub fn poll(&mut self) {
        let mut clock = || instant(crate::platform::now());
        let _ = self.dev.service(FRAMES_PER_POLL as u16);
        let (iface, dev, sockets) = (&mut self.iface, &mut self.dev, &mut self.sockets);
        poll_budget(
            iface,
            dev,
            sockets,
            &mut clock,
            POLL_BUDGET,
            FRAMES_PER_POLL,
        );
        self.serve_echo();
        let now = clock();
        self.iface
            .poll_egress(now, &mut self.dev, &mut self.sockets);
    }

    /// Sends `frame` as it is, bypassing the stack (the spoofing self-check plays a
    /// partition that forges its source address). `false` if the link refused it.
    pub fn send_raw(&mut self, frame: &[u8]) -> bool {
        self.dev.link_mut().send_frame(frame) == Ok(true)
    }

    /// Frames the glue dropped (bad checksums, malformed) and its last link error.
    pub fn glue_stats(&self) -> netstack_glue::AdapterStats {
        self.dev.stats()
    }

    fn serve_echo(&mut self) {
        let s = self.sockets.get_mut::<tcp::Socket>(self.server);
        if !s.is_open() {
            // Closed: the first round, or the last connection ended. A session counts
            // once the client has acknowledged our FIN (everything reached it).
            if let Some(remote) = self.closing.take() {
                self.echo.sessions += 1;
                self.echo.sessions_from_peer += u32::from(remote == self.peer);
            }
            self.current = 0;
            let _ = s.listen(ECHO_PORT);
            return;
        }
        let mut chunk = [0u8; 512];
        // Bounded: at most one chunk per round, and only what fits the send buffer.
        let room = s.send_capacity() - s.send_queue();
        if s.can_recv() && room > 0 {
            let n = chunk.len().min(room);
            if let Ok(got) = s.recv_slice(&mut chunk[..n]) {
                if s.send_slice(&chunk[..got]).is_ok() {
                    self.current += got as u64;
                    self.echo.bytes += got as u64;
                }
            }
        }
        if s.state() == tcp::State::CloseWait && s.send_queue() == 0 && !s.can_recv() {
            // The client is done and everything was echoed: our FIN ends the session.
            if self.current > 0 {
                self.closing = match s.remote_endpoint().map(|e| e.addr) {
                    Some(IpAddress::Ipv4(ip)) => Some(ip),
                    _ => None,
                };
            }
            self.current = 0;
            s.close();
        }
    }

    /// Queues an ICMP echo request with sequence number `seq` to `to`.
    pub fn ping_send(&mut self, to: Ipv4Address, seq: u16) -> bool {
        let repr = Icmpv4Repr::EchoRequest {
            ident: PING_IDENT,
            seq_no: seq,
            data: PING_DATA,
        };
        let s = self.sockets.get_mut::<icmp::Socket>(self.icmp);
        match s.send(repr.buffer_len(), IpAddress::Ipv4(to)) {
            Ok(buf) => {
                let mut packet = Icmpv4Packet::new_unchecked(buf);
                repr.emit(&mut packet, &ChecksumCapabilities::default());
                true
            }
            Err(_) => false,
        }
    }

    /// Takes the echo reply to `seq` from `from`: `Some(Ok)` if it matches, `Some(Err)`
    /// with what was wrong, `None` if none has arrived.
    pub fn ping_recv(&mut self, from: Ipv4Address, seq: u16) -> Option<Result<(), &'static str>> {
        let s = self.sockets.get_mut::<icmp::Socket>(self.icmp);
        while let Ok((bytes, addr)) = s.recv() {
            let Ok(packet) = Icmpv4Packet::new_checked(bytes) else {
                return Some(Err("malformed ICMP packet"));
            };
            let Ok(repr) = Icmpv4Repr::parse(&packet, &ChecksumCapabilities::default()) else {
                return Some(Err("bad ICMP checksum or type"));
            };
            if let Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } = repr
            {
                if ident == PING_IDENT && seq_no == seq {
                    if addr != IpAddress::Ipv4(from) {
                        return Some(Err("reply from the wrong address"));
                    }
                    return Some(if data == PING_DATA {
                        Ok(())
                    } else {
                        Err("payload differs")
                    });
                }
            }
        }
        None
    }

    /// Opens the client connection to `to`:[`ECHO_PORT`] from local port `local_port`.
    pub fn tcp_connect(&mut self, to: Ipv4Address, local_port: u16) -> bool {
        let cx = self.iface.context();
        let s = self.sockets.get_mut::<tcp::Socket>(self.client);
        s.connect(cx, (IpAddress::Ipv4(to), ECHO_PORT), local_port)
            .is_ok()
    }

    /// The client connection: established, may send, may receive.
    pub fn tcp_client(&mut self) -> &mut tcp::Socket<'a> {
        self.sockets.get_mut::<tcp::Socket>(self.client)
    }
}
