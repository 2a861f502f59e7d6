//! Wire layout of a packed virtqueue (VirtIO 1.2 section 2.8): one descriptor ring written
//! by both sides, and two event suppression structures.
//!
//! ```text
//! descriptor ring     16 * size bytes, 16-aligned   [PackedDescriptor; size]
//! driver event area    4 bytes,         4-aligned   EventSuppress (written by the driver)
//! device event area    4 bytes,         4-aligned   EventSuppress (written by the device)
//! ```
//!
//! The transport's `QueueDriver` / `QueueDevice` addresses ([`QueueConfig::avail`] /
//! [`QueueConfig::used`]) point at the driver and device event areas.
//!
//! A descriptor is *available* in lap `w` (the driver's wrap counter, starting at 1) when
//! its `AVAIL` bit equals `w` and its `USED` bit does not; the device marks it *used* by
//! writing both bits equal to its own wrap counter (2.8.1, 2.8.2).

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::QueueConfig;

/// One entry of the packed descriptor ring (`struct pvirtq_desc`, VirtIO 2.8.13).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct PackedDescriptor {
    /// Peer address of the buffer.
    pub addr: U64,
    /// Length of the buffer (in a used descriptor: bytes written).
    pub len: U32,
    /// Buffer id (meaningful in the last descriptor of a chain and in used descriptors).
    pub id: U16,
    /// [`PackedDescFlags`].
    pub flags: U16,
}

impl PackedDescriptor {
    /// A descriptor from native values.
    pub fn new(addr: u64, len: u32, id: u16, flags: PackedDescFlags) -> Self {
        PackedDescriptor {
            addr: U64::new(addr),
            len: U32::new(len),
            id: U16::new(id),
            flags: U16::new(flags.bits()),
        }
    }
}

bitflags::bitflags! {
    /// Packed descriptor flags (`VIRTQ_DESC_F_*`, 2.8.13).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PackedDescFlags: u16 {
        /// The chain continues with the next descriptor of the ring.
        const NEXT = 1;
        /// The buffer is device-writable.
        const WRITE = 2;
        /// The buffer holds an indirect table of packed descriptors.
        const INDIRECT = 4;
        /// `VIRTQ_DESC_F_AVAIL` (bit 7).
        const AVAIL = 1 << 7;
        /// `VIRTQ_DESC_F_USED` (bit 15).
        const USED = 1 << 15;
    }
}

impl PackedDescFlags {
    /// The `AVAIL`/`USED` bits that make a descriptor available in lap `wrap`.
    #[inline]
    pub const fn avail_bits(wrap: bool) -> PackedDescFlags {
        if wrap {
            PackedDescFlags::AVAIL
        } else {
            PackedDescFlags::USED
        }
    }

    /// The `AVAIL`/`USED` bits that mark a descriptor used in lap `wrap`.
    #[inline]
    pub const fn used_bits(wrap: bool) -> PackedDescFlags {
        if wrap {
            PackedDescFlags::AVAIL.union(PackedDescFlags::USED)
        } else {
            PackedDescFlags::empty()
        }
    }

    /// Only the `AVAIL` and `USED` bits.
    #[inline]
    pub const fn wrap_bits(self) -> PackedDescFlags {
        self.intersection(PackedDescFlags::AVAIL.union(PackedDescFlags::USED))
    }
}

/// The event suppression structure (`struct pvirtq_event_suppress`, 2.8.13): the driver's
/// controls used-buffer notifications, the device's controls available-buffer ones.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct EventSuppress {
    /// Descriptor ring offset (bits 0..=14) and wrap counter (bit 15) of the event, used
    /// when `flags` is [`EventFlags::Desc`].
    pub off_wrap: U16,
    /// [`EventFlags`] (bits 0..=1).
    pub flags: U16,
}

/// The notification mode of an [`EventSuppress`] structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFlags {
    /// `RING_EVENT_FLAGS_ENABLE` (0): notify.
    Enable,
    /// `RING_EVENT_FLAGS_DISABLE` (1): do not notify.
    Disable,
    /// `RING_EVENT_FLAGS_DESC` (2): notify when the descriptor at `off_wrap` is reached
    /// (only with `RING_EVENT_IDX`).
    Desc,
}

impl EventFlags {
    /// The wire value.
    pub const fn bits(self) -> u16 {
        match self {
            EventFlags::Enable => 0,
            EventFlags::Disable => 1,
            EventFlags::Desc => 2,
        }
    }

