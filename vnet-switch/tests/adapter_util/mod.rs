//! Shared by the adapter tests: a port enum made with `link_enum!` (so the switch owns
//! heterogeneous ports and the test still reaches each one), a virtio-net test driver on `AnyDriverQueue`
//! writing real virtio-net headers, and queuing-port channel pairs.
#![allow(dead_code)]

use std::collections::HashMap;

use queuing_port::{AtomicU32, Geometry, QueuingPortReceiver, QueuingPortSender, Region};
use virtqueue::mock::Loopback;
use virtqueue::{AnyDeviceQueue, AnyDriverQueue, Buffer, Features, OwnedMemory};
use vnet_switch::adapters::queuing::QueuingPortEndpoint;
use vnet_switch::adapters::virtio_net::{NetHeader, VirtioNetPort, NET_HDR_LEN};
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{frame_link, MacAddress, PortConfig, PortId, Switch, SwitchBuilder, VlanSet};

/// Queue size of the test rings.
pub const QSIZE: u16 = 32;
/// Message size and depth of the test queuing channels.
pub const MSG: usize = 1536;
pub const DEPTH: usize = 4;

pub type Virtio<'m> = VirtioNetPort<&'m OwnedMemory, 1536, 2, 16, 64, 16>;
pub type Queuing<'r> = QueuingPortEndpoint<'r, MSG, DEPTH>;

frame_link::link_enum! {
    /// Any port of the tests.
    pub enum AnyPort['a] {
        Mem(Box<MemEndpoint<8, 1600>>),
        Virtio(Box<Virtio<'a>>),
        Queuing(Box<Queuing<'a>>),
    }
    /// The error of any port of the tests.
    pub enum AnyPortError;
}

impl<'a> AnyPort<'a> {
    pub fn mem(&mut self) -> &mut MemEndpoint<8, 1600> {
        match self {
            AnyPort::Mem(m) => m,
            _ => panic!("not a memory endpoint"),
        }
    }
    pub fn virtio(&mut self) -> &mut Virtio<'a> {
        match self {
            AnyPort::Virtio(v) => v,
            _ => panic!("not a virtio port"),
        }
    }
    pub fn queuing(&mut self) -> &mut Queuing<'a> {
        match self {
            AnyPort::Queuing(q) => q,
            _ => panic!("not a queuing port"),
        }
    }
}

/// The shared memory of one virtio-net device: a receiveq and a transmitq, each a ring
/// with its own data area.
pub struct NetMemory {
    pub rx: Loopback,
    pub tx: Loopback,
}

impl NetMemory {
    pub fn new() -> Self {
        NetMemory {
            rx: Loopback::new(QSIZE, 64 * 1024),
            tx: Loopback::new(QSIZE, 64 * 1024),
        }
    }

    /// The same with packed rings (negotiate `RING_PACKED` with it).
    pub fn packed() -> Self {
        NetMemory {
            rx: Loopback::packed(QSIZE, 64 * 1024),
            tx: Loopback::packed(QSIZE, 64 * 1024),
        }
    }

    /// The device port over both queues (split or packed as `negotiated` says).
    pub fn port(&self, negotiated: u64) -> Virtio<'_> {
        let generic = Features::from_bits_truncate(negotiated);
        VirtioNetPort::new(
            AnyDeviceQueue::attach(self.rx.memory(), self.rx.config(), generic).unwrap(),
            AnyDeviceQueue::attach(self.tx.memory(), self.tx.config(), generic).unwrap(),
            negotiated,
            1518,
        )
        .unwrap()
    }

    /// A well-behaved driver over both queues.
    pub fn driver(&self, negotiated: u64) -> NetDriver<'_> {
        let generic = Features::from_bits_truncate(negotiated);
        NetDriver {
            mem: self,
            rxq: AnyDriverQueue::new(self.rx.memory(), self.rx.config(), generic).unwrap(),
            txq: AnyDriverQueue::new(self.tx.memory(), self.tx.config(), generic).unwrap(),
            rx_bufs: HashMap::new(),
            next_rx: 0,
            next_tx: 0,
        }
    }
}

