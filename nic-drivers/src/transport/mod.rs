//! VirtIO transports, driver side: how a driver finds a device's features, status,
//! configuration space, queues and notifications.
//!
//! - [`mmio::MmioTransport`]: virtio-mmio, modern (version 2) and legacy (version 1);
//! - [`pci::PciTransport`]: virtio-pci modern (common, notify, ISR and device-config
//!   capabilities), found with [`crate::pci`];
//! - [`shm::ShmTransport`]: virtio over a memory region shared with the device's
//!   partition (with [`shm::ShmHal`] allocating in it);
//! - `mock::FakeTransport` (feature `test-utils`): an in-process device for tests.
//!
//! [`init_device`] runs the status state machine of VirtIO 1.x 3.1.1 (reset,
//! `ACKNOWLEDGE`, `DRIVER`, feature negotiation, `FEATURES_OK`); the driver then sets up
//! its queues and calls [`Transport::set_status`] with `DRIVER_OK`.
//! [`read_config_consistent`] reads the device configuration under the generation
//! counter (4.1.4.3.1, 4.2.2.2).

pub mod mmio;
pub mod pci;
pub mod shm;

use virtqueue::QueueConfig;

use crate::Error;

/// The status and interrupt words, defined once in `virtqueue` for both sides.
pub use virtqueue::{DeviceStatus, InterruptStatus};

/// Device type of a network card (VirtIO 1.x 5), defined once in `virtqueue::net`.
pub use virtqueue::net::DEVICE_TYPE_NET;

/// Page size and used-ring alignment the legacy interface uses (VirtIO 0.9.5 / 1.x 2.7.2).
pub const LEGACY_ALIGN: u64 = 4096;

/// How long [`init_device`] waits for a reset to complete (status polls).
pub const RESET_SPINS: u32 = 1 << 16;

/// Driver side of a VirtIO transport.
pub trait Transport {
    /// The device type (1 = network).
    fn device_type(&self) -> u32;

    /// Whether this is a legacy (pre-1.0) interface: 32 feature bits, no `FEATURES_OK`,
    /// contiguous queues with the used ring at [`LEGACY_ALIGN`].
    fn is_legacy(&self) -> bool;

    /// The 64 feature bits the device offers (bits 32.. are zero for legacy).
    fn device_features(&mut self) -> u64;

    /// Write the features the driver accepts.
    fn set_driver_features(&mut self, features: u64);

    /// The device status.
    fn status(&mut self) -> DeviceStatus;

    /// Write the device status (0 resets the device).
    fn set_status(&mut self, status: DeviceStatus);

    /// Largest size the device supports for `queue` (0: no such queue).
    fn max_queue_size(&mut self, queue: u16) -> u16;

    /// Give the device the rings of `queue` (device addresses) and enable it. Legacy
    /// transports need the contiguous layout of [`queue_layout`] with the used ring at
    /// [`LEGACY_ALIGN`], starting on a page.
    fn setup_queue(&mut self, queue: u16, cfg: &QueueConfig) -> Result<(), Error>;

    /// Tell the device that `queue` has new available buffers.
    fn notify(&mut self, queue: u16);

    /// Read and acknowledge the interrupt cause.
    fn ack_interrupt(&mut self) -> InterruptStatus;

    /// The configuration generation counter (0 for legacy transports, which have none).
    fn config_generation(&mut self) -> u32;

    /// Read a byte of the device-specific configuration (offsets outside it read as
    /// all ones).
    fn read_config8(&mut self, offset: usize) -> u8;

