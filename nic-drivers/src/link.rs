//! The link-level device trait every driver of this crate implements, and its small
//! value types (MAC address, link state, capabilities, statistics, slot handles).
//!
//! # Contract
//!
//! - **Owned slot handles.** A received frame is an [`RxSlot`], a frame being built is a
//!   [`TxSlot`]. Neither is `Clone`: a slot is given back exactly once
//!   ([`LinkDevice::rx_release`], [`LinkDevice::tx_commit`] or [`LinkDevice::tx_abort`]).
//! - **Private memory only.** [`LinkDevice::rx_frame`] returns bytes the driver copied
//!   into its own memory; the device can no longer write them. A transmitted frame is
//!   copied into device-readable memory by [`LinkDevice::tx_write`]; the driver never
//!   reads it back.
//! - **Bounded work.** Every call does a bounded amount of work; [`LinkDevice::poll`]
//!   takes a budget, `rx_take`/`tx_reserve` handle one frame each.
//! - **Hostile device.** Whatever the device writes (descriptor write-backs, lengths,
//!   headers, configuration) is validated; a violation is a typed [`crate::Error`],
//!   counted in [`LinkStats::device_errors`], and never a panic.
//!
//! The shape follows the port endpoint of `vnet-switch` (`rx_take`, `rx_frame`,
//! `rx_release`, `tx_reserve`, `tx_write`, `tx_commit`, `tx_abort`), so an adapter
//! between a NIC and a switch uplink is a thin mapping.

use core::fmt;

use crate::Error;

/// Largest Ethernet frame (without FCS) the drivers of this crate hand out or accept:
/// 14-byte header, one 802.1Q tag, 1500 bytes of payload.
pub const MAX_FRAME_LEN: usize = 1518;

/// Smallest frame accepted for transmission (an Ethernet header).
pub const MIN_FRAME_LEN: usize = 14;

/// A 48-bit Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddress = MacAddress([0xff; 6]);

    /// Whether the group (multicast) bit is set.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// Whether this is a usable unicast station address (not multicast, not all zero).
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && self.0 != [0; 6]
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Physical link state as the device reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Link up.
    Up,
    /// Link down.
    Down,
    /// The device does not report link state (assume up).
    Unknown,
}

/// Checksum offloads a device provides (what the driver negotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChecksumCaps {
    /// The device can complete a partial TCP/UDP checksum on transmit
    /// ([`TxOptions::checksum`]).
    pub tx_partial: bool,
    /// The device may mark received frames' checksums as verified ([`RxMeta`]).
    pub rx_verified: bool,
}

/// What a link device can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkCapabilities {
    /// IP MTU (payload bytes after the Ethernet header), at most 1500 here.
    pub mtu: u16,
    /// Largest frame (without FCS) [`LinkDevice::tx_reserve`] accepts and `rx_frame` returns.
    pub max_frame_len: u16,
    /// Checksum offloads.
    pub checksum: ChecksumCaps,
    /// The device can receive every frame on the wire ([`LinkDevice::set_promiscuous`]).
    pub promiscuous: bool,
    /// The device can receive all multicast frames ([`LinkDevice::set_all_multicast`]).
    pub all_multicast: bool,
    /// The station address can be changed ([`LinkDevice::set_mac_address`]).
    pub mac_settable: bool,
}

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

/// A received frame held in the driver's private memory. Not `Clone`: give it back with
/// [`LinkDevice::rx_release`].
#[derive(Debug, PartialEq, Eq)]
pub struct RxSlot {
    index: u16,
    len: u16,
}

impl RxSlot {
    /// A slot handle (drivers only; a made-up handle is rejected by `rx_frame`).
    pub const fn new(index: u16, len: u16) -> Self {
        RxSlot { index, len }
    }

    /// Index of the private slot.
    pub const fn index(&self) -> u16 {
        self.index
    }

    /// Frame length in bytes.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the frame is empty (never for a frame a driver handed out).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A transmit buffer reserved for one frame. Not `Clone`: give it back with
/// [`LinkDevice::tx_commit`] or [`LinkDevice::tx_abort`].
#[derive(Debug, PartialEq, Eq)]
pub struct TxSlot {
    index: u16,
    len: u16,
}

impl TxSlot {
    /// A slot handle (drivers only).
    pub const fn new(index: u16, len: u16) -> Self {
        TxSlot { index, len }
    }

