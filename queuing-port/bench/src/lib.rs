//! Benchmarks of `queuing-port`: see `benches/` and the crate's `BENCHMARKS.md`; the
//! worst-case work of each port call: [`worst_case`].

pub mod worst_case;
