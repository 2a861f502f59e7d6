//! Shared by the end-to-end tests: a partition's stack (interface, device, sockets), a
//! simulated clock, a TCP transfer driver and data patterns.
#![allow(dead_code)]

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpCidr, IpEndpoint, Ipv4Address, Ipv4Cidr};

use netstack_glue::{build_interface, InterfaceConfig};

/// The MAC of partition `n`.
pub fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

/// The IPv4 address of partition `n` (10.0.0.n/24).
pub fn ip(n: u8) -> Ipv4Address {
    Ipv4Address::new(10, 0, 0, n)
}

/// A partition: its stack over device `D`.
pub struct Node<D: Device> {
    pub iface: Interface,
    pub dev: D,
    pub sockets: SocketSet<'static>,
}

impl<D: Device> Node<D> {
    /// Partition `n` with 10.0.0.n/24 over `dev`.
    pub fn new(n: u8, mut dev: D) -> Self {
        let cfg = InterfaceConfig::ipv4(mac(n), Ipv4Cidr::new(ip(n), 24));
        let iface = build_interface(&cfg, &mut dev, Instant::ZERO).expect("interface");
        Node {
            iface,
            dev,
            sockets: SocketSet::new(vec![]),
        }
    }

    pub fn poll(&mut self, now: Instant) -> bool {
        self.iface.poll(now, &mut self.dev, &mut self.sockets)
            == smoltcp::iface::PollResult::SocketStateChanged
    }

    pub fn tcp_socket(&mut self, buf: usize) -> SocketHandle {
        let s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; buf]),
            tcp::SocketBuffer::new(vec![0; buf]),
        );
        self.sockets.add(s)
    }

    pub fn udp_socket(&mut self, port: u16) -> SocketHandle {
        let mut s = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16 * 1500]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16 * 1500]),
        );
        s.bind(port).unwrap();
        self.sockets.add(s)
    }

    pub fn icmp_socket(&mut self, ident: u16) -> SocketHandle {
        let mut s = icmp::Socket::new(
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 4 * 1500]),
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 4 * 1500]),
        );
        s.bind(icmp::Endpoint::Ident(ident)).unwrap();
        self.sockets.add(s)
    }

    pub fn has_ip(&self, a: Ipv4Address) -> bool {
        self.iface
            .ip_addrs()
            .iter()
            .any(|c| *c == IpCidr::new(IpAddress::Ipv4(a), 24))
    }
}

