//! Link-level NIC drivers (virtio-net over MMIO and PCI, e1000, Linux TAP) that treat the
//! device as hostile.
//!
//! Part of [partnet](https://example.invalid/partnet): see the crate README for the
//! feature/support table and what is not supported.
//!
//! # Layers
//!
//! - [`LinkDevice`] ([`link`]): the trait every driver implements — MAC, link state,
//!   capabilities, statistics, and batched receive/transmit with owned slot handles
//!   ([`RxSlot`], [`TxSlot`]) over the driver's private memory.
//! - [`Hal`] ([`hal`]): what the integrator provides — DMA memory and its translation,
//!   `share`/`unshare` for IOMMUs and bounce buffers, register windows ([`RegisterIo`]).
//! - Errors: one [`Error`] enum; device violations are typed errors, never panics.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;

pub mod e1000;
mod error;
pub mod hal;
pub mod link;
#[cfg(any(test, feature = "test-utils"))]
pub mod mock;
pub mod net;
pub mod pci;
pub mod probe;
mod slots;
#[cfg(all(feature = "std", target_os = "linux"))]
pub mod tap;
pub mod transport;

pub use error::Error;
pub use hal::{BufferDirection, Hal, HalError, MmioWindow, RegisterIo};
pub use link::{
    ChecksumCaps, ChecksumRequest, LinkCapabilities, LinkDevice, LinkState, LinkStats, MacAddress,
    PollEvents, RxMeta, RxSlot, TxOptions, TxSlot, MAX_FRAME_LEN, MIN_FRAME_LEN,
};
/// The virtqueue crate this one builds on (memory views, queue configuration), re-exported
/// so integrators implementing [`Hal::Memory`] need no separate dependency.
pub use virtqueue;
