//! Two smoltcp stacks over a queuing-port channel pair: UDP and TCP byte for byte, and a
//! corrupt channel that is counted and survived.
mod common;

use common::*;
use netstack_glue::{DeviceConfig, GlueDevice, QueuingLink};
use queuing_port::{Geometry, QueuingPortReceiver, QueuingPortSender};
use smoltcp::iface::{Interface, SocketSet};
use smoltcp::socket::udp;
use smoltcp::time::Instant;

const MSG: usize = 1536;
const DEPTH: usize = 64;

type Link<'r> = QueuingLink<'r, MSG, DEPTH>;

fn geometry() -> Geometry {
    Geometry::queuing(MSG as u32, DEPTH as u32, false)
}

/// Partition A sends on `ab` and receives on `ba`; B the other way round.
fn link<'r>(tx: &'r Channel, rx: &'r Channel) -> Link<'r> {
    let g = geometry();
    QueuingLink::new(
        QueuingPortSender::attach(tx.region(), &g).unwrap(),
        QueuingPortReceiver::attach(rx.region(), &g).unwrap(),
    )
}

struct Pair<'r> {
    a: Node<GlueDevice<Link<'r>>>,
    b: Node<GlueDevice<Link<'r>>>,
}

impl World for Pair<'_> {
    fn step(&mut self, now: Instant) {
        self.a.poll(now);
        self.b.poll(now);
    }
    two_node_world!();
}

fn pair<'r>(ab: &'r Channel, ba: &'r Channel) -> Pair<'r> {
    Pair {
        a: Node::new(1, GlueDevice::new(link(ab, ba), DeviceConfig::default())),
        b: Node::new(2, GlueDevice::new(link(ba, ab), DeviceConfig::default())),
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of smoltcp polls: minutes under Miri; no unsafe here"
)]
fn tcp_over_a_queuing_channel_pair_byte_for_byte() {
    let (ab, ba) = (Channel::new(&geometry()), Channel::new(&geometry()));
    let mut w = pair(&ab, &ba);
    let c = w.a.tcp_socket(64 * 1024);
    let s = w.b.tcp_socket(64 * 1024);
    let data = pattern(1 << 20, 7);
    let got = tcp_transfer(&mut w, c, s, ip(2), 5000, &data, 200_000);
    assert!(got == data, "received bytes differ from sent bytes");
    let (sa, sb) = (w.a.dev.stats(), w.b.dev.stats());
    assert!(
        sa.tx_bytes >= data.len() as u64,
        "A sent at least the payload"
    );
    assert_eq!(
        sa.tx_frames, sb.rx_frames,
        "every frame A sent reached B's stack"
    );
    assert_eq!(sb.tx_frames, sa.rx_frames);
    assert_eq!(sa.drops.rx_total() + sb.drops.rx_total(), 0);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of smoltcp polls: minutes under Miri; no unsafe here"
)]
fn udp_datagrams_arrive_intact_both_ways() {
    let (ab, ba) = (Channel::new(&geometry()), Channel::new(&geometry()));
    let mut w = pair(&ab, &ba);
    let ua = w.a.udp_socket(7000);
    let ub = w.b.udp_socket(7001);
    let msgs: Vec<Vec<u8>> = (0..20)
        .map(|i| pattern(100 + i * 70, i as u32 + 1))
        .collect();
    let mut clock = Clock::new();
    let mut got_b = Vec::new();
    let mut got_a = Vec::new();
    let mut next = 0;
    for _ in 0..2000 {
        let now = clock.tick(smoltcp::time::Duration::from_millis(1));
        if next < msgs.len() {
            let s = w.a.sockets.get_mut::<udp::Socket>(ua);
            if s.send_slice(&msgs[next], (ip(2), 7001)).is_ok() {
                next += 1;
            }
        }
        w.step(now);
        let s = w.b.sockets.get_mut::<udp::Socket>(ub);
        while let Ok((d, meta)) = s.recv() {
            let d = d.to_vec();
            // Echo back reversed.
            let mut r = d.clone();
            r.reverse();
            s.send_slice(&r, meta.endpoint).unwrap();
            got_b.push(d);
        }
        let s = w.a.sockets.get_mut::<udp::Socket>(ua);
        while let Ok((d, _)) = s.recv() {
            got_a.push(d.to_vec());
        }
        if got_a.len() == msgs.len() {
            break;
        }
    }
    assert_eq!(got_b, msgs);
    let want: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            let mut r = m.clone();
            r.reverse();
            r
        })
        .collect();
    assert_eq!(got_a, want);
}

/// The link as a `FrameLink` on its own: the room is known before any `service` (the
/// stack sizes its window from it), one reservation at a time, bounds and handles
/// checked, a reservation committed shorter, frames out intact.
#[test]
fn the_link_reports_room_from_the_start_and_checks_every_handle() {
    use netstack_glue::frame_link::{FrameLink, FrameMeta, LinkError, TxSlot};
    use netstack_glue::{ErrorKind, LinkFault, QueuingLinkError};
    let (ab, ba) = (Channel::new(&geometry()), Channel::new(&geometry()));
    let mut a = link(&ab, &ba);
    let mut b = link(&ba, &ab);
    assert_eq!(a.tx_room(), Some(DEPTH), "room before any service");
    assert_eq!(
        a.tx_reserve(13),
        Err(QueuingLinkError::Caller(LinkError::FrameLength {
            len: 13,
            min: 14,
            max: 1518
        }))
    );
    let t = a.tx_reserve(1514).unwrap().unwrap();
    assert_eq!(a.tx_room(), Some(DEPTH - 1));
    assert_eq!(a.tx_reserve(60).unwrap(), None, "one reservation at a time");
    let forged = TxSlot::new(t.index(), 1515);
    let e = a.tx_write(&forged, 0, &[1]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadSlot);
    let t = t.shrink(100);
    let e = a.tx_write(&t, 90, &[0; 11]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfBounds);
    let f = pattern(100, 5);
    a.tx_buffer(&t).unwrap().copy_from_slice(&f);
    a.tx_commit(t, FrameMeta::NONE).unwrap();
    a.service(8).unwrap();
    let r = b.rx_take().unwrap().unwrap();
    assert_eq!(b.rx_frame(&r), &f[..]);
    assert_eq!(b.rx_take().unwrap(), None, "one frame taken at a time");
    b.rx_release(r);
    assert_eq!(b.rx_take().unwrap(), None);
    let t = a.tx_reserve(60).unwrap().unwrap();
    a.tx_abort(t);
    // As of the last `service`, the sent frame was still in the channel.
    assert_eq!(a.tx_room(), Some(DEPTH - 1));
}
