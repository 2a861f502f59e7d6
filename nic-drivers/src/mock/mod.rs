//! Test doubles (feature `test-utils`) for this crate's and other crates' tests:
//!
//! - [`FakeHal`]: DMA memory on the heap with a bump allocator, optional IOVA offset
//!   (so `share` really translates) and counters of allocations and shares;
//! - [`FakeTransport`] over a [`FakeDeviceState`]: the registers of a VirtIO device,
//!   with a notification hook that runs a device model synchronously;
//! - [`NetDeviceModel`]: a virtio-net device built on `virtqueue`'s device side
//!   ([`virtqueue::DeviceQueue`]) over the same memory: it receives what the driver
//!   transmits, delivers injected frames (merging buffers with `MRG_RXBUF`), answers
//!   control commands, and can misbehave on request;
//! - [`NetMachine`]: a `FakeHal` and a `FakeDeviceState` in one value, the driver up in
//!   one call;
//! - [`FakeConfigSpace`]: PCI configuration space with BARs that decode, for
//!   [`PciRoot::discover`](crate::pci::PciRoot::discover).
//!
//! Malicious tests combine these with `virtqueue::mock::MockDevice` for raw used-ring
//! writes ([`FakeDeviceState::queue`] gives the ring addresses).

mod hal;
mod machine;
mod model;
mod pci;
mod transport;

pub use hal::{FakeHal, FakeMmio, NoMmio};
pub use machine::{NetMachine, DMA_BASE, DMA_LEN};
pub use model::NetDeviceModel;
pub use pci::FakeConfigSpace;
pub use transport::{FakeDeviceState, FakeTransport};
