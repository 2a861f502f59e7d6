#![doc = include_str!("../README.md")]
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;

#[macro_use]
mod event;

mod dma_pool;
pub mod e1000;
mod error;
pub mod hal;
mod identity;
pub mod link;
#[cfg(any(test, feature = "test-utils"))]
pub mod mock;
pub mod net;
pub mod pci;
mod slots;
#[cfg(all(feature = "std", target_os = "linux"))]
pub mod tap;
pub mod transport;
#[cfg(target_arch = "x86_64")]
mod x86_ports;

pub use dma_pool::DmaPool;
pub use error::Error;
/// The frame boundary crate every driver here implements, re-exported for its other
/// items (the in-memory `PortPair`, `FrameLinkExt`, `link_enum!`).
pub use frame_link;
pub use hal::{BufferDirection, Hal, HalError, MmioWindow, RegisterIo};
pub use identity::IdentityHal;
pub use link::{
    Checksum, ChecksumCaps, ErrorKind, FilterCaps, FrameLink, FrameMeta, LinkCaps, LinkFault,
    LinkState, LinkStats, MacAddress, NicControl, PartialChecksum, RxSlot, TxSlot, MAX_FRAME,
    MIN_FRAME,
};
/// The virtqueue crate this one builds on (memory views, queue configuration), re-exported
/// so integrators implementing [`Hal::Memory`] need no separate dependency.
pub use virtqueue;
#[cfg(target_arch = "x86_64")]
pub use x86_ports::X86Ports;
