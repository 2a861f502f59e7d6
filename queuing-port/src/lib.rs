//! ARINC 653 sampling and queuing ports over shared memory, safe against a hostile peer.
//!
//! Part of [partnet](https://example.invalid/partnet): see the crate README for the
//! feature/support table and what is not supported.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
