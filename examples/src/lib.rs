//! The four-partition system built from partnet crates.
//!
//! * [`shm_virtio`]: virtio over shared memory (driver transport, HAL, device side).
#![deny(unsafe_code)]

pub mod pcapng;
pub mod service;
pub mod shm_virtio;
pub mod wire;
