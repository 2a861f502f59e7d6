//! The device side, in the service partition: reads the register block once per
//! [`ShmDevice::poll`] into private memory, validates it, attaches the driver's rings and
//! hands them to a [`VirtioNetPort`], which the switch serves like any other port.
//!
//! The driver is hostile: a register block it scribbled over, features the device did not
//! offer, a queue that is not ready, a size that is not a power of two, rings outside the
//! DMA area, or a change of any of these while running is a typed [`ShmDeviceError`]; the
//! device sets `DEVICE_NEEDS_RESET`, serves nothing, and waits for the driver to reset
//! (status 0). The switch and its other ports are not affected.
//!
//! [`ShmDevice::poll`] may tear the port down: call it between switch polls only (the
//! switch holds no slot handle then).

use core::fmt;

use nic_drivers::transport::DeviceStatus;
use virtqueue::{DeviceQueue, Features, MemoryRegion, QueueConfig, VolatileSlice};
use vnet_switch::adapters::virtio_net::{NetFeatures, PortState, VirtioNetError, VirtioNetPort};
use vnet_switch::frame_link::LinkError;
use vnet_switch::frame_link::LinkState;
use vnet_switch::{FrameLink, FrameMeta, LinkCaps, RxSlot, TxSlot};
use zerocopy::little_endian::{U32, U64};

use super::layout::{offset, QueueRegs, Registers, MAGIC, QUEUES, REG_LEN, VERSION};

/// Largest queue size the device accepts.
pub const QUEUE_MAX: u16 = 64;
/// Receive chains the port holds at once (no `MRG_RXBUF`: one per frame in flight).
pub const CHAINS: usize = 16;

/// The port the device hands the rings to.
pub type ShmNetPort<'m> = VirtioNetPort<'m, MemoryRegion<'m>, 1536, 2, CHAINS, 64, 16>;

/// What the device offers: version 1, a MAC, link status and an MTU in config space.
pub const OFFERED: u64 =
    Features::VERSION_1.bits() | NetFeatures::MAC | NetFeatures::STATUS | NetFeatures::MTU;

/// Why the device refused or dropped its driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShmDeviceError {
    /// A device-owned register was overwritten: which, and the value found.
    Layout {
        /// The register.
        field: &'static str,
        /// What it held.
        value: u64,
    },
    /// The driver accepted features the device did not offer, or not `VERSION_1`.
    Features {
        /// What the driver wrote.
        driver: u64,
        /// What the device offered.
        offered: u64,
    },
    /// `DRIVER_OK` with a queue not set up.
    QueueNotReady {
        /// The queue.
        queue: u16,
    },
    /// A queue size that is zero, not a power of two or above [`QUEUE_MAX`].
    QueueSize {
        /// The queue.
        queue: u16,
        /// The size written.
        size: u32,
    },
    /// The virtqueue crate refused a ring (misaligned, outside the DMA area).
    Ring {
        /// The queue.
        queue: u16,
        /// Its error.
        error: virtqueue::Error,
    },
    /// The virtio-net port refused the configuration or went down.
    Port(VirtioNetError),
    /// Features or queue registers changed while the device was running: which.
    Reconfigured {
        /// The register.
        field: &'static str,
    },
    /// The driver set `FAILED`.
    DriverFailed,
}

impl fmt::Display for ShmDeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShmDeviceError::Layout { field, value } => {
                write!(f, "register `{field}` overwritten with {value:#x}")
            }
            ShmDeviceError::Features { driver, offered } => write!(
                f,
                "driver features {driver:#x} are not a subset of the offered {offered:#x} with VERSION_1"
            ),
            ShmDeviceError::QueueNotReady { queue } => {
                write!(f, "DRIVER_OK but queue {queue} is not set up")
            }
            ShmDeviceError::QueueSize { queue, size } => write!(
                f,
                "queue {queue}: size {size} is not a power of two in 1..={QUEUE_MAX}"
            ),
            ShmDeviceError::Ring { queue, error } => write!(f, "queue {queue}: {error}"),
            ShmDeviceError::Port(e) => write!(f, "virtio-net port: {e}"),
            ShmDeviceError::Reconfigured { field } => {
                write!(f, "`{field}` changed while the device was running")
            }
            ShmDeviceError::DriverFailed => write!(f, "the driver set FAILED"),
        }
    }
}

/// Where the device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Waiting for the driver's `DRIVER_OK`.
    Waiting,
    /// Serving the driver's rings.
    Running,
    /// Refused the driver (`DEVICE_NEEDS_RESET` set) until it resets.
    Failed(ShmDeviceError),
}

