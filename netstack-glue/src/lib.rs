//! smoltcp (and embassy-net) over every partnet link.
//!
//! Each partition runs its own smoltcp stack with its own MAC and IP, over whatever link
//! it has: a NIC driver, a switch port, a queuing-port channel pair, a virtio-net driver
//! talking to the switch's virtio-net backend.
//!
//! # Design
//!
//! * The link is `frame_link::FrameLink`, the one frame boundary of partnet: a NIC driver
//!   of `nic-drivers` (virtio-net, e1000, TAP), a switch port, the in-memory
//!   [`PortPair`] of two partitions in one program, or, behind feature `queuing-port`,
//!   [`QueuingLink`] over one sender and one receiver handle of a queuing-port channel
//!   pair. This crate depends on none of their crates.
//! * [`GlueDevice`] ([`device`]): the one core adapter, a smoltcp `phy::Device` over any
//!   `FrameLink`. Tokens reserve their slot (of the MTU) when handed out, the frame is
//!   committed at its real length, and an unused token gives its slot back on `Drop`
//!   (smoltcp issue 1147); `transmit` returns `None` without a free slot; the MTU is
//!   always set; `max_burst_size` follows the free transmit slots; receive checksums are
//!   verified by the adapter (or the link's offload) and corrupt frames are dropped and
//!   counted ([`NetStats`], per interface, like Zephyr's `net_stats`).
//! * [`EmbassyDevice`] (feature `embassy`): an `embassy_net_driver::Driver` from the same
//!   core, with a stored waker woken by [`EmbassyDevice::on_interrupt`].
//! * [`iface`]: [`build_interface`] from an [`InterfaceConfig`] (MAC, static IPv4/IPv6
//!   or DHCP, routes), [`poll_budget`] within a time budget.
//! * [`Stack`] (feature `alloc`): a partition's whole stack in one value (interface,
//!   sockets, device over any link) with socket helpers and a poll that services the
//!   link.
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
    not(all(feature = "std", feature = "queuing-port", feature = "embassy")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod checksum;
mod core;
pub mod device;
#[cfg(feature = "embassy")]
mod embassy;
mod guard;
pub mod iface;
mod links;
#[cfg(feature = "alloc")]
pub mod stack;
mod stats;

pub use device::{
    DeviceConfig, GlueDevice, RxChecksum, RxToken, TxToken, MAX_ETHERNET_MTU, MIN_ETHERNET_MTU,
};
#[cfg(feature = "embassy")]
pub use embassy::{EmbassyDevice, EmbassyRxToken, EmbassyTxToken};
/// The frame boundary crate, re-exported so integrators name the same types.
pub use frame_link;
pub use frame_link::{
    ErrorKind, FrameLink, LinkCaps, LinkFault, MacAddress, PairEnd, PortPair, MAX_FRAME, MIN_FRAME,
};
pub use guard::{ChecksumGuard, GuardRxToken, GuardStats};
pub use iface::{
    add_dhcp, build_interface, dhcp_step, poll_budget, DhcpChange, InterfaceConfig, Ipv4Setup,
    PollReport, PollStop, SetupError,
};
#[cfg(feature = "queuing-port")]
pub use links::queuing::{QueuingLink, QueuingLinkError, QueuingLinkStats};
#[cfg(feature = "alloc")]
pub use stack::Stack;
pub use stats::{DropReason, Drops, NetStats};

/// smoltcp, re-exported so integrators use the same version.
pub use smoltcp;
