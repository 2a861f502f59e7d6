//! The worst-case harnesses' common part (`cargo xtask worst-case`): a row per bounded
//! call and input, the measured region, and the harness binaries' command line. Shared
//! by the harnesses of `virtqueue`, `queuing-port` and `vnet-switch`.

use std::borrow::Borrow;
use std::hint::black_box;

/// One bounded call on one input.
pub struct Row {
    /// The call.
    pub call: &'static str,
    /// The input (`typical` is the comparison row of the call).
    pub input: &'static str,
    /// The documented bound, in the doc's own units.
    pub bound: &'static str,
    /// The bound as a number of [`Row::unit`]s.
    pub limit: u32,
    /// What the units count.
    pub unit: &'static str,
    /// Makes the call `reps` times, each on a fresh input; returns the units one call did.
    pub run: fn(u32) -> u32,
}

impl Row {
    /// A row (the fields in their order).
    pub const fn new(
        call: &'static str,
        input: &'static str,
        bound: &'static str,
        limit: u32,
        unit: &'static str,
        run: fn(u32) -> u32,
    ) -> Row {
        Row {
            call,
            input,
            bound,
            limit,
            unit,
            run,
        }
    }
}

/// The measured region: callgrind collects the instructions of this function and of all
/// it calls.
#[inline(never)]
pub fn measured<R>(f: impl FnOnce() -> R) -> R {
    black_box(f())
}

/// The harness's command line: `list` prints the rows (`index|call|input|bound|unit`),
/// `run INDEX REPS` makes the row's call `REPS` times and prints the units of one call.
pub fn cli<R: Borrow<Row>>(rows: &[R]) {
    // `cargo bench` passes `--bench`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["run", i, reps] => {
            let row: &Row = rows[i.parse::<usize>().expect("row index")].borrow();
            println!("{}", (row.run)(reps.parse().expect("repetitions")));
        }
        _ => {
            for (i, r) in rows.iter().map(Borrow::borrow).enumerate() {
                let r: &Row = r;
                println!("{i}|{}|{}|{}|{}", r.call, r.input, r.bound, r.unit);
            }
        }
    }
}

/// Runs every row once (each row also checks its call's result) and asserts its units
/// against its limit.
pub fn check_bounds(rows: &[Row]) {
    for r in rows {
        let units = (r.run)(1);
        assert!(
            units <= r.limit,
            "{} on {}: {units} {} above the bound {} ({})",
            r.call,
            r.input,
            r.unit,
            r.limit,
            r.bound
        );
    }
}
