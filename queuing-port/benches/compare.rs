//! Placeholder, replaced by the comparison bench.
fn main() {}
