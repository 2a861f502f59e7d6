//! The worst-case work of the queuing and sampling port calls, against the README's
//! promise: `try_send` / `try_receive` never loop (full or empty is `NOT_AVAILABLE`, a
//! corrupt index or length is `Error::Corrupt`), and a sampling read makes at most
//! `READ_ATTEMPTS` (4) attempts. Each call copies at most one message of at most the
//! maximum size: the units are the bytes it copied.
//!
//! The rows use `virtqueue_bench::kit` (fresh input per repetition, the call inside
//! `measured`); `cargo xtask worst-case` runs them under callgrind and
//! `tests/worst_case.rs` asserts the units against the bounds.

use queuing_port::mock::{HostilePeer, OwnedRegion};
use queuing_port::{Error, Geometry, QueueReceiver, QueueSender, SampleReader, SampleWriter};
use virtqueue_bench::kit::{measured, Row};

/// The largest message of the rows' channels (an Ethernet frame with headroom).
pub const MAX: usize = 1536;
const DEPTH: u32 = 32;
const TYPICAL: usize = 64;
const QUEUE: Geometry = Geometry::queuing(MAX as u32, DEPTH, false);
const QWORDS: usize = QUEUE.total_words();
const SAMPLE: Geometry = Geometry::sampling(MAX as u32, 1_000_000);
const SWORDS: usize = SAMPLE.total_words();

/// What a queuing row starts from: the receiver's view before the call.
#[derive(Clone, Copy)]
enum Queue {
    /// `n` messages of `len` bytes queued.
    Holding(u32, usize),
    /// The peer wrote `value` over its index (at word `.0`) once the port attached (over
    /// the receiver's head: of a full queue).
    Scribbled(usize, u32),
    /// One message whose length word the peer set to `value`.
    BadLength(u32),
}

/// A formatted queuing channel in the state `q`.
fn queue(q: Queue) -> Box<OwnedRegion<QWORDS>> {
    let r = Box::new(OwnedRegion::<QWORDS>::formatted(&QUEUE));
    let mut tx = QueueSender::attach(r.region(), &QUEUE).unwrap();
    let peer = HostilePeer::new(r.region());
    match q {
        Queue::Holding(n, len) => {
            for _ in 0..n {
                tx.try_send(&[0x5a; MAX][..len]).unwrap();
            }
        }
        // A full queue, so that the sender re-reads the receiver's head.
        Queue::Scribbled(HostilePeer::HEAD, _) => {
            for _ in 0..DEPTH {
                tx.try_send(&[0x5a; TYPICAL]).unwrap();
            }
        }
        Queue::Scribbled(..) => {}
        Queue::BadLength(v) => {
            tx.try_send(&[0x5a; MAX]).unwrap();
            peer.poke(QUEUE.length_word(0), v);
        }
    }
    r
}

/// The peer's scribble of state `q`, if any.
fn scribble(r: &OwnedRegion<QWORDS>, q: Queue) {
    if let Queue::Scribbled(word, v) = q {
        HostilePeer::new(r.region()).poke(word, v);
    }
}

/// `try_send` of `len` bytes on the channel in state `q`; the bytes it copied.
fn send(reps: u32, q: Queue, len: usize, expect: fn(&Result<(), Error>) -> bool) -> u32 {
    let msg = [0xa5; MAX];
    let mut units = 0;
    for _ in 0..reps {
        let r = queue(q);
        let mut tx = QueueSender::attach(r.region(), &QUEUE).unwrap();
        scribble(&r, q);
        let res = measured(|| tx.try_send(&msg[..len]));
        assert!(expect(&res), "unexpected result {res:?}");
        units = if res.is_ok() { len as u32 } else { 0 };
    }
    units
}

/// `try_receive` on the channel in state `q`; the bytes it copied.
fn receive(reps: u32, q: Queue, expect: fn(&Result<queuing_port::Received, Error>) -> bool) -> u32 {
    let mut buf = [0; MAX];
    let mut units = 0;
    for _ in 0..reps {
        let r = queue(q);
        let mut rx = QueueReceiver::attach(r.region(), &QUEUE).unwrap();
        scribble(&r, q);
        let res = measured(|| rx.try_receive(&mut buf));
        assert!(expect(&res), "unexpected result {res:?}");
        units = res.map_or(0, |m| m.len as u32);
    }
    units
}

/// `write` of `len` bytes on a sampling channel.
fn sample_write(reps: u32, len: usize) -> u32 {
    let msg = [0xa5; MAX];
    for _ in 0..reps {
        let r = Box::new(OwnedRegion::<SWORDS>::formatted(&SAMPLE));
        let mut w = SampleWriter::attach(r.region(), &SAMPLE).unwrap();
        w.write(&msg[..TYPICAL], 0).unwrap();
        let res = measured(|| w.write(&msg[..len], 1));
        assert!(res.is_ok(), "unexpected result {res:?}");
    }
    len as u32
}

