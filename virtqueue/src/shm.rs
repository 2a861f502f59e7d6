//! The shared-memory virtio transport: the wire definition both sides share.
//!
//! Two partitions that share one memory region (a `/dev/shm` file, an ivshmem BAR, a
//! region a separation kernel maps into both) can run an ordinary virtio-net driver in
//! one and a virtio-net device in the other, with no hypervisor support beyond the shared
//! memory (and, optionally, a doorbell). This module is the contract between the two:
//! the driver side is `nic_drivers::transport::shm` (`ShmTransport`, `ShmHal`), the
//! device side `vnet_switch::adapters::shm` (`ShmDevice`, a switch port).
//!
//! # The region
//!
//! ```text
//!  0            REG_LEN (4096)                                         region end
//!  ├────────────┼──────────────────────────────────────────────────────────┤
//!  │ registers  │ DMA area: rings and buffers, allocated by the driver      │
//!  └────────────┴──────────────────────────────────────────────────────────┘
//!               ▲ region address DMA_BASE (0x4000_0000)
//! ```
//!
//! [`split`] cuts a region into the register view and the DMA area as a
//! [`MemoryRegion`] whose addresses start at [`DMA_BASE`]: every ring and buffer address
//! the driver publishes is such a *region address*, the same number on both sides
//! whatever the region is mapped at, and the register page is never reachable through
//! one (it lies below `DMA_BASE`).
//!
//! # The register block
//!
//! A `#[repr(C)]`, little-endian [`Registers`] at offset 0 (byte offsets in [`offset`]):
//!
//! | offset | field | written by |
//! |---|---|---|
//! | 0x00 | `magic` [`MAGIC`] "PNVQ", `version` [`VERSION`], `device_type`, `queue_max` | device |
//! | 0x10 | `device_features` (64 bits) | device |
//! | 0x18 | `driver_features` (64 bits) | driver |
//! | 0x20 | `status` ([`DeviceStatus`] as the driver sets it) | driver |
//! | 0x24 | `device_status` (`DEVICE_NEEDS_RESET` when the device refused the driver) | device (driver clears on reset) |
//! | 0x28 | `generation` (configuration generation) | device |
//! | 0x2c | `interrupt` ([`InterruptStatus`] bits pending) | device sets, driver clears |
//! | 0x30 | `notify[0..2]` (kick counters of receiveq and transmitq) | driver |
//! | 0x38 | `resets` (incremented on every reset, status 0) | driver |
//! | 0x40 | `queues[0..2]`: `desc`, `avail`, `used` (64 bits), `size`, `ready` ([`QueueRegs`]) | driver |
//! | 0x80 | `config[64]`: the virtio-net configuration space (MAC, status, pairs, MTU) | device |
//!
//! # The protocol
//!
//! 1. The device formats the block (every device-owned field) before the driver starts,
//!    and again after every driver reset.
//! 2. The driver runs the VirtIO 1.x initialisation (3.1.1) through its fields:
//!    `status` 0 (a reset: it also clears `device_status` and increments `resets`, so
//!    the device sees the reset even if it never observed status 0), `ACKNOWLEDGE`,
//!    `DRIVER`, `driver_features`, `FEATURES_OK`, the queue registers with `ready` 1,
//!    then `DRIVER_OK`.
//! 3. The device reads the whole block once per poll into private memory and validates
//!    the snapshot: on `DRIVER_OK` it attaches the rings; a change of features or queue
//!    registers while running, a device-owned field overwritten, or `FAILED` makes it
//!    set `DEVICE_NEEDS_RESET` and serve nothing until the next reset.
//! 4. Notifications are counters, so none is lost when nobody listens: the driver
//!    increments `notify[q]` to kick queue `q`; the device sets `interrupt` when the
//!    driver's event suppression asks for an interrupt, and the driver clears it. A
//!    [`Doorbell`] makes either side ring its peer after writing (an ivshmem doorbell,
//!    a hypervisor's inter-partition interrupt); with [`NoDoorbell`] both sides poll.
//!
//! # A hostile peer
//!
//! The region is writable by both partitions, so each side treats every field as
//! hostile, its own included:
//!
//! - A driver can write any byte of the block and the DMA area at any time. It cannot
//!   make the device read outside the DMA area (ring addresses are bounds-checked by
//!   [`MemoryRegion`]), act on a half-written configuration (the device acts on one
//!   private snapshot per poll), change rings under a running device (refused as a
//!   reconfiguration), or disturb the device's other ports: every refusal is a typed
//!   error and the device waits for a reset.
//! - A device can write any value into the fields the driver reads (features, queue
//!   maximum, configuration, used rings). The driver validates each value it reads once
//!   (feature subset, configuration under the generation counter, queue sizes, used ids
//!   and lengths) and reports typed errors; it never trusts an address from the device.
//! - Either side can stop answering. Neither blocks on the other: work is driven by the
//!   caller's polls, with bounded work per poll.
//!
//! What a peer *can* do is deny service to itself: a driver that scribbles over the
//! block loses its own device until it resets, and a device that lies loses its driver.
//!
//! ```
//! use virtqueue::shm::{self, Registers, DMA_BASE, MAGIC, REG_LEN};
//! use virtqueue::{OwnedMemory, SharedMemory};
//!
//! let owned = OwnedMemory::new(0, REG_LEN + 64 * 1024);
//! let view = owned.region().get(0, REG_LEN + 64 * 1024).unwrap();
//! let (regs, dma) = shm::split(view).unwrap();
//! assert_eq!((regs.len(), dma.base(), dma.len()), (REG_LEN, DMA_BASE, 64 * 1024));
//! // One snapshot of the whole block, private memory from here on.
//! let r: Registers = regs.read_obj(0).unwrap();
//! assert_ne!(r.magic.get(), MAGIC); // nobody formatted it yet
//! ```

