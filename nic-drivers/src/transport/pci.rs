//! virtio-pci modern transport (VirtIO 1.x 4.1): the common, notify, ISR and
//! device-config structures, found through vendor capabilities and mapped with the HAL.

use virtqueue::QueueConfig;

use super::{DeviceStatus, InterruptStatus, Transport};
use crate::pci::{header, ConfigAccess, PciAddress, PciRoot};
use crate::{Error, Hal, RegisterIo};

/// PCI vendor id of VirtIO devices.
pub const VIRTIO_VENDOR: u16 = 0x1af4;

/// Offsets in the common configuration structure (4.1.4.3).
mod common {
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    pub const DEVICE_FEATURE: usize = 0x04;
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    pub const DRIVER_FEATURE: usize = 0x0c;
    pub const MSIX_CONFIG: usize = 0x10;
    pub const DEVICE_STATUS: usize = 0x14;
    pub const CONFIG_GENERATION: usize = 0x15;
    pub const QUEUE_SELECT: usize = 0x16;
    pub const QUEUE_SIZE: usize = 0x18;
    pub const QUEUE_MSIX_VECTOR: usize = 0x1a;
    pub const QUEUE_ENABLE: usize = 0x1c;
    pub const QUEUE_NOTIFY_OFF: usize = 0x1e;
    pub const QUEUE_DESC: usize = 0x20;
    pub const QUEUE_DRIVER: usize = 0x28;
    pub const QUEUE_DEVICE: usize = 0x30;
    pub const LEN: usize = 0x38;
}

/// `cfg_type` of the virtio vendor capabilities (4.1.4).
mod cap {
    pub const VENDOR: u8 = 0x09;
    pub const COMMON: u8 = 1;
    pub const NOTIFY: u8 = 2;
    pub const ISR: u8 = 3;
    pub const DEVICE: u8 = 4;
}

/// MSI-X "no vector".
const NO_VECTOR: u16 = 0xffff;

/// The virtio device type of a PCI function: modern ids `0x1040 + type`, transitional
/// ids `0x1000..=0x103f` with the type in the subsystem id. `None` if not virtio.
pub fn virtio_device_type<C: ConfigAccess>(root: &PciRoot<C>, addr: PciAddress) -> Option<u32> {
    let f = root.function(addr)?;
    if f.vendor != VIRTIO_VENDOR {
        return None;
    }
    match f.device {
        0x1040..=0x107f => Some(u32::from(f.device - 0x1040)),
        0x1000..=0x103f => Some(root.access().read32(addr, header::SUBSYSTEM) >> 16),
        _ => None,
    }
}

/// Where one virtio structure lives: BAR, offset and length (validated by `probe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapabilityLocation {
    /// BAR index.
    pub bar: u8,
    /// Offset inside the BAR.
    pub offset: u32,
    /// Length in bytes.
    pub length: u32,
}

/// A virtio-pci modern device over register windows `R`.
#[derive(Debug)]
pub struct PciTransport<R: RegisterIo> {
    device_type: u32,
    common: R,
    notify: R,
    notify_multiplier: u32,
    isr: R,
    config: R,
    /// Notify offsets of the first queues, cached at set-up (saves two register
    /// accesses per notification).
    notify_at: [Option<usize>; 4],
}

impl<R: RegisterIo> PciTransport<R> {
    /// A transport over already mapped structures (tests, or integrators that map
    /// themselves). Checks the common window covers the whole structure.
    pub fn from_parts(
        device_type: u32,
        common: R,
        notify: R,
        notify_multiplier: u32,
        isr: R,
        config: R,
    ) -> Result<Self, Error> {
        if common.len() < common::LEN {
            return Err(Error::ConfigInvalid {
                field: "common configuration length",
                value: common.len() as u64,
            });
        }
        if isr.is_empty() {
            return Err(Error::ConfigInvalid {
                field: "ISR length",
                value: 0,
            });
        }
        Ok(PciTransport {
            device_type,
            common,
            notify,
            notify_multiplier,
            isr,
            config,
            notify_at: [None; 4],
        })
    }

