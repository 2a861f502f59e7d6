//! Per-frame cost of the transmit regulator and of receive-side redundancy management,
//! side by side with copying a frame of the same length (the anchor). See `setup` for
//! what each measures.
//!
//! `cargo bench -p afdx --bench afdx -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

mod setup;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use setup::{Copy, Rx, Tx, SIZES};

fn per_frame(c: &mut Criterion) {
    for n in SIZES {
        let mut g = c.benchmark_group(format!("afdx_{n}"));
        g.throughput(Throughput::Elements(1));
        let mut tx = Tx::new(n);
        g.bench_function("tx", |b| b.iter(|| tx.one()));
        let mut rx = Rx::new(n);
        g.bench_function("rx", |b| b.iter(|| rx.one()));
        let mut copy = Copy::new(n);
        g.bench_function("memcpy", |b| b.iter(|| copy.one()));
        g.finish();
    }
}

criterion_group!(benches, per_frame);
criterion_main!(benches);
