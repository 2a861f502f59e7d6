//! Benchmarks of `queuing-port`: see `benches/` and the crate's `BENCHMARKS.md`.
