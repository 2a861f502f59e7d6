#![doc = include_str!("../README.md")]
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;

#[macro_use]
mod event;

mod chain;
#[macro_use]
mod device;
mod any;
mod driver;
mod error;
mod features;
mod handle;
pub mod layout;
mod memory;
pub mod net;
pub mod ordering;
#[cfg(any(test, feature = "alloc"))]
mod owned;
mod packed;
mod ring;
pub mod shm;
mod status;
mod sync;

#[cfg(any(test, feature = "test-utils"))]
pub mod mock;

pub use any::{AnyDeviceQueue, AnyDriverQueue};
pub use chain::{ChainReader, ChainWriter, DescriptorChain, Segment};
pub use device::{DeviceQueue, DeviceSession, UsedEntry};
pub use driver::{Buffer, DriverQueue, Token, UsedBuffer};
pub use error::Error;
pub use features::{Features, Negotiated};
pub use handle::MemoryHandle;
pub use layout::{Descriptor, QueueConfig, UsedElem};
pub use memory::{MemoryRegion, MultiRegion, OffsetMemory, SharedMemory, VolatileSlice};
#[cfg(any(test, feature = "alloc"))]
pub use owned::OwnedMemory;
pub use packed::{PackedDeviceQueue, PackedDeviceSession, PackedDriverQueue};
pub use status::{DeviceStatus, InterruptStatus};
