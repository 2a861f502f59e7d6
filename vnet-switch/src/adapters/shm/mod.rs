//! A partition port that is the **device side of the shared-memory virtio transport**:
//! the partition runs an ordinary virtio-net driver (`nic_drivers::net::VirtioNet` over
//! `nic_drivers::transport::shm::ShmTransport`) on a memory region it shares with the
//! service partition; [`ShmDevice`] is that driver's device and the switch's port.
//!
//! The region (a 4 KiB register block, then the DMA area with the driver's rings and
//! buffers), who writes which register and the reset protocol are defined once in
//! [`virtqueue::shm`]. Set-up, in the service partition:
//!
//! ```
//! use vnet_switch::adapters::shm::{DeviceState, ShmDevice};
//! use virtqueue::{shm, OwnedMemory, SharedMemory};
//!
//! // In a real system: the region both partitions map (a `/dev/shm` file, an ivshmem BAR).
//! let owned = OwnedMemory::new(0, shm::REG_LEN + 128 * 1024);
//! let view = owned.region().get(0, shm::REG_LEN + 128 * 1024).unwrap();
//! let (regs, dma) = shm::split(view).unwrap();
//! // Formats the register block: magic, features, MAC and MTU in config space.
//! let mut dev = ShmDevice::new(regs, &dma, [2, 0, 0, 0, 0, 1], 1500).unwrap();
//! assert_eq!(regs.read_u32(shm::offset::MAGIC).unwrap(), shm::MAGIC);
//! // No driver yet: the port waits, and serves nothing.
//! assert_eq!(dev.poll(), DeviceState::Waiting);
//! ```
//!
//! `dev` is then a switch port like any other ([`FrameLink`]): the switch calls
//! [`FrameLink::service`] at the end of its poll, which raises the driver's interrupt if
//! it wants one, then reads the register block for the next poll ([`ShmDevice::poll`]:
//! attach on `DRIVER_OK`, start over on a reset, refuse a bad configuration). While no
//! driver is attached the port receives nothing and takes nothing.
//!
//! # What the device checks (the driver is hostile)
//!
//! Each poll reads the whole register block once into private memory and acts only on
//! that snapshot. A device-owned register overwritten (magic, version, type, queue
//! maximum, offered features, config space), features the device did not offer or no
//! `VERSION_1`, a queue that is not ready, a size that is not a power of two up to
//! [`QUEUE_MAX`], rings outside the DMA area or misaligned, a change of features or
//! queue registers while running, the driver's `FAILED` status, or the virtio-net port
//! going down: each is a typed [`ShmDeviceError`]. The device then sets
//! `DEVICE_NEEDS_RESET` (and the configuration-change interrupt bit), drops the port,
//! serves nothing, and waits for the driver to reset (status 0, or a new `resets`
//! count). The switch and its other ports are not affected; the rings themselves are
//! served by [`VirtioNetPort`], with its own checks on every chain.
//!
//! # Notifications
//!
//! The device polls the driver's kick counters (counted in [`ShmDeviceStats::kicks`]).
//! When the driver wants a used-buffer interrupt the device sets the queue bit of
//! `interrupt` and rings its [`Doorbell`] (given to [`ShmDevice::with_doorbell`]; an
//! ivshmem doorbell or a hypervisor's inter-partition interrupt). The default
//! [`NoDoorbell`] leaves the driver to poll.
//!
//! [`ShmDevice::poll`] may tear the port down: call it between switch polls only (the
//! switch holds no slot handle then), as [`FrameLink::service`] does.

mod error;

pub use error::{DeviceState, ShmDeviceError, ShmDeviceStats};
pub use virtqueue::shm::{Doorbell, NoDoorbell};

use frame_link::{FrameLink, FrameMeta, LinkCaps, LinkError, LinkState, RxSlot, TxSlot};
use virtqueue::net::{config as net_config, DEVICE_TYPE_NET};
use virtqueue::shm::{
    offset, QueueRegs, Registers, CONFIG_LEN, MAGIC, QUEUES, REG_LEN, U32, U64, VERSION,
};
use virtqueue::{
    DeviceQueue, DeviceStatus, Features, InterruptStatus, MemoryRegion, QueueConfig, VolatileSlice,
};

use crate::adapters::virtio_net::{NetFeatures, PortState, VirtioNetError, VirtioNetPort};

/// Largest queue size the device accepts.
pub const QUEUE_MAX: u16 = 64;
/// Receive chains the port holds at once (no `MRG_RXBUF`: one per frame in flight).
pub const CHAINS: usize = 16;

/// The port the device hands the rings to.
pub type ShmNetPort<'m> = VirtioNetPort<&'m MemoryRegion<'m>, 1536, 2, CHAINS, 64, 16>;

