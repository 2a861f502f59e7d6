//! smoltcp's own middlewares wrap the adapters unchanged: `PcapWriter` records what the
//! stack sent and received (the capture reads back byte for byte), and `FaultInjector`
//! loses and corrupts frames while a `ChecksumGuard` above it drops and counts the
//! corrupt ones and TCP still delivers every byte.

mod pair;
use pair::*;
mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use netstack_glue::{ChecksumGuard, DeviceConfig, GlueDevice, PortPair};
use smoltcp::iface::{Interface, SocketSet};
use smoltcp::phy::{FaultInjector, PcapMode, PcapSink, PcapWriter, Tracer};
use smoltcp::socket::udp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, UdpPacket};
use vnet_switch::{MacAddress, PortConfig, Switch, SwitchBuilder};

type Pair = PortPair<64, 1536>;
type Link<'a> = PartitionLink<'a, 64, 1536>;
type Sw<'a> = Switch<SwitchPort<'a, 64, 1536>, 4, 64, 64>;

/// A pcap sink the test can read while the writer owns its end.
#[derive(Clone, Default)]
struct Capture(Rc<RefCell<Vec<u8>>>);

impl PcapSink for Capture {
    fn write(&mut self, data: &[u8]) {
        self.0.borrow_mut().extend_from_slice(data);
    }
}

/// The records of a little-endian pcap file (after checking its global header).
fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&bytes[..4], &0xa1b2c3d4u32.to_ne_bytes(), "pcap magic");
    assert_eq!(
        u32::from_ne_bytes(bytes[20..24].try_into().unwrap()),
        1,
        "Ethernet link type"
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let incl = u32::from_ne_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let orig = u32::from_ne_bytes(bytes[at + 12..at + 16].try_into().unwrap()) as usize;
        assert_eq!(incl, orig, "nothing truncated");
        out.push(bytes[at + 16..at + 16 + incl].to_vec());
        at += 16 + incl;
    }
    out
}

fn switch<'a>(pairs: &'a [Box<Pair>]) -> Sw<'a> {
    let mut b = SwitchBuilder::<SwitchPort<'a, 64, 1536>, 4>::new();
    for (i, p) in pairs.iter().enumerate() {
        b.add_port(
            p.switch_port(),
            PortConfig::partition(MacAddress(mac(i as u8 + 1)), 1),
        )
        .unwrap();
    }
    b.build().unwrap()
}

fn udp_payloads(frames: &[Vec<u8>], port: u16) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).ok()?;
            (e.ethertype() == EthernetProtocol::Ipv4).then_some(())?;
            let ip = Ipv4Packet::new_checked(e.payload()).ok()?;
            (ip.next_header() == IpProtocol::Udp).then_some(())?;
            let u = UdpPacket::new_checked(ip.payload()).ok()?;
            (u.dst_port() == port).then(|| u.payload().to_vec())
        })
        .collect()
}

#[test]
#[cfg_attr(
    miri,
    ignore = "hundreds of smoltcp polls: minutes under Miri; no unsafe here"
)]
fn pcap_writer_records_every_frame_byte_for_byte() {
    let pairs: Vec<Box<Pair>> = (0..2).map(|_| Box::new(Pair::new())).collect();
    let mut sw = switch(&pairs);
    let cap = Capture::default();
    let dev = GlueDevice::new(pairs[0].partition_link(), DeviceConfig::default());
    let mut a = Node::new(
        1,
        PcapWriter::new(Tracer::new(dev, |_, _| {}), cap.clone(), PcapMode::Both),
    );
    let mut b = Node::new(
        2,
        GlueDevice::new(pairs[1].partition_link(), DeviceConfig::default()),
    );
    let ua = a.udp_socket(4000);
    let ub = b.udp_socket(4001);
    let msgs: Vec<Vec<u8>> = (0..8)
        .map(|i| pattern(64 + i * 150, 30 + i as u32))
        .collect();
    let mut now = Instant::ZERO;
    let (mut next, mut echoed) = (0, 0);
    for _ in 0..500 {
        now += Duration::from_millis(1);
        if next < msgs.len()
            && a.sockets
                .get_mut::<udp::Socket>(ua)
                .send_slice(&msgs[next], (ip(2), 4001))
                .is_ok()
        {
            next += 1;
        }
        a.poll(now);
        sw.poll(now.total_micros() as u64 * 1000, 64);
        b.poll(now);
        let s = b.sockets.get_mut::<udp::Socket>(ub);
        while let Ok((d, m)) = s.recv() {
            let d = d.to_vec();
            s.send_slice(&d, m.endpoint).unwrap();
        }
        sw.poll(now.total_micros() as u64 * 1000, 64);
        while a.sockets.get_mut::<udp::Socket>(ua).recv().is_ok() {
            echoed += 1;
        }
        if echoed == msgs.len() {
            break;
        }
    }
    assert_eq!(echoed, msgs.len());
    let recs = records(&cap.0.borrow());
    let st = a.dev.get_ref().get_ref().stats();
    assert_eq!(
        recs.len() as u64,
        st.tx_frames + st.rx_frames,
        "one record per frame"
    );
    assert_eq!(udp_payloads(&recs, 4001), msgs, "the requests, as sent");
    assert_eq!(udp_payloads(&recs, 4000), msgs, "the echoes, as received");
}

