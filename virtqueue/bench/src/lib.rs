//! Benchmarks of `virtqueue`: see `benches/compare.rs` and the crate's `BENCHMARKS.md`.
