//! partnet queuing/sampling ports against `rtrb` and `heapless::spsc` (64-byte messages).
//!
//! `cargo bench -p queuing-port-bench --bench compare -- --warm-up-time 1 --measurement-time 3`
use std::hint::black_box;
use std::thread;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use queuing_port::mock::OwnedRegion;
use queuing_port::{
    Geometry, QueuingPortReceiver, QueuingPortSender, SamplingPortDestination, SamplingPortSource,
};

const MSG: usize = 64;
const DEPTH: usize = 256;
const THREAD_MESSAGES: u64 = 1_000_000;
/// Words of a 64 B x 256 queuing region.
const WORDS: usize = Geometry::queuing(MSG as u32, DEPTH as u32, false).total_words();
/// Batched index publication (the "batch the index publication"): a side
/// publishes its index at every multiple of this (the receiver also when it sees
/// empty, the sender when it sees full and at the end of the run). Threaded: both
/// sides. One thread: only the receiver (push then pop needs each message published,
/// which a sender batch would do by a flush after every push: the same work).
const BATCH: u32 = 32;

/// Polls a side makes on a full/empty queue before it yields its core.
const SPINS: u32 = 128;

/// Waiting on a full/empty queue, the same for every contender: spin `SPINS` polls
/// (the peer, running on the other core, usually makes room within that), then yield
/// the core at every further poll (the measuring machine is shared; a spinning thread
/// whose peer lost its core would burn its own time slice). Reset after progress.
struct Backoff(u32);

impl Backoff {
    #[inline]
    fn wait(&mut self) {
        if self.0 < SPINS {
            self.0 += 1;
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }

    #[inline]
    fn reset(&mut self) {
        self.0 = 0;
    }
}

/// Moves `THREAD_MESSAGES` from a producer thread to this thread, the same loop and
/// waiting for every contender: `push(Some(n))` tries to send message `n` (its first
/// byte `n as u8`), `push(None)` ends the run (partnet flushes its batch); `pop`
/// returns the first byte of the next message, which is checked.
fn transfer(push: impl FnMut(Option<u8>) -> bool + Send, mut pop: impl FnMut() -> Option<u8>) {
    let mut push = push;
    thread::scope(|s| {
        s.spawn(move || {
            let mut wait = Backoff(0);
            let mut n = 0u64;
            while n < THREAD_MESSAGES {
                if push(Some(n as u8)) {
                    n += 1;
                    wait.reset();
                } else {
                    wait.wait();
                }
            }
            push(None);
        });
        let mut wait = Backoff(0);
        let mut n = 0u64;
        while n < THREAD_MESSAGES {
            match pop() {
                Some(b) => {
                    assert_eq!(b, n as u8);
                    n += 1;
                    wait.reset();
                }
                None => wait.wait(),
            }
        }
    });
}

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_64b");
    g.throughput(Throughput::Elements(1));
    let msg = [7u8; MSG];

    let geo = Geometry::queuing(MSG as u32, DEPTH as u32, false);
    let region = Box::new(OwnedRegion::<WORDS>::formatted(&geo));
    let mut tx = QueuingPortSender::<MSG, DEPTH>::attach(region.region(), &geo).unwrap();
    let mut rx = QueuingPortReceiver::<MSG, DEPTH>::attach(region.region(), &geo).unwrap();
    rx.set_publish_batch(BATCH);
    let mut buf = [0u8; MSG];
    g.bench_function("partnet", |b| {
        b.iter(|| {
            tx.try_send(black_box(&msg)).unwrap();
            let m = rx.try_receive(&mut buf).unwrap();
            black_box((&buf, m.len));
        })
    });

    let (mut p, mut q) = rtrb::RingBuffer::<[u8; MSG]>::new(DEPTH);
    g.bench_function("rtrb", |b| {
        b.iter(|| {
            p.push(black_box(msg)).unwrap();
            black_box(q.pop().unwrap());
        })
    });

    let mut hq: heapless::spsc::Queue<[u8; MSG], DEPTH> = heapless::spsc::Queue::new();
    let (mut hp, mut hc) = hq.split();
    g.bench_function("heapless", |b| {
        b.iter(|| {
            hp.enqueue(black_box(msg)).unwrap();
            black_box(hc.dequeue().unwrap());
        })
    });
    g.finish();
}

/// Producer on a second thread, consumer on this one, `THREAD_MESSAGES` per iteration
/// through [`transfer`] (same loop, checks and [`Backoff`] for every contender).
fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_64b_threads");
    g.sample_size(10);
    g.throughput(Throughput::Elements(THREAD_MESSAGES));

    let geo = Geometry::queuing(MSG as u32, DEPTH as u32, false);
    let region = Box::new(OwnedRegion::<WORDS>::formatted(&geo));
    let mut tx = QueuingPortSender::<MSG, DEPTH>::attach(region.region(), &geo).unwrap();
    let mut rx = QueuingPortReceiver::<MSG, DEPTH>::attach(region.region(), &geo).unwrap();
    rx.set_publish_batch(BATCH);
    tx.set_publish_batch(BATCH);
    g.bench_function("partnet", |b| {
        b.iter(|| {
            let mut msg = [0u8; MSG];
            let mut buf = [0u8; MSG];
            let tx = &mut tx;
            transfer(
                move |n| match n {
                    Some(n) => {
                        msg[0] = n;
                        tx.try_send(&msg).is_ok()
                    }
                    None => {
                        tx.flush();
                        true
                    }
                },
                || rx.try_receive(&mut buf).ok().map(|_| buf[0]),
            )
        })
    });

    let (mut p, mut q) = rtrb::RingBuffer::<[u8; MSG]>::new(DEPTH);
    g.bench_function("rtrb", |b| {
        b.iter(|| {
            let mut msg = [0u8; MSG];
            let p = &mut p;
            transfer(
                move |n| {
                    n.is_none_or(|n| {
                        msg[0] = n;
                        p.push(msg).is_ok()
                    })
                },
                || q.pop().ok().map(|m| m[0]),
            )
        })
    });

    let mut hq: heapless::spsc::Queue<[u8; MSG], DEPTH> = heapless::spsc::Queue::new();
    let (mut hp, mut hc) = hq.split();
    g.bench_function("heapless", |b| {
        b.iter(|| {
            let mut msg = [0u8; MSG];
            let hp = &mut hp;
            transfer(
                move |n| {
                    n.is_none_or(|n| {
                        msg[0] = n;
                        hp.enqueue(msg).is_ok()
                    })
                },
                || hc.dequeue().map(|m| m[0]),
            )
        })
    });
    g.finish();
}

fn sampling(c: &mut Criterion) {
    let mut g = c.benchmark_group("sampling_64b");
    g.throughput(Throughput::Elements(1));
    let geo = Geometry::sampling(MSG as u32, 1_000_000);
    let region = Box::new(OwnedRegion::<
        { Geometry::sampling(MSG as u32, 0).total_words() },
    >::formatted(&geo));
    let mut w = SamplingPortSource::<MSG>::attach(region.region(), &geo).unwrap();
    let mut r = SamplingPortDestination::<MSG>::attach(region.region(), &geo).unwrap();
    let msg = [3u8; MSG];
    let mut buf = [0u8; MSG];
    let mut now = 0u64;
    g.bench_function("partnet", |b| {
        b.iter(|| {
            now += 1;
            w.write(black_box(&msg), now).unwrap();
            black_box(r.read(&mut buf, now).unwrap());
        })
    });
    g.finish();
}

criterion_group!(benches, single_thread, threads, sampling);
criterion_main!(benches);
