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
use setup::{ports_budget, switch, CopyOnly, BATCH, SLOTS};

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
