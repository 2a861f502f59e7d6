//! smoltcp (and embassy-net) over every partnet link.
//!
//! Work in progress: see issue 6.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
