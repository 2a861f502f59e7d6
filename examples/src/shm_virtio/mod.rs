//! Virtio over shared memory: the transport between partition A's ordinary virtio-net
//! driver and the service partition's virtio-net device port.
//!
//! One region holds a register block ([`layout`]) and the DMA area. The partition runs
//! [`nic_drivers::net::VirtioNet`] over [`ShmTransport`] (its `Transport`) and
//! [`ShmHal`] (its `Hal`, allocating rings and buffers in the DMA area); the service
//! partition runs [`ShmDevice`], which validates the registers once per poll and serves
//! the rings with a `vnet_switch` `VirtioNetPort`. The same code works inside one process
//! (the hosted demo) and across processes (a shared-memory file, the multi-process demo).

pub mod device;
pub mod driver;
pub mod hal;
pub mod layout;

pub use device::{DeviceState, ShmDevice, ShmDeviceError, ShmDeviceStats};
pub use driver::ShmTransport;
pub use hal::ShmHal;
