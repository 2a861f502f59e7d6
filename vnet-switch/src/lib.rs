//! The partition-safe virtual Ethernet multiplexer of a service partition.
//!
//! Part of [partnet](https://example.invalid/partnet): see the crate README for the
//! feature/support table and what is not supported.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