    /// Find the virtio capabilities of the function at `addr`, map them with `hal`
    /// (memory BARs must be assigned: see [`PciRoot::assign_bars`]) and enable memory
    /// decoding and bus mastering.
    pub fn probe<H: Hal<Mmio = R>, C: ConfigAccess>(
        hal: &H,
        root: &PciRoot<C>,
        addr: PciAddress,
    ) -> Result<Self, Error> {
        let device_type = virtio_device_type(root, addr).ok_or(Error::NoDevice {
            found: root.access().read32(addr, header::ID),
        })?;
        let mut found: [Option<CapabilityLocation>; 4] = [None; 4];
        let mut multiplier = 0;
        for (id, at) in root.capabilities(addr) {
            if id != cap::VENDOR {
                continue;
            }
            let cfg_type = root.read(addr, at + 3, 1) as u8;
            let loc = CapabilityLocation {
                bar: root.read(addr, at + 4, 1) as u8,
                offset: root.read(addr, at + 8, 4),
                length: root.read(addr, at + 12, 4),
            };
            let slot = match cfg_type {
                cap::COMMON => 0,
                cap::NOTIFY => {
                    multiplier = root.read(addr, at + 16, 4);
                    1
                }
                cap::ISR => 2,
                cap::DEVICE => 3,
                _ => continue,
            };
            // The first capability of each type is the preferred one (4.1.4.1).
            if let Some(s) = found.get_mut(slot) {
                if s.is_none() && loc.bar < 6 {
                    *s = Some(loc);
                }
            }
        }
        root.enable(addr);
        let map = |slot: usize, what: &'static str| -> Result<R, Error> {
            let loc = found
                .get(slot)
                .copied()
                .flatten()
                .ok_or(Error::Unsupported { what })?;
            let bar = root.bar(addr, loc.bar)?.ok_or(Error::ConfigInvalid {
                field: "virtio capability BAR",
                value: u64::from(loc.bar),
            })?;
            let end = u64::from(loc.offset) + u64::from(loc.length);
            if end > bar.size || bar.address == 0 {
                return Err(Error::ConfigInvalid {
                    field: "virtio capability range",
                    value: end,
                });
            }
            Ok(hal.mmio_map(bar.address + u64::from(loc.offset), loc.length as usize)?)
        };
        let common = map(0, "virtio-pci common configuration capability")?;
        let notify = map(1, "virtio-pci notify capability")?;
        let isr = map(2, "virtio-pci ISR capability")?;
        let config = map(3, "virtio-pci device configuration capability")?;
        Self::from_parts(device_type, common, notify, multiplier, isr, config)
    }

    fn write64(&self, off: usize, v: u64) {
        self.common.write32(off, v as u32);
        self.common.write32(off + 4, (v >> 32) as u32);
    }
}

impl<R: RegisterIo> Transport for PciTransport<R> {
    fn device_type(&self) -> u32 {
        self.device_type
    }

    fn is_legacy(&self) -> bool {
        false
    }

    fn device_features(&mut self) -> u64 {
        self.common.write32(common::DEVICE_FEATURE_SELECT, 0);
        let lo = self.common.read32(common::DEVICE_FEATURE);
        self.common.write32(common::DEVICE_FEATURE_SELECT, 1);
        let hi = self.common.read32(common::DEVICE_FEATURE);
        u64::from(lo) | u64::from(hi) << 32
    }

    fn set_driver_features(&mut self, features: u64) {
        self.common.write32(common::DRIVER_FEATURE_SELECT, 0);
        self.common.write32(common::DRIVER_FEATURE, features as u32);
        self.common.write32(common::DRIVER_FEATURE_SELECT, 1);
        self.common
            .write32(common::DRIVER_FEATURE, (features >> 32) as u32);
    }

    fn status(&mut self) -> DeviceStatus {
        DeviceStatus::from_bits_retain(u32::from(self.common.read8(common::DEVICE_STATUS)))
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.common
            .write8(common::DEVICE_STATUS, status.bits() as u8);
        if status.is_empty() {
            self.common.write16(common::MSIX_CONFIG, NO_VECTOR);
        }
    }

    fn max_queue_size(&mut self, queue: u16) -> u16 {
        self.common.write16(common::QUEUE_SELECT, queue);
        if self.common.read16(common::QUEUE_ENABLE) != 0 {
            return 0;
        }
        self.common
            .read16(common::QUEUE_SIZE)
            .min(virtqueue::layout::MAX_QUEUE_SIZE)
    }

    fn setup_queue(&mut self, queue: u16, cfg: &QueueConfig) -> Result<(), Error> {
        self.common.write16(common::QUEUE_SELECT, queue);
        let off = u64::from(self.common.read16(common::QUEUE_NOTIFY_OFF));
        let at = off * u64::from(self.notify_multiplier);
        if at + 2 > self.notify.len() as u64 {
            return Err(Error::ConfigInvalid {
                field: "queue_notify_off",
                value: off,
            });
        }
        self.common.write16(common::QUEUE_SIZE, cfg.size);
        self.common.write16(common::QUEUE_MSIX_VECTOR, NO_VECTOR);
        self.write64(common::QUEUE_DESC, cfg.desc);
        self.write64(common::QUEUE_DRIVER, cfg.avail);
        self.write64(common::QUEUE_DEVICE, cfg.used);
        self.common.write16(common::QUEUE_ENABLE, 1);
        if let Some(n) = self.notify_at.get_mut(usize::from(queue)) {
            *n = usize::try_from(at).ok();
        }
        Ok(())
    }

    fn notify(&mut self, queue: u16) {
        if let Some(Some(at)) = self.notify_at.get(usize::from(queue)) {
            self.notify.write16(*at, queue);
            return;
        }
        self.common.write16(common::QUEUE_SELECT, queue);
        let off = usize::from(self.common.read16(common::QUEUE_NOTIFY_OFF));
        // Out-of-window offsets are ignored by the register window (checked at set-up).
        let at = off.saturating_mul(self.notify_multiplier as usize);
        self.notify.write16(at, queue);
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        InterruptStatus::from_bits_truncate(u32::from(self.isr.read8(0)))
    }

    fn config_generation(&mut self) -> u32 {
        u32::from(self.common.read8(common::CONFIG_GENERATION))
    }

    fn read_config8(&mut self, offset: usize) -> u8 {
        self.config.read8(offset)
    }

    fn read_config16(&mut self, offset: usize) -> u16 {
        self.config.read16(offset)
    }
}
