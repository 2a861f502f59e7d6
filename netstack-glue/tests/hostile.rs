//! The malicious peer: a partition (or a switch) that corrupts the channel or sends
//! garbage frames. The adapter returns typed errors, counts drops by reason, never
//! panics, and the partition's traffic goes on afterwards.

mod pair;
use pair::*;
mod common;

use common::*;
use netstack_glue::{DeviceConfig, ErrorKind, GlueDevice, PortPair, QueuingLink};
use queuing_port::mock::HostilePeer;
use queuing_port::{Geometry, QueuingPortReceiver, QueuingPortSender};
use smoltcp::phy::Device;
use smoltcp::socket::udp;
use smoltcp::time::{Duration, Instant};
use vnet_switch::FrameLink as _;

const MSG: usize = 1536;
const DEPTH: usize = 8;

fn geometry() -> Geometry {
    Geometry::queuing(MSG as u32, DEPTH as u32, false)
}

#[test]
fn a_corrupt_length_is_a_typed_error_and_the_channel_goes_on() {
    #[cfg(feature = "log")]
    testing_logger::setup();
    let (ab, ba) = (Channel::new(&geometry()), Channel::new(&geometry()));
    let (ab, ba) = (&ab, &ba);
    let g = geometry();
    let link = QueuingLink::<MSG, DEPTH>::new(
        QueuingPortSender::attach(ab.region(), &g).unwrap(),
        QueuingPortReceiver::attach(ba.region(), &g).unwrap(),
    );
    let mut a = Node::new(1, GlueDevice::new(link, DeviceConfig::default()));
    // The hostile peer writes into A's receive channel directly.
    let mut evil = QueuingPortSender::<MSG, DEPTH>::attach(ba.region(), &g).unwrap();
    evil.try_send(&[0u8; 60]).unwrap();
    HostilePeer::new(ba.region()).poke(g.length_word(0), 0xffff_fff0);
    assert!(
        a.dev.receive(Instant::ZERO).is_none(),
        "the corrupt message is not handed up"
    );
    let st = a.dev.stats();
    assert_eq!(st.drops.rx_link_error, 1);
    assert!(
        st.last_error == Some(ErrorKind::Peer),
        "{:?}",
        st.last_error
    );
    assert_eq!(a.dev.link().link_stats().rx_corrupt, 1);
    // With `log`: the link error is an event with its typed cause (after queuing-port's
    // own event for the value it refused).
    #[cfg(feature = "log")]
    {
        let cause =
            "corrupt shared region: peer message length 4294967280 is above the maximum 1536";
        assert_eq!(
            take(),
            [
                format!("WARN queuing-port: {cause}"),
                format!("WARN netstack-glue: link error: queuing-port channel: {cause}"),
            ]
        );
    }

    // The channel goes on: a well-formed frame after it is received.
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&mac(1));
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    evil.try_send(&f).unwrap();
    {
        let (rx, _tx) = a.dev.receive(Instant::ZERO).expect("the next frame");
        assert_eq!(smoltcp::phy::RxToken::consume(rx, |b| b.to_vec()), f);
    }

    // A wild producer index: every receive is a counted error, bounded, no panic; A can
    // still send on its other channel.
    HostilePeer::new(ba.region()).poke(16, 0x8000_0000);
    for _ in 0..100 {
        assert!(a.dev.receive(Instant::ZERO).is_none());
    }
    assert!(a.dev.stats().drops.rx_link_error >= 2);
    let u = a.udp_socket(1);
    a.sockets
        .get_mut::<udp::Socket>(u)
        .send_slice(b"still here", (ip(2), 2))
        .unwrap();
    for i in 0..10 {
        a.poll(Instant::from_millis(i));
    }
    let mut peer_rx = QueuingPortReceiver::<MSG, DEPTH>::attach(ab.region(), &g).unwrap();
    let mut buf = [0u8; MSG];
    let m = peer_rx
        .try_receive(&mut buf)
        .expect("A's ARP request went out");
    assert_eq!(&buf[12..14], &[0x08, 0x06]);
    assert!(m.len >= 42);
}

