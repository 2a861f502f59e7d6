//! What every driver of this crate is: a [`FrameLink`] for frames, and a [`NicControl`]
//! for what only a NIC has (station address, counters, receive filters).
//!
//! The frame boundary is the one of the `frame-link` crate: its trait, slot handles,
//! [`MacAddress`], [`FrameMeta`] and frame sizes are re-exported here, so a driver plugs
//! straight into anything that takes a link (a switch as its uplink, a network stack)
//! with no adapter in between.
//!
//! # What the drivers add to the [`FrameLink`] contract
//!
//! - **Private memory only.** [`FrameLink::rx_frame`] returns bytes the driver copied
//!   out of device-writable memory into its own; the device can no longer write them. A
//!   transmitted frame is copied into device-readable memory by [`FrameLink::tx_write`];
//!   the driver never reads it back.
//! - **Batched notification.** [`FrameLink::tx_commit`] hands the frame to the device's
//!   ring; the device is notified (kicked, tail register written, or the frame written to
//!   the kernel) by [`FrameLink::service`], once for all frames committed since the last
//!   call. `service(budget)` also takes back at most `budget` transmitted buffers and
//!   publishes reposted receive buffers.
//! - **Hostile device.** Whatever the device writes (descriptor write-backs, lengths,
//!   headers, configuration) is validated; a violation is a typed [`crate::Error`] (its
//!   [`LinkFault::kind`] is [`ErrorKind::Peer`]), counted in
//!   [`LinkStats::device_errors`], and never a panic.

pub use frame_link::{
    Checksum, ChecksumCaps, ErrorKind, FrameLink, FrameMeta, LinkCaps, LinkFault, LinkState,
    MacAddress, PartialChecksum, RxSlot, TxSlot, MAX_FRAME, MIN_FRAME,
};

use crate::Error;

/// Counters kept by the driver (private memory; wrapping 64-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Frames handed to the caller.
    pub rx_frames: u64,
    /// Bytes handed to the caller.
    pub rx_bytes: u64,
    /// Frames the device delivered but the driver dropped (no private slot, too long).
    pub rx_dropped: u64,
    /// Frames handed to the device.
    pub tx_frames: u64,
    /// Bytes handed to the device.
    pub tx_bytes: u64,
    /// Transmit attempts refused for lack of room.
    pub tx_busy: u64,
    /// Device protocol violations detected (each also returned as an error).
    pub device_errors: u64,
}

/// Receive filters and station-address changes a NIC supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilterCaps {
    /// The device can receive every frame on the wire ([`NicControl::set_promiscuous`]).
    pub promiscuous: bool,
    /// The device can receive all multicast frames ([`NicControl::set_all_multicast`]).
    pub all_multicast: bool,
    /// The station address can be changed ([`NicControl::set_mac_address`]).
    pub mac_settable: bool,
}

/// What a NIC driver offers besides frames: its station address, counters and receive
/// filters. Frames go through the [`FrameLink`] supertrait.
pub trait NicControl: FrameLink<Error = Error> {
    /// The station address the device uses (as reported by it, or as last set). The
    /// default: the one in [`FrameLink::caps`] (all zero if there is none).
    fn mac_address(&self) -> MacAddress {
        self.caps().mac.unwrap_or(MacAddress::ZERO)
    }

    /// Counters.
    fn stats(&self) -> LinkStats;

    /// The receive filters and address changes the device supports.
    fn filter_caps(&self) -> FilterCaps;

    /// Receive every frame on the wire (a switch uplink needs it).
    fn set_promiscuous(&mut self, on: bool) -> Result<(), Error> {
        let _ = on;
        Err(Error::Unsupported {
            what: "promiscuous mode",
        })
    }

    /// Receive all multicast frames.
    fn set_all_multicast(&mut self, on: bool) -> Result<(), Error> {
        let _ = on;
        Err(Error::Unsupported {
            what: "all-multicast mode",
        })
    }

    /// Change the station address.
    fn set_mac_address(&mut self, mac: MacAddress) -> Result<(), Error> {
        let _ = mac;
        Err(Error::Unsupported {
            what: "setting the MAC address",
        })
    }
}
