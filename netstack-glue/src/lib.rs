#![doc = include_str!("../README.md")]
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]

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
pub use stats::{AdapterDrop, AdapterStats, Drops};

/// smoltcp, re-exported so integrators use the same version.
pub use smoltcp;