    /// Index of the transmit buffer.
    pub const fn index(&self) -> u16 {
        self.index
    }

    /// Reserved frame length in bytes.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the reserved length is zero (never for a reservation that succeeded).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Per-frame receive metadata (validated device header fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxMeta {
    /// The device verified the frame's TCP/UDP checksum.
    pub checksum_verified: bool,
    /// The device left a partial checksum to complete (`NEEDS_CSUM`): the checksum field
    /// at `start + offset` holds only the pseudo-header sum. `None` otherwise.
    pub checksum_partial: Option<ChecksumRequest>,
}

/// A partial checksum: sum from byte `start` to the end, store at `start + offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumRequest {
    /// First byte summed.
    pub start: u16,
    /// Offset of the 16-bit checksum field from `start`.
    pub offset: u16,
}

/// Per-frame transmit options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxOptions {
    /// Let the device complete a partial checksum (needs [`ChecksumCaps::tx_partial`]).
    pub checksum: Option<ChecksumRequest>,
}

/// What one [`LinkDevice::poll`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollEvents {
    /// Transmitted buffers taken back from the device.
    pub tx_completed: u16,
    /// Receive buffers (re)posted to the device by this call.
    pub rx_posted: u16,
    /// Received frames are known to be waiting for [`LinkDevice::rx_take`] (the last
    /// `rx_take` stopped for lack of a free private slot).
    pub rx_ready: bool,
}

/// The link-level device every NIC driver of this crate implements.
pub trait LinkDevice {
    /// The station address the device uses (as reported by it, or as last set).
    fn mac_address(&self) -> MacAddress;

    /// The link state (may read a device register: bounded, no waiting).
    fn link_state(&mut self) -> LinkState;

    /// MTU, frame size and offloads.
    fn capabilities(&self) -> LinkCapabilities;

    /// Counters.
    fn stats(&self) -> LinkStats;

    /// Bounded housekeeping: take back at most `budget` transmitted buffers, repost
    /// receive buffers, kick the device if it needs it.
    fn poll(&mut self, budget: u16) -> Result<PollEvents, Error>;

    /// Take one received frame into a private slot: `Ok(None)` when none is waiting or no
    /// private slot is free. The device's buffer is reposted at once.
    fn rx_take(&mut self) -> Result<Option<RxSlot>, Error>;

    /// The bytes of a received frame (private memory). Empty for a handle this device did
    /// not hand out.
    fn rx_frame(&self, slot: &RxSlot) -> &[u8];

    /// Validated metadata of a received frame.
    fn rx_meta(&self, slot: &RxSlot) -> RxMeta {
        let _ = slot;
        RxMeta::default()
    }

    /// Give a received frame's private slot back.
    fn rx_release(&mut self, slot: RxSlot);

    /// Reserve a transmit buffer for a frame of `len` bytes: `Ok(None)` when the device
    /// has no free buffer (counted in [`LinkStats::tx_busy`]); an error for a length
    /// outside `MIN_FRAME_LEN..=max_frame_len`.
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, Error>;

    /// Copy `data` into the reserved frame at `offset` (must stay inside the reservation).
    fn tx_write(&mut self, slot: &TxSlot, offset: usize, data: &[u8]) -> Result<(), Error>;

    /// Hand the frame to the device with options (checksum offload).
    fn tx_commit_with(&mut self, slot: TxSlot, options: TxOptions) -> Result<(), Error>;

    /// Hand the frame to the device. It is visible to the device at once; the device is
    /// kicked at the latest by [`LinkDevice::tx_flush`] or [`LinkDevice::poll`].
    fn tx_commit(&mut self, slot: TxSlot) -> Result<(), Error> {
        self.tx_commit_with(slot, TxOptions::default())
    }

    /// Give a reservation back unsent.
    fn tx_abort(&mut self, slot: TxSlot);

    /// Kick the device for committed frames if it asked for notifications.
    fn tx_flush(&mut self) -> Result<(), Error>;

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
