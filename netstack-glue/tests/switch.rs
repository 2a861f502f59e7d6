//! Three partitions through the vnet-switch, each with its own smoltcp stack over a
//! `PortPair`: ping, UDP and a 10 MiB TCP transfer byte for byte; then the same TCP
//! transfer with 5% loss and 5% corruption on every port (it completes, every corrupt
//! frame is dropped and counted).

mod pair;
use pair::*;
mod common;

use common::*;
use netstack_glue::frame_link::{End, Faults, Odds};
use netstack_glue::{DeviceConfig, GlueDevice, PortPair};
use smoltcp::iface::{Interface, SocketSet};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::{icmp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress};
use vnet_switch::{MacAddress, PortConfig, Switch, SwitchBuilder};

const SLOTS: usize = 64;

type Pair = PortPair<SLOTS, 1536>;
type Dev<'a> = GlueDevice<PartitionLink<'a, SLOTS, 1536>>;
type Sw<'a> = Switch<SwitchPort<'a, SLOTS, 1536>, 4, 64, 64>;

struct Three<'a> {
    nodes: Vec<Node<Dev<'a>>>,
    sw: Sw<'a>,
    client: usize,
    server: usize,
}

impl<'a> Three<'a> {
    fn new(pairs: &'a [Box<Pair>]) -> Self {
        let mut b = SwitchBuilder::<SwitchPort<'a, SLOTS, 1536>, 4>::new();
        for (i, p) in pairs.iter().enumerate() {
            let n = i as u8 + 1;
            b.add_port(
                p.switch_port(),
                PortConfig::partition(MacAddress(mac(n)), 1),
            )
            .unwrap();
        }
        let nodes = pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Node::new(
                    i as u8 + 1,
                    GlueDevice::new(p.partition_link(), DeviceConfig::default()),
                )
            })
            .collect();
        Three {
            nodes,
            sw: b.build().unwrap(),
            client: 0,
            server: 2,
        }
    }
}

impl World for Three<'_> {
    fn step(&mut self, now: Instant) {
        let ns = now.total_micros() as u64 * 1000;
        for n in &mut self.nodes {
            n.poll(now);
        }
        self.sw.poll(ns, 256);
    }
    fn client(&mut self) -> (&mut Interface, &mut SocketSet<'static>) {
        let n = &mut self.nodes[self.client];
        (&mut n.iface, &mut n.sockets)
    }
    fn server(&mut self) -> (&mut Interface, &mut SocketSet<'static>) {
        let n = &mut self.nodes[self.server];
        (&mut n.iface, &mut n.sockets)
    }
    fn debug(&mut self) -> String {
        use netstack_glue::FrameLink;
        let now = Instant::ZERO;
        self.nodes
            .iter_mut()
            .map(|n| {
                let d = n.delay(now);
                format!(
                    "{:?} room {:?} delay {d:?}\n",
                    n.dev.stats(),
                    n.dev.link_mut().tx_room()
                )
            })
            .collect()
    }
    fn activity(&self) -> u64 {
        self.nodes.iter().map(|n| n.dev.stats().tx_frames).sum()
    }
    fn delay(&mut self, now: Instant) -> Option<Duration> {
        self.nodes
            .iter_mut()
            .fold(None, |d, n| min_delay(d, n.delay(now)))
    }
}

fn pairs() -> Vec<Box<Pair>> {
    (0..3).map(|_| Box::new(Pair::new())).collect()
}

#[test]
#[cfg_attr(
    miri,
    ignore = "hundreds of polls of three stacks and a switch: minutes under Miri; no unsafe here"
)]
fn ping_between_partitions_returns_the_payload() {
    let pairs = pairs();
    let mut w = Three::new(&pairs);
    let h = w.nodes[0].icmp_socket(0x1234);
    let payload = pattern(56, 3);
    let mut clock = Clock::new();
    let mut replies = Vec::new();
    for seq in 0..3u16 {
        {
            let s = w.nodes[0].sockets.get_mut::<icmp::Socket>(h);
            let req = Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: seq,
                data: &payload,
            };
            let buf = s.send(req.buffer_len(), IpAddress::Ipv4(ip(3))).unwrap();
            req.emit(
                &mut Icmpv4Packet::new_unchecked(buf),
                &ChecksumCapabilities::default(),
            );
        }
        for _ in 0..200 {
            w.step(clock.tick(Duration::from_millis(1)));
            let s = w.nodes[0].sockets.get_mut::<icmp::Socket>(h);
            if let Ok((bytes, from)) = s.recv() {
                let p = Icmpv4Packet::new_checked(bytes).unwrap();
                let r = Icmpv4Repr::parse(&p, &ChecksumCapabilities::default()).unwrap();
                replies.push((from, format!("{r:?}"), r_data(&r)));
                break;
            }
        }
    }
    assert_eq!(replies.len(), 3, "three echo replies");
    for (seq, (from, _, data)) in replies.iter().enumerate() {
        assert_eq!(
            *from,
            IpAddress::Ipv4(ip(3)),
            "reply {seq} from partition 3"
        );
        assert_eq!(data, &payload, "reply {seq} carries the request's bytes");
    }
    // Partition 2 saw the ARP broadcast only, no IP traffic.
    let s2 = w.nodes[1].dev.stats();
    assert!(s2.rx_frames <= 2, "partition 2 got {} frames", s2.rx_frames);
}