struct Lossy<'a> {
    a: Node<ChecksumGuard<FaultInjector<GlueDevice<Link<'a>>>>>,
    b: Node<ChecksumGuard<FaultInjector<GlueDevice<Link<'a>>>>>,
    sw: Sw<'a>,
}

impl World for Lossy<'_> {
    fn step(&mut self, now: Instant) {
        self.a.poll(now);
        self.sw.poll(now.total_micros() as u64 * 1000, 256);
        self.b.poll(now);
        self.sw.poll(now.total_micros() as u64 * 1000, 256);
    }
    fn client(&mut self) -> (&mut Interface, &mut SocketSet<'static>) {
        (&mut self.a.iface, &mut self.a.sockets)
    }
    fn server(&mut self) -> (&mut Interface, &mut SocketSet<'static>) {
        (&mut self.b.iface, &mut self.b.sockets)
    }
    fn activity(&self) -> u64 {
        let f = |n: &Node<ChecksumGuard<FaultInjector<GlueDevice<Link<'_>>>>>| {
            let g = n.dev.stats();
            g.passed + g.bad_checksum + g.malformed
        };
        f(&self.a) + f(&self.b)
    }
    fn delay(&mut self, now: Instant) -> Option<Duration> {
        min_delay(self.a.delay(now), self.b.delay(now))
    }
}

fn faulty(link: Link<'_>, seed: u32) -> ChecksumGuard<FaultInjector<GlueDevice<Link<'_>>>> {
    let mut f = FaultInjector::new(GlueDevice::new(link, DeviceConfig::default()), seed);
    f.set_drop_chance(5);
    f.set_corrupt_chance(5);
    ChecksumGuard::new(f)
}

#[test]
#[cfg_attr(
    miri,
    ignore = "hundreds of smoltcp polls: minutes under Miri; no unsafe here"
)]
fn fault_injector_corruption_is_dropped_counted_and_tcp_completes() {
    let pairs: Vec<Box<Pair>> = (0..2).map(|_| Box::new(Pair::new())).collect();
    let mut w = Lossy {
        a: Node::new(1, faulty(pairs[0].partition_link(), 0xdead)),
        b: Node::new(2, faulty(pairs[1].partition_link(), 0xbeef)),
        sw: switch(&pairs),
    };
    let c = w.a.tcp_socket(64 * 1024);
    let s = w.b.tcp_socket(64 * 1024);
    let data = pattern(512 * 1024, 77);
    let got = tcp_transfer(&mut w, c, s, ip(2), 8000, &data, 2_000_000);
    assert!(got == data, "received bytes differ from sent bytes");
    let (ga, gb) = (w.a.dev.stats(), w.b.dev.stats());
    assert!(
        gb.bad_checksum + gb.malformed > 5,
        "B's guard caught corrupt frames: {gb:?}"
    );
    assert!(
        ga.bad_checksum + ga.malformed > 0,
        "A's guard caught corrupt frames: {ga:?}"
    );
}
