//! A switch port over any frame link: the uplink NIC driver (virtio-net or e1000 on bare
//! metal, TAP on a Linux host), or one end of an in-memory port pair.
//!
//! The mapping is thin because the link's slot handles already follow the endpoint's
//! shape: a received frame stays in the link's private slot until the switch releases
//! it (`rx_frame` returns the driver's private copy, never device memory); an egress frame
//! is reserved, written and committed through the link, which checks every bound.
//!
//! What a link cannot express through the infallible [`PortEndpoint`] methods is
//! counted and typed here ([`LinkPortStats`], [`LinkPortError`]): a receive error makes
//! `rx_take` return `None` for this call, a transmit error aborts that frame, and the
//! switch goes on serving its other ports. A link that keeps failing (e.g. `Broken`
//! after a fatal device violation) costs one failed call per switch visit, nothing more.
//!
//! Housekeeping: the link needs [`FrameLink::service`] (publish committed frames and
//! kick the device once per batch, reclaim transmitted buffers, repost receive buffers).
//! Call [`LinkPort::service`] after every [`Switch::poll`](crate::Switch::poll);
//! `rx_take` and `tx_reserve` also service once with the port's budget when the link has
//! nothing or no room, so a forgotten `service` slows the port down but does not stall
//! it.

use core::fmt;

use nic_drivers::{Error as NicError, ErrorKind, FrameLink, LinkFault};

use crate::endpoint::{EndpointError, FrameMeta, PortEndpoint, RxSlot, TxSlot};

/// Reserved egress slots whose checksum request a [`LinkPort`] can remember at once.
pub const MAX_PENDING_OFFLOADS: usize = 16;

/// Which link call failed, with the link's typed error (a NIC driver's by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkPortError<E = NicError> {
    /// `rx_take` failed.
    Receive(E),
    /// `tx_reserve` failed (not "no room": that is `Ok(None)`).
    Reserve(E),
    /// `tx_write` failed.
    Write(E),
    /// `tx_commit` failed; the frame was lost.
    Commit(E),
    /// `service` failed.
    Poll(E),
    /// The driver handed out a frame longer than a `u16` length can carry: its length.
    FrameTooLong(usize),
}

impl<E: fmt::Display> fmt::Display for LinkPortError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkPortError::Receive(e) => write!(f, "receiving from the link: {e}"),
            LinkPortError::Reserve(e) => write!(f, "reserving a transmit buffer: {e}"),
            LinkPortError::Write(e) => write!(f, "writing a frame to the link: {e}"),
            LinkPortError::Commit(e) => write!(f, "handing a frame to the link: {e}"),
            LinkPortError::Poll(e) => write!(f, "link housekeeping: {e}"),
            LinkPortError::FrameTooLong(n) => {
                write!(f, "the driver handed out a {n}-byte frame (above 65535)")
            }
        }
    }
}

/// Counters of one link port (private memory, wrapping is not a concern at `u64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPortStats<E = NicError> {
    /// Failed `rx_take` calls (and frames refused for their length).
    pub rx_errors: u64,
    /// Failed `tx_reserve`, `tx_write` and `tx_commit` calls.
    pub tx_errors: u64,
    /// Failed `service` calls.
    pub service_errors: u64,
    /// Checksum requests that could not be passed on: the link has no transmit
    /// checksum offload, or more than [`MAX_PENDING_OFFLOADS`] were pending. The frame
    /// is sent with the checksum field as the partition left it.
    pub offload_lost: u64,
    /// The last error, typed.
    pub last_error: Option<LinkPortError<E>>,
}

impl<E> Default for LinkPortStats<E> {
    fn default() -> Self {
        LinkPortStats {
            rx_errors: 0,
            tx_errors: 0,
            service_errors: 0,
            offload_lost: 0,
            last_error: None,
        }
    }
}

