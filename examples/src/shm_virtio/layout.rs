//! The register block of the shared-memory virtio transport: a `#[repr(C)]`,
//! little-endian page at the start of the region, followed by the DMA area (rings and
//! buffers) the driver allocates from.
//!
//! | offset | field | written by |
//! |---|---|---|
//! | 0x00 | `magic` "PNVQ", `version`, `device_type`, `queue_max` | device |
//! | 0x10 | `device_features` (64 bits) | device |
//! | 0x18 | `driver_features` (64 bits) | driver |
//! | 0x20 | `status` (VirtIO device status) | driver |
//! | 0x24 | `device_status` (`DEVICE_NEEDS_RESET` when the device refused the driver) | device |
//! | 0x28 | `generation` (configuration generation) | device |
//! | 0x2c | `interrupt` (pending cause bits) | device sets, driver clears |
//! | 0x30 | `notify[0..2]` (kick counters, receiveq and transmitq) | driver |
//! | 0x38 | `resets` (incremented on every reset: status 0) | driver |
//! | 0x40 | `queues[0..2]`: `desc`, `avail`, `used` (64 bits), `size`, `ready` | driver |
//! | 0x80 | `config[64]`: virtio-net configuration (MAC, status, pairs, MTU) | device |
//!
//! Ring addresses are *region addresses*: [`DMA_BASE`] plus the offset into the DMA area;
//! the register page itself is never reachable through a ring address.

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// "PNVQ": the register block is formatted.
pub const MAGIC: u32 = u32::from_le_bytes(*b"PNVQ");
/// Layout version.
pub const VERSION: u32 = 1;
/// Bytes reserved for the register block (one page, so the DMA area is page aligned).
pub const REG_LEN: usize = 4096;
/// The address at which both sides see the first byte of the DMA area.
pub const DMA_BASE: u64 = 0x4000_0000;
/// Queues of a virtio-net device without a control queue.
pub const QUEUES: usize = 2;

/// One queue's registers (driver-written).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct QueueRegs {
    /// Descriptor table address.
    pub desc: U64,
    /// Avail ring address.
    pub avail: U64,
    /// Used ring address.
    pub used: U64,
    /// Entries (power of two).
    pub size: U32,
    /// 1 once the driver set the queue up.
    pub ready: U32,
}

/// The whole register block (a snapshot once read: private memory).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Registers {
    /// [`MAGIC`].
    pub magic: U32,
    /// [`VERSION`].
    pub version: U32,
    /// VirtIO device type (1 = network).
    pub device_type: U32,
    /// Largest queue size the device accepts.
    pub queue_max: U32,
    /// Features the device offers.
    pub device_features: U64,
    /// Features the driver accepted.
    pub driver_features: U64,
    /// Device status as the driver wrote it.
    pub status: U32,
    /// Status bits the device sets (`DEVICE_NEEDS_RESET`).
    pub device_status: U32,
    /// Configuration generation.
    pub generation: U32,
    /// Pending interrupt cause.
    pub interrupt: U32,
    /// Kick counters per queue.
    pub notify: [U32; QUEUES],
    /// Resets the driver made (the device re-formats its registers when it changes).
    pub resets: U32,
    /// Padding to 0x40.
    pub reserved: U32,
    /// Queue registers.
    pub queues: [QueueRegs; QUEUES],
    /// Device configuration space.
    pub config: [u8; 64],
}

/// Byte offsets of the fields each side writes on its own.
pub mod offset {
    /// `driver_features`.
    pub const DRIVER_FEATURES: usize = 0x18;
    /// `status`.
    pub const STATUS: usize = 0x20;
    /// `device_status`.
    pub const DEVICE_STATUS: usize = 0x24;
    /// `generation`.
    pub const GENERATION: usize = 0x28;
    /// `interrupt`.
    pub const INTERRUPT: usize = 0x2c;
    /// `notify[q]` is at `NOTIFY + 4 * q`.
    pub const NOTIFY: usize = 0x30;
    /// `resets`.
    pub const RESETS: usize = 0x38;
    /// `queues[q]` is at `QUEUES + 32 * q`.
    pub const QUEUES: usize = 0x40;
    /// `config`.
    pub const CONFIG: usize = 0x80;
}

const _: () = assert!(core::mem::size_of::<Registers>() == 0xc0);
const _: () = assert!(core::mem::size_of::<QueueRegs>() == 32);
