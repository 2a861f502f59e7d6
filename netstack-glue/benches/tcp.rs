//! `tcp_bulk`: 32 MiB over one TCP connection between two smoltcp interfaces per
//! iteration (1500 MTU, 256 KiB socket buffers); the set-up is in `setup/mod.rs`.

mod setup;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_bulk");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(setup::BYTES as u64));
    g.bench_function("smoltcp_memory_link", |b| b.iter(setup::memory_link));
    let q = setup::QueuingSetup::new();
    g.bench_function("partnet_queuing", |b| b.iter(|| q.run()));
    let s = setup::SwitchSetup::new();
    g.bench_function("partnet_switch", |b| b.iter(|| s.run()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