/// `n` pseudo-random bytes from `seed` (xorshift).
pub fn pattern(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A simulated clock.
pub struct Clock(pub Instant);

impl Clock {
    pub fn new() -> Self {
        Clock(Instant::ZERO)
    }
    pub fn tick(&mut self, d: Duration) -> Instant {
        self.0 += d;
        self.0
    }
}

/// One poll round of everything: `step(now)` polls every stack and moves frames between
/// them, returning whether anything happened.
pub trait World {
    fn step(&mut self, now: Instant);
    fn client(&mut self) -> (&mut Interface, &mut SocketSet<'static>);
    fn server(&mut self) -> (&mut Interface, &mut SocketSet<'static>);
    /// Frames moved so far (any counter that grows with traffic).
    fn activity(&self) -> u64;
    /// The earliest time any stack wants to be polled again.
    fn delay(&mut self, now: Instant) -> Option<Duration>;
    /// State for a failure message.
    fn debug(&mut self) -> String {
        String::new()
    }
}

/// The `World` methods of a two-partition world with `Node<GlueDevice<_>>` fields `a`
/// (client) and `b` (server).
#[macro_export]
macro_rules! two_node_world {
    () => {
        fn client(&mut self) -> (&mut Interface, &mut SocketSet<'static>) {
            (&mut self.a.iface, &mut self.a.sockets)
        }
        fn server(&mut self) -> (&mut Interface, &mut SocketSet<'static>) {
            (&mut self.b.iface, &mut self.b.sockets)
        }
        fn activity(&self) -> u64 {
            self.a.dev.stats().tx_frames + self.b.dev.stats().tx_frames
        }
        fn delay(&mut self, now: Instant) -> Option<smoltcp::time::Duration> {
            min_delay(self.a.delay(now), self.b.delay(now))
        }
    };
}

/// One formatted queuing-port channel region, on the heap.
pub struct Channel(Box<[queuing_port::AtomicU32]>);

impl Channel {
    pub fn new(g: &queuing_port::Geometry) -> Self {
        let words = (0..g.total_words()).map(|_| queuing_port::AtomicU32::new(0));
        let c = Channel(words.collect());
        g.format(&c.region()).unwrap();
        c
    }
    pub fn region(&self) -> queuing_port::Region<'_> {
        queuing_port::Region::new(&self.0)
    }
}

/// The next instant: a short tick while traffic flows, else straight to the earliest
/// timer any stack has (retransmission, delayed ACK), so lossy runs do not spin.
pub fn next_tick(world: &mut dyn World, now: Instant, moved: bool) -> Instant {
    let tick = Duration::from_micros(500);
    if moved {
        return now + tick;
    }
    now + world.delay(now).unwrap_or(tick).max(tick)
}

impl<D: Device> Node<D> {
    pub fn delay(&mut self, now: Instant) -> Option<Duration> {
        self.iface.poll_delay(now, &self.sockets)
    }
}

/// The minimum of `a` and `b`, where `None` means no deadline.
pub fn min_delay(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// TCP: the client connects to `server_ip:port` and sends `data`; the server reads
/// everything. Done when the server has every byte and the client has every byte
/// acknowledged. (No close handshake: under heavy loss smoltcp 0.14 can leave a FIN that
/// was fast-retransmitted without a retransmission timer, FIN-WAIT-1 for ever; that is
/// the stack's, not the link's, and not what these tests measure.) Returns what the
/// server received. Panics after `max_rounds`.
pub fn tcp_transfer(
    world: &mut dyn World,
    client: SocketHandle,
    server: SocketHandle,
    server_ip: Ipv4Address,
    port: u16,
    data: &[u8],
    max_rounds: usize,
) -> Vec<u8> {
    let mut now = Instant::ZERO;
    let mut moved = true;
    {
        let (_, s) = world.server();
        s.get_mut::<tcp::Socket>(server).listen(port).unwrap();
    }
    {
        let (iface, s) = world.client();
        s.get_mut::<tcp::Socket>(client)
            .connect(
                iface.context(),
                IpEndpoint::new(IpAddress::Ipv4(server_ip), port),
                49152,
            )
            .unwrap();
    }
    let mut sent = 0;
    let mut got = Vec::with_capacity(data.len());
    let mut acked;
    for _ in 0..max_rounds {
        now = next_tick(world, now, moved);
        let before = world.activity();
        world.step(now);
        moved = world.activity() != before;
        {
            let (_, s) = world.client();
            let c = s.get_mut::<tcp::Socket>(client);
            if c.can_send() && sent < data.len() {
                sent += c.send_slice(&data[sent..]).unwrap();
            }
            acked = sent == data.len() && c.send_queue() == 0;
        }
        {
            let (_, s) = world.server();
            let sv = s.get_mut::<tcp::Socket>(server);
            while sv.can_recv() {
                sv.recv(|b| {
                    got.extend_from_slice(b);
                    (b.len(), ())
                })
                .unwrap();
            }
            if got.len() == data.len() && acked {
                return got;
            }
        }
    }
    let (_, s) = world.client();
    let cs = s.get_mut::<tcp::Socket>(client).state();
    let (_, s) = world.server();
    let ss = s.get_mut::<tcp::Socket>(server).state();
    panic!(
        "transfer did not finish: sent {sent}, received {} of {}, client {cs}, server {ss}, at {now}: {}",
        got.len(),
        data.len(),
        world.debug()
    );
}
