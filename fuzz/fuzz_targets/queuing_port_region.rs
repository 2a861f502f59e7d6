//! Arbitrary bytes as the peer's half of a queuing or sampling region, and a peer that
//! keeps writing words between our send/receive/read/write/status calls.
//!
//! Invariants: no panic; every result is typed and within bounds (lengths within the
//! maximum, counts within the capacity); after the integrator reformats the region the
//! channel works again (a round trip delivers the same bytes).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use queuing_port::mock::{HostilePeer, OwnedRegion};
use queuing_port::{
    Error, Geometry, QueueReceiver, QueueSender, Region, SampleReader, SampleWriter,
};

const WORDS: usize = 1024;

#[derive(Arbitrary, Debug)]
enum Op {
    Send(u8),
    Receive,
    Clear,
    Status,
    Write(u8, u16),
    Read,
    ReadUpdated,
    ReadConditional(u16),
    Poke(u16, u32),
    Reformat,
}

#[derive(Arbitrary, Debug)]
struct Input {
    sampling: bool,
    drop_on_full: bool,
    max: u8,
    depth: u8,
    keep_header: bool,
    peer_words: Vec<(u16, u32)>,
    ops: Vec<Op>,
}

struct Ports<'r> {
    tx: Option<QueueSender<'r>>,
    rx: Option<QueueReceiver<'r>>,
    w: Option<SampleWriter<'r>>,
    r: Option<SampleReader<'r>>,
}

/// An attach result: a port, or a typed error that says something.
fn ok<T>(r: Result<T, Error>) -> Option<T> {
    check(&r);
    r.ok()
}

fn attach<'r>(region: Region<'r>, g: &Geometry, sampling: bool) -> Ports<'r> {
    if sampling {
        Ports {
            tx: None,
            rx: None,
            w: ok(SampleWriter::attach(region, g)),
            r: ok(SampleReader::attach(region, g)),
        }
    } else {
        Ports {
            tx: ok(QueueSender::attach(region, g)),
            rx: ok(QueueReceiver::attach(region, g)),
            w: None,
            r: None,
        }
    }
}

fn check<T>(r: &Result<T, Error>) {
    if let Err(e) = r {
        assert!(!e.to_string().is_empty());
        let _ = e.code();
    }
}

fuzz_target!(|input: Input| {
    let max = u32::from(input.max % 64) + 1;
    let depth = u32::from(input.depth % 16) + 1;
    let g = if input.sampling {
        Geometry::sampling(max, 1_000)
    } else {
        Geometry::queuing(max, depth, input.drop_on_full)
    };
    let owned = Box::new(OwnedRegion::<WORDS>::zeroed());
    let region = owned.region();
    g.format(&region).unwrap();
    let peer = HostilePeer::new(region);
    let first = if input.keep_header { 16 } else { 0 };
    for &(i, v) in input.peer_words.iter().take(256) {
        peer.poke(first + usize::from(i) % (g.total_words() - first), v);
    }
    let mut p = attach(region, &g, input.sampling);
    let mut buf = vec![0u8; max as usize];
    let mut now = 0u64;
    for op in input.ops.iter().take(512) {
        match *op {
            Op::Send(len) => {
                if let Some(tx) = p.tx.as_mut() {
                    check(&tx.try_send(&vec![len; usize::from(len)]));
                }
            }
            Op::Receive => {
                if let Some(rx) = p.rx.as_mut() {
                    let r = rx.try_receive(&mut buf);
                    check(&r);
                    if let Ok(m) = r {
                        assert!(m.len >= 1 && m.len <= max as usize);
                    }
                }
            }
            Op::Clear => {
                if let Some(rx) = p.rx.as_mut() {
                    check(&rx.clear());
                }
            }
            Op::Status => {
                if let Some(tx) = p.tx.as_mut() {
                    let s = tx.status();
                    check(&s);
                    if let Ok(s) = s {
                        assert!(s.nb_message <= depth);
                    }
                }
                if let Some(rx) = p.rx.as_mut() {
                    let s = rx.status();
                    check(&s);
                    if let Ok(s) = s {
                        assert!(s.nb_message <= depth);
                    }
                }
                if let Some(r) = p.r.as_ref() {
                    let _ = r.current_status(now);
                }
            }
            Op::Write(len, dt) => {
                now += u64::from(dt);
                if let Some(w) = p.w.as_mut() {
                    check(&w.write(&vec![len; usize::from(len)], now));
                }
            }
            Op::Read | Op::ReadUpdated | Op::ReadConditional(_) => {
                if let Some(r) = p.r.as_mut() {
                    let res = match *op {
                        Op::Read => r.read(&mut buf, now),
                        Op::ReadUpdated => r.read_updated(&mut buf, now),
                        Op::ReadConditional(t) => r.read_conditional(&mut buf, u64::from(t), now),
                        _ => unreachable!(),
                    };
                    check(&res);
                    if let Ok(m) = res {
                        assert!(m.len >= 1 && m.len <= max as usize);
                    }
                }
            }
            Op::Poke(i, v) => peer.poke(usize::from(i) % g.total_words(), v),
            Op::Reformat => {
                g.format(&region).unwrap();
                p = attach(region, &g, input.sampling);
                let msg: Vec<u8> = (0..max).map(|i| i as u8 ^ 0x5a).collect();
                if input.sampling {
                    let (w, r) = (p.w.as_mut().unwrap(), p.r.as_mut().unwrap());
                    w.write(&msg, now).unwrap();
                    let m = r.read(&mut buf, now).unwrap();
                    assert_eq!(&buf[..m.len], &msg[..]);
                } else {
                    let (tx, rx) = (p.tx.as_mut().unwrap(), p.rx.as_mut().unwrap());
                    tx.try_send(&msg).unwrap();
                    let m = rx.try_receive(&mut buf).unwrap();
                    assert_eq!(&buf[..m.len], &msg[..]);
                }
            }
        }
    }
});
