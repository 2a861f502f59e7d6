//! What the shared-memory device reports: its errors, its state and its counters.

use core::fmt;

use virtqueue::shm::QUEUES;

use super::QUEUE_MAX;
use crate::adapters::virtio_net::VirtioNetError;

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
