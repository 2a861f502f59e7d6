//! Per-frame cost of the transmit regulator and of receive-side redundancy management,
//! side by side with copying the same number of bytes (the anchor).
//!
//! `cargo bench -p afdx --bench afdx -- --warm-up-time 1 --measurement-time 3`
//!
//! * `tx/N`: one message of N payload bytes through `send` (frame built, queued) and
//!   `poll_tx_with` (regulator, scheduler, sequence number, two network copies handed
//!   to a callback that takes them): the whole transmit path but the link.
//! * `rx/N`: one frame of N payload bytes through `receive` (parse, IPv4 checksum,
//!   integrity checking, redundancy management, port lookup), alternating A and B copies
//!   so that every second frame is a redundant copy.
//! * `memcpy/N`: copying a frame of the same length once.
use std::hint::black_box;

use afdx::wire::{self, Addressing};
use afdx::{
    Emit, EndSystem, EsConfig, Network, PartitionId, PortKind, RxPortConfig, TxPortConfig, VlConfig,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const SIZES: [usize; 3] = [64, 512, 1471];

const VLS: [VlConfig; 1] = [VlConfig::new(1, 1, 1518)];
const TX: [TxPortConfig; 1] = [TxPortConfig {
    partition: PartitionId(1),
    vl: 1,
    src_udp: 1,
    dst_udp: 2,
    kind: PortKind::Queuing,
}];
const RX: [RxPortConfig; 1] = [RxPortConfig {
    partition: PartitionId(1),
    vl: 1,
    dst_udp: 2,
    kind: PortKind::Queuing,
}];

fn cfg() -> EsConfig<'static> {
    EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 1, 1, 1],
        link_mbps: 1000,
        tech_latency_us: 100,
        tx_vls: &VLS,
        rx_vls: &VLS,
        tx_ports: &TX,
        rx_ports: &RX,
    }
}

fn per_frame(c: &mut Criterion) {
    for n in SIZES {
        let mut g = c.benchmark_group(format!("afdx_{n}"));
        g.throughput(Throughput::Elements(1));
        let frame_len = wire::frame_len(n);

        let mut es: Box<EndSystem<1, 1, 1>> = Box::new(EndSystem::new(&cfg()).unwrap());
        let msg = vec![0x5au8; n];
        let mut now = 0u64;
        g.bench_function("tx", |b| {
            b.iter(|| {
                now += 1000; // one BAG
                es.send(PartitionId(1), 0, black_box(&msg), now).unwrap();
                es.poll_tx_with(now, 1, |o| {
                    black_box(o.frame);
                    Emit::Sent
                })
            })
        });

        let mut es: Box<EndSystem<1, 1, 1>> = Box::new(EndSystem::new(&cfg()).unwrap());
        let a = Addressing {
            vl: 1,
            network_id: 2,
            equipment_id: 2,
            src_ip: [10, 2, 2, 1],
            src_udp: 1,
            dst_udp: 2,
        };
        // Frames with sequence numbers 1..=255 on A and on B.
        let mut frames = Vec::new();
        for seq in 1..=255u8 {
            for net in Network::BOTH {
                let mut f = vec![0u8; wire::MAX_FRAME];
                let len = wire::build(&mut f, &a, 0, &msg).unwrap();
                f.truncate(len);
                wire::stamp(&mut f, net, seq);
                frames.push((net, f));
            }
        }
        let mut i = 0usize;
        let mut now = 0u64;
        g.bench_function("rx", |b| {
            b.iter(|| {
                let (net, f) = &frames[i];
                i = (i + 1) % frames.len();
                now += 500;
                matches!(es.receive(*net, black_box(f), now), Ok(Some(_)))
            })
        });

        let src = vec![0xa5u8; frame_len];
        let mut dst = vec![0u8; frame_len];
        g.bench_function("memcpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(&dst);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, per_frame);
criterion_main!(benches);
