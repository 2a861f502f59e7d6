//! A small driver for instruction counts of the forwarding path (run it under
//! `valgrind --tool=cachegrind`): the bench's switch, unicast, `polls` polls of
//! frames of `len` bytes. Without `parts`: group `forward` (one uplink, four partitions,
//! 1536-byte slots, polls of 64 frames); with `parts`: group `forward_ports` (one uplink,
//! `parts` partitions, 128-byte slots, polls of `budget` frames, by default as the bench:
//! `setup::ports_budget`). Run it twice with different `polls` and divide the
//! difference of the counts by the difference of the frames (the output's first number).
//!
//! `cargo bench -p vnet-switch --bench forward_count -- [len] [polls] [parts] [budget]`
//! (`--no-run` prints the binary's path, for `valgrind` and `time`).
//!
//! With `copy` instead of `parts`: the bench's `copy_only` (group `forward`), for
//! comparisons of CPU time (`time`), which a loaded machine disturbs less than wall time.
use std::hint::black_box;

#[path = "setup/mod.rs"]
mod setup;

fn run<const S: usize, const P: usize, const N: usize>(
    parts: usize,
    len: usize,
    polls: u64,
    budget: usize,
) -> u64 {
    let mut sw = setup::switch::<S, P, N>(parts, len);
    let mut frames = 0u64;
    for t in 1..=polls {
        frames += black_box(sw.poll(t * 1000, budget)) as u64;
    }
    frames
}

fn main() {
    // `cargo bench` passes `--bench`; the rest are the positional arguments above.
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let len: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let polls: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let third = args.next();
    if third.as_deref() == Some("copy") {
        // `copy_only` of group `forward`, for CPU-time comparisons.
        let mut copy = setup::CopyOnly::<1536>::new(4, len);
        let frames: u64 = (0..polls).map(|_| black_box(copy.batch()) as u64).sum();
        println!("{frames} frames of {len} bytes copied");
        return;
    }
    let parts: Option<usize> = third.and_then(|a| a.parse().ok());
    let frames = match parts {
        Some(parts) => {
            let budget = args
                .next()
                .and_then(|a| a.parse().ok())
                .unwrap_or(setup::ports_budget(parts));
            // As the bench: fewer slots per ring as ports grow (same footprint).
            match parts {
                ..=2 => run::<128, 33, 64>(parts, len.min(128), polls, budget),
                3..=8 => run::<128, 33, 16>(parts, len.min(128), polls, budget),
                _ => run::<128, 33, 4>(parts, len.min(128), polls, budget),
            }
        }
        None => run::<1536, 5, { setup::SLOTS }>(4, len, polls, setup::BATCH),
    };
    println!("{frames} frames of {len} bytes");
}
