//! The fastest of `ROUNDS` runs of each `tcp_bulk` function, interleaved (a load-robust
//! companion of the criterion bench on a shared machine):
//! `cargo bench -p netstack-glue --bench tcp_bulk_min -- 30`.
//!
//! A second argument runs only the functions whose name contains it (for instruction
//! counts, run the binary `cargo bench -p netstack-glue --bench tcp_bulk_min --no-run`
//! prints under `valgrind --tool=callgrind <binary> 1 switch`). The `--bench` flag cargo
//! adds is ignored.

mod setup;

use std::time::{Duration, Instant};

fn time(f: &dyn Fn()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    // `cargo bench` appends `--bench`; only the positional arguments count.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let q = setup::QueuingSetup::new();
    let s = setup::SwitchSetup::new();
    let runs: [(&str, &dyn Fn()); 3] = [
        ("smoltcp_memory_link", &setup::memory_link),
        ("partnet_queuing", &|| q.run()),
        ("partnet_switch", &|| s.run()),
    ];
    let only = args.get(1).cloned().unwrap_or_default();
    let picked = |name: &str| name.contains(only.as_str());
    let mut best = [Duration::MAX; 3];
    for _ in 0..rounds {
        for (i, (name, f)) in runs.iter().enumerate() {
            if picked(name) {
                best[i] = best[i].min(time(*f));
            }
        }
    }
    for (i, (name, _)) in runs.iter().enumerate() {
        if !picked(name) {
            continue;
        }
        let mib_s = setup::BYTES as f64 / (1 << 20) as f64 / best[i].as_secs_f64();
        // Without the anchor in the run there is nothing to compare with.
        let ratio = match best[0] {
            Duration::MAX => String::new(),
            anchor => format!(
                "  {:.2}x anchor",
                anchor.as_secs_f64() / best[i].as_secs_f64()
            ),
        };
        println!(
            "{name:22} best {:8.3} ms  {mib_s:7.1} MiB/s{ratio}",
            best[i].as_secs_f64() * 1e3
        );
    }
}
