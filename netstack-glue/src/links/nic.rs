//! [`NicLink`]: any `nic_drivers::LinkDevice` as a [`FrameLink`] (feature `nic-drivers`).
//!
//! This covers every NIC of `nic-drivers` (virtio-net over MMIO or PCI, e1000, TAP) and
//! the partition side of a vnet-switch `VirtioNetPort`: a partition that runs the
//! `nic-drivers` virtio-net driver against the switch's virtio-net backend.
//!
//! A transmit slot is reserved at the link's largest frame when the token is handed out;
//! when the frame turns out shorter, the reservation is swapped for one of the exact
//! length at send time (abort, then reserve: the slot just freed is taken again, so the
//! send cannot find the ring full). Sent frames are flushed (the device kicked if it
//! asked for it) at once.

use nic_drivers::{Error, LinkDevice, RxSlot, TxSlot};

use crate::link::{FrameLink, LinkCaps, LinkError, RxInfo, MAX_FRAME};

/// A `nic_drivers::LinkDevice` as a frame link.
#[derive(Debug)]
pub struct NicLink<D: LinkDevice> {
    dev: D,
    max_frame: u16,
}

impl<D: LinkDevice> NicLink<D> {
    /// A link over `dev`.
    pub fn new(dev: D) -> Self {
        let max_frame = dev.capabilities().max_frame_len.min(MAX_FRAME as u16);
        NicLink { dev, max_frame }
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device, mutably.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// The device back.
    pub fn into_inner(self) -> D {
        self.dev
    }
}

/// The typed error of the driver, as a link error.
fn link_error(e: Error) -> LinkError {
    match e {
        Error::Broken => LinkError::Down,
        Error::FrameLength { len, min, max } => LinkError::FrameLength { len, min, max },
        Error::DeviceViolation { field, .. } => LinkError::Peer(field),
        Error::Queue(_) => LinkError::Peer("virtqueue rule"),
        _ => LinkError::Peer("driver error"),
    }
}

impl<D: LinkDevice> FrameLink for NicLink<D> {
    type Rx = RxSlot;
    type Tx = TxSlot;

    fn caps(&self) -> LinkCaps {
        LinkCaps {
            max_frame: self.max_frame,
            rx_checksum_verified: self.dev.capabilities().checksum.rx_verified,
            mac: Some(self.dev.mac_address().0),
        }
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, LinkError> {
        self.dev.rx_take().map_err(link_error)
    }

    fn rx_read<R>(&self, rx: &RxSlot, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.dev.rx_frame(rx))
    }

    fn rx_info(&self, rx: &RxSlot) -> RxInfo {
        let m = self.dev.rx_meta(rx);
        RxInfo {
            checksum_verified: m.checksum_verified,
            checksum_partial: m.checksum_partial.is_some(),
        }
    }

    fn rx_release(&mut self, rx: RxSlot) {
        self.dev.rx_release(rx);
    }

    fn tx_reserve(&mut self) -> Result<Option<TxSlot>, LinkError> {
        self.dev
            .tx_reserve(usize::from(self.max_frame))
            .map_err(link_error)
    }

    fn tx_send(&mut self, tx: TxSlot, frame: &[u8]) -> Result<(), LinkError> {
        let slot = if tx.len() == frame.len() {
            tx
        } else {
            self.dev.tx_abort(tx);
            match self.dev.tx_reserve(frame.len()).map_err(link_error)? {
                Some(s) => s,
                None => return Err(LinkError::Refused),
            }
        };
        if let Err(e) = self.dev.tx_write(&slot, 0, frame) {
            self.dev.tx_abort(slot);
            return Err(link_error(e));
        }
        self.dev.tx_commit(slot).map_err(link_error)?;
        self.dev.tx_flush().map_err(link_error)
    }

    fn tx_abort(&mut self, tx: TxSlot) {
        self.dev.tx_abort(tx);
    }

    fn tx_room(&mut self) -> Option<usize> {
        None
    }

    fn service(&mut self, budget: u16) -> Result<(), LinkError> {
        self.dev.poll(budget).map(|_| ()).map_err(link_error)
    }

    fn link_up(&mut self) -> bool {
        !matches!(self.dev.link_state(), nic_drivers::LinkState::Down)
    }
}
