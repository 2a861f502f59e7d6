//! smoltcp (and embassy-net) over every partnet link.
//!
//! Each partition runs its own smoltcp stack with its own MAC and IP, over whatever link
//! it has: a NIC driver, a switch port, a queuing-port channel pair, a virtio-net driver
//! talking to the switch's virtio-net backend.
//!
//! # Design
//!
//! * [`FrameLink`] ([`link`]): the small abstraction every link is mapped onto — owned
//!   receive handles over private memory, transmit slots reserved before the length is
//!   known, a budgeted `service`. Thin impls, each behind its feature:
//!   - `nic-drivers`: [`NicLink`] over any `nic_drivers::LinkDevice` (virtio-net, e1000,
//!     TAP; and so the partition side of a vnet-switch `VirtioNetPort`);
//!   - `vnet-switch`: [`PortPair`], an in-process switch port whose [`SwitchPort`] the
//!     switch owns and whose [`PartitionLink`] the partition's stack uses;
//!   - `queuing-port`: [`QueuingLink`] over one sender and one receiver handle.
//! * [`GlueDevice`] ([`device`]): the one core adapter, a smoltcp `phy::Device` over any
//!   `FrameLink`. Tokens reserve their slot when handed out and give it back on `Drop`
//!   (smoltcp issue 1147); `transmit` returns `None` without a free slot; the MTU is
//!   always set; `max_burst_size` follows the free transmit slots; receive checksums are
//!   verified by the adapter (or the link's offload) and corrupt frames are dropped and
//!   counted ([`NetStats`], per interface, like Zephyr's `net_stats`).
//! * [`EmbassyDevice`] (feature `embassy`): an `embassy_net_driver::Driver` from the same
//!   core, with a stored waker woken by [`EmbassyDevice::on_interrupt`].
//! * [`iface`]: [`build_interface`] from an [`InterfaceConfig`] (MAC, static IPv4/IPv6
//!   or DHCP, routes), [`poll_budget`] within a time budget.
//! * Middlewares: smoltcp's own `PcapWriter`, `Tracer` and `FaultInjector` wrap a
//!   `GlueDevice` unchanged (see the tests). A `FaultInjector` corrupts *received* frames
//!   after the adapter: put a [`ChecksumGuard`] above it to drop and count them (or let
//!   smoltcp verify too with [`RxChecksum::Both`]).
//!
//! `no_std`, no heap: every buffer is inside the adapter or the link (const generics);
//! socket buffers are the caller's.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
// Some docs link to items of optional features; with such a feature off the link has
// no target. The `doc` step checks every link with all features on.
#![cfg_attr(
    not(all(
        feature = "std",
        feature = "nic-drivers",
        feature = "vnet-switch",
        feature = "queuing-port",
        feature = "embassy"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

mod checksum;
mod core;
pub mod device;
#[cfg(feature = "embassy")]
mod embassy;
mod guard;
pub mod iface;
pub mod link;
mod links;
mod stats;

pub use device::{
    DeviceConfig, GlueDevice, RxChecksum, RxToken, TxToken, MAX_ETHERNET_MTU, MIN_ETHERNET_MTU,
};
#[cfg(feature = "embassy")]
pub use embassy::{EmbassyDevice, EmbassyRxToken, EmbassyTxToken};
pub use guard::{ChecksumGuard, GuardRxToken, GuardStats};
pub use iface::{
    add_dhcp, build_interface, dhcp_step, poll_budget, DhcpChange, InterfaceConfig, Ipv4Setup,
    PollReport, PollStop, SetupError,
};
pub use link::{FrameLink, LinkCaps, LinkError, RxInfo, MAX_FRAME, MIN_FRAME};
#[cfg(feature = "nic-drivers")]
pub use links::nic::NicLink;
#[cfg(feature = "vnet-switch")]
pub use links::pair::{
    FaultCounts, Faults, PairFrame, PairSlot, PartitionLink, PortPair, SwitchPort,
};
#[cfg(feature = "queuing-port")]
pub use links::queuing::{QueuingCredit, QueuingFrame, QueuingLink, QueuingLinkStats};
pub use stats::{DropReason, Drops, NetStats};

/// smoltcp, re-exported so integrators use the same version.
pub use smoltcp;
