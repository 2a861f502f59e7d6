//! virtio-mmio transport (VirtIO 1.x 4.2), modern (version 2) and legacy (version 1).

use virtqueue::QueueConfig;

use super::{queue_layout, DeviceStatus, InterruptStatus, Transport, LEGACY_ALIGN};
use crate::{Error, RegisterIo};

/// Register offsets (VirtIO 1.x 4.2.2, legacy 4.2.4).
mod reg {
    pub const MAGIC: usize = 0x000;
    pub const VERSION: usize = 0x004;
    pub const DEVICE_ID: usize = 0x008;
    pub const DEVICE_FEATURES: usize = 0x010;
    pub const DEVICE_FEATURES_SEL: usize = 0x014;
    pub const DRIVER_FEATURES: usize = 0x020;
    pub const DRIVER_FEATURES_SEL: usize = 0x024;
    pub const GUEST_PAGE_SIZE: usize = 0x028;
    pub const QUEUE_SEL: usize = 0x030;
    pub const QUEUE_NUM_MAX: usize = 0x034;
    pub const QUEUE_NUM: usize = 0x038;
    pub const QUEUE_ALIGN: usize = 0x03c;
    pub const QUEUE_PFN: usize = 0x040;
    pub const QUEUE_READY: usize = 0x044;
    pub const QUEUE_NOTIFY: usize = 0x050;
    pub const INTERRUPT_STATUS: usize = 0x060;
    pub const INTERRUPT_ACK: usize = 0x064;
    pub const STATUS: usize = 0x070;
    pub const QUEUE_DESC_LOW: usize = 0x080;
    pub const QUEUE_DRIVER_LOW: usize = 0x090;
    pub const QUEUE_DEVICE_LOW: usize = 0x0a0;
    pub const CONFIG_GENERATION: usize = 0x0fc;
    pub const CONFIG: usize = 0x100;
}

/// `MagicValue`: "virt" in little-endian.
pub const MAGIC: u32 = 0x7472_6976;

/// Bytes of register window a virtio-mmio device occupies (registers + config).
pub const WINDOW_LEN: usize = 0x200;

/// Where a platform puts its virtio-mmio slots: `count` windows, `stride` bytes apart,
/// from `base` (physical addresses; a device tree's `virtio,mmio` nodes say the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioSlots {
    /// Address of the first slot.
    pub base: u64,
    /// Distance between slots in bytes.
    pub stride: u64,
    /// Number of slots.
    pub count: u64,
}

impl MmioSlots {
    /// QEMU's riscv64 `virt` machine: 8 slots from `0x1000_1000`, `0x1000` apart.
    pub const QEMU_VIRT_RISCV64: MmioSlots = MmioSlots {
        base: 0x1000_1000,
        stride: 0x1000,
        count: 8,
    };

    /// The first slot holding a virtio device of type `device_type` (1: network card),
    /// as its address and probed transport; `Ok(None)` when no slot has one. `map` maps
    /// one slot's [`WINDOW_LEN`] bytes (e.g. through [`crate::Hal::mmio_map`]); its errors
    /// end the search. Empty slots and windows that are not virtio-mmio are skipped.
    /// Bounded: at most `count` probes.
    pub fn find<R: RegisterIo>(
        &self,
        device_type: u32,
        mut map: impl FnMut(u64) -> Result<R, Error>,
    ) -> Result<Option<(u64, MmioTransport<R>)>, Error> {
        for slot in 0..self.count {
            let Some(addr) = slot
                .checked_mul(self.stride)
                .and_then(|off| self.base.checked_add(off))
            else {
                break;
            };
            if let Ok(t) = MmioTransport::new(map(addr)?) {
                if t.device_type() == device_type {
                    return Ok(Some((addr, t)));
                }
            }
        }
        Ok(None)
    }
}

/// A virtio-mmio device over a register window `R` (e.g. [`crate::MmioWindow`] from
/// [`crate::Hal::mmio_map`]).
#[derive(Debug)]
pub struct MmioTransport<R: RegisterIo> {
    regs: R,
    legacy: bool,
    device_type: u32,
}

impl<R: RegisterIo> MmioTransport<R> {
    /// Probe the window: checks the magic value, the version (1 or 2) and that a device
    /// is present (device id 0 means an empty slot: [`Error::NoDevice`]).
    pub fn new(regs: R) -> Result<Self, Error> {
        let magic = regs.read32(reg::MAGIC);
        if magic != MAGIC {
            return Err(Error::NoDevice { found: magic });
        }
        let version = regs.read32(reg::VERSION);
        let legacy = match version {
            1 => true,
            2 => false,
            v => {
                return Err(Error::ConfigInvalid {
                    field: "virtio-mmio version",
                    value: u64::from(v),
                })
            }
        };
        let device_type = regs.read32(reg::DEVICE_ID);
        if device_type == 0 {
            return Err(Error::NoDevice { found: 0 });
        }
        if legacy {
            regs.write32(reg::GUEST_PAGE_SIZE, LEGACY_ALIGN as u32);
        }
        Ok(MmioTransport {
            regs,
            legacy,
            device_type,
        })
    }

