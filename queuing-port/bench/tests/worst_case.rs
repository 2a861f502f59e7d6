//! Each port call's work on its worst input, in the units of its documented bound.

#[test]
fn every_call_stays_within_its_documented_bound() {
    virtqueue_bench::kit::check_bounds(queuing_port_bench::worst_case::ROWS);
}