/// The little-endian field types of [`Registers`] (`U32::new(v)`, `.get()`).
pub use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

#[cfg(doc)]
use crate::{DeviceStatus, InterruptStatus};
use crate::{MemoryRegion, VolatileSlice};

/// "PNVQ": the register block is formatted.
pub const MAGIC: u32 = u32::from_le_bytes(*b"PNVQ");
/// Layout version.
pub const VERSION: u32 = 1;
/// Bytes reserved for the register block (one page, so the DMA area is page aligned).
pub const REG_LEN: usize = 4096;
/// The region address of the first byte of the DMA area, on both sides.
pub const DMA_BASE: u64 = 0x4000_0000;
/// Queues of a virtio-net device without a control queue (receiveq, transmitq).
pub const QUEUES: usize = 2;
/// Bytes of the device configuration space.
pub const CONFIG_LEN: usize = 64;

/// One queue's registers (driver-written).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct QueueRegs {
    /// Descriptor table address (a region address).
    pub desc: U64,
    /// Avail ring address.
    pub avail: U64,
    /// Used ring address.
    pub used: U64,
    /// Entries (a power of two, at most `queue_max`).
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
    pub config: [u8; CONFIG_LEN],
}

/// Byte offsets of the fields in the register block.
pub mod offset {
    /// `magic`.
    pub const MAGIC: usize = 0x00;
    /// `version`.
    pub const VERSION: usize = 0x04;
    /// `device_type`.
    pub const DEVICE_TYPE: usize = 0x08;
    /// `queue_max`.
    pub const QUEUE_MAX: usize = 0x0c;
    /// `device_features`.
    pub const DEVICE_FEATURES: usize = 0x10;
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
    /// `queues[q]` is at `QUEUES + QUEUE_STRIDE * q`.
    pub const QUEUES: usize = 0x40;
    /// Bytes between two queues' registers.
    pub const QUEUE_STRIDE: usize = 32;
    /// `size` within a queue's registers.
    pub const QUEUE_SIZE: usize = 24;
    /// `ready` within a queue's registers.
    pub const QUEUE_READY: usize = 28;
    /// `config`.
    pub const CONFIG: usize = 0x80;
}

/// The region cut into the register view (its first [`REG_LEN`] bytes) and the DMA
/// area after it, addressed from [`DMA_BASE`]. `None` if the region has no DMA area.
pub fn split(region: VolatileSlice<'_>) -> Option<(VolatileSlice<'_>, MemoryRegion<'_>)> {
    let dma_len = region.len().checked_sub(REG_LEN).filter(|&n| n > 0)?;
    let regs = region.subslice(0, REG_LEN).ok()?;
    let dma = region.subslice(REG_LEN, dma_len).ok()?;
    Some((regs, MemoryRegion::new(DMA_BASE, dma)))
}

