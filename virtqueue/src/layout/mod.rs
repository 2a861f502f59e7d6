//! Wire layout of a split virtqueue (VirtIO 1.x section 2.7; the packed layout of 2.8 is in
//! [`packed`]): the descriptor table, the
//! available ring and the used ring, all little-endian fixed-width fields.
//!
//! ```text
//! descriptor table  16 * size bytes, 16-aligned   [Descriptor; size]
//! avail ring         6 + 2 * size,    2-aligned   flags u16, idx u16, ring [u16; size], used_event u16
//! used ring          6 + 8 * size,    4-aligned   flags u16, idx u16, ring [UsedElem; size], avail_event u16
//! ```

pub mod packed;

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// One entry of a descriptor table (`struct virtq_desc`, VirtIO 2.7.5).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Descriptor {
    /// Peer ("guest-physical") address of the buffer.
    pub addr: U64,
    /// Length of the buffer in bytes.
    pub len: U32,
    /// [`DescFlags`].
    pub flags: U16,
    /// Next descriptor of the chain when `flags` has [`DescFlags::NEXT`].
    pub next: U16,
}

impl Descriptor {
    /// A descriptor from native values.
    pub fn new(addr: u64, len: u32, flags: DescFlags, next: u16) -> Self {
        Descriptor {
            addr: U64::new(addr),
            len: U32::new(len),
            flags: U16::new(flags.bits()),
            next: U16::new(next),
        }
    }
}

/// One entry of the used ring (`struct virtq_used_elem`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct UsedElem {
    /// Head of the returned chain (u32 on the wire).
    pub id: U32,
    /// Bytes the device wrote into the chain's writable buffers.
    pub len: U32,
}

impl UsedElem {
    /// A used element from native values.
    pub fn new(id: u32, len: u32) -> Self {
        UsedElem {
            id: U32::new(id),
            len: U32::new(len),
        }
    }
}

bitflags::bitflags! {
    /// Descriptor flags (`VIRTQ_DESC_F_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct DescFlags: u16 {
        /// The chain continues at `next`.
        const NEXT = 1;
        /// The buffer is device-writable (otherwise device-readable).
        const WRITE = 2;
        /// The buffer holds an indirect descriptor table.
        const INDIRECT = 4;
    }
}

bitflags::bitflags! {
    /// Avail ring flags, written by the driver.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct AvailFlags: u16 {
        /// `VIRTQ_AVAIL_F_NO_INTERRUPT`: the driver asks not to be notified of used buffers
        /// (ignored by the device when `RING_EVENT_IDX` is negotiated).
        const NO_INTERRUPT = 1;
    }
}

bitflags::bitflags! {
    /// Used ring flags, written by the device.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct UsedFlags: u16 {
        /// `VIRTQ_USED_F_NO_NOTIFY`: the device asks not to be notified of avail buffers
        /// (ignored by the driver when `RING_EVENT_IDX` is negotiated).
        const NO_NOTIFY = 1;
    }
}

/// Size in bytes of one [`Descriptor`].
pub const DESC_SIZE: u64 = 16;
/// Size in bytes of one [`UsedElem`].
pub const USED_ELEM_SIZE: u64 = 8;
/// Required alignment of the descriptor table.
pub const DESC_ALIGN: u64 = 16;
/// Required alignment of the avail ring.
pub const AVAIL_ALIGN: u64 = 2;
/// Required alignment of the used ring.
pub const USED_ALIGN: u64 = 4;
/// Largest queue size a split ring can have (VirtIO 2.7: 32768).
pub const MAX_QUEUE_SIZE: u16 = 32768;

/// Byte offsets inside the avail ring.
pub mod avail {
    /// `flags`.
    pub const FLAGS: usize = 0;
    /// `idx`.
    pub const IDX: usize = 2;
    /// Offset of `ring[i]`.
    pub const fn ring(i: u16) -> usize {
        4 + 2 * i as usize
    }
    /// Offset of `used_event` for a queue of `size` entries.
    pub const fn used_event(size: u16) -> usize {
        4 + 2 * size as usize
    }
}

/// Byte offsets inside the used ring.
pub mod used {
    /// `flags`.
    pub const FLAGS: usize = 0;
    /// `idx`.
    pub const IDX: usize = 2;
    /// Offset of `ring[i]`.
    pub const fn ring(i: u16) -> usize {
        4 + 8 * i as usize
    }
    /// Offset of `avail_event` for a queue of `size` entries.
    pub const fn avail_event(size: u16) -> usize {
        4 + 8 * size as usize
    }
}

/// Bytes of the descriptor table of a queue of `size` entries.
pub const fn desc_table_bytes(size: u16) -> u64 {
    DESC_SIZE * size as u64
}
/// Bytes of the avail ring (with `used_event`) of a queue of `size` entries.
pub const fn avail_ring_bytes(size: u16) -> u64 {
    6 + 2 * size as u64
}
/// Bytes of the used ring (with `avail_event`) of a queue of `size` entries.
pub const fn used_ring_bytes(size: u16) -> u64 {
    6 + USED_ELEM_SIZE * size as u64
}

/// Where the three parts of one split queue live, in peer addresses: what a transport
/// (MMIO `QueueDesc`/`QueueDriver`/`QueueDevice`, PCI common config) hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Number of entries (power of two, at most 32768).
    pub size: u16,
    /// Address of the descriptor table.
    pub desc: u64,
    /// Address of the avail ("driver") area.
    pub avail: u64,
    /// Address of the used ("device") area.
    pub used: u64,
}

impl QueueConfig {
    /// A contiguous layout starting at `base`: descriptor table, then the avail ring,
    /// then the used ring at the next 4-byte boundary (legacy-style packing).
    pub const fn contiguous(base: u64, size: u16) -> QueueConfig {
        let avail = base + desc_table_bytes(size);
        let used = (avail + avail_ring_bytes(size) + USED_ALIGN - 1) & !(USED_ALIGN - 1);
        QueueConfig {
            size,
            desc: base,
            avail,
            used,
        }
    }

    /// Total bytes of the contiguous layout of [`QueueConfig::contiguous`].
    pub const fn contiguous_bytes(size: u16) -> u64 {
        let c = QueueConfig::contiguous(0, size);
        c.used + used_ring_bytes(size)
    }
}

/// The `vring_need_event` test of VirtIO 2.7.10 (wrap-safe): should the side that moved
/// an index from `old` to `new` notify a peer that asked to be woken at `event`?
///
/// True when `event` lies in the half-open window `[old, new)`, computed modulo 2^16.
pub const fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_spec() {
        assert_eq!(core::mem::size_of::<Descriptor>() as u64, DESC_SIZE);
        assert_eq!(core::mem::size_of::<UsedElem>() as u64, USED_ELEM_SIZE);
        assert_eq!(avail::used_event(256), 516);
        assert_eq!(used::avail_event(256), 2052);
        let c = QueueConfig::contiguous(0x1000, 8);
        assert_eq!((c.desc, c.avail, c.used), (0x1000, 0x1080, 0x1098));
    }

    #[test]
    fn need_event_is_wrap_safe() {
        // Moving 65534 -> 2 crosses event 65535 and 0 and 1, not 2.
        assert!(need_event(65535, 2, 65534));
        assert!(need_event(0, 2, 65534));
        assert!(need_event(1, 2, 65534));
        assert!(!need_event(2, 2, 65534));
        assert!(!need_event(65533, 2, 65534));
        // No movement never notifies.
        assert!(!need_event(7, 7, 7));
    }
}
