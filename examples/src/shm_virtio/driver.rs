//! The driver side: nic-drivers' [`Transport`] over the register block. The partition's
//! ordinary virtio-net driver ([`nic_drivers::net::VirtioNet`]) runs on it unchanged.
//!
//! Everything the device wrote is read through the view each time it is asked for and
//! handed to the driver, which validates it (feature bits, configuration, queue sizes);
//! this side only moves values.

use nic_drivers::transport::{DeviceStatus, InterruptStatus, Transport};
use nic_drivers::virtqueue::{QueueConfig, VolatileSlice};
use nic_drivers::Error;
use zerocopy::little_endian::{U32, U64};

use super::layout::{offset, QUEUES, REG_LEN};

/// The driver's view of the register block.
#[derive(Debug)]
pub struct ShmTransport<'a> {
    regs: VolatileSlice<'a>,
}

impl<'a> ShmTransport<'a> {
    /// A transport over the first [`REG_LEN`] bytes of `region`; `None` if it is shorter.
    pub fn new(region: VolatileSlice<'a>) -> Option<Self> {
        region
            .subslice(0, REG_LEN)
            .ok()
            .map(|regs| ShmTransport { regs })
    }

    fn read32(&self, at: usize) -> u32 {
        self.regs.read_u32(at).unwrap_or(u32::MAX)
    }

    fn write32(&self, at: usize, v: u32) {
        // In bounds: every offset used is inside the 4096-byte view.
        let _ = self.regs.write_obj(at, &U32::new(v));
    }
}

impl Transport for ShmTransport<'_> {
    fn device_type(&self) -> u32 {
        self.read32(0x08)
    }

    fn is_legacy(&self) -> bool {
        false
    }

    fn device_features(&mut self) -> u64 {
        self.regs.read_u64(0x10).unwrap_or(0)
    }

    fn set_driver_features(&mut self, features: u64) {
        let _ = self
            .regs
            .write_obj(offset::DRIVER_FEATURES, &U64::new(features));
    }

    fn status(&mut self) -> DeviceStatus {
        let s = self.read32(offset::STATUS) | self.read32(offset::DEVICE_STATUS);
        DeviceStatus::from_bits_retain(s)
    }

    fn set_status(&mut self, status: DeviceStatus) {
        if status.is_empty() {
            // A reset also clears what the device flagged; the device sees the counter
            // move even if it never observed status 0.
            self.write32(offset::DEVICE_STATUS, 0);
            let n = self.read32(offset::RESETS).wrapping_add(1);
            self.write32(offset::RESETS, n);
        }
        self.write32(offset::STATUS, status.bits());
    }

    fn max_queue_size(&mut self, queue: u16) -> u16 {
        if usize::from(queue) >= QUEUES {
            return 0;
        }
        u16::try_from(self.read32(0x0c)).unwrap_or(0)
    }

    fn setup_queue(&mut self, queue: u16, cfg: &QueueConfig) -> Result<(), Error> {
        if usize::from(queue) >= QUEUES {
            return Err(Error::Unsupported {
                what: "a queue beyond receiveq and transmitq",
            });
        }
        let at = offset::QUEUES + 32 * usize::from(queue);
        let regs = super::layout::QueueRegs {
            desc: U64::new(cfg.desc),
            avail: U64::new(cfg.avail),
            used: U64::new(cfg.used),
            size: U32::new(u32::from(cfg.size)),
            ready: U32::new(1),
        };
        let _ = self.regs.write_obj(at, &regs);
        Ok(())
    }

    fn notify(&mut self, queue: u16) {
        if usize::from(queue) < QUEUES {
            let at = offset::NOTIFY + 4 * usize::from(queue);
            let n = self.read32(at).wrapping_add(1);
            self.write32(at, n);
        }
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        let v = self.read32(offset::INTERRUPT);
        self.write32(offset::INTERRUPT, 0);
        InterruptStatus::from_bits_truncate(v)
    }

    fn config_generation(&mut self) -> u32 {
        self.read32(offset::GENERATION)
    }

    fn read_config8(&mut self, offset: usize) -> u8 {
        if offset >= 64 {
            return u8::MAX;
        }
        let mut b = [0u8; 1];
        match self.regs.read_into(self::offset::CONFIG + offset, &mut b) {
            Ok(()) => b[0],
            Err(_) => u8::MAX,
        }
    }
}