/// How one side tells the other to look at the region now: after the driver bumped a
/// `notify` counter (a queue kick) and after the device raised `interrupt`.
///
/// The integrator implements it over what the platform offers: an ivshmem doorbell
/// register, a hypervisor's inter-partition interrupt or event, an eventfd between two
/// processes. Ringing carries no data (the counters in the register block do), so a
/// doorbell may coalesce or drop rings without losing work; the peer only finds it
/// sooner than at its next poll. [`NoDoorbell`], the default, does nothing: both sides
/// poll.
pub trait Doorbell {
    /// Rings the peer. Must not block for long: it is called on the data path.
    fn ring(&self);
}

/// No doorbell: the peer polls the register block (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoDoorbell;

impl Doorbell for NoDoorbell {
    fn ring(&self) {}
}

impl<D: Doorbell + ?Sized> Doorbell for &D {
    fn ring(&self) {
        (**self).ring()
    }
}

const _: () = assert!(core::mem::size_of::<Registers>() == 0xc0);
const _: () = assert!(core::mem::size_of::<QueueRegs>() == offset::QUEUE_STRIDE);
const _: () = assert!(core::mem::size_of::<Registers>() <= REG_LEN);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OwnedMemory, SharedMemory};
    use core::cell::Cell;
    use core::mem::offset_of;

    #[test]
    fn offsets_match_the_struct() {
        let pairs = [
            (offset::MAGIC, offset_of!(Registers, magic)),
            (offset::VERSION, offset_of!(Registers, version)),
            (offset::DEVICE_TYPE, offset_of!(Registers, device_type)),
            (offset::QUEUE_MAX, offset_of!(Registers, queue_max)),
            (
                offset::DEVICE_FEATURES,
                offset_of!(Registers, device_features),
            ),
            (
                offset::DRIVER_FEATURES,
                offset_of!(Registers, driver_features),
            ),
            (offset::STATUS, offset_of!(Registers, status)),
            (offset::DEVICE_STATUS, offset_of!(Registers, device_status)),
            (offset::GENERATION, offset_of!(Registers, generation)),
            (offset::INTERRUPT, offset_of!(Registers, interrupt)),
            (offset::NOTIFY, offset_of!(Registers, notify)),
            (offset::RESETS, offset_of!(Registers, resets)),
            (offset::QUEUES, offset_of!(Registers, queues)),
            (offset::CONFIG, offset_of!(Registers, config)),
            (offset::QUEUE_SIZE, offset_of!(QueueRegs, size)),
            (offset::QUEUE_READY, offset_of!(QueueRegs, ready)),
        ];
        for (constant, field) in pairs {
            assert_eq!(constant, field);
        }
        assert_eq!(&MAGIC.to_le_bytes(), b"PNVQ");
    }

    #[test]
    fn split_cuts_registers_and_dma_area() {
        let owned = OwnedMemory::new(0, REG_LEN + 8192);
        let view = owned.region().get(0, REG_LEN + 8192).unwrap();
        let (regs, dma) = split(view).unwrap();
        assert_eq!(regs.len(), REG_LEN);
        assert_eq!((dma.base(), dma.len()), (DMA_BASE, 8192));
        // The register page is not reachable through a region address.
        assert!(dma.slice(DMA_BASE - 1, 1).is_err());
        assert!(dma.slice(DMA_BASE + 8191, 1).is_ok());
        assert!(dma.slice(DMA_BASE + 8192, 1).is_err());
        // Writes through either view land in the one region.
        regs.write_obj(offset::MAGIC, &U32::new(MAGIC)).unwrap();
        let r: Registers = regs.read_obj(0).unwrap();
        assert_eq!(r.magic.get(), MAGIC);
        // Too short: no DMA area.
        let short = owned.region().get(0, REG_LEN).unwrap();
        assert!(split(short).is_none());
        assert!(split(short.subslice(0, 100).unwrap()).is_none());
    }

    #[test]
    fn doorbells_ring_through_references() {
        struct Count(Cell<u32>);
        impl Doorbell for Count {
            fn ring(&self) {
                self.0.set(self.0.get() + 1);
            }
        }
        fn ring_twice<D: Doorbell>(d: D) {
            d.ring();
            d.ring();
        }
        let c = Count(Cell::new(0));
        let by_ref: &dyn Doorbell = &c;
        by_ref.ring();
        ring_twice(&c);
        ring_twice(by_ref);
        ring_twice(NoDoorbell);
        assert_eq!(c.0.get(), 5);
    }
}
