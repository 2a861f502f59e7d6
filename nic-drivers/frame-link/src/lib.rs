#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod caps;
mod enum_link;
mod error;
mod ext;
mod link;
mod mac;
mod meta;
mod pair;
mod rx_slots;
mod slot;

pub use caps::{ChecksumCaps, GsoCaps, LinkCaps, LinkState};
pub use error::{ErrorKind, LinkError, LinkFault};
pub use ext::FrameLinkExt;
pub use link::FrameLink;
pub use mac::{MacAddress, ParseMacError};
pub use meta::{Checksum, FrameMeta, Gso, GsoKind, PartialChecksum};
pub use pair::{End, PairEnd, PortPair, PAIR_TAKEN};
#[cfg(feature = "test-utils")]
pub use pair::{FaultCounts, Faults, Odds};
pub use rx_slots::RxSlots;
pub use slot::{RxSlot, TxSlot};

/// Bytes of an untagged Ethernet header (destination, source, EtherType).
pub const HEADER_LEN: usize = 14;
/// Bytes of one 802.1Q tag.
pub const TAG_LEN: usize = 4;
/// The standard Ethernet MTU: IP bytes after the header.
pub const ETHERNET_MTU: usize = 1500;
/// The largest standard frame without FCS: header, one 802.1Q tag, [`ETHERNET_MTU`]
/// bytes of payload.
pub const MAX_FRAME: usize = HEADER_LEN + TAG_LEN + ETHERNET_MTU;
/// The smallest frame a link takes: an Ethernet header.
pub const MIN_FRAME: usize = HEADER_LEN;
