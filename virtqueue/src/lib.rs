//! VirtIO 1.x virtqueues, split and packed, driver side and device side, hardened
//! against a hostile peer. `no_std`, no heap.
//!
//! Part of [partnet](https://example.invalid/partnet): see the crate README for the
//! feature/support table, the validation rules and what is not supported.
//!
//! # Layers
//!
//! - [`layout`]: the wire format (descriptor, avail ring, used ring, event fields) as
//!   little-endian `zerocopy` types, and [`QueueConfig`] (where a transport put the rings).
//! - [`Features`]: the generic feature bits and [`Features::negotiate`].
//! - [`SharedMemory`]: the memory the peer can reach. A peer address range is translated
//!   into a bounds-checked [`VolatileSlice`]; payload is only ever copied through it, never
//!   borrowed as `&[u8]`. [`MemoryRegion`] (offset and identity translation) and
//!   [`MultiRegion`] (several regions, e.g. vhost-user guest memory) are provided.
//! - [`DriverQueue`]: posts chains ([`DriverQueue::add`], [`DriverQueue::publish`]), decides
//!   on notifications ([`DriverQueue::should_notify`]) and takes back validated used
//!   buffers ([`DriverQueue::pop_used`]).
//! - [`DeviceQueue`]: pops validated [`DescriptorChain`]s ([`DeviceQueue::pop`], or
//!   [`DeviceQueue::pop_into`] to refill a reused chain), reads and
//!   writes their payload ([`ChainReader`], [`ChainWriter`]), returns them
//!   ([`DeviceQueue::add_used`], [`DeviceQueue::add_used_batch`]) and runs the notification
//!   loop ([`DeviceQueue::needs_notification`], [`DeviceQueue::enable_notification`]).
//! - [`PackedDriverQueue`] and [`PackedDeviceQueue`]: the same for packed rings (VirtIO
//!   2.8), whose layout types are in [`layout::packed`].
//! - [`AnyDriverQueue`] and [`AnyDeviceQueue`]: either layout behind one type, chosen at
//!   negotiation time from `VIRTIO_F_RING_PACKED`, so drivers and devices are written
//!   once. `IN_ORDER` batches, `NOTIFICATION_DATA` values and per-queue reset
//!   (`RING_RESET`) are available on both layouts.
//! - `mock` (feature `test-utils`): owned memory, a loopback, a raw mock driver and a raw
//!   mock device that can play the malicious peer in other crates' tests.
//!
//! # Trust model
//!
//! Both rings are hostile memory. Every control value (index, id, length, address, flag,
//! `next`) is read exactly once into private memory, validated, then used. The driver
//! keeps its free list and per-chain state privately; the device keeps each chain's
//! segments privately after one validated walk. A bad chain yields a typed [`Error`] and
//! the queue goes on; a broken ring protocol (an index jump, a bogus used id or length)
//! makes the queue `Broken` for good. Every call is O(queue size) at most; batch calls take
//! a budget (the slice length or a count).
//!
//! # Memory ordering (VirtIO 1.x 2.7.13, 2.7.14, 2.7.10, feature bit 36)
//!
//! All fences live in [`ordering`], which documents each one against the specification:
//!
//! - publishing an index (`avail.idx` by the driver, 2.7.13.3; `used.idx` by the device,
//!   2.7.14): release fence, then a relaxed 16-bit atomic store, so the descriptors, avail
//!   entries, used elements and payload written before are visible first;
//! - consuming the peer's index: relaxed load, then acquire fence, before reading the
//!   entries it covers;
//! - notification decisions after publishing (2.7.13.4 driver, 2.7.10 device): a full
//!   (SeqCst) fence between the index store and the load of the peer's event field or
//!   flags;
//! - re-enabling notifications: store the event field or clear the flag, full fence,
//!   re-read the peer's index, and report whether work raced in (no lost wake-up);
//! - `VIRTIO_F_ORDER_PLATFORM`: every fence becomes a full fence plus the platform barrier
//!   (`dmb sy` on AArch64, `fence iorw, iorw` on RISC-V), for peers that are hardware.
//!
//! `tests/loom.rs` model-checks these functions (publish/consume and the EVENT_IDX
//! wake-up race).
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
// Some docs link to items of optional features; with such a feature off the link has
// no target. The `doc` step checks every link with all features on.
#![cfg_attr(
    not(all(feature = "std", feature = "test-utils")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;

mod any;
mod chain;
mod device;
mod driver;
mod error;
mod features;
pub mod layout;
mod memory;
pub mod net;
pub mod ordering;
#[cfg(any(test, feature = "alloc"))]
mod owned;
mod packed;
mod ring;
mod sync;

#[cfg(any(test, feature = "test-utils"))]
pub mod mock;

pub use any::{AnyDeviceQueue, AnyDriverQueue};
pub use chain::{ChainReader, ChainWriter, DescriptorChain, Segment};
pub use device::{DeviceQueue, UsedEntry};
pub use driver::{Buffer, DriverQueue, Token, UsedBuffer};
pub use error::Error;
pub use features::{Features, Negotiated};
pub use layout::{Descriptor, QueueConfig, UsedElem};
pub use memory::{MemoryRegion, MultiRegion, OffsetMemory, SharedMemory, VolatileSlice};
#[cfg(any(test, feature = "alloc"))]
pub use owned::OwnedMemory;
pub use packed::{PackedDeviceQueue, PackedDriverQueue};
