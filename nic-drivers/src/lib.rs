//! Link-level NIC drivers (virtio-net over MMIO and PCI, e1000, Linux TAP) that treat the
//! device as hostile.
//!
//! Part of [partnet](https://example.invalid/partnet): see the crate README for the
//! feature/support table and what is not supported.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
