//! Forwarding throughput: `partnet` (the switch, all policy on the path) against
//! `copy_only` (a loop that only copies each frame into a destination slot: the limit for
//! a copying switch).
//!
//! Frames recirculate in the in-memory endpoints (`set_recycle`, `set_discard`), so the
//! measured work is the switch's alone: take, parse, check, look up, copy once, commit.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{MacAddress, PortConfig, Switch, SwitchBuilder, VlanSet};

/// Frames per poll (and per iteration of both functions).
const BATCH: usize = 64;
const SLOTS: usize = 64;

type Ep<const S: usize> = MemEndpoint<SLOTS, S>;

fn mac(n: u8) -> MacAddress {
    MacAddress([2, 0, 0, 0, 0, n])
}

fn frame(dst: MacAddress, src: MacAddress, len: usize) -> Vec<u8> {
    let mut f = vec![0x5a; len];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f
}

/// One uplink (port 0) and `parts` partitions; partition k sends alternately to
/// partition k+1 and out through the uplink, the uplink sends to every partition.
fn switch<const S: usize, const P: usize>(
    parts: usize,
    len: usize,
) -> Switch<Box<Ep<S>>, P, 1024, 64> {
    let mut b = SwitchBuilder::<Box<Ep<S>>, P>::new();
    let mut up = Box::new(Ep::<S>::new());
    for i in 0..SLOTS {
        up.inject(&frame(mac((i % parts) as u8 + 1), mac(200), len))
            .unwrap();
    }
    up.set_recycle(true);
    up.set_discard(true);
    b.add_port(up, PortConfig::uplink(Some(1), VlanSet::new()))
        .unwrap();
    for k in 1..=parts {
        let mut ep = Box::new(Ep::<S>::new());
        let next = mac((k % parts) as u8 + 1);
        for i in 0..SLOTS {
            let dst = if i % 2 == 0 { next } else { mac(201) };
            ep.inject(&frame(dst, mac(k as u8), len)).unwrap();
        }
        ep.set_recycle(true);
        ep.set_discard(true);
        b.add_port(ep, PortConfig::partition(mac(k as u8), 1))
            .unwrap();
    }
    let mut sw: Switch<Box<Ep<S>>, P, 1024, 64> = b.build().unwrap();
    // Sanity: a batch is forwarded whole, nothing dropped, one copy per frame.
    assert_eq!(sw.poll(0, BATCH), BATCH);
    let total = |f: fn(&vnet_switch::PortStats) -> u64| {
        (0..=parts)
            .map(|i| f(sw.stats(vnet_switch::PortId::new(i as u8)).unwrap()))
            .sum::<u64>()
    };
    assert_eq!(total(|s| s.rx_forwarded), BATCH as u64);
    assert_eq!(total(|s| s.tx_frames), BATCH as u64);
    assert_eq!(total(|s| s.total_drops() + s.tx_queue_full), 0);
    sw
}

fn forward(c: &mut Criterion) {
    let mut g = c.benchmark_group("forward");
    for len in [64usize, 512, 1514] {
        g.throughput(Throughput::Elements(BATCH as u64));
        let mut sw = switch::<1536, 5>(4, len);
        let mut now = 0u64;
        g.bench_with_input(BenchmarkId::new("partnet", len), &len, |b, _| {
            b.iter(|| {
                now += 1000;
                black_box(sw.poll(now, BATCH))
            })
        });
        // copy_only: the same frames, each copied once into a destination slot.
        let src: Vec<Vec<u8>> = (0..5 * SLOTS)
            .map(|i| frame(mac((i % 5) as u8), mac(9), len))
            .collect();
        let mut dst = vec![[0u8; 1536]; 5 * SLOTS];
        let mut k = 0usize;
        g.bench_with_input(BenchmarkId::new("copy_only", len), &len, |b, _| {
            b.iter(|| {
                for _ in 0..BATCH {
                    let f = &src[k % src.len()];
                    let n = dst.len();
                    dst[(k * 7) % n][..f.len()].copy_from_slice(f);
                    k = k.wrapping_add(1);
                }
                black_box(&dst);
            })
        });
    }
    g.finish();
}

fn forward_ports(c: &mut Criterion) {
    let mut g = c.benchmark_group("forward_ports");
    g.throughput(Throughput::Elements(BATCH as u64));
    for parts in [2usize, 8, 32] {
        let mut sw = switch::<128, 33>(parts, 64);
        let mut now = 0u64;
        g.bench_with_input(BenchmarkId::new("partnet", parts), &parts, |b, _| {
            b.iter(|| {
                now += 1000;
                black_box(sw.poll(now, BATCH))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, forward, forward_ports);
criterion_main!(benches);
