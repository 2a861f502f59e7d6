//! The worst-case harness of `vnet-switch` (run by `cargo xtask worst-case`; the rows
//! are in `worst_case/`).
#[path = "worst_case/rows.rs"]
mod rows;
#[path = "worst_case/virtio_net.rs"]
mod virtio_net;

fn main() {
    let rows: Vec<_> = rows::ROWS.iter().chain(virtio_net::ROWS).collect();
    virtqueue_bench::kit::cli(&rows);
}
