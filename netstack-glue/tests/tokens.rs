//! Token discipline of the smoltcp adapter: unconsumed tokens give their slots back
//! (smoltcp issue 1147), `transmit` says `None` without a free slot, `max_burst_size`
//! follows the free slots, the MTU is set, and a reply built inside a receive closure is
//! sent once the received frame is let go.

mod pair;
use pair::*;
mod common;

use common::*;
use netstack_glue::{DeviceConfig, FrameLink, GlueDevice, PortPair, MAX_ETHERNET_MTU};
use smoltcp::phy::{Device, RxToken, TxToken};
use smoltcp::socket::udp;
use smoltcp::time::{Duration, Instant};

const SLOTS: usize = 4;
/// Unconsumed tokens dropped (fewer under Miri, which interprets every step).
const TOKENS: usize = if cfg!(miri) { 50 } else { 10_000 };
type Pair = PortPair<SLOTS, 1536>;
type Dev<'a> = GlueDevice<PartitionLink<'a, SLOTS, 1536>>;

/// The switch side sends `frame` to the partition.
fn to_partition(port: &mut impl vnet_switch::FrameLink, frame: &[u8]) {
    let t = port.tx_reserve(frame.len()).unwrap().expect("room");
    port.tx_write(&t, 0, frame).unwrap();
    port.tx_commit(t, vnet_switch::FrameMeta::NONE).unwrap();
}

/// Everything the partition sent, as the switch side sees it.
fn from_partition(port: &mut impl vnet_switch::FrameLink) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(s) = port.rx_take().unwrap() {
        out.push(port.rx_frame(&s).to_vec());
        port.rx_release(s);
    }
    out
}

fn eth(dst: [u8; 6], src: [u8; 6], body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]); // local experimental EtherType
    f.extend_from_slice(body);
    f
}

#[test]
fn ten_thousand_unconsumed_transmit_tokens_leak_nothing() {
    let pair = Pair::new();
    let mut dev: Dev<'_> = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    for _ in 0..TOKENS {
        let t = dev.transmit(Instant::ZERO).expect("a free slot every time");
        drop(t);
    }
    assert_eq!(dev.stats().tx_returned, TOKENS as u64);
    assert_eq!(
        dev.link_mut().tx_room(),
        Some(SLOTS),
        "every slot is free again"
    );
    assert_eq!(dev.capabilities().max_burst_size, Some(SLOTS));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "10,000 smoltcp polls: minutes under Miri; the token-only test runs"
)]
fn ten_thousand_idle_polls_then_traffic_still_flows() {
    let pairs: Vec<Box<Pair>> = (0..2).map(|_| Box::new(Pair::new())).collect();
    let mut a = Node::new(
        1,
        GlueDevice::new(pairs[0].partition_link(), DeviceConfig::default()),
    );
    let mut b = Node::new(
        2,
        GlueDevice::new(pairs[1].partition_link(), DeviceConfig::default()),
    );
    let (mut pa, mut pb) = (pairs[0].switch_port(), pairs[1].switch_port());
    let ua = a.udp_socket(1000);
    let ub = b.udp_socket(1001);
    let mut now = Instant::ZERO;
    for _ in 0..10_000 {
        now += Duration::from_millis(1);
        a.poll(now);
        b.poll(now);
    }
    assert_eq!(a.dev.link_mut().tx_room(), Some(SLOTS));
    // Now traffic: A → B through a hand-wired "switch" (copy frames across).
    let msg = pattern(1000, 5);
    a.sockets
        .get_mut::<udp::Socket>(ua)
        .send_slice(&msg, (ip(2), 1001))
        .unwrap();
    let mut got = None;
    for _ in 0..100 {
        now += Duration::from_millis(1);
        a.poll(now);
        for f in from_partition(&mut pa) {
            to_partition(&mut pb, &f);
        }
        b.poll(now);
        for f in from_partition(&mut pb) {
            to_partition(&mut pa, &f);
        }
        if let Ok((d, _)) = b.sockets.get_mut::<udp::Socket>(ub).recv() {
            got = Some(d.to_vec());
            break;
        }
    }
    assert_eq!(
        got.as_deref(),
        Some(&msg[..]),
        "the datagram arrived intact"
    );
}

