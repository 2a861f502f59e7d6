//! Benchmarks of `virtqueue`: see `benches/compare.rs` and the crate's `BENCHMARKS.md`;
//! the worst-case work of each bounded call: [`worst_case`] (harness kit: [`kit`]).

pub mod kit;
pub mod worst_case;
