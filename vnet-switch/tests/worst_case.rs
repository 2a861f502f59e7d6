//! `Switch::poll`'s work on its worst input, in the units of its documented bound (the
//! rows of the worst-case harness, `benches/worst_case/rows.rs`).
#[path = "../benches/worst_case/rows.rs"]
mod rows;

#[test]
fn poll_stays_within_its_documented_bound() {
    virtqueue_bench::kit::check_bounds(rows::ROWS);
}