    /// The register window.
    pub fn registers(&self) -> &R {
        &self.regs
    }
}

fn split(v: u64) -> (u32, u32) {
    (v as u32, (v >> 32) as u32)
}

impl<R: RegisterIo> Transport for MmioTransport<R> {
    fn device_type(&self) -> u32 {
        self.device_type
    }

    fn is_legacy(&self) -> bool {
        self.legacy
    }

    fn device_features(&mut self) -> u64 {
        self.regs.write32(reg::DEVICE_FEATURES_SEL, 0);
        let lo = self.regs.read32(reg::DEVICE_FEATURES);
        if self.legacy {
            return u64::from(lo);
        }
        self.regs.write32(reg::DEVICE_FEATURES_SEL, 1);
        let hi = self.regs.read32(reg::DEVICE_FEATURES);
        u64::from(lo) | u64::from(hi) << 32
    }

    fn set_driver_features(&mut self, features: u64) {
        let (lo, hi) = split(features);
        self.regs.write32(reg::DRIVER_FEATURES_SEL, 0);
        self.regs.write32(reg::DRIVER_FEATURES, lo);
        if !self.legacy {
            self.regs.write32(reg::DRIVER_FEATURES_SEL, 1);
            self.regs.write32(reg::DRIVER_FEATURES, hi);
        }
    }

    fn status(&mut self) -> DeviceStatus {
        DeviceStatus::from_bits_retain(self.regs.read32(reg::STATUS))
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.regs.write32(reg::STATUS, status.bits());
    }

    fn max_queue_size(&mut self, queue: u16) -> u16 {
        self.regs.write32(reg::QUEUE_SEL, u32::from(queue));
        let ready = if self.legacy {
            self.regs.read32(reg::QUEUE_PFN)
        } else {
            self.regs.read32(reg::QUEUE_READY)
        };
        if ready != 0 {
            return 0; // already in use: not ours to set up
        }
        let max = self.regs.read32(reg::QUEUE_NUM_MAX);
        u16::try_from(max.min(u32::from(virtqueue::layout::MAX_QUEUE_SIZE))).unwrap_or(0)
    }

    fn setup_queue(&mut self, queue: u16, cfg: &QueueConfig) -> Result<(), Error> {
        self.regs.write32(reg::QUEUE_SEL, u32::from(queue));
        self.regs.write32(reg::QUEUE_NUM, u32::from(cfg.size));
        if self.legacy {
            let (expected, _) = queue_layout(cfg.desc, cfg.size, LEGACY_ALIGN);
            if expected != *cfg || !cfg.desc.is_multiple_of(LEGACY_ALIGN) {
                return Err(Error::Unsupported {
                    what: "a non-contiguous or unaligned queue on a legacy transport",
                });
            }
            let pfn = u32::try_from(cfg.desc / LEGACY_ALIGN).map_err(|_| Error::Unsupported {
                what: "a legacy queue above 2^44",
            })?;
            // A device reset may have cleared the page size (QEMU does): write it again.
            self.regs.write32(reg::GUEST_PAGE_SIZE, LEGACY_ALIGN as u32);
            self.regs.write32(reg::QUEUE_ALIGN, LEGACY_ALIGN as u32);
            self.regs.write32(reg::QUEUE_PFN, pfn);
        } else {
            for (off, addr) in [
                (reg::QUEUE_DESC_LOW, cfg.desc),
                (reg::QUEUE_DRIVER_LOW, cfg.avail),
                (reg::QUEUE_DEVICE_LOW, cfg.used),
            ] {
                let (lo, hi) = split(addr);
                self.regs.write32(off, lo);
                self.regs.write32(off + 4, hi);
            }
            self.regs.write32(reg::QUEUE_READY, 1);
        }
        Ok(())
    }

    fn notify(&mut self, queue: u16) {
        self.regs.write32(reg::QUEUE_NOTIFY, u32::from(queue));
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        let s = self.regs.read32(reg::INTERRUPT_STATUS);
        self.regs.write32(reg::INTERRUPT_ACK, s & 3);
        InterruptStatus::from_bits_truncate(s)
    }

    fn config_generation(&mut self) -> u32 {
        if self.legacy {
            0
        } else {
            self.regs.read32(reg::CONFIG_GENERATION)
        }
    }

    fn read_config8(&mut self, offset: usize) -> u8 {
        match reg::CONFIG.checked_add(offset) {
            Some(off) => self.regs.read8(off),
            None => u8::MAX,
        }
    }
}