/// A virtio-net driver for tests: posts receive buffers, sends frames with real headers,
/// reassembles received frames (`num_buffers`).
pub struct NetDriver<'m> {
    mem: &'m NetMemory,
    pub rxq: AnyDriverQueue<'m, OwnedMemory, 64>,
    pub txq: AnyDriverQueue<'m, OwnedMemory, 64>,
    /// Receive buffer of each posted head: (data offset, length).
    rx_bufs: HashMap<u16, (usize, u32)>,
    next_rx: usize,
    next_tx: usize,
}

impl NetDriver<'_> {
    /// Posts `count` receive buffers of `len` bytes.
    pub fn post_rx(&mut self, count: usize, len: u32) {
        for _ in 0..count {
            let off = self.next_rx % (64 * 1024 - 2048);
            self.next_rx += (len as usize).next_multiple_of(64);
            let t = self
                .rxq
                .add(&[], &[Buffer::new(self.mem.rx.data_addr(off), len)])
                .unwrap();
            self.rx_bufs.insert(t.0, (off, len));
        }
        self.rxq.publish();
    }

    /// Sends a frame with `hdr` in front (one readable buffer).
    pub fn send_with(&mut self, hdr: &NetHeader, frame: &[u8]) {
        let off = (self.next_tx % 16) * 2048;
        self.next_tx += 1;
        let addr = self.mem.tx.data_addr(off);
        self.mem.tx.write(addr, &hdr.encode());
        self.mem.tx.write(addr + NET_HDR_LEN as u64, frame);
        let len = (NET_HDR_LEN + frame.len()) as u32;
        self.txq.add(&[Buffer::new(addr, len)], &[]).unwrap();
        self.txq.publish();
    }

    /// Sends a frame with no offload.
    pub fn send(&mut self, frame: &[u8]) {
        self.send_with(&NetHeader::default(), frame);
    }

    /// Takes back sent chains; returns how many (all must come back with length 0).
    pub fn reclaim_tx(&mut self) -> usize {
        let mut n = 0;
        while let Some(u) = self.txq.pop_used().unwrap() {
            assert_eq!(u.len, 0, "a transmit chain came back with a length");
            n += 1;
        }
        n
    }

    /// The next received frame: its header and the frame, reassembled over
    /// `num_buffers` chains, and how many chains it used.
    pub fn receive(&mut self) -> Option<(NetHeader, Vec<u8>)> {
        let first = self.rxq.pop_used().unwrap()?;
        let mut bytes = self.read_used(first.token.0, first.len);
        let mut hdr_bytes = [0u8; NET_HDR_LEN];
        hdr_bytes.copy_from_slice(&bytes[..NET_HDR_LEN]);
        let hdr = NetHeader::decode(&hdr_bytes);
        for _ in 1..hdr.num_buffers.get() {
            let more = self.rxq.pop_used().unwrap().expect("num_buffers chains");
            bytes.extend(self.read_used(more.token.0, more.len));
        }
        Some((hdr, bytes.split_off(NET_HDR_LEN)))
    }

    fn read_used(&mut self, head: u16, len: u32) -> Vec<u8> {
        let (off, posted) = self.rx_bufs.remove(&head).expect("a posted head");
        assert!(len <= posted);
        let mut out = vec![0u8; len as usize];
        self.mem.rx.read(self.mem.rx.data_addr(off), &mut out);
        out
    }
}

/// One formatted queuing channel region, on the heap (built word by word: a large
/// array on the stack is very slow under Miri).
pub struct Channel(Box<[AtomicU32]>);

impl Channel {
    pub fn region(&self) -> Region<'_> {
        Region::new(&self.0)
    }
}