/// Counters of the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShmDeviceStats {
    /// Kicks seen per queue (differences of the driver's counters).
    pub kicks: [u64; QUEUES],
    /// Times the driver was attached.
    pub attaches: u64,
    /// Times the driver was refused or dropped.
    pub failures: u64,
    /// Driver resets seen.
    pub resets: u64,
    /// The last failure.
    pub last_error: Option<ShmDeviceError>,
}

/// The service partition's side of one shared-memory virtio-net device.
pub struct ShmDevice<'m> {
    regs: VolatileSlice<'m>,
    mem: &'m MemoryRegion<'m>,
    mac: [u8; 6],
    config: [u8; 64],
    state: DeviceState,
    port: Option<Box<ShmNetPort<'m>>>,
    attached: (u64, [QueueRegs; QUEUES]),
    last_notify: [u32; QUEUES],
    last_resets: u32,
    stats: ShmDeviceStats,
}

impl<'m> ShmDevice<'m> {
    /// Formats the register block (the first [`REG_LEN`] bytes of `region`) for a
    /// virtio-net device with `mac` and `mtu`; `dma` is the DMA area as the rings address
    /// it. `None` if `region` is shorter than the register block.
    pub fn new(
        region: VolatileSlice<'m>,
        dma: &'m MemoryRegion<'m>,
        mac: [u8; 6],
        mtu: u16,
    ) -> Option<Self> {
        let regs = region.subslice(0, REG_LEN).ok()?;
        let mut config = [0u8; 64];
        config[..6].copy_from_slice(&mac);
        config[6..8].copy_from_slice(&1u16.to_le_bytes()); // link up
        config[8..10].copy_from_slice(&1u16.to_le_bytes()); // one queue pair
        config[10..12].copy_from_slice(&mtu.to_le_bytes());
        let mut dev = ShmDevice {
            regs,
            mem: dma,
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
        self.port.as_deref()
    }

    /// Writes every device-owned register (a fresh device, or after a reset); the
    /// driver's registers are left alone.
    fn format(&mut self) {
        let words = [
            MAGIC,
            VERSION,
            nic_drivers::transport::DEVICE_TYPE_NET,
            u32::from(QUEUE_MAX),
        ];
        for (i, w) in words.iter().enumerate() {
            let _ = self.regs.write_obj(4 * i, &U32::new(*w));
        }
        let _ = self.regs.write_obj(0x10, &U64::new(OFFERED));
        let _ = self.regs.write_obj(offset::CONFIG, &self.config);
    }

    /// Back to waiting for the driver: port dropped, registers re-formatted.
    fn reset(&mut self) {
        if self.state != DeviceState::Waiting {
            self.stats.resets += 1;
            self.port = None;
            self.state = DeviceState::Waiting;
            self.format();
        }
    }

    fn set_device_status(&self, s: DeviceStatus) {
        let _ = self
            .regs
            .write_obj(offset::DEVICE_STATUS, &U32::new(s.bits()));
    }

    fn fail(&mut self, e: ShmDeviceError) {
        self.port = None;
        self.state = DeviceState::Failed(e);
        self.stats.failures += 1;
        self.stats.last_error = Some(e);
        self.set_device_status(DeviceStatus::DEVICE_NEEDS_RESET);
    }

    /// Checks the device-owned registers of a snapshot.
    fn check_layout(&self, r: &Registers) -> Result<(), ShmDeviceError> {
        let checks: [(&'static str, u64, u64); 5] = [
            ("magic", r.magic.get().into(), MAGIC.into()),
            ("version", r.version.get().into(), VERSION.into()),
            (
                "device_type",
                r.device_type.get().into(),
                nic_drivers::transport::DEVICE_TYPE_NET.into(),
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
    fn attach(&mut self, r: &Registers) -> Result<Box<ShmNetPort<'m>>, ShmDeviceError> {
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
        let port =
            ShmNetPort::new(receiveq, transmitq, driver, 1518).map_err(ShmDeviceError::Port)?;
        Ok(Box::new(port))
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
            self.reset();
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

    /// After a switch poll (done by [`FrameLink::service`]): raise the interrupt cause if
    /// the driver wants one (a polling driver ignores it).
    pub fn after_poll(&mut self) {
        if let Some(p) = self.port.as_mut() {
            if p.interrupts().any() {
                let _ = self.regs.write_obj(offset::INTERRUPT, &U32::new(1));
            }
        }
    }
}

impl FrameLink for ShmDevice<'_> {
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
