//! The `tcp_bulk` set-up, shared by `benches/tcp.rs` and `benches/tcp_bulk_min.rs`: 32
//! MiB over one TCP connection between two smoltcp interfaces per run (1500 MTU, 256 KiB socket buffers), over
//!
//! * `smoltcp_memory_link`: the anchor, the simplest honest `phy::Device` — two
//!   `VecDeque<Vec<u8>>` between the interfaces, a fresh `Vec` per frame;
//! * `partnet_queuing`: `GlueDevice<QueuingLink>` over two queuing-port channels (256
//!   messages of 1536 bytes);
//! * `partnet_switch`: `GlueDevice<PairEnd>` over two frame-link `PortPair`s through a
//!   vnet-switch (the switch polled every round).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use netstack_glue::{
    build_interface, DeviceConfig, GlueDevice, InterfaceConfig, PortPair, QueuingLink,
};
use queuing_port::{AtomicU32, Geometry, QueuingPortReceiver, QueuingPortSender, Region};
use smoltcp::iface::{Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};
use vnet_switch::{MacAddress, PortConfig, Switch, SwitchBuilder};

#[path = "../../tests/pair/mod.rs"]
mod pair;
use pair::{Sides, SwitchPort};

pub const BYTES: usize = 32 << 20;
const SOCKET_BUF: usize = 256 * 1024;

// ---- the anchor: two VecDeques -------------------------------------------------------

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

struct MemLink {
    rx: Queue,
    tx: Queue,
}

struct MemRx(Vec<u8>);
struct MemTx(Queue);

impl phy::RxToken for MemRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for MemTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut v = vec![0; len];
        let r = f(&mut v);
        self.0.borrow_mut().push_back(v);
        r
    }
}

impl Device for MemLink {
    type RxToken<'a> = MemRx;
    type TxToken<'a> = MemTx;

    fn receive(&mut self, _: Instant) -> Option<(MemRx, MemTx)> {
        let f = self.rx.borrow_mut().pop_front()?;
        Some((MemRx(f), MemTx(self.tx.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<MemTx> {
        Some(MemTx(self.tx.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = 1514;
        c
    }
}

// ---- the transfer ----------------------------------------------------------------------

struct Stack<D: Device> {
    iface: Interface,
    dev: D,
    sockets: SocketSet<'static>,
    tcp: smoltcp::iface::SocketHandle,
}

fn stack<D: Device>(n: u8, mut dev: D) -> Stack<D> {
    let cfg = InterfaceConfig::ipv4(
        [2, 0, 0, 0, 0, n],
        Ipv4Cidr::new(Ipv4Address::new(10, 0, 0, n), 24),
    );
    let iface = build_interface(&cfg, &mut dev, Instant::ZERO).unwrap();
    let mut sockets = SocketSet::new(vec![]);
    let tcp = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; SOCKET_BUF]),
        tcp::SocketBuffer::new(vec![0; SOCKET_BUF]),
    ));
    Stack {
        iface,
        dev,
        sockets,
        tcp,
    }
}

/// Moves `BYTES` from `a` to `b`; `between` runs after each stack's poll (a switch).
fn transfer<A: Device, B: Device>(
    a: &mut Stack<A>,
    b: &mut Stack<B>,
    mut between: impl FnMut(Instant),
) {
    b.sockets
        .get_mut::<tcp::Socket>(b.tcp)
        .listen(5000)
        .unwrap();
    a.sockets
        .get_mut::<tcp::Socket>(a.tcp)
        .connect(
            a.iface.context(),
            IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), 5000),
            40000,
        )
        .unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    let (mut sent, mut got) = (0usize, 0usize);
    let mut now = Instant::ZERO;
    while got < BYTES {
        now += Duration::from_micros(100);
        let c = a.sockets.get_mut::<tcp::Socket>(a.tcp);
        while sent < BYTES && c.can_send() {
            let n = c
                .send_slice(&chunk[..chunk.len().min(BYTES - sent)])
                .unwrap();
            if n == 0 {
                break;
            }
            sent += n;
        }
        a.iface.poll(now, &mut a.dev, &mut a.sockets);
        between(now);
        b.iface.poll(now, &mut b.dev, &mut b.sockets);
        let s = b.sockets.get_mut::<tcp::Socket>(b.tcp);
        while s.can_recv() {
            got += s.recv(|d| (d.len(), d.len())).unwrap();
        }
        between(now);
        assert!(now < Instant::from_secs(3600), "transfer stalled at {got}");
    }
}

// ---- the links -------------------------------------------------------------------------

const MSG: usize = 1536;
const DEPTH: usize = 256;

struct Channel(Box<[AtomicU32]>);

impl Channel {
    fn new() -> Self {
        let g = Geometry::queuing(MSG as u32, DEPTH as u32, false);
        let c = Channel((0..g.total_words()).map(|_| AtomicU32::new(0)).collect());
        g.format(&c.region()).unwrap();
        c
    }
    fn region(&self) -> Region<'_> {
        Region::new(&self.0)
    }
}

fn queuing<'r>(tx: &'r Channel, rx: &'r Channel) -> GlueDevice<QueuingLink<'r, MSG, DEPTH>> {
    let g = Geometry::queuing(MSG as u32, DEPTH as u32, false);
    GlueDevice::new(
        QueuingLink::new(
            QueuingPortSender::attach(tx.region(), &g).unwrap(),
            QueuingPortReceiver::attach(rx.region(), &g).unwrap(),
        ),
        DeviceConfig::default(),
    )
}

type Pair = PortPair<256, 1536>;

/// The anchor: two interfaces over two `VecDeque`s.
pub fn memory_link() {
    let (ab, ba): (Queue, Queue) = Default::default();
    let mut a = stack(
        1,
        MemLink {
            rx: ba.clone(),
            tx: ab.clone(),
        },
    );
    let mut b = stack(2, MemLink { rx: ab, tx: ba });
    transfer(&mut a, &mut b, |_| {});
}

/// Two channels of a queuing-port pair, reused across runs.
pub struct QueuingSetup(Channel, Channel);

impl QueuingSetup {
    pub fn new() -> Self {
        QueuingSetup(Channel::new(), Channel::new())
    }

    /// Two interfaces over the channel pair.
    pub fn run(&self) {
        let mut a = stack(1, queuing(&self.0, &self.1));
        let mut b = stack(2, queuing(&self.1, &self.0));
        transfer(&mut a, &mut b, |_| {});
    }
}

/// Two port pairs, reused across runs.
pub struct SwitchSetup(Vec<Box<Pair>>);

impl SwitchSetup {
    pub fn new() -> Self {
        SwitchSetup((0..2).map(|_| Box::new(Pair::new())).collect())
    }

    /// Two interfaces through a switch.
    pub fn run(&self) {
        let pairs = &self.0;
        let mut sb = SwitchBuilder::<SwitchPort<'_, 256, 1536>, 4>::new();
        for (i, p) in pairs.iter().enumerate() {
            let mac = MacAddress([2, 0, 0, 0, 0, i as u8 + 1]);
            sb.add_port(p.switch_port(), PortConfig::partition(mac, 1))
                .unwrap();
        }
        let sw: RefCell<Switch<SwitchPort<'_, 256, 1536>, 4, 64, 64>> =
            RefCell::new(sb.build().unwrap());
        let dev = |i: usize| GlueDevice::new(pairs[i].partition_link(), DeviceConfig::default());
        let mut a = stack(1, dev(0));
        let mut b = stack(2, dev(1));
        transfer(&mut a, &mut b, |now| {
            sw.borrow_mut().poll(now.total_micros() as u64 * 1000, 512);
        });
    }
}
