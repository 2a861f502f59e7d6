#![doc = include_str!("../README.md")]
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[macro_use]
mod event;

#[cfg(any(feature = "virtqueue", feature = "queuing-port"))]
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