/// What the device offers: version 1, a MAC, link status and an MTU in config space.
pub const OFFERED: u64 = Features::VERSION_1.bits()
    | NetFeatures::MAC.bits()
    | NetFeatures::STATUS.bits()
    | NetFeatures::MTU.bits();

/// The service partition's side of one shared-memory virtio-net device, ringing `D`
/// when it raises an interrupt.
pub struct ShmDevice<'m, D: Doorbell = NoDoorbell> {
    regs: VolatileSlice<'m>,
    mem: &'m MemoryRegion<'m>,
    doorbell: D,
    mac: [u8; 6],
    config: [u8; CONFIG_LEN],
    state: DeviceState,
    port: Option<ShmNetPort<'m>>,
    attached: (u64, [QueueRegs; QUEUES]),
    last_notify: [u32; QUEUES],
    last_resets: u32,
    stats: ShmDeviceStats,
}

impl<'m> ShmDevice<'m> {
    /// Formats the register block (the first [`REG_LEN`] bytes of `region`) for a
    /// virtio-net device with `mac` and `mtu`; `dma` is the DMA area as the rings address
    /// it (both from [`virtqueue::shm::split`]). The driver polls for interrupts. `None`
    /// if `region` is shorter than the register block.
    pub fn new(
        region: VolatileSlice<'m>,
        dma: &'m MemoryRegion<'m>,
        mac: [u8; 6],
        mtu: u16,
    ) -> Option<Self> {
        Self::with_doorbell(region, dma, mac, mtu, NoDoorbell)
    }
}

impl<'m, D: Doorbell> ShmDevice<'m, D> {
    /// [`ShmDevice::new`] with a doorbell rung after every interrupt the device raises.
    pub fn with_doorbell(
        region: VolatileSlice<'m>,
        dma: &'m MemoryRegion<'m>,
        mac: [u8; 6],
        mtu: u16,
        doorbell: D,
    ) -> Option<Self> {
        let regs = region.subslice(0, REG_LEN).ok()?;
        let mut config = [0u8; CONFIG_LEN];
        let fields: [(usize, &[u8]); 4] = [
            (net_config::MAC, &mac),
            (
                net_config::STATUS,
                &net_config::STATUS_LINK_UP.to_le_bytes(),
            ),
            (net_config::MAX_VIRTQUEUE_PAIRS, &1u16.to_le_bytes()),
            (net_config::MTU, &mtu.to_le_bytes()),
        ];
        for (at, bytes) in fields {
            config[at..at + bytes.len()].copy_from_slice(bytes);
        }
        let mut dev = ShmDevice {
            regs,
            mem: dma,
            doorbell,
            mac,
            config,
            state: DeviceState::Waiting,
            port: None,
            attached: (0, [QueueRegs::default(); QUEUES]),
            last_notify: [0; QUEUES],
            last_resets: 0,
            stats: ShmDeviceStats::default(),
        };
        let _ = dev.regs.fill(0, REG_LEN, 0);
        dev.format();
        Some(dev)
    }

    /// The station address in config space.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The device state.
    pub fn state(&self) -> DeviceState {
        self.state
    }

    /// The counters.
    pub fn stats(&self) -> &ShmDeviceStats {
        &self.stats
    }

