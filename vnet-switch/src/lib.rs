//! The partition-safe virtual Ethernet multiplexer of a service partition.
//!
//! One physical NIC (the uplink) is shared by several partitions, each with its own MAC,
//! plus a monitor port for development tools. The switch forwards by destination MAC
//! within VLANs, enforces each port's policy (anti-spoofing, VLAN membership, frame size,
//! EtherTypes, link-control frames, claimed priority, isolation, rate budget, learning
//! quota), schedules egress by 802.1p traffic class, mirrors traffic with its verdict and
//! counts every drop by reason.
//!
//! * Ports are [`FrameLink`]s (the `frame-link` crate, re-exported as [`frame_link`]):
//!   a NIC driver, a channel or a test double plugs in as it is; owned slot handles
//!   ([`RxSlot`], [`TxSlot`]), no lifetimes, no `unsafe`. [`Switch::poll`] calls every
//!   port's [`FrameLink::service`] once per poll; ports of different kinds share a switch
//!   through [`frame_link::link_enum!`].
//! * [`SwitchBuilder`] → [`Switch`]: configuration is validated once, errors are typed
//!   ([`ConfigError`]); [`Switch::poll`] does bounded work.
//! * [`wire`]: Ethernet II / 802.1Q parsing into a private, validated header.
//! * [`pcap`]: a `no_std` pcap writer (nanosecond timestamps) over a [`pcap::PcapSink`].
//! * [`pcapng`]: a `no_std` pcapng writer that keeps each frame's port, direction and
//!   verdict (Wireshark shows why a frame was dropped), and a reader for it.
//! * `mem` (feature `test-utils`): an in-memory port with fault hooks.
//! * `adapters` (features `virtqueue`, `queuing-port`, `vhost-user`): a virtio-net
//!   device backend port, a queuing-port channel pair port and a vhost-user backend.
//!
//! `no_std`, no heap: every table, queue and buffer has a capacity fixed at compile time.
//!
//! Part of [partnet](https://example.invalid/partnet): see the crate README for the
//! feature/support table and what is not supported.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
// Some docs link to items of optional features; with such a feature off the link has
// no target. The `doc` step checks every link with all features on.
#![cfg_attr(
    not(all(
        feature = "std",
        feature = "virtqueue",
        feature = "queuing-port",
        feature = "vhost-user"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg(any(feature = "virtqueue", feature = "queuing-port"))]
#[macro_use]
mod event;

pub mod adapters;
mod builder;
mod error;
mod forward;
mod mac_table;
#[cfg(any(test, feature = "test-utils"))]
pub mod mem;
pub mod monitor;
pub mod pcap;
pub mod pcapng;
mod policy;
mod ring;
mod stats;
pub mod switch;
pub mod wire;

pub use builder::{SwitchBuilder, DEFAULT_AGE_NS};
pub use error::{ConfigError, GroupError};
pub use frame_link;
pub use frame_link::{
    ErrorKind, FrameLink, FrameMeta, LinkCaps, LinkFault, RxSlot, TxSlot, MAX_FRAME,
};
pub use mac_table::PROBE_LIMIT;
pub use monitor::{Direction, NoTap, Tap, TapEvent, Verdict};
pub use policy::{
    Mirror, PortConfig, RateLimit, Role, VlanMode, VlanSet, MAX_CLASSES, MAX_ETHERTYPES,
    MAX_FRAME_LIMIT, MAX_GROUPS, MIN_FRAME_LIMIT,
};
pub use stats::{DropReason, PortStats, LINK_ERROR_KINDS};
pub use switch::{PortId, Switch, BURST};
pub use wire::MacAddress;