    /// Decode bits 0..=1 of a peer's flags word; the reserved value 3 reads as `Enable`
    /// (notifying too often is always safe).
    pub const fn from_bits(bits: u16) -> EventFlags {
        match bits & 3 {
            1 => EventFlags::Disable,
            2 => EventFlags::Desc,
            _ => EventFlags::Enable,
        }
    }
}

/// Byte offsets inside an event suppression structure.
pub mod event {
    /// `off_wrap`.
    pub const OFF_WRAP: usize = 0;
    /// `flags`.
    pub const FLAGS: usize = 2;
}

/// Byte offsets inside a packed descriptor.
pub mod desc {
    /// `addr`.
    pub const ADDR: usize = 0;
    /// `len`.
    pub const LEN: usize = 8;
    /// `id`.
    pub const ID: usize = 12;
    /// `flags`.
    pub const FLAGS: usize = 14;
}

/// Bytes of an event suppression structure.
pub const EVENT_BYTES: u64 = 4;
/// Required alignment of the descriptor ring.
pub const RING_ALIGN: u64 = 16;
/// Required alignment of the event suppression structures.
pub const EVENT_ALIGN: u64 = 4;

/// `off_wrap` for ring offset `offset` in lap `wrap`.
#[inline]
pub const fn off_wrap(offset: u16, wrap: bool) -> u16 {
    (offset & 0x7fff) | if wrap { 0x8000 } else { 0 }
}

/// The wrap-safe notification test of a packed ring (the `vring_need_event` of 2.7.10
/// applied to ring offsets, as 2.8.10 asks): the side that moved its position from
/// `old` to `new` (ring offsets in lap `wrap`, `old` possibly "negative" modulo 2^16 when
/// the move crossed the end of the ring) notifies a peer that asked for an event at
/// `event_off_wrap`. An event in the other lap is moved back by `size`.
#[inline]
pub const fn packed_need_event(
    event_off_wrap: u16,
    new: u16,
    old: u16,
    wrap: bool,
    size: u16,
) -> bool {
    let mut event = event_off_wrap & 0x7fff;
    if (event_off_wrap & 0x8000 != 0) != wrap {
        event = event.wrapping_sub(size);
    }
    super::need_event(event, new, old)
}

impl QueueConfig {
    /// A contiguous packed layout starting at `base` (16-aligned): the descriptor ring,
    /// then the driver event area, then the device event area.
    pub const fn contiguous_packed(base: u64, size: u16) -> QueueConfig {
        let avail = base + super::DESC_SIZE * size as u64;
        QueueConfig {
            size,
            desc: base,
            avail,
            used: avail + EVENT_BYTES,
        }
    }

    /// Total bytes of [`QueueConfig::contiguous_packed`].
    pub const fn contiguous_packed_bytes(size: u16) -> u64 {
        super::DESC_SIZE * size as u64 + 2 * EVENT_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_spec() {
        assert_eq!(core::mem::size_of::<PackedDescriptor>(), 16);
        assert_eq!(core::mem::size_of::<EventSuppress>() as u64, EVENT_BYTES);
        let c = QueueConfig::contiguous_packed(0x1000, 8);
        assert_eq!((c.desc, c.avail, c.used), (0x1000, 0x1080, 0x1084));
        assert_eq!(QueueConfig::contiguous_packed_bytes(8), 136);
    }

    #[test]
    fn wrap_bits() {
        assert_eq!(PackedDescFlags::avail_bits(true).bits(), 0x80);
        assert_eq!(PackedDescFlags::avail_bits(false).bits(), 0x8000);
        assert_eq!(PackedDescFlags::used_bits(true).bits(), 0x8080);
        assert_eq!(PackedDescFlags::used_bits(false).bits(), 0);
        assert_eq!(off_wrap(5, true), 0x8005);
    }

    #[test]
    fn packed_need_event_across_the_ring_end() {
        // Size 8: the driver moved from offset 6 (lap 1) to offset 2 (lap 0, after the
        // wrap): old = 2 - 4 = -2. Events at offsets 6, 7 of lap 1 and 0, 1 of lap 0 are
        // crossed, offset 2 of lap 0 is not.
        let old = 2u16.wrapping_sub(4);
        assert!(packed_need_event(off_wrap(6, true), 2, old, false, 8));
        assert!(packed_need_event(off_wrap(7, true), 2, old, false, 8));
        assert!(packed_need_event(off_wrap(0, false), 2, old, false, 8));
        assert!(packed_need_event(off_wrap(1, false), 2, old, false, 8));
        assert!(!packed_need_event(off_wrap(2, false), 2, old, false, 8));
        assert!(!packed_need_event(off_wrap(5, true), 2, old, false, 8));
    }
}
