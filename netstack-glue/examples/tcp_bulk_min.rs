//! The fastest of `ROUNDS` runs of each `tcp_bulk` function, interleaved (a load-robust
//! companion of the criterion bench on a shared machine):
//! `cargo run --release -p netstack-glue --example tcp_bulk_min -- 30`.

#[path = "../benches/setup/mod.rs"]
mod setup;

use std::time::{Duration, Instant};

fn time(f: &dyn Fn()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let q = setup::QueuingSetup::new();
    let s = setup::SwitchSetup::new();
    let runs: [(&str, &dyn Fn()); 3] = [
        ("smoltcp_memory_link", &setup::memory_link),
        ("partnet_queuing", &|| q.run()),
        ("partnet_switch", &|| s.run()),
    ];
    let mut best = [Duration::MAX; 3];
    for _ in 0..rounds {
        for (i, (_, f)) in runs.iter().enumerate() {
            best[i] = best[i].min(time(*f));
        }
    }
    for (i, (name, _)) in runs.iter().enumerate() {
        let mib_s = setup::BYTES as f64 / (1 << 20) as f64 / best[i].as_secs_f64();
        let ratio = best[0].as_secs_f64() / best[i].as_secs_f64();
        println!(
            "{name:22} best {:8.3} ms  {mib_s:7.1} MiB/s  {ratio:.2}x anchor",
            best[i].as_secs_f64() * 1e3
        );
    }
}
