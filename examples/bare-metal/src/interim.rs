//! Interim adapters until the shared ones are merged (vnet-switch `LinkPort`,
//! netstack-glue's port pair): an uplink port over a `LinkDevice`, and a smoltcp device
//! over the partition side of an in-memory switch port.

use nic_drivers::LinkDevice;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{EndpointError, PortEndpoint, RxSlot, TxSlot};

/// A switch port over a NIC driver.
pub struct LinkPort<D> {
    dev: D,
    budget: u16,
}

impl<D: LinkDevice> LinkPort<D> {
    /// Wraps `dev`; `service` reclaims at most `budget` buffers per call.
    pub fn new(dev: D, budget: u16) -> Self {
        LinkPort { dev, budget }
    }
    /// The driver.
    pub fn device(&self) -> &D {
        &self.dev
    }
    /// Reclaims buffers and kicks the device.
    pub fn service(&mut self) -> Result<(), nic_drivers::Error> {
        self.dev.poll(self.budget)?;
        self.dev.tx_flush()
    }
}

impl<D: LinkDevice> PortEndpoint for LinkPort<D> {
    fn rx_take(&mut self) -> Option<RxSlot> {
        let s = self.dev.rx_take().ok()??;
        Some(RxSlot::new(s.index(), u16::try_from(s.len()).ok()?))
    }
    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        self.dev
            .rx_frame(&nic_drivers::RxSlot::new(slot.index(), slot.len()))
    }
    fn rx_release(&mut self, slot: RxSlot) {
        self.dev
            .rx_release(nic_drivers::RxSlot::new(slot.index(), slot.len()));
    }
    fn rx_pending(&self) -> usize {
        0
    }
    fn tx_reserve(&mut self, len: usize) -> Option<TxSlot> {
        let s = self.dev.tx_reserve(len).ok()??;
        Some(TxSlot::new(s.index(), u16::try_from(s.len()).ok()?))
    }
    fn tx_write(
        &mut self,
        slot: &TxSlot,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), EndpointError> {
        self.dev
            .tx_write(
                &nic_drivers::TxSlot::new(slot.index(), slot.len()),
                offset,
                bytes,
            )
            .map_err(|_| EndpointError::Peer)
    }
    fn tx_commit(&mut self, slot: TxSlot) {
        let _ = self
            .dev
            .tx_commit(nic_drivers::TxSlot::new(slot.index(), slot.len()));
    }
    fn tx_abort(&mut self, slot: TxSlot) {
        self.dev
            .tx_abort(nic_drivers::TxSlot::new(slot.index(), slot.len()));
    }
}

/// The switch side of a partition port.
pub type PartitionPort = MemEndpoint<8, 1536>;

/// smoltcp's view of the partition side of a [`PartitionPort`].
pub struct PortDevice<'e>(pub &'e mut PartitionPort);

impl<'e> PortDevice<'e> {
    /// The partition side of `port`.
    pub fn new(port: &'e mut PartitionPort) -> Self {
        PortDevice(port)
    }
}

/// A received frame.
pub struct Rx {
    buf: [u8; 1536],
    len: usize,
}

/// Room to send one frame.
pub struct Tx<'a>(&'a mut PartitionPort);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.buf[..self.len])
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = [0u8; 1536];
        let len = len.min(buf.len());
        let r = f(&mut buf[..len]);
        let _ = self.0.inject(&buf[..len]);
        r
    }
}

impl phy::Device for PortDevice<'_> {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let mut buf = [0u8; 1536];
        let len = self.0.receive(&mut buf)?;
        Some((Rx { buf, len }, Tx(self.0)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        (self.0.rx_room() > 0).then_some(Tx(self.0))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps.max_burst_size = Some(4);
        caps
    }
}