#[test]
fn transmit_says_none_when_the_link_is_full_and_recovers() {
    let pair = Pair::new();
    let mut port = pair.switch_port();
    let mut dev: Dev<'_> = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    let frame = eth([0xff; 6], mac(1), &pattern(100, 1));
    for i in 0..SLOTS {
        assert_eq!(dev.capabilities().max_burst_size, Some(SLOTS - i));
        let t = dev.transmit(Instant::ZERO).unwrap();
        t.consume(frame.len(), |b| b.copy_from_slice(&frame));
    }
    assert!(dev.transmit(Instant::ZERO).is_none(), "no free slot: None");
    assert_eq!(dev.stats().tx_busy, 1);
    assert_eq!(dev.capabilities().max_burst_size, Some(1), "at least 1");
    let sent = from_partition(&mut port);
    assert_eq!(sent, vec![frame.clone(); SLOTS]);
    assert!(dev.transmit(Instant::ZERO).is_some(), "slots came back");
}

#[test]
fn mtu_is_set_and_bad_lengths_are_refused_and_counted() {
    let pair = Pair::new();
    let mut port = pair.switch_port();
    let mut dev: Dev<'_> = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    assert_eq!(dev.capabilities().max_transmission_unit, MAX_ETHERNET_MTU);
    let t = dev.transmit(Instant::ZERO).unwrap();
    t.consume(8, |b| b.fill(0));
    assert_eq!(dev.stats().drops.tx_bad_length, 1);
    assert!(from_partition(&mut port).is_empty());
    assert_eq!(dev.link_mut().tx_room(), Some(SLOTS));
    let small = GlueDevice::new(
        pair.partition_link(),
        DeviceConfig {
            ip_mtu: Some(576),
            ..DeviceConfig::default()
        },
    );
    assert_eq!(small.capabilities().max_transmission_unit, 590);
}

#[test]
fn a_reply_built_inside_the_receive_closure_is_sent_after_it() {
    let pair = Pair::new();
    let mut port = pair.switch_port();
    let mut dev: Dev<'_> = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    let req = eth(mac(1), mac(9), &pattern(60, 2));
    to_partition(&mut port, &req);
    let (rx, tx) = dev.receive(Instant::ZERO).unwrap();
    let reply = rx.consume(|f| {
        let mut r = f.to_vec();
        r.reverse();
        tx.consume(r.len(), |b| b.copy_from_slice(&r));
        r
    });
    assert_eq!(from_partition(&mut port), vec![reply]);
    let st = dev.stats();
    assert_eq!((st.rx_frames, st.tx_frames, st.tx_returned), (1, 1, 0));
    assert_eq!(dev.link_mut().tx_room(), Some(SLOTS));
}

#[test]
fn unconsumed_receive_pairs_give_frame_and_slot_back() {
    let pair = Pair::new();
    let mut port = pair.switch_port();
    let mut dev: Dev<'_> = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    for i in 0..3 {
        to_partition(&mut port, &eth(mac(1), mac(9), &pattern(50, i)));
        let pair_ = dev.receive(Instant::ZERO).unwrap();
        drop(pair_);
    }
    // Dropped inside the closure too: the transmit slot comes back once the frame is let go.
    to_partition(&mut port, &eth(mac(1), mac(9), &pattern(50, 7)));
    let (rx, tx) = dev.receive(Instant::ZERO).unwrap();
    rx.consume(|_| drop(tx));
    let st = dev.stats();
    assert_eq!(st.drops.rx_unconsumed, 3);
    assert_eq!(st.rx_frames, 1);
    assert_eq!(st.tx_returned, 4);
    assert_eq!(dev.link_mut().tx_room(), Some(SLOTS));
    assert!(dev.receive(Instant::ZERO).is_none(), "nothing left");
}

#[test]
fn a_tiny_link_announces_a_usable_mtu_and_refuses_long_frames() {
    let pair = PortPair::<2, 60>::new();
    let mut port = pair.switch_port();
    let mut dev = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    assert_eq!(
        dev.capabilities().max_transmission_unit,
        netstack_glue::MIN_ETHERNET_MTU
    );
    let t = dev.transmit(Instant::ZERO).unwrap();
    t.consume(70, |b| b.fill(1));
    assert_eq!(
        dev.stats().drops.tx_link_error,
        1,
        "the link refused 70 > 60 bytes"
    );
    assert!(from_partition(&mut port).is_empty());
    assert_eq!(dev.link_mut().tx_room(), Some(2), "the slot came back");
}
