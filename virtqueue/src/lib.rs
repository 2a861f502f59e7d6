//! VirtIO 1.x virtqueues (split and packed), driver side and device side, hardened against a hostile peer.
//!
//! Part of [partnet](https://example.invalid/partnet): see the crate README for the
//! feature/support table and what is not supported.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
