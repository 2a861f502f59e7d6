//! A switch port over any `nic_drivers::LinkDevice`: the uplink (a virtio-net or e1000
//! NIC on bare metal, a TAP device on a Linux host).
//!
//! The mapping is thin because the driver's slot handles already follow the endpoint's
//! shape: a received frame stays in the driver's private slot until the switch releases
//! it (`rx_frame` returns the driver's private copy, never device memory); an egress frame
//! is reserved, written and committed through the driver, which checks every bound.
//!
//! What a driver cannot express through the infallible [`PortEndpoint`] methods is
//! counted and typed here ([`LinkPortStats`], [`LinkPortError`]): a receive error makes
//! `rx_take` return `None` for this call, a transmit error aborts that frame, and the
//! switch goes on serving its other ports. A driver that keeps failing (e.g. `Broken`
//! after a fatal device violation) costs one failed call per switch visit, nothing more.
//!
//! Housekeeping: the driver needs [`LinkDevice::poll`] (reclaim transmitted buffers,
//! repost receive buffers) and [`LinkDevice::tx_flush`] (kick the device). Call
//! [`LinkPort::service`] after every [`Switch::poll`](crate::Switch::poll); `rx_take`
//! and `tx_reserve` also poll once with the port's budget when the driver has nothing
//! or no room, so a forgotten `service` slows the port down but does not stall it.

use core::fmt;

use nic_drivers::{ChecksumRequest, Error as NicError, LinkDevice, PollEvents, TxOptions};

use crate::endpoint::{EndpointError, FrameMeta, PortEndpoint, RxSlot, TxSlot};

/// Reserved egress slots whose checksum request a [`LinkPort`] can remember at once.
pub const MAX_PENDING_OFFLOADS: usize = 16;

/// Which driver call failed, with the driver's typed error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkPortError {
    /// `rx_take` failed.
    Receive(NicError),
    /// `tx_reserve` failed (not "no room": that is `Ok(None)`).
    Reserve(NicError),
    /// `tx_write` failed.
    Write(NicError),
    /// `tx_commit_with` failed; the frame was lost.
    Commit(NicError),
    /// `tx_flush` failed.
    Flush(NicError),
    /// `poll` failed.
    Poll(NicError),
    /// The driver handed out a frame longer than a `u16` length can carry: its length.
    FrameTooLong(usize),
}

impl fmt::Display for LinkPortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkPortError::Receive(e) => write!(f, "receiving from the link: {e}"),
            LinkPortError::Reserve(e) => write!(f, "reserving a transmit buffer: {e}"),
            LinkPortError::Write(e) => write!(f, "writing a frame to the link: {e}"),
            LinkPortError::Commit(e) => write!(f, "handing a frame to the link: {e}"),
            LinkPortError::Flush(e) => write!(f, "kicking the link: {e}"),
            LinkPortError::Poll(e) => write!(f, "link housekeeping: {e}"),
            LinkPortError::FrameTooLong(n) => {
                write!(f, "the driver handed out a {n}-byte frame (above 65535)")
            }
        }
    }
}

/// Counters of one link port (private memory, wrapping is not a concern at `u64`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkPortStats {
    /// Failed `rx_take` calls (and frames refused for their length).
    pub rx_errors: u64,
    /// Failed `tx_reserve`, `tx_write` and `tx_commit_with` calls.
    pub tx_errors: u64,
    /// Failed `poll` and `tx_flush` calls.
    pub service_errors: u64,
    /// Checksum requests that could not be passed on: the driver has no transmit
    /// checksum offload, or more than [`MAX_PENDING_OFFLOADS`] were pending. The frame
    /// is sent with the checksum field as the partition left it.
    pub offload_lost: u64,
    /// The last error, typed.
    pub last_error: Option<LinkPortError>,
}

/// A [`PortEndpoint`] over a [`LinkDevice`].
pub struct LinkPort<D> {
    dev: D,
    budget: u16,
    dirty: bool,
    tx_partial: bool,
    offloads: heapless::LinearMap<u16, ChecksumRequest, MAX_PENDING_OFFLOADS>,
    stats: LinkPortStats,
}

impl<D: LinkDevice> LinkPort<D> {
    /// Wraps `dev`; every driver `poll` the port makes handles at most `budget` buffers.
    pub fn new(dev: D, budget: u16) -> Self {
        let tx_partial = dev.capabilities().checksum.tx_partial;
        LinkPort {
            dev,
            budget: budget.max(1),
            dirty: false,
            tx_partial,
            offloads: heapless::LinearMap::new(),
            stats: LinkPortStats::default(),
        }
    }

    /// The driver.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The driver, mutably (link state, promiscuous mode, statistics).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Gives the driver back.
    pub fn into_device(self) -> D {
        self.dev
    }

    /// The port's counters.
    pub fn stats(&self) -> &LinkPortStats {
        &self.stats
    }

    /// Kicks the device for frames committed since the last call, then runs one driver
    /// `poll` with the port's budget. Call it after every switch poll.
    pub fn service(&mut self) -> Result<PollEvents, LinkPortError> {
        self.flush()?;
        self.dev.poll(self.budget).map_err(|e| {
            self.note_service(LinkPortError::Poll(e));
            LinkPortError::Poll(e)
        })
    }