#[test]
fn garbage_frames_are_dropped_by_reason_and_traffic_goes_on() {
    let pairs: Vec<Box<PortPair<16, 1536>>> = (0..2).map(|_| Box::new(PortPair::new())).collect();
    let mut a = Node::new(
        1,
        GlueDevice::new(pairs[0].partition_link(), DeviceConfig::default()),
    );
    let mut b = Node::new(
        2,
        GlueDevice::new(pairs[1].partition_link(), DeviceConfig::default()),
    );
    let (mut pa, mut pb) = (pairs[0].switch_port(), pairs[1].switch_port());
    let inject = |port: &mut SwitchPort<'_, 16, 1536>, f: &[u8]| {
        let t = port.tx_reserve(f.len()).unwrap().unwrap();
        port.tx_write(&t, 0, f).unwrap();
        port.tx_commit(t, vnet_switch::FrameMeta::NONE).unwrap();
    };
    let mut ipv4 = |tweak: &dyn Fn(&mut Vec<u8>)| {
        let mut f = vec![0u8; 80];
        f[..6].copy_from_slice(&mac(1));
        f[6..12].copy_from_slice(&mac(2));
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&66u16.to_be_bytes());
        f[23] = 17;
        tweak(&mut f);
        inject(&mut pa, &f);
    };
    ipv4(&|f| f[14] = 0x41); // IHL 4: malformed
    ipv4(&|f| f[14] = 0x4f); // IHL 15: a 60-byte header, its checksum wrong
    ipv4(&|_| {}); // header checksum 0: wrong
    let mut runt = [0xffu8; 16]; // runt: an IPv4 frame cut two bytes after the header
    runt[12..14].copy_from_slice(&[0x08, 0x00]);
    inject(&mut pa, &runt);
    inject(&mut pa, &pattern(1536, 3)); // above the MTU
    inject(&mut pa, &pattern(700, 4)); // noise
    let mut now = Instant::ZERO;
    for _ in 0..5 {
        now += Duration::from_millis(1);
        a.poll(now);
    }
    let d = a.dev.stats().drops;
    assert_eq!(d.rx_too_long, 1);
    assert!(d.rx_malformed >= 1, "{d:?}");
    assert!(d.rx_bad_checksum >= 1, "{d:?}");

    // Traffic goes on.
    let ua = a.udp_socket(10);
    let ub = b.udp_socket(11);
    let msg = pattern(1200, 9);
    a.sockets
        .get_mut::<udp::Socket>(ua)
        .send_slice(&msg, (ip(2), 11))
        .unwrap();
    let mut got = None;
    for _ in 0..100 {
        now += Duration::from_millis(1);
        a.poll(now);
        while let Some(s) = pa.rx_take().unwrap() {
            let f = pa.rx_frame(&s).to_vec();
            pa.rx_release(s);
            inject(&mut pb, &f);
        }
        b.poll(now);
        while let Some(s) = pb.rx_take().unwrap() {
            let f = pb.rx_frame(&s).to_vec();
            pb.rx_release(s);
            inject(&mut pa, &f);
        }
        if let Ok((m, _)) = b.sockets.get_mut::<udp::Socket>(ub).recv() {
            got = Some(m.to_vec());
            break;
        }
    }
    assert_eq!(got, Some(msg));
}

/// The switch side reads a taken frame in place: while it holds it, the partition can
/// neither reuse nor rewrite that slot (the bytes the switch validated are the bytes it
/// forwards), and every other slot keeps working.
#[test]
fn a_frame_the_switch_holds_cannot_be_rewritten_by_the_partition() {
    use netstack_glue::frame_link::FrameLinkExt;
    let pair: Box<PortPair<4, 1536>> = Box::new(PortPair::new());
    let mut part = pair.partition_link();
    let mut port = pair.switch_port();
    let send = |part: &mut PartitionLink<'_, 4, 1536>, seed: u32| {
        part.send_frame(&pattern(200, seed)).unwrap().then_some(())
    };
    send(&mut part, 1).unwrap();
    let held = port.rx_take().unwrap().unwrap();
    // The partition fills every other slot; the held one is not handed out again.
    for seed in 2..5 {
        send(&mut part, seed).unwrap();
    }
    assert!(send(&mut part, 9).is_none(), "the held slot is not reused");
    assert_eq!(port.rx_frame(&held), &pattern(200, 1)[..]);
    port.rx_release(held);
    // Released, the slot serves again; the queued frames come out in order, intact.
    send(&mut part, 5).unwrap();
    for seed in 2..6 {
        let s = port.rx_take().unwrap().unwrap();
        assert_eq!(port.rx_frame(&s), &pattern(200, seed)[..]);
        port.rx_release(s);
    }
    assert!(port.rx_take().unwrap().is_none());
}

#[cfg(feature = "log")]
/// This test thread's log records so far, as `LEVEL message`, emptied.
fn take() -> Vec<String> {
    let out = std::cell::RefCell::new(Vec::new());
    testing_logger::validate(|l| {
        *out.borrow_mut() = l
            .iter()
            .map(|r| format!("{} {}", r.level, r.body))
            .collect()
    });
    out.into_inner()
}
