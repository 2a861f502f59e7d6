//! The worst-case harness of `vnet-switch` (run by `cargo xtask worst-case`; the rows
//! are in `worst_case/rows.rs`).
#[path = "worst_case/rows.rs"]
mod rows;

fn main() {
    virtqueue_bench::kit::cli(rows::ROWS);
}