    /// Read a little-endian 16-bit configuration field (aligned).
    fn read_config16(&mut self, offset: usize) -> u16 {
        u16::from_le_bytes([self.read_config8(offset), self.read_config8(offset + 1)])
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn device_type(&self) -> u32 {
        (**self).device_type()
    }
    fn is_legacy(&self) -> bool {
        (**self).is_legacy()
    }
    fn device_features(&mut self) -> u64 {
        (**self).device_features()
    }
    fn set_driver_features(&mut self, features: u64) {
        (**self).set_driver_features(features)
    }
    fn status(&mut self) -> DeviceStatus {
        (**self).status()
    }
    fn set_status(&mut self, status: DeviceStatus) {
        (**self).set_status(status)
    }
    fn max_queue_size(&mut self, queue: u16) -> u16 {
        (**self).max_queue_size(queue)
    }
    fn setup_queue(&mut self, queue: u16, cfg: &QueueConfig) -> Result<(), Error> {
        (**self).setup_queue(queue, cfg)
    }
    fn notify(&mut self, queue: u16) {
        (**self).notify(queue)
    }
    fn ack_interrupt(&mut self) -> InterruptStatus {
        (**self).ack_interrupt()
    }
    fn config_generation(&mut self) -> u32 {
        (**self).config_generation()
    }
    fn read_config8(&mut self, offset: usize) -> u8 {
        (**self).read_config8(offset)
    }
    fn read_config16(&mut self, offset: usize) -> u16 {
        (**self).read_config16(offset)
    }
}

/// The split-ring layout a driver allocates for a queue of `size` entries at `base`:
/// descriptor table, avail ring, then the used ring at `used_align` (4 for modern
/// transports, [`LEGACY_ALIGN`] for legacy). Returns the configuration and total bytes.
pub const fn queue_layout(base: u64, size: u16, used_align: u64) -> (QueueConfig, u64) {
    let desc_bytes = 16 * size as u64;
    let avail = base + desc_bytes;
    let avail_bytes = 6 + 2 * size as u64;
    let used = (avail + avail_bytes + used_align - 1) & !(used_align - 1);
    let used_bytes = 6 + 8 * size as u64;
    (
        QueueConfig {
            size,
            desc: base,
            avail,
            used,
        },
        used + used_bytes - base,
    )
}

/// Reset the device, acknowledge it, negotiate `offered ∩ wanted` and (modern) check
/// `FEATURES_OK`. Returns the negotiated features. Modern devices must offer
/// `VIRTIO_F_VERSION_1` (bit 32); legacy ones are limited to bits 0..32.
///
/// On failure the status is set to `FAILED`.
pub fn init_device<T: Transport + ?Sized>(transport: &mut T, wanted: u64) -> Result<u64, Error> {
    let r = negotiate(transport, wanted);
    if r.is_err() {
        let s = transport.status();
        transport.set_status(s | DeviceStatus::FAILED);
    }
    r
}

fn negotiate<T: Transport + ?Sized>(transport: &mut T, wanted: u64) -> Result<u64, Error> {
    transport.set_status(DeviceStatus::empty());
    let mut spins = 0;
    while !transport.status().is_empty() {
        spins += 1;
        if spins >= RESET_SPINS {
            return Err(Error::Timeout {
                what: "device reset",
            });
        }
        core::hint::spin_loop();
    }
    transport.set_status(DeviceStatus::ACKNOWLEDGE);
    transport.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER);
    let legacy = transport.is_legacy();
    let offered = transport.device_features();
    let version_1 = virtqueue::Features::VERSION_1.bits();
    let mut features = offered & wanted;
    if legacy {
        features &= u64::from(u32::MAX);
    } else if features & version_1 == 0 {
        return Err(Error::Unsupported {
            what: "VIRTIO_F_VERSION_1 on a modern transport",
        });
    }
    transport.set_driver_features(features);
    if !legacy {
        let s = DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER | DeviceStatus::FEATURES_OK;
        transport.set_status(s);
        let back = transport.status();
        if !back.contains(DeviceStatus::FEATURES_OK) {
            return Err(Error::FeaturesRejected { features });
        }
    }
    Ok(features)
}

/// How often [`read_config_consistent`] retries before giving up.
pub const CONFIG_ATTEMPTS: u32 = 16;

/// Run `read` between two reads of the generation counter until both agree (at most
/// [`CONFIG_ATTEMPTS`] times): the configuration fields read are then consistent.
pub fn read_config_consistent<T: Transport + ?Sized, R>(
    transport: &mut T,
    mut read: impl FnMut(&mut T) -> R,
) -> Result<R, Error> {
    for _ in 0..CONFIG_ATTEMPTS {
        let before = transport.config_generation();
        let value = read(transport);
        if transport.config_generation() == before {
            return Ok(value);
        }
    }
    Err(Error::ConfigUnstable {
        attempts: CONFIG_ATTEMPTS,
    })
}
