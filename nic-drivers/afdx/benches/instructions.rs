//! Instruction counts per frame under callgrind (load-independent, unlike wall time on a
//! shared machine): `AFDX_OP=tx|rx|memcpy AFDX_LEN=n AFDX_N=count` runs `count`
//! operations after a warm-up of 1000; the per-frame count is
//! `(Ir(count) - Ir(0)) / count`. `BENCHMARKS.md` has the script.
#![allow(missing_docs)]

mod setup;

use setup::{Copy, Rx, Tx, SIZES};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let op = std::env::var("AFDX_OP").unwrap_or_else(|_| "tx".into());
    let len = env("AFDX_LEN", SIZES[0]);
    let n = env("AFDX_N", 0);
    match op.as_str() {
        "tx" => {
            let mut t = Tx::new(len);
            (0..1000 + n).for_each(|_| {
                t.one();
            });
        }
        "rx" => {
            let mut r = Rx::new(len);
            (0..1000 + n).for_each(|_| {
                r.one();
            });
        }
        _ => {
            let mut c = Copy::new(len);
            (0..1000 + n).for_each(|_| c.one());
        }
    }
}
