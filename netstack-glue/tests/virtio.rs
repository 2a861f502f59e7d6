//! Two partitions, each running the `nic-drivers` virtio-net driver over its own
//! (in-process) virtqueue memory, served by the vnet-switch's virtio-net backend
//! (`VirtioNetPort`) inside a switch: TCP and UDP byte for byte.
mod common;

use std::cell::RefCell;

use common::*;
use netstack_glue::{DeviceConfig, GlueDevice};
use nic_drivers::mock::{FakeDeviceState, FakeHal, FakeTransport};
use nic_drivers::net::{NetConfig, NetFeatures, VirtioNet};
use smoltcp::iface::{Interface, SocketSet};
use smoltcp::socket::udp;
use smoltcp::time::{Duration, Instant};
use virtqueue::{DeviceQueue, Features, MemoryRegion};
use vnet_switch::adapters::virtio_net::VirtioNetPort;
use vnet_switch::{MacAddress, PortConfig, Switch, SwitchBuilder};

const DMA_BASE: u64 = 0x8000_0000;
const DMA_LEN: usize = 512 * 1024;

type Driver<'a> = VirtioNet<'a, FakeHal, FakeTransport<'a>, 64, 8>;
type Port<'a> = VirtioNetPort<&'a MemoryRegion<'a>, 1536, 2, 32, 64, 16>;
/// The driver under the stack directly: it is a frame link.
type Dev<'a> = GlueDevice<Driver<'a>>;
type Sw<'a> = Switch<Port<'a>, 4, 64, 64>;

/// What the device offers: what the backend serves, plus event indices.
fn offered() -> u64 {
    (NetFeatures::MAC | NetFeatures::MRG_RXBUF | NetFeatures::RING_EVENT_IDX).bits()
        | Features::VERSION_1.bits()
}

/// One partition's virtio-net memory and registers.
struct Machine {
    hal: FakeHal,
    state: RefCell<FakeDeviceState>,
}

impl Machine {
    fn new(n: u8) -> Self {
        Machine {
            hal: FakeHal::new(DMA_BASE, DMA_LEN),
            state: RefCell::new(FakeDeviceState::net(offered(), mac(n), 1500)),
        }
    }
}

/// Brings the driver up, then attaches the switch's backend port to the same rings.
fn bring_up<'a>(m: &'a Machine, mem: &'a MemoryRegion<'a>) -> (Driver<'a>, Port<'a>) {
    let cfg = NetConfig {
        queue_size: 64,
        rx_buffers: 32,
        tx_buffers: 32,
        ..NetConfig::default()
    };
    let drv = VirtioNet::new(&m.hal, FakeTransport::new(&m.state, None), cfg).expect("bring-up");
    let st = m.state.borrow();
    let negotiated = st.driver_features;
    let generic = Features::from_bits_truncate(negotiated);
    let rxq = DeviceQueue::attach(mem, st.queue(0).unwrap(), generic).unwrap();
    let txq = DeviceQueue::attach(mem, st.queue(1).unwrap(), generic).unwrap();
    let port = VirtioNetPort::new(rxq, txq, negotiated, 1518).unwrap();
    (drv, port)
}

struct Two<'a> {
    a: Node<Dev<'a>>,
    b: Node<Dev<'a>>,
    sw: Sw<'a>,
}

impl World for Two<'_> {
    fn step(&mut self, now: Instant) {
        let ns = now.total_micros() as u64 * 1000;
        self.a.dev.service(64).unwrap();
        self.a.poll(now);
        self.b.dev.service(64).unwrap();
        self.b.poll(now);
        self.sw.poll(ns, 256);
    }
    two_node_world!();
}

macro_rules! two {
    ($w:ident) => {
        let (ma, mb) = (Machine::new(1), Machine::new(2));
        let (mem_a, mem_b) = (ma.hal.device_memory(), mb.hal.device_memory());
        let (da, pa) = bring_up(&ma, &mem_a);
        let (db, pb) = bring_up(&mb, &mem_b);
        let mut b = SwitchBuilder::<Port<'_>, 4>::new();
        b.add_port(pa, PortConfig::partition(MacAddress(mac(1)), 1))
            .unwrap();
        b.add_port(pb, PortConfig::partition(MacAddress(mac(2)), 1))
            .unwrap();
        let mut $w = Two {
            a: Node::new(1, GlueDevice::new(da, DeviceConfig::default())),
            b: Node::new(2, GlueDevice::new(db, DeviceConfig::default())),
            sw: b.build().unwrap(),
        };
    };
}

