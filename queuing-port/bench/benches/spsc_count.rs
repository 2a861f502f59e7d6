//! Instruction counts of one push then pop of a 64-byte message: partnet's typed
//! queuing port against `rtrb`, the `spsc_64b` bench's step in a function of its own.
//!
//! ```sh
//! cargo bench -p queuing-port-bench --bench spsc_count --no-run   # prints the binary's path
//! valgrind --tool=callgrind --toggle-collect='spsc_count::partnet_step*' \
//!     target/release/deps/spsc_count-<hash> partnet
//! valgrind --tool=callgrind --toggle-collect='spsc_count::rtrb_step*' \
//!     target/release/deps/spsc_count-<hash> rtrb
//! cargo bench -p queuing-port-bench --bench spsc_count -- time
//! ```
//!
//! Each run does `STEPS` steps: the collected instruction total divided by `STEPS` is
//! the count per step. `time` instead times both steps in alternating rounds and
//! prints the fastest round of each (a wall-clock check that filters out the time
//! slices lost to other load). Arguments starting with `--` (cargo passes `--bench`)
//! are ignored.
use std::hint::black_box;

use queuing_port::mock::OwnedRegion;
use queuing_port::{Geometry, QueuingPortReceiver, QueuingPortSender};

const MSG: usize = 64;
const DEPTH: usize = 256;
const WORDS: usize = GEO.total_words();
const STEPS: u32 = 1_000_000;

const GEO: Geometry = Geometry::queuing(MSG as u32, DEPTH as u32, false);

/// A formatted region for the bench's queue.
fn region() -> Box<OwnedRegion<WORDS>> {
    Box::new(OwnedRegion::formatted(&GEO))
}

/// The bench's ports over `region` (the receiver publishes at multiples of 32).
fn ports(
    region: &OwnedRegion<WORDS>,
) -> (
    QueuingPortSender<'_, MSG, DEPTH>,
    QueuingPortReceiver<'_, MSG, DEPTH>,
) {
    let tx = QueuingPortSender::attach(region.region(), &GEO).unwrap();
    let mut rx = QueuingPortReceiver::attach(region.region(), &GEO).unwrap();
    rx.set_publish_batch(32);
    (tx, rx)
}

/// One push then pop, as in the bench (the receiver publishes every 32 messages).
#[inline(never)]
fn partnet_step(
    tx: &mut QueuingPortSender<'_, MSG, DEPTH>,
    rx: &mut QueuingPortReceiver<'_, MSG, DEPTH>,
    msg: &[u8; MSG],
    buf: &mut [u8; MSG],
) {
    tx.try_send(black_box(msg)).unwrap();
    let m = rx.try_receive(buf).unwrap();
    black_box((&buf, m.len));
}

/// One push then pop, as in the bench.
#[inline(never)]
fn rtrb_step(p: &mut rtrb::Producer<[u8; MSG]>, q: &mut rtrb::Consumer<[u8; MSG]>, msg: [u8; MSG]) {
    p.push(black_box(msg)).unwrap();
    black_box(q.pop().unwrap());
}

/// Fastest of `ROUNDS` alternating rounds of `ROUND` steps each, in ns per step.
fn time() {
    const ROUNDS: u32 = 50;
    const ROUND: u32 = 200_000;
    let msg = [7u8; MSG];
    let region = region();
    let (mut tx, mut rx) = ports(&region);
    let mut buf = [0u8; MSG];
    let (mut p, mut q) = rtrb::RingBuffer::<[u8; MSG]>::new(DEPTH);
    let (mut best_partnet, mut best_rtrb) = (f64::MAX, f64::MAX);
    let per_step = |t: std::time::Instant| t.elapsed().as_nanos() as f64 / f64::from(ROUND);
    for _ in 0..ROUNDS {
        let t = std::time::Instant::now();
        for _ in 0..ROUND {
            partnet_step(&mut tx, &mut rx, &msg, &mut buf);
        }
        best_partnet = best_partnet.min(per_step(t));
        let t = std::time::Instant::now();
        for _ in 0..ROUND {
            rtrb_step(&mut p, &mut q, msg);
        }
        best_rtrb = best_rtrb.min(per_step(t));
    }
    println!(
        "fastest round, ns per step: partnet {best_partnet:.2}, rtrb {best_rtrb:.2}, ratio {:.2}",
        best_partnet / best_rtrb
    );
}

fn main() {
    let which = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    if which == "time" {
        time();
        return;
    }
    let msg = [7u8; MSG];
    if which != "rtrb" {
        let region = region();
        let (mut tx, mut rx) = ports(&region);
        let mut buf = [0u8; MSG];
        for _ in 0..STEPS {
            partnet_step(&mut tx, &mut rx, &msg, &mut buf);
        }
    }
    if which != "partnet" {
        let (mut p, mut q) = rtrb::RingBuffer::<[u8; MSG]>::new(DEPTH);
        for _ in 0..STEPS {
            rtrb_step(&mut p, &mut q, msg);
        }
    }
}
