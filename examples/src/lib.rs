//! The four-partition system built from partnet crates.
//!
//! Work in progress: see issue 7.
