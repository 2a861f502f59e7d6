//! A small driver for instruction counts of the forwarding path (run it under
//! `valgrind --tool=cachegrind`): the bench's switch (one uplink, four partitions,
//! unicast), `polls` polls of 64 frames of `len` bytes. Run it twice with different
//! `polls` and divide the difference of the counts by the difference of the frames.
//!
//! `cargo run --release -p vnet-switch --example forward_count -- [len] [polls]`
use std::hint::black_box;

#[path = "../benches/setup/mod.rs"]
mod setup;

fn main() {
    let mut args = std::env::args().skip(1);
    let len: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let polls: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let mut sw = setup::switch::<1536, 5>(4, len);
    let mut frames = 0u64;
    for t in 1..=polls {
        frames += black_box(sw.poll(t * 1000, setup::BATCH)) as u64;
    }
    println!("{frames} frames of {len} bytes");
}
