//! The shared-memory virtio transport, driver side: an ordinary virtio-net driver
//! ([`VirtioNet`](crate::net::VirtioNet)) in one partition, its device in another (the
//! service partition's `vnet_switch::adapters::shm::ShmDevice`), and nothing between
//! them but one shared memory region.
//!
//! The region's layout, who writes which register, and what a hostile peer can do are
//! defined once in [`virtqueue::shm`]; in short: a 4 KiB register block, then the DMA
//! area from which this partition allocates its rings and buffers.
//!
//! - [`ShmTransport`] is the [`Transport`] over the register block. Everything the device
//!   wrote is read from the shared block each time the driver asks and handed to it
//!   unchanged; the driver validates it (device type, feature subset, configuration
//!   under the generation counter, queue sizes, used ids and lengths). A block the
//!   device has not formatted (wrong magic or version) reads as no device at all.
//! - [`ShmHal`] is the [`Hal`](crate::Hal): a bump allocator over the DMA area whose
//!   addresses are region addresses ([`DMA_BASE`](virtqueue::shm::DMA_BASE) + offset),
//!   the numbers the device side translates. No IOMMU, nothing to share or unshare.
//! - Notifications: [`Transport::notify`] increments the queue's kick counter, then rings
//!   the transport's [`Doorbell`] (an ivshmem doorbell, a hypervisor's inter-partition
//!   interrupt). With the default [`NoDoorbell`] the device polls the counters.
//!   Interrupts from the device are the `interrupt` register, read and cleared by
//!   [`Transport::ack_interrupt`]; how they reach this partition (if not by polling) is
//!   the integrator's.
//!
//! ```
//! use nic_drivers::net::{NetConfig, VirtioNet};
//! use nic_drivers::transport::shm::{ShmHal, ShmTransport};
//! use nic_drivers::virtqueue::{shm, OwnedMemory, SharedMemory};
//! use nic_drivers::Error;
//!
//! // In a real system: the region both partitions map (a `/dev/shm` file, an ivshmem BAR).
//! let owned = OwnedMemory::new(0, shm::REG_LEN + 128 * 1024);
//! let view = owned.region().get(0, shm::REG_LEN + 128 * 1024).unwrap();
//! let (regs, dma) = shm::split(view).unwrap();
//! let hal = ShmHal::new(dma);
//! let transport = ShmTransport::new(regs).unwrap();
//! // No device formatted the block yet: the driver finds no network device.
//! let r = VirtioNet::<'_, _, _, 64, 16>::new(&hal, transport, NetConfig::default());
//! assert!(matches!(r, Err(Error::NoDevice { found: 0 })));
//! ```

mod hal;

pub use hal::ShmHal;
pub use virtqueue::shm::{Doorbell, NoDoorbell};

use virtqueue::shm::{offset, QueueRegs, MAGIC, QUEUES, REG_LEN, U32, U64, VERSION};
use virtqueue::{QueueConfig, VolatileSlice};

use super::{DeviceStatus, InterruptStatus, Transport};
use crate::Error;

/// The driver's view of the register block, ringing `D` after each queue kick.
#[derive(Debug)]
pub struct ShmTransport<'a, D: Doorbell = NoDoorbell> {
    regs: VolatileSlice<'a>,
    doorbell: D,
}

impl<'a> ShmTransport<'a> {
    /// A polled transport over the first [`REG_LEN`] bytes of `region`; `None` if it is
    /// shorter.
    pub fn new(region: VolatileSlice<'a>) -> Option<Self> {
        Self::with_doorbell(region, NoDoorbell)
    }
}

impl<'a, D: Doorbell> ShmTransport<'a, D> {
    /// A transport over the first [`REG_LEN`] bytes of `region` that rings `doorbell`
    /// after every queue kick; `None` if `region` is shorter.
    pub fn with_doorbell(region: VolatileSlice<'a>, doorbell: D) -> Option<Self> {
        region
            .subslice(0, REG_LEN)
            .ok()
            .map(|regs| ShmTransport { regs, doorbell })
    }

    /// The doorbell.
    pub fn doorbell(&self) -> &D {
        &self.doorbell
    }

    fn read32(&self, at: usize) -> u32 {
        self.regs.read_u32(at).unwrap_or(u32::MAX)
    }

    fn write32(&self, at: usize, v: u32) {
        // In bounds: every offset used is inside the 4096-byte view.
        let _ = self.regs.write_obj(at, &U32::new(v));
    }
}

impl<D: Doorbell> Transport for ShmTransport<'_, D> {
    /// The device type the device wrote, or 0 (no device) while the block does not carry
    /// [`MAGIC`] and [`VERSION`].
    fn device_type(&self) -> u32 {
        let (magic, version) = (self.read32(offset::MAGIC), self.read32(offset::VERSION));
        if magic != MAGIC || version != VERSION {
            return 0;
        }
        self.read32(offset::DEVICE_TYPE)
    }

    fn is_legacy(&self) -> bool {
        false
    }

    fn device_features(&mut self) -> u64 {
        self.regs.read_u64(offset::DEVICE_FEATURES).unwrap_or(0)
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
        u16::try_from(self.read32(offset::QUEUE_MAX)).unwrap_or(0)
    }

    fn setup_queue(&mut self, queue: u16, cfg: &QueueConfig) -> Result<(), Error> {
        if usize::from(queue) >= QUEUES {
            return Err(Error::Unsupported {
                what: "a queue beyond receiveq and transmitq",
            });
        }
        let at = offset::QUEUES + offset::QUEUE_STRIDE * usize::from(queue);
        let regs = QueueRegs {
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
            self.doorbell.ring();
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
        if offset >= virtqueue::shm::CONFIG_LEN {
            return u8::MAX;
        }
        let mut b = [0u8; 1];
        match self.regs.read_into(self::offset::CONFIG + offset, &mut b) {
            Ok(()) => b[0],
            Err(_) => u8::MAX,
        }
    }
}