pub fn channel() -> Channel {
    let words = geometry().total_words();
    let c = Channel((0..words).map(|_| AtomicU32::new(0)).collect());
    geometry().format(&c.region()).unwrap();
    c
}

pub fn geometry() -> Geometry {
    Geometry::queuing(MSG as u32, DEPTH as u32, false)
}

/// The switch side of a partition's channel pair: `up` carries the partition's frames,
/// `down` the frames for it.
pub fn queuing_port<'r>(up: &'r Channel, down: &'r Channel) -> Queuing<'r> {
    let g = geometry();
    QueuingPortEndpoint::new(
        QueuingPortReceiver::attach(up.region(), &g).unwrap(),
        QueuingPortSender::attach(down.region(), &g).unwrap(),
    )
}

/// The partition side of the same pair.
pub fn partition_side<'r>(
    up: &'r Channel,
    down: &'r Channel,
) -> (
    QueuingPortSender<'r, MSG, DEPTH>,
    QueuingPortReceiver<'r, MSG, DEPTH>,
) {
    let g = geometry();
    (
        QueuingPortSender::attach(up.region(), &g).unwrap(),
        QueuingPortReceiver::attach(down.region(), &g).unwrap(),
    )
}

/// Everything the partition behind a queuing channel can receive now.
pub fn queuing_receive_all(rx: &mut QueuingPortReceiver<'_, MSG, DEPTH>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; MSG];
    while let Ok(m) = rx.try_receive(&mut buf) {
        out.push(buf[..m.len].to_vec());
    }
    out
}

/// `VIRTIO_F_VERSION_1` alone.
pub const V1: u64 = Features::VERSION_1.bits();

/// The switch of the adapter tests.
pub type Sw<'a> = Switch<AnyPort<'a>, 4, 64, 8>;

fn mac(n: u8) -> MacAddress {
    MacAddress([2, 0, 0, 0, 0, n])
}

/// Port 0 the uplink, port 1 the virtio partition (mac 1), port 2 the queuing partition
/// (mac 2).
pub fn switch<'a>(virtio: Virtio<'a>, queuing: Queuing<'a>) -> Sw<'a> {
    let mut b = SwitchBuilder::<AnyPort<'a>, 4>::new();
    b.add_port(
        AnyPort::Mem(Box::new(MemEndpoint::new())),
        PortConfig::uplink(Some(1), VlanSet::new()),
    )
    .unwrap();
    b.add_port(
        AnyPort::Virtio(Box::new(virtio)),
        PortConfig::partition(mac(1), 1),
    )
    .unwrap();
    b.add_port(
        AnyPort::Queuing(Box::new(queuing)),
        PortConfig::partition(mac(2), 1),
    )
    .unwrap();
    b.build().unwrap()
}

pub fn port(i: u8) -> PortId {
    PortId::new(i)
}

/// The next frame the uplink's peer receives.
pub fn uplink_next(sw: &mut Sw<'_>) -> Option<Vec<u8>> {
    let mut buf = [0u8; 1600];
    let n = sw.endpoint_mut(port(0))?.mem().receive(&mut buf)?;
    Some(buf[..n].to_vec())
}

/// One frame from the uplink to the virtio partition (`to_v`) and one back (`to_up`) in
/// one poll at `now`: both arrive intact.
pub fn exchange_with_virtio(
    sw: &mut Sw<'_>,
    drv: &mut NetDriver<'_>,
    now: u64,
    to_v: &[u8],
    to_up: &[u8],
) {
    drv.post_rx(1, 1536);
    drv.send(to_up);
    sw.endpoint_mut(port(0))
        .unwrap()
        .mem()
        .inject(to_v)
        .unwrap();
    sw.poll(now, 16);
    assert_eq!(drv.receive().map(|(_, f)| f).as_deref(), Some(to_v));
    assert_eq!(uplink_next(sw).as_deref(), Some(to_up));
    drv.reclaim_tx();
}