    /// Kicks the device if frames were committed since the last kick.
    fn flush(&mut self) -> Result<(), LinkPortError> {
        if !self.dirty {
            return Ok(());
        }
        self.dirty = false;
        self.dev.tx_flush().map_err(|e| {
            self.note_service(LinkPortError::Flush(e));
            LinkPortError::Flush(e)
        })
    }

    /// One driver `poll`, errors counted (used when the driver had nothing or no room).
    fn housekeeping(&mut self) {
        if self.flush().is_ok() {
            if let Err(e) = self.dev.poll(self.budget) {
                self.note_service(LinkPortError::Poll(e));
            }
        }
    }

    fn note_service(&mut self, e: LinkPortError) {
        self.stats.service_errors += 1;
        self.stats.last_error = Some(e);
    }

    fn note_tx(&mut self, e: LinkPortError) {
        self.stats.tx_errors += 1;
        self.stats.last_error = Some(e);
    }

    /// One `rx_take` of the driver mapped onto the switch's handle.
    fn take_once(&mut self) -> Result<Option<RxSlot>, ()> {
        match self.dev.rx_take() {
            Ok(None) => Ok(None),
            Ok(Some(slot)) => match u16::try_from(slot.len()) {
                Ok(len) => Ok(Some(RxSlot::new(slot.index(), len))),
                Err(_) => {
                    self.stats.rx_errors += 1;
                    self.stats.last_error = Some(LinkPortError::FrameTooLong(slot.len()));
                    self.dev.rx_release(slot);
                    Err(())
                }
            },
            Err(e) => {
                self.stats.rx_errors += 1;
                self.stats.last_error = Some(LinkPortError::Receive(e));
                Err(())
            }
        }
    }
}

/// The driver's handle for the switch's handle (same index and length).
fn nic_rx(slot: &RxSlot) -> nic_drivers::RxSlot {
    nic_drivers::RxSlot::new(slot.index(), slot.len())
}

fn nic_tx(slot: &TxSlot) -> nic_drivers::TxSlot {
    nic_drivers::TxSlot::new(slot.index(), slot.len())
}

impl<D: LinkDevice> PortEndpoint for LinkPort<D> {
    fn rx_take(&mut self) -> Option<RxSlot> {
        match self.take_once() {
            Ok(Some(slot)) => Some(slot),
            Ok(None) => {
                self.housekeeping();
                self.take_once().ok().flatten()
            }
            Err(()) => None,
        }
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        let frame = self.dev.rx_frame(&nic_rx(slot));
        frame.get(..usize::from(slot.len())).unwrap_or(frame)
    }

    fn rx_release(&mut self, slot: RxSlot) {
        self.dev.rx_release(nic_rx(&slot));
    }

    /// A link driver does not say how many frames wait: 0 (the switch then queues at
    /// most the rate limit's `queue` frames of an over-budget uplink in the driver).
    fn rx_pending(&self) -> usize {
        0
    }

    fn tx_reserve(&mut self, len: usize) -> Option<TxSlot> {
        let len16 = u16::try_from(len).ok()?;
        for attempt in 0..2 {
            match self.dev.tx_reserve(len) {
                Ok(Some(slot)) => return Some(TxSlot::new(slot.index(), len16)),
                Ok(None) if attempt == 0 => self.housekeeping(),
                Ok(None) => return None,
                Err(e) => {
                    self.note_tx(LinkPortError::Reserve(e));
                    return None;
                }
            }
        }
        None
    }

    fn tx_write(
        &mut self,
        slot: &TxSlot,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), EndpointError> {
        match self.dev.tx_write(&nic_tx(slot), offset, bytes) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.note_tx(LinkPortError::Write(e));
                Err(match e {
                    NicError::SlotBounds {
                        offset,
                        len,
                        slot_len,
                    } => EndpointError::OutOfBounds {
                        offset,
                        len,
                        reserved: slot_len,
                    },
                    NicError::InvalidSlot { index } => EndpointError::BadSlot(index),
                    _ => EndpointError::Peer,
                })
            }
        }
    }

    fn tx_meta(&mut self, slot: &TxSlot, meta: FrameMeta) {
        if !meta.needs_csum {
            return;
        }
        let request = ChecksumRequest {
            start: meta.csum_start,
            offset: meta.csum_offset,
        };
        if !self.tx_partial || self.offloads.insert(slot.index(), request).is_err() {
            self.stats.offload_lost += 1;
        }
    }

    fn tx_commit(&mut self, slot: TxSlot) {
        let options = TxOptions {
            checksum: self.offloads.remove(&slot.index()),
        };
        match self.dev.tx_commit_with(nic_tx(&slot), options) {
            Ok(()) => self.dirty = true,
            Err(e) => self.note_tx(LinkPortError::Commit(e)),
        }
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        self.offloads.remove(&slot.index());
        self.dev.tx_abort(nic_tx(&slot));
    }
}
