//! TEMPORARY BRIDGE — a switch uplink over a `nic_drivers::LinkDevice`.
//!
//! The switch takes any `frame_link::FrameLink` as a port. The NIC drivers of this tree
//! still implement their own `LinkDevice` trait; until they implement `FrameLink`
//! themselves (and are then the uplink as they are), this small adapter maps one onto
//! the other. It is shared by the hosted examples and the bare-metal image
//! (`#[path]`-included there), `no_std`, no heap; delete it once the drivers implement
//! `FrameLink`.
//!
//! Slot handles pass through unchanged (a received frame stays in the driver's private
//! slot until released); checksum requests travel with the commit; `service` kicks the
//! device for the frames committed since the last call and runs one driver `poll`.

use core::fmt;

use nic_drivers::{ChecksumRequest, Error as NicError, LinkDevice, TxOptions};
use vnet_switch::frame_link::{ErrorKind, LinkFault, LinkState};
use vnet_switch::{FrameLink, FrameMeta, LinkCaps, RxSlot, TxSlot};

/// A driver error, typed, with its [`ErrorKind`] for the switch's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UplinkError(pub NicError);

impl fmt::Display for UplinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uplink: {}", self.0)
    }
}

impl LinkFault for UplinkError {
    fn kind(&self) -> ErrorKind {
        match self.0 {
            NicError::FrameLength { .. } => ErrorKind::FrameLength,
            NicError::SlotBounds { .. } => ErrorKind::OutOfBounds,
            NicError::InvalidSlot { .. } => ErrorKind::BadSlot,
            NicError::Unsupported { .. } => ErrorKind::Unsupported,
            NicError::Os { .. } | NicError::Hal(_) => ErrorKind::Other,
            _ => ErrorKind::Peer,
        }
    }
}

/// A switch port over a NIC driver (see the module documentation: a temporary bridge).
pub struct Uplink<D> {
    dev: D,
    budget: u16,
    dirty: bool,
}

impl<D: LinkDevice> Uplink<D> {
    /// Wraps `dev`; every driver `poll` the port makes handles at most `budget` buffers.
    pub fn new(dev: D, budget: u16) -> Self {
        Uplink {
            dev,
            budget: budget.max(1),
            dirty: false,
        }
    }

    /// The driver.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Kicks the device if frames were committed since the last kick, then one `poll`.
    fn housekeeping(&mut self) -> Result<(), UplinkError> {
        if core::mem::take(&mut self.dirty) {
            self.dev.tx_flush().map_err(UplinkError)?;
        }
        self.dev.poll(self.budget).map(|_| ()).map_err(UplinkError)
    }
}

fn nic_rx(slot: &RxSlot) -> nic_drivers::RxSlot {
    nic_drivers::RxSlot::new(slot.index(), u16::try_from(slot.len()).unwrap_or(u16::MAX))
}

fn nic_tx(slot: &TxSlot) -> nic_drivers::TxSlot {
    nic_drivers::TxSlot::new(slot.index(), u16::try_from(slot.len()).unwrap_or(u16::MAX))
}

impl<D: LinkDevice> FrameLink for Uplink<D> {
    type Error = UplinkError;

    fn caps(&self) -> LinkCaps {
        let c = self.dev.capabilities();
        let mut caps = LinkCaps::new(usize::from(c.max_frame_len))
            .with_mtu(usize::from(c.mtu))
            .with_mac(vnet_switch::MacAddress(self.dev.mac_address().0));
        caps.checksum.tx_partial = c.checksum.tx_partial;
        caps
    }

    fn link_state(&mut self) -> LinkState {
        match self.dev.link_state() {
            nic_drivers::LinkState::Up => LinkState::Up,
            nic_drivers::LinkState::Down => LinkState::Down,
            _ => LinkState::Unknown,
        }
    }

    /// Kicks the device for the frames committed in this poll, takes back transmitted
    /// buffers and reposts receive buffers.
    fn service(&mut self, _budget: u16) -> Result<(), UplinkError> {
        self.housekeeping()
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, UplinkError> {
        match self.dev.rx_take().map_err(UplinkError)? {
            Some(s) => Ok(Some(RxSlot::new(s.index(), s.len()))),
            None => Ok(None),
        }
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        let frame = self.dev.rx_frame(&nic_rx(slot));
        frame.get(..slot.len()).unwrap_or(frame)
    }

    /// The driver's receive offload state: a partial checksum to complete, or verified.
    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        let m = self.dev.rx_meta(&nic_rx(slot));
        match m.checksum_partial {
            Some(p) => FrameMeta::partial(p.start, p.offset),
            None if m.checksum_verified => FrameMeta::VERIFIED,
            None => FrameMeta::NONE,
        }
    }

    fn rx_release(&mut self, slot: RxSlot) {
        self.dev.rx_release(nic_rx(&slot));
    }

    /// No room: one round of housekeeping (transmitted buffers come back), then once more.
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, UplinkError> {
        if let Some(s) = self.dev.tx_reserve(len).map_err(UplinkError)? {
            return Ok(Some(TxSlot::new(s.index(), len)));
        }
        self.housekeeping()?;
        Ok(self
            .dev
            .tx_reserve(len)
            .map_err(UplinkError)?
            .map(|s| TxSlot::new(s.index(), len)))
    }

    fn tx_write(&mut self, slot: &TxSlot, offset: usize, data: &[u8]) -> Result<(), UplinkError> {
        self.dev
            .tx_write(&nic_tx(slot), offset, data)
            .map_err(UplinkError)
    }

    /// A partial checksum goes to the device when it completes them; otherwise the frame
    /// leaves with the checksum field as the partition left it.
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), UplinkError> {
        let checksum = meta
            .partial_checksum()
            .filter(|_| self.dev.capabilities().checksum.tx_partial)
            .map(|p| ChecksumRequest {
                start: p.start,
                offset: p.offset,
            });
        self.dev
            .tx_commit_with(nic_tx(&slot), TxOptions { checksum })
            .map_err(UplinkError)?;
        self.dirty = true;
        Ok(())
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        self.dev.tx_abort(nic_tx(&slot));
    }
}
