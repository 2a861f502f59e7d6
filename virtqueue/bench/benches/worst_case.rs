//! The worst-case harness of `virtqueue` (run by `cargo xtask worst-case`; see
//! `virtqueue_bench::worst_case`).
fn main() {
    virtqueue_bench::kit::cli(virtqueue_bench::worst_case::ROWS);
}
