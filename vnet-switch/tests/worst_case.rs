//! The switch's and the virtio-net port's work on their worst inputs, in the units of
//! their documented bounds (the rows of the worst-case harness, `benches/worst_case/`).
#[path = "../benches/worst_case/rows.rs"]
mod rows;
#[path = "../benches/worst_case/virtio_net.rs"]
mod virtio_net;

// Work units, not memory safety: Miri runs the hostile-peer tests of the same code.
#[test]
#[cfg_attr(miri, ignore = "counts work units; slow under Miri")]
fn poll_stays_within_its_documented_bound() {
    virtqueue_bench::kit::check_bounds(rows::ROWS);
}

#[test]
#[cfg_attr(miri, ignore = "counts work units; slow under Miri")]
fn virtio_net_port_calls_stay_within_their_documented_bound() {
    virtqueue_bench::kit::check_bounds(virtio_net::ROWS);
}