/// A [`PortEndpoint`] over a [`FrameLink`].
pub struct LinkPort<D: FrameLink> {
    dev: D,
    budget: u16,
    tx_partial: bool,
    offloads: heapless::LinearMap<u16, nic_drivers::FrameMeta, MAX_PENDING_OFFLOADS>,
    stats: LinkPortStats<D::Error>,
}

impl<D: FrameLink> LinkPort<D>
where
    D::Error: Copy,
{
    /// Wraps `dev`; every link `service` the port makes handles at most `budget` buffers.
    pub fn new(dev: D, budget: u16) -> Self {
        let tx_partial = dev.caps().checksum.tx_partial;
        LinkPort {
            dev,
            budget: budget.max(1),
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
    pub fn stats(&self) -> &LinkPortStats<D::Error> {
        &self.stats
    }

    /// One link `service` with the port's budget: committed frames are published and
    /// the device kicked once for all of them. Call it after every switch poll.
    pub fn service(&mut self) -> Result<(), LinkPortError<D::Error>> {
        self.dev.service(self.budget).map_err(|e| {
            self.note_service(LinkPortError::Poll(e));
            LinkPortError::Poll(e)
        })
    }

    /// One link `service`, errors counted (used when the link had nothing or no room).
    fn housekeeping(&mut self) {
        let _ = self.service();
    }

    fn note_service(&mut self, e: LinkPortError<D::Error>) {
        self.stats.service_errors += 1;
        self.stats.last_error = Some(e);
    }

    fn note_tx(&mut self, e: LinkPortError<D::Error>) {
        self.stats.tx_errors += 1;
        self.stats.last_error = Some(e);
    }

    /// A link write's result for the switch: the error counted, typed by kind.
    fn written(
        &mut self,
        r: Result<(), D::Error>,
        slot: &TxSlot,
        offset: usize,
        len: usize,
    ) -> Result<(), EndpointError> {
        let Err(e) = r else {
            return Ok(());
        };
        self.note_tx(LinkPortError::Write(e));
        Err(match e.kind() {
            ErrorKind::OutOfBounds => EndpointError::OutOfBounds {
                offset,
                len,
                reserved: usize::from(slot.len()),
            },
            ErrorKind::BadSlot => EndpointError::BadSlot(slot.index()),
            _ => EndpointError::Peer,
        })
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

/// The link's handle for the switch's handle (same index and length).
fn nic_rx(slot: &RxSlot) -> nic_drivers::RxSlot {
    nic_drivers::RxSlot::new(slot.index(), usize::from(slot.len()))
}

fn nic_tx(slot: &TxSlot) -> nic_drivers::TxSlot {
    nic_drivers::TxSlot::new(slot.index(), usize::from(slot.len()))
}

impl<D: FrameLink> PortEndpoint for LinkPort<D>
where
    D::Error: Copy,
{
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
        let r = self.dev.tx_write(&nic_tx(slot), offset, bytes);
        self.written(r, slot, offset, bytes.len())
    }

    /// Header and payload in one link call (one bounds check where the link has one).
    fn tx_write_frame(
        &mut self,
        slot: &TxSlot,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), EndpointError> {
        let r = self.dev.tx_write_frame(&nic_tx(slot), header, payload);
        self.written(r, slot, 0, header.len() + payload.len())
    }

    fn tx_meta(&mut self, slot: &TxSlot, meta: FrameMeta) {
        if !meta.needs_csum {
            return;
        }
        let request = nic_drivers::FrameMeta::partial(meta.csum_start, meta.csum_offset);
        if !self.tx_partial || self.offloads.insert(slot.index(), request).is_err() {
            self.stats.offload_lost += 1;
        }
    }

    fn tx_commit(&mut self, slot: TxSlot) {
        let meta = self
            .offloads
            .remove(&slot.index())
            .unwrap_or(nic_drivers::FrameMeta::NONE);
        if let Err(e) = self.dev.tx_commit(nic_tx(&slot), meta) {
            self.note_tx(LinkPortError::Commit(e));
        }
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        self.offloads.remove(&slot.index());
        self.dev.tx_abort(nic_tx(&slot));
    }
}