fn r_data(r: &Icmpv4Repr<'_>) -> Vec<u8> {
    match r {
        Icmpv4Repr::EchoReply { data, .. } => data.to_vec(),
        other => panic!("not an echo reply: {other:?}"),
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "hundreds of polls of three stacks and a switch: minutes under Miri; no unsafe here"
)]
fn udp_fan_in_from_two_partitions() {
    let pairs = pairs();
    let mut w = Three::new(&pairs);
    let u1 = w.nodes[0].udp_socket(9001);
    let u2 = w.nodes[1].udp_socket(9002);
    let u3 = w.nodes[2].udp_socket(9003);
    let from1: Vec<Vec<u8>> = (0..10)
        .map(|i| pattern(200 + i * 100, 10 + i as u32))
        .collect();
    let from2: Vec<Vec<u8>> = (0..10)
        .map(|i| pattern(1472 - i * 50, 50 + i as u32))
        .collect();
    let mut clock = Clock::new();
    let (mut n1, mut n2) = (0, 0);
    let (mut got1, mut got2) = (Vec::new(), Vec::new());
    for _ in 0..3000 {
        if n1 < from1.len()
            && w.nodes[0]
                .sockets
                .get_mut::<udp::Socket>(u1)
                .send_slice(&from1[n1], (ip(3), 9003))
                .is_ok()
        {
            n1 += 1;
        }
        if n2 < from2.len()
            && w.nodes[1]
                .sockets
                .get_mut::<udp::Socket>(u2)
                .send_slice(&from2[n2], (ip(3), 9003))
                .is_ok()
        {
            n2 += 1;
        }
        w.step(clock.tick(Duration::from_millis(1)));
        let s = w.nodes[2].sockets.get_mut::<udp::Socket>(u3);
        while let Ok((d, meta)) = s.recv() {
            match meta.endpoint.port {
                9001 => got1.push(d.to_vec()),
                9002 => got2.push(d.to_vec()),
                p => panic!("datagram from unexpected port {p}"),
            }
        }
        if got1.len() == from1.len() && got2.len() == from2.len() {
            break;
        }
    }
    assert_eq!(got1, from1);
    assert_eq!(got2, from2);
}

fn ten_mib(faults: Option<Faults>) -> (Vec<u8>, Three<'static>, &'static [Box<Pair>]) {
    let pairs: &'static [Box<Pair>] = Box::leak(pairs().into_boxed_slice());
    if let Some(f) = faults {
        for (i, p) in pairs.iter().enumerate() {
            p.set_faults(
                End::B,
                Faults {
                    seed: f.seed + i as u32,
                    ..f
                },
            );
        }
    }
    let mut w = Three::new(pairs);
    let c = w.nodes[0].tcp_socket(256 * 1024);
    let s = w.nodes[2].tcp_socket(256 * 1024);
    let data = pattern(10 << 20, 99);
    let got = tcp_transfer(&mut w, c, s, ip(3), 6000, &data, 2_000_000);
    assert!(got == data, "received bytes differ from sent bytes");
    (data, w, pairs)
}

#[test]
#[cfg_attr(miri, ignore = "moves 10 MiB through three stacks")]
fn tcp_10_mib_through_the_switch_byte_for_byte() {
    let (data, w, _) = ten_mib(None);
    let (s1, s3) = (w.nodes[0].dev.stats(), w.nodes[2].dev.stats());
    assert!(s1.tx_bytes > data.len() as u64);
    assert!(s3.rx_bytes > data.len() as u64);
    assert_eq!(s1.drops.rx_total() + s3.drops.rx_total(), 0);
}

#[test]
#[cfg_attr(miri, ignore = "moves 10 MiB through three stacks")]
fn tcp_10_mib_survives_loss_and_corruption_and_counts_it() {
    let faults = Faults {
        drop: Odds::PerMille(50),
        corrupt: Odds::PerMille(50),
        corrupt_anywhere: false,
        seed: 12345,
    };
    let (_, w, pairs) = ten_mib(Some(faults));
    for (i, p) in pairs.iter().enumerate() {
        let injected = p.fault_counts(End::B);
        let st = w.nodes[i].dev.stats();
        let caught = st.drops.rx_bad_checksum + st.drops.rx_malformed;
        assert_eq!(
            caught,
            injected.corrupted,
            "partition {}: every corrupted frame dropped and counted",
            i + 1
        );
        if i != 1 {
            assert!(injected.corrupted > 10, "corruption happened: {injected:?}");
            assert!(injected.dropped > 10, "loss happened: {injected:?}");
        }
    }
}