    /// The virtio-net port, while running.
    pub fn port(&self) -> Option<&ShmNetPort<'m>> {
        self.port.as_ref()
    }

    /// The doorbell.
    pub fn doorbell(&self) -> &D {
        &self.doorbell
    }

    /// Writes every device-owned register (a fresh device, or after a reset); the
    /// driver's registers are left alone.
    fn format(&mut self) {
        let words = [
            (offset::MAGIC, MAGIC),
            (offset::VERSION, VERSION),
            (offset::DEVICE_TYPE, DEVICE_TYPE_NET),
            (offset::QUEUE_MAX, u32::from(QUEUE_MAX)),
        ];
        for (at, w) in words {
            let _ = self.regs.write_obj(at, &U32::new(w));
        }
        let _ = self
            .regs
            .write_obj(offset::DEVICE_FEATURES, &U64::new(OFFERED));
        let _ = self.regs.write_obj(offset::CONFIG, &self.config);
    }

    /// Back to waiting for the driver: port dropped, device-owned registers re-formatted
    /// (whatever the driver wrote over them before its reset).
    fn reset(&mut self) {
        if self.state != DeviceState::Waiting {
            self.stats.resets += 1;
            self.port = None;
            self.state = DeviceState::Waiting;
        }
        self.format();
    }

    fn set_device_status(&self, s: DeviceStatus) {
        let _ = self
            .regs
            .write_obj(offset::DEVICE_STATUS, &U32::new(s.bits()));
    }

    fn fail(&mut self, e: ShmDeviceError) {
        // The typed cause to `log`; `defmt` gets the event alone (the cause nests link
        // errors that have no `defmt` form; the device's statistics keep it).
        #[cfg(feature = "log")]
        log::warn!("vnet-switch: shared-memory virtio driver refused: {}", e);
        #[cfg(all(feature = "defmt", target_os = "none"))]
        defmt::warn!("vnet-switch: shared-memory virtio driver refused");
        self.port = None;
        self.state = DeviceState::Failed(e);
        self.stats.failures += 1;
        self.stats.last_error = Some(e);
        self.set_device_status(DeviceStatus::DEVICE_NEEDS_RESET);
        // VirtIO 1.x 2.1.2: a configuration-change notification with NEEDS_RESET.
        self.raise(InterruptStatus::CONFIG);
    }

    /// Adds `cause` to the pending interrupt bits and rings the doorbell. The driver's
    /// value is read once and only its known bits are kept.
    fn raise(&self, cause: InterruptStatus) {
        let pending = self.regs.read_u32(offset::INTERRUPT).map_or(
            InterruptStatus::empty(),
            InterruptStatus::from_bits_truncate,
        );
        let _ = self
            .regs
            .write_obj(offset::INTERRUPT, &U32::new((pending | cause).bits()));
        self.doorbell.ring();
    }

    /// Checks the device-owned registers of a snapshot.
    fn check_layout(&self, r: &Registers) -> Result<(), ShmDeviceError> {
        let checks: [(&'static str, u64, u64); 5] = [
            ("magic", r.magic.get().into(), MAGIC.into()),
            ("version", r.version.get().into(), VERSION.into()),
            (
                "device_type",
                r.device_type.get().into(),
                DEVICE_TYPE_NET.into(),
            ),
            ("queue_max", r.queue_max.get().into(), QUEUE_MAX.into()),
            ("device_features", r.device_features.get(), OFFERED),
        ];
        for (field, value, want) in checks {
            if value != want {
                return Err(ShmDeviceError::Layout { field, value });
            }
        }
        if r.config != self.config {
            return Err(ShmDeviceError::Layout {
                field: "config",
                value: u64::from(r.config[0]),
            });
        }
        Ok(())
    }

    /// Validates the driver's configuration and builds the port.
    fn attach(&self, r: &Registers) -> Result<ShmNetPort<'m>, ShmDeviceError> {
        let driver = r.driver_features.get();
        if driver & !OFFERED != 0 || driver & Features::VERSION_1.bits() == 0 {
            return Err(ShmDeviceError::Features {
                driver,
                offered: OFFERED,
            });
        }
        let generic = Features::from_bits_truncate(driver);
        let mut cfgs = [QueueConfig {
            size: 0,
            desc: 0,
            avail: 0,
            used: 0,
        }; QUEUES];
        for (q, (regs, cfg)) in r.queues.iter().zip(cfgs.iter_mut()).enumerate() {
            let queue = q as u16;
            if regs.ready.get() != 1 {
                return Err(ShmDeviceError::QueueNotReady { queue });
            }
            let size = regs.size.get();
            let ok = size.is_power_of_two() && size <= u32::from(QUEUE_MAX);
            let size = u16::try_from(size)
                .ok()
                .filter(|_| ok)
                .ok_or(ShmDeviceError::QueueSize { queue, size })?;
            *cfg = QueueConfig {
                size,
                desc: regs.desc.get(),
                avail: regs.avail.get(),
                used: regs.used.get(),
            };
        }
        let ring = |queue: u16, cfg: QueueConfig| {
            DeviceQueue::attach(self.mem, cfg, generic)
                .map_err(|error| ShmDeviceError::Ring { queue, error })
        };
        let receiveq = ring(0, cfgs[0])?;
        let transmitq = ring(1, cfgs[1])?;
        ShmNetPort::new(receiveq, transmitq, driver, 1518).map_err(ShmDeviceError::Port)
    }

    /// Reads the register block once and acts on it: attaches the driver on `DRIVER_OK`,
    /// tears the port down on a reset, a failure or a change of configuration. The
    /// switch calls it at the end of every poll (through [`FrameLink::service`]), never
    /// during one.
    pub fn poll(&mut self) -> DeviceState {
        let Ok(mut r) = self.regs.read_obj::<Registers>(0) else {
            return self.state;
        };
        if r.resets.get() != self.last_resets {
            // The driver reset (perhaps already re-initialised): start over, and take a
            // fresh snapshot of what it wrote since.
            self.last_resets = r.resets.get();
            self.reset();
            match self.regs.read_obj::<Registers>(0) {
                Ok(fresh) => r = fresh,
                Err(_) => return self.state,
            }
        }
        for (q, n) in r.notify.iter().enumerate() {
            let n = n.get();
            self.stats.kicks[q] += u64::from(n.wrapping_sub(self.last_notify[q]));
            self.last_notify[q] = n;
        }
        let status = DeviceStatus::from_bits_retain(r.status.get());
        if status.is_empty() {
            if self.state != DeviceState::Waiting {
                self.reset();
            }
            return self.state;
        }
        if let DeviceState::Failed(_) = self.state {
            return self.state;
        }
        if let Err(e) = self.check_layout(&r) {
            self.fail(e);
            return self.state;
        }
        if status.contains(DeviceStatus::FAILED) {
            self.fail(ShmDeviceError::DriverFailed);
            return self.state;
        }
        match self.state {
            DeviceState::Waiting if status.contains(DeviceStatus::DRIVER_OK) => {
                match self.attach(&r) {
                    Ok(port) => {
                        self.port = Some(port);
                        self.attached = (r.driver_features.get(), r.queues);
                        self.state = DeviceState::Running;
                        self.stats.attaches += 1;
                    }
                    Err(e) => self.fail(e),
                }
            }
            DeviceState::Running => {
                if r.driver_features.get() != self.attached.0 {
                    self.fail(ShmDeviceError::Reconfigured {
                        field: "driver_features",
                    });
                } else if r.queues != self.attached.1 {
                    self.fail(ShmDeviceError::Reconfigured { field: "queues" });
                } else if let Some(PortState::Down(e)) = self.port.as_ref().map(|p| p.state()) {
                    self.fail(ShmDeviceError::Port(e));
                }
            }
            _ => {}
        }
        self.state
    }

    /// After a switch poll (done by [`FrameLink::service`]): raise the queue interrupt
    /// and ring the doorbell if the driver wants an interrupt (a polling driver ignores
    /// it).
    pub fn after_poll(&mut self) {
        if let Some(p) = self.port.as_mut() {
            if p.interrupts().any() {
                self.raise(InterruptStatus::QUEUE);
            }
        }
    }
}