#[test]
#[cfg_attr(
    miri,
    ignore = "megabytes through volatile virtqueue memory: too slow under Miri"
)]
fn tcp_over_virtio_net_through_the_switch_backend_byte_for_byte() {
    two!(w);
    assert_eq!(
        w.a.dev.mac(),
        Some(mac(1)),
        "the driver reports the device's MAC"
    );
    let c = w.a.tcp_socket(64 * 1024);
    let s = w.b.tcp_socket(64 * 1024);
    let data = pattern(1 << 20, 21);
    let got = tcp_transfer(&mut w, c, s, ip(2), 7000, &data, 400_000);
    assert!(got == data, "received bytes differ from sent bytes");
    let (sa, sb) = (w.a.dev.stats(), w.b.dev.stats());
    assert_eq!(sa.drops.rx_total() + sb.drops.rx_total(), 0);
    // What is not yet at B is still in the rings (at most a ring's worth).
    assert!(sb.rx_frames <= sa.tx_frames && sa.tx_frames - sb.rx_frames <= 64);
    // The port counts from the partition's view: its `rx_frames` went to the partition.
    let port_b = w.sw.endpoint(vnet_switch::PortId::new(1)).unwrap();
    assert!(
        port_b.stats().rx_frames >= sb.rx_frames,
        "B's stack only got what the backend delivered"
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "megabytes through volatile virtqueue memory: too slow under Miri"
)]
fn udp_both_ways_over_virtio_net() {
    two!(w);
    let ua = w.a.udp_socket(53);
    let ub = w.b.udp_socket(54);
    let msgs: Vec<Vec<u8>> = (0..16)
        .map(|i| pattern(1 + i * 90, 100 + i as u32))
        .collect();
    let mut now = Instant::ZERO;
    let (mut next, mut echoed) = (0, Vec::new());
    for _ in 0..2000 {
        now += Duration::from_millis(1);
        if next < msgs.len()
            && w.a
                .sockets
                .get_mut::<udp::Socket>(ua)
                .send_slice(&msgs[next], (ip(2), 54))
                .is_ok()
        {
            next += 1;
        }
        w.step(now);
        let s = w.b.sockets.get_mut::<udp::Socket>(ub);
        while let Ok((d, meta)) = s.recv() {
            let d = d.to_vec();
            s.send_slice(&d, meta.endpoint).unwrap();
        }
        let s = w.a.sockets.get_mut::<udp::Socket>(ua);
        while let Ok((d, _)) = s.recv() {
            echoed.push(d.to_vec());
        }
        if echoed.len() == msgs.len() {
            break;
        }
    }
    assert_eq!(echoed, msgs, "every datagram came back unchanged, in order");
}

/// The driver under the stack directly: frames the stack sends in one poll reach the
/// device at the next `service`, with at most one notification for all of them (never
/// one per frame).
#[test]
#[cfg_attr(
    miri,
    ignore = "a smoltcp interface over volatile virtqueue memory: slow under Miri"
)]
fn frames_reach_the_device_at_service_with_one_kick_for_the_batch() {
    use smoltcp::wire::Ipv4Address;
    use vnet_switch::FrameLink as _;
    let m = Machine::new(1);
    let mem = m.hal.device_memory();
    let (drv, mut port) = bring_up(&m, &mem);
    let mut a = Node::new(1, GlueDevice::new(drv, DeviceConfig::default()));
    let u = a.udp_socket(53);
    for i in 0..4 {
        a.sockets
            .get_mut::<udp::Socket>(u)
            .send_slice(&pattern(100, i), (Ipv4Address::BROADCAST, 9))
            .unwrap();
    }
    let kicks = || m.state.borrow().notifications[1];
    let before = kicks();
    a.poll(Instant::ZERO);
    assert_eq!(
        a.dev.stats().tx_frames,
        4,
        "the stack sent the four datagrams"
    );
    assert_eq!(kicks(), before, "no kick while the stack sends");
    assert!(
        port.rx_take().unwrap().is_none(),
        "nothing published before service"
    );
    a.dev.service(64).unwrap();
    assert!(kicks() <= before + 1, "one kick at most for the batch");
    let mut seen = 0;
    while let Some(s) = port.rx_take().unwrap() {
        assert_eq!(port.rx_frame(&s).len(), 14 + 20 + 8 + 100);
        port.rx_release(s);
        seen += 1;
    }
    assert_eq!(seen, 4, "all four published by the one service");
}
