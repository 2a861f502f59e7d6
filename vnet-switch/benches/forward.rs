//! Forwarding throughput: `partnet` (the switch, all policy on the path) against
//! `copy_only` (a loop that only copies each frame into a destination slot: the limit for
//! a copying switch).
//!
//! Frames recirculate in the in-memory endpoints (`set_recycle`, `set_discard`), so the
//! measured work is the switch's alone: take, parse, check, look up, copy once, commit.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

#[path = "setup/mod.rs"]
mod setup;
use setup::{frame, mac, ports_budget, switch, BATCH, SLOTS};

/// A frame slot as `MemEndpoint` lays it out: cache-line aligned, `S` bytes and one line
/// of padding.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot<const S: usize> {
    bytes: [u8; S],
    pad: [u8; 64],
}

impl<const S: usize> Slot<S> {
    const ZERO: Self = Slot {
        bytes: [0; S],
        pad: [0; 64],
    };
}

/// One port's frame memory with `MemEndpoint`'s slot layout and count: ingress slots,
/// egress slots.
struct Slots<const S: usize> {
    rx: Box<[Slot<S>]>,
    tx: Box<[Slot<S>]>,
}

/// `copy_only`: the copies `partnet` makes and nothing else. The same ports with the
/// same frames in the same slot layout; frames are taken round-robin over the ports, one
/// per port per turn, from the next ingress slot (as the recycling FIFO hands them out),
/// and copied whole into the next egress slot (as the free list hands them out) of the
/// port `partnet` routes them to (known in advance: no lookup, no check, no counter).
struct CopyOnly<const S: usize> {
    ports: Vec<Slots<S>>,
    /// Destination port of each (port, ingress slot).
    route: Vec<[u8; SLOTS]>,
    rx_next: Vec<usize>,
    tx_next: Vec<usize>,
    port: usize,
    len: usize,
}

impl<const S: usize> CopyOnly<S> {
    fn new(parts: usize, len: usize) -> Self {
        let n = parts + 1;
        let mut ports = Vec::new();
        let mut route = Vec::new();
        for p in 0..n {
            let mut slots = Slots::<S> {
                rx: vec![Slot::<S>::ZERO; SLOTS].into_boxed_slice(),
                tx: vec![Slot::<S>::ZERO; SLOTS].into_boxed_slice(),
            };
            let mut to = [0u8; SLOTS];
            for (i, (buf, to)) in slots.rx.iter_mut().zip(to.iter_mut()).enumerate() {
                // The frames `switch` injects into port p, and where partnet sends them.
                let (dst, d) = if p == 0 {
                    let d = i % parts + 1;
                    (mac(d as u8), d)
                } else if i % 2 == 0 {
                    let d = p % parts + 1;
                    (mac(d as u8), d)
                } else {
                    (mac(201), 0)
                };
                let src = if p == 0 { mac(200) } else { mac(p as u8) };
                buf.bytes[..len].copy_from_slice(&frame(dst, src, len));
                *to = d as u8;
            }
            ports.push(slots);
            route.push(to);
        }
        CopyOnly {
            ports,
            route,
            rx_next: vec![0; n],
            tx_next: vec![0; n],
            port: 0,
            len,
        }
    }

    /// Copies `BATCH` frames.
    fn batch(&mut self) -> usize {
        let n = self.ports.len();
        for _ in 0..BATCH {
            let p = self.port;
            self.port = if p + 1 == n { 0 } else { p + 1 };
            let r = self.rx_next[p];
            self.rx_next[p] = (r + 1) % SLOTS;
            let d = usize::from(self.route[p][r]);
            let t = self.tx_next[d];
            self.tx_next[d] = (t + 1) % SLOTS;
            let [src, dst] = self.ports.get_disjoint_mut([p, d]).unwrap();
            dst.tx[t].bytes[..self.len].copy_from_slice(&src.rx[r].bytes[..self.len]);
        }
        BATCH
    }
}

fn forward(c: &mut Criterion) {
    let mut g = c.benchmark_group("forward");
    for len in [64usize, 512, 1514] {
        g.throughput(Throughput::Elements(BATCH as u64));
        let mut sw = switch::<1536, 5, SLOTS>(4, len);
        let mut now = 0u64;
        g.bench_with_input(BenchmarkId::new("partnet", len), &len, |b, _| {
            b.iter(|| {
                now += 1000;
                black_box(sw.poll(now, BATCH))
            })
        });
        let mut copy = CopyOnly::<1536>::new(4, len);
        g.bench_with_input(BenchmarkId::new("copy_only", len), &len, |b, _| {
            b.iter(|| black_box(copy.batch()))
        });
    }
    g.finish();
}

/// The `forward_ports` switch: 128-byte slots, and fewer slots per ring as ports grow
/// (64, 16, 4 for 2, 8, 32 partitions), so every port count touches about the same
/// number of slots (3 x 2 x 64 = 384, 9 x 2 x 16 = 288, 33 x 2 x 4 = 264): the group measures
/// the switch, not the caches. Ingress frames recirculate, so a ring of 4 still yields a
/// full burst per turn.
fn ports_switch(parts: usize) -> Box<dyn FnMut(u64, usize) -> usize> {
    match parts {
        ..=2 => {
            let mut sw = switch::<128, 33, 64>(parts, 64);
            Box::new(move |now, budget| sw.poll(now, budget))
        }
        3..=8 => {
            let mut sw = switch::<128, 33, 16>(parts, 64);
            Box::new(move |now, budget| sw.poll(now, budget))
        }
        _ => {
            let mut sw = switch::<128, 33, 4>(parts, 64);
            Box::new(move |now, budget| sw.poll(now, budget))
        }
    }
}

fn forward_ports(c: &mut Criterion) {
    let mut g = c.benchmark_group("forward_ports");
    for parts in [2usize, 8, 32] {
        // One burst per port and turn (see `ports_budget`).
        let budget = ports_budget(parts);
        g.throughput(Throughput::Elements(budget as u64));
        // The same cache footprint for every port count (see `ports_switch`).
        let mut sw = ports_switch(parts);
        let mut now = 0u64;
        g.bench_with_input(BenchmarkId::new("partnet", parts), &parts, |b, _| {
            b.iter(|| {
                now += 1000;
                black_box(sw(now, budget))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, forward, forward_ports);
criterion_main!(benches);
