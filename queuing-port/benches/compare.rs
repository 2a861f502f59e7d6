//! partnet queuing/sampling ports against `rtrb` and `heapless::spsc` (64-byte messages).
//!
//! `cargo bench -p queuing-port --bench compare -- --warm-up-time 1 --measurement-time 3`
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
/// Threaded: each side publishes its index every this many messages (the receiver also
/// when it sees empty, the sender when it sees full and at the end). One thread: only
/// the receiver batches (the sender's message must be visible to the next receive).
const BATCH: u32 = 32;

/// Waiting on a full/empty queue, the same for every contender: yield the core (the
/// measuring machine is shared; a spinning thread that lost its core stalls the other).
#[inline]
fn backoff() {
    thread::yield_now();
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

/// Producer on a second thread, consumer on this one, `THREAD_MESSAGES` per iteration;
/// the consumer checks every message's first byte. A side that finds the queue full or
/// empty yields (`backoff`).
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
            thread::scope(|s| {
                let tx = &mut tx;
                s.spawn(move || {
                    let mut msg = [0u8; MSG];
                    let mut n = 0u64;
                    while n < THREAD_MESSAGES {
                        msg[0] = n as u8;
                        if tx.try_send(&msg).is_ok() {
                            n += 1;
                        } else {
                            backoff();
                        }
                    }
                    tx.flush();
                });
                let mut buf = [0u8; MSG];
                let mut n = 0u64;
                while n < THREAD_MESSAGES {
                    match rx.try_receive(&mut buf) {
                        Ok(_) => {
                            assert_eq!(buf[0], n as u8);
                            n += 1;
                        }
                        Err(_) => backoff(),
                    }
                }
            });
        })
    });

    let (mut p, mut q) = rtrb::RingBuffer::<[u8; MSG]>::new(DEPTH);
    g.bench_function("rtrb", |b| {
        b.iter(|| {
            thread::scope(|s| {
                let p = &mut p;
                s.spawn(move || {
                    let mut msg = [0u8; MSG];
                    let mut n = 0u64;
                    while n < THREAD_MESSAGES {
                        msg[0] = n as u8;
                        if p.push(msg).is_ok() {
                            n += 1;
                        } else {
                            backoff();
                        }
                    }
                });
                let mut n = 0u64;
                while n < THREAD_MESSAGES {
                    match q.pop() {
                        Ok(m) => {
                            assert_eq!(m[0], n as u8);
                            n += 1;
                        }
                        Err(_) => backoff(),
                    }
                }
            });
        })
    });

    let mut hq: heapless::spsc::Queue<[u8; MSG], DEPTH> = heapless::spsc::Queue::new();
    let (mut hp, mut hc) = hq.split();
    g.bench_function("heapless", |b| {
        b.iter(|| {
            thread::scope(|s| {
                let hp = &mut hp;
                s.spawn(move || {
                    let mut msg = [0u8; MSG];
                    let mut n = 0u64;
                    while n < THREAD_MESSAGES {
                        msg[0] = n as u8;
                        if hp.enqueue(msg).is_ok() {
                            n += 1;
                        } else {
                            backoff();
                        }
                    }
                });
                let mut n = 0u64;
                while n < THREAD_MESSAGES {
                    match hc.dequeue() {
                        Some(m) => {
                            assert_eq!(m[0], n as u8);
                            n += 1;
                        }
                        None => backoff(),
                    }
                }
            });
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