/// `read` of a sampling channel holding one message of `len` bytes, after `peer` wrote
/// over it; the bytes it delivered.
fn sample_read(
    reps: u32,
    len: usize,
    peer: fn(&HostilePeer<'_>),
    expect: fn(&Result<queuing_port::SampledMessage, Error>) -> bool,
) -> u32 {
    let mut buf = [0; MAX];
    let mut units = 0;
    for _ in 0..reps {
        let r = Box::new(OwnedRegion::<SWORDS>::formatted(&SAMPLE));
        SampleWriter::attach(r.region(), &SAMPLE)
            .unwrap()
            .write(&[0xa5; MAX][..len], 0)
            .unwrap();
        peer(&HostilePeer::new(r.region()));
        let mut rd = SampleReader::attach(r.region(), &SAMPLE).unwrap();
        let res = measured(|| rd.read(&mut buf, 1));
        assert!(expect(&res), "unexpected result {res:?}");
        units = res.map_or(0, |m| m.len as u32);
    }
    units
}

fn ok<T, E>(r: &Result<T, E>) -> bool {
    r.is_ok()
}

fn corrupt<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::Corrupt(_)))
}

fn not_available<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::NotAvailable))
}

const SEND: &str = "QueueSender::try_send";
const RECEIVE: &str = "QueueReceiver::try_receive";
const COPY_BOUND: &str = "no loop: ≤ 1 message of ≤ 1536 B";
const READ: &str = "SampleReader::read";
const READ_BOUND: &str = "≤ 4 attempts, ≤ 1536 B delivered";

const fn row(
    call: &'static str,
    input: &'static str,
    bound: &'static str,
    run: fn(u32) -> u32,
) -> Row {
    Row::new(call, input, bound, MAX as u32, "bytes", run)
}

/// Every measured call and input.
pub const ROWS: &[Row] = &[
    row(SEND, "typical", COPY_BOUND, |r| {
        send(r, Queue::Holding(1, TYPICAL), TYPICAL, ok)
    }),
    row(SEND, "largest message (1536 B)", COPY_BOUND, |r| {
        send(r, Queue::Holding(1, TYPICAL), MAX, ok)
    }),
    row(
        SEND,
        "queue full (head re-read, refused)",
        COPY_BOUND,
        |r| send(r, Queue::Holding(DEPTH, TYPICAL), MAX, not_available),
    ),
    row(
        SEND,
        "queue full, peer scribbled its head index",
        COPY_BOUND,
        |r| {
            send(
                r,
                Queue::Scribbled(HostilePeer::HEAD, 0xdead_beef),
                MAX,
                corrupt,
            )
        },
    ),
    row(RECEIVE, "typical", COPY_BOUND, |r| {
        receive(r, Queue::Holding(1, TYPICAL), ok)
    }),
    row(RECEIVE, "largest message (1536 B)", COPY_BOUND, |r| {
        receive(r, Queue::Holding(1, MAX), ok)
    }),
    row(RECEIVE, "peer scribbled its tail index", COPY_BOUND, |r| {
        receive(r, Queue::Scribbled(HostilePeer::TAIL, 0xdead_beef), corrupt)
    }),
    row(RECEIVE, "slot length 0xffffffff", COPY_BOUND, |r| {
        receive(r, Queue::BadLength(u32::MAX), corrupt)
    }),
    row(
        "SampleWriter::write",
        "typical",
        "≤ 1 message of ≤ 1536 B",
        |r| sample_write(r, TYPICAL),
    ),
    row(
        "SampleWriter::write",
        "largest message (1536 B)",
        "≤ 1 message of ≤ 1536 B",
        |r| sample_write(r, MAX),
    ),
    row(READ, "typical", READ_BOUND, |r| {
        sample_read(r, TYPICAL, |_| {}, ok)
    }),
    row(READ, "largest message (1536 B)", READ_BOUND, |r| {
        sample_read(r, MAX, |_| {}, ok)
    }),
    row(
        READ,
        "length word 0xffffffff (max copied, refused)",
        READ_BOUND,
        |r| {
            sample_read(
                r,
                MAX,
                |p| p.poke(SAMPLE.slot_word(1) + 1, u32::MAX),
                corrupt,
            )
        },
    ),
    row(READ, "stamp never matches (4 attempts)", READ_BOUND, |r| {
        sample_read(r, MAX, |p| p.poke(SAMPLE.slot_word(1), 7), not_available)
    }),
];
