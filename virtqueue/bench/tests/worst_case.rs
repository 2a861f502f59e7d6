//! Each bounded call's work on its worst input, in the units of its documented bound.
use virtqueue_bench::kit::check_bounds;
use virtqueue_bench::worst_case::ROWS;

#[test]
fn every_call_stays_within_its_documented_bound() {
    check_bounds(ROWS);
}