impl<D: Doorbell> FrameLink for ShmDevice<'_, D> {
    type Error = VirtioNetError;

    fn caps(&self) -> LinkCaps {
        match self.port.as_ref() {
            Some(p) => p.caps(),
            None => LinkCaps::new(1518),
        }
    }

    /// After the switch's work: raises the interrupt cause if the driver wants one, then
    /// reads the registers for the next poll ([`ShmDevice::poll`]: attach, reset,
    /// failure).
    fn service(&mut self, _budget: u16) -> Result<(), VirtioNetError> {
        self.after_poll();
        self.poll();
        Ok(())
    }

    fn link_state(&mut self) -> LinkState {
        match self.port.as_mut() {
            Some(p) => p.link_state(),
            None => LinkState::Down,
        }
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, VirtioNetError> {
        match self.port.as_mut() {
            Some(p) => p.rx_take(),
            None => Ok(None),
        }
    }
    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        match self.port.as_ref() {
            Some(p) => p.rx_frame(slot),
            None => &[],
        }
    }
    fn rx_release(&mut self, slot: RxSlot) {
        if let Some(p) = self.port.as_mut() {
            p.rx_release(slot)
        }
    }
    fn rx_pending(&self) -> usize {
        self.port.as_ref().map_or(0, |p| p.rx_pending())
    }
    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        self.port
            .as_ref()
            .map_or(FrameMeta::NONE, |p| p.rx_meta(slot))
    }
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, VirtioNetError> {
        match self.port.as_mut() {
            Some(p) => p.tx_reserve(len),
            None => Ok(None),
        }
    }
    fn tx_room(&self) -> Option<usize> {
        self.port.as_ref().and_then(|p| p.tx_room())
    }
    fn tx_buffer(&mut self, slot: &TxSlot) -> Option<&mut [u8]> {
        self.port.as_mut()?.tx_buffer(slot)
    }
    fn tx_write(
        &mut self,
        slot: &TxSlot,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), VirtioNetError> {
        match self.port.as_mut() {
            Some(p) => p.tx_write(slot, offset, bytes),
            None => Err(no_slot(slot)),
        }
    }
    fn tx_write_frame(
        &mut self,
        slot: &TxSlot,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), VirtioNetError> {
        match self.port.as_mut() {
            Some(p) => p.tx_write_frame(slot, header, payload),
            None => Err(no_slot(slot)),
        }
    }
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), VirtioNetError> {
        match self.port.as_mut() {
            Some(p) => p.tx_commit(slot, meta),
            None => Err(no_slot(&slot)),
        }
    }
    fn tx_abort(&mut self, slot: TxSlot) {
        if let Some(p) = self.port.as_mut() {
            p.tx_abort(slot)
        }
    }
}

/// The error for a handle while no driver is attached (none was handed out).
fn no_slot(slot: &TxSlot) -> VirtioNetError {
    VirtioNetError::Slot(LinkError::BadSlot {
        index: slot.index(),
    })
}
