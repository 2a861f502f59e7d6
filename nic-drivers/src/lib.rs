//! Link-level NIC drivers (virtio-net over MMIO and PCI, e1000, Linux TAP) that treat the
//! device as hostile.
//!
//! Part of [partnet](https://example.invalid/partnet): see the crate README for the
//! feature/support table and what is not supported.
//!
//! # Layers
//!
//! - [`FrameLink`] ([`link`], from the `frame-link` crate): the frame trait every driver
//!   implements — owned slot handles ([`RxSlot`], [`TxSlot`]) over the driver's private
//!   memory, offload metadata ([`FrameMeta`]), capabilities, link state, and a budgeted
//!   `service` that kicks the device once per batch. [`NicControl`]: station address,
//!   counters ([`LinkStats`]) and receive filters.
//! - [`Hal`] ([`hal`]): what the integrator provides — DMA memory and its translation,
//!   `share`/`unshare` for IOMMUs and bounce buffers, register windows ([`RegisterIo`]).
//!   [`IdentityHal`] is a ready-made one for identity-mapped bare metal with a DMA pool.
//! - [`transport`]: VirtIO transports (virtio-mmio v2 and legacy v1, virtio-pci modern)
//!   behind [`transport::Transport`]; [`pci`]: configuration space (ECAM, x86 port I/O),
//!   enumeration, capabilities, BARs.
//! - [`net`]: the virtio-net driver [`net::VirtioNet`].
//! - `mock` (feature `test-utils`): a fake HAL, a fake transport and an in-process
//!   virtio-net device model on `virtqueue`'s device side, for tests of this crate and
//!   of the crates above it.
//! - Errors: one [`Error`] enum; device violations are typed errors, never panics.
//!
//! # Bringing up virtio-net on bare metal (QEMU riscv64 `virt`, virtio-mmio)
//!
//! ```text
//! let hal = unsafe { IdentityHal::new(dma_pool) };            // &'static mut [u8]
//! for slot in 0..8 {
//!     let regs = hal.mmio_map(0x1000_1000 + slot * 0x1000, mmio::WINDOW_LEN)?;
//!     let Ok(t) = MmioTransport::new(regs) else { continue };  // empty slot
//!     if t.device_type() != DEVICE_TYPE_NET { continue }
//!     let mut net: VirtioNet<'_, _, _> = VirtioNet::new(&hal, t, NetConfig::default())?;
//!     let mac = net.mac_address();
//!     // FrameLink: tx_reserve / tx_write / tx_commit, rx_take / rx_frame / rx_release,
//!     // service(budget) (publishes and kicks once per batch)
//! }
//! ```
//!
//! Over PCI: `PciRoot::new(Ecam::new(hal.mmio_map(ecam_base, ecam_len)?))`, find the
//! function with [`PciRoot::enumerate`](pci::PciRoot::enumerate) and
//! [`virtio_device_type`](transport::pci::virtio_device_type), give it BARs with
//! [`PciRoot::assign_bars`](pci::PciRoot::assign_bars) when no firmware did, then
//! [`PciTransport::probe`](transport::pci::PciTransport::probe).
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
