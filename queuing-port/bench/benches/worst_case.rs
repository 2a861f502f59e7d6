//! The worst-case harness of `queuing-port` (run by `cargo xtask worst-case`; see
//! `queuing_port_bench::worst_case`).
fn main() {
    virtqueue_bench::kit::cli(queuing_port_bench::worst_case::ROWS);
}
