//! The four-partition system built from partnet crates: the hosted demo, the
//! multi-process variant, and the pieces they share (see the crate README).
//!
//! * [`service`]: the service partition (switch, ports, poll loop, statistics table);
//!   the uplink is a NIC driver as it is (drivers are `FrameLink`s).
//! * [`node`] and [`checks`]: a partition's smoltcp stack and the checks run on it.
//! * [`hosted`] and [`multi`]: the two demos; [`wire`], [`shm_file`]: helpers.
//! * [`afdx_demo`]: two AFDX end systems over redundant networks A and B.
#![deny(unsafe_code)]

pub mod afdx_demo;
pub mod checks;
pub mod cli;
pub mod hosted;
pub mod multi;
pub mod node;
pub mod service;
pub mod shm_file;
pub mod wire;
