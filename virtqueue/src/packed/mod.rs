//! Packed virtqueues (VirtIO 1.2 section 2.8): the ring views shared by
//! [`PackedDriverQueue`] and [`PackedDeviceQueue`].
//!
//! One descriptor ring is written by both sides: the driver makes descriptors available
//! in ring order (lap by lap, its wrap counter in the `AVAIL`/`USED` bits), the device
//! overwrites a chain's first position with one used descriptor carrying the buffer id and
//! skips the chain's other positions. Each side keeps its positions and wrap counters, and
//! every per-buffer fact (descriptor count, writable bytes, outstanding or not) privately;
//! the ring is only ever read once per field and validated.

mod device;
mod driver;

pub use device::{PackedDeviceQueue, PackedDeviceSession};
pub use driver::PackedDriverQueue;

use crate::layout::packed::{event, PackedDescFlags, EVENT_ALIGN, EVENT_BYTES, RING_ALIGN};
use crate::layout::{self, QueueConfig};
use crate::memory::Slots;
use crate::ordering::{Barriers, RingU16};
use crate::ring::{check_size, part};
use crate::{Error, Features, SharedMemory};

/// A ring position as a free-running 16-bit counter modulo `2 * size` (the size is a power
/// of two, so 2^16 is a multiple of it): offset `idx mod size`, wrap counter 1 in even laps
/// (VirtIO 2.8.1 starts at 1). Descriptor slots are indexed by `idx` directly (they mask it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) idx: u16,
}

impl Pos {
    /// Offset 0 of the first lap (wrap counter 1).
    pub(crate) const START: Pos = Pos { idx: 0 };

    /// `n` positions further (`n <= size`).
    #[inline]
    pub(crate) fn advance(self, n: u16) -> Pos {
        Pos {
            idx: self.idx.wrapping_add(n),
        }
    }

    /// The ring offset, in `0..size`.
    #[inline]
    pub(crate) fn off(self, size: u16) -> u16 {
        self.idx & size.wrapping_sub(1)
    }

    /// The wrap counter of this position's lap.
    #[inline]
    pub(crate) fn wrap(self, size: u16) -> bool {
        self.idx & size == 0
    }

    /// The `off_wrap` encoding of the event suppression structure.
    #[inline]
    pub(crate) fn off_wrap(self, size: u16) -> u16 {
        layout::packed::off_wrap(self.off(size), self.wrap(size))
    }
}

/// Translated, checked views of a packed ring.
#[derive(Clone, Copy)]
pub(crate) struct PackedRing<'m> {
    pub(crate) size: u16,
    pub(crate) barriers: Barriers,
    pub(crate) descs: Slots<'m, 16>,
    /// Driver event suppression area (written by the driver).
    pub(crate) driver_off_wrap: RingU16<'m>,
    pub(crate) driver_flags: RingU16<'m>,
    /// Device event suppression area (written by the device).
    pub(crate) device_off_wrap: RingU16<'m>,
    pub(crate) device_flags: RingU16<'m>,
}

impl<'m> PackedRing<'m> {
    /// Check `cfg` (size a power of two in `1..=max`, parts aligned and inside memory) and
    /// translate the three parts. `cfg.avail` / `cfg.used` are the driver / device event
    /// suppression areas.
    pub(crate) fn attach<M: SharedMemory + ?Sized>(
        mem: &'m M,
        cfg: QueueConfig,
        max: usize,
        features: Features,
    ) -> Result<Self, Error> {
        let size = check_size(cfg.size, max)?;
        let ring = part(
            mem,
            "descriptor ring",
            cfg.desc,
            layout::desc_table_bytes(size),
            RING_ALIGN,
        )?;
        let drv = part(
            mem,
            "driver event area",
            cfg.avail,
            EVENT_BYTES,
            EVENT_ALIGN,
        )?;
        let dev = part(mem, "device event area", cfg.used, EVENT_BYTES, EVENT_ALIGN)?;
        Ok(PackedRing {
            size,
            barriers: Barriers::for_features(features),
            descs: Slots::new(&ring, 0, size)?,
            driver_off_wrap: RingU16(drv.atomic_u16(event::OFF_WRAP)?),
            driver_flags: RingU16(drv.atomic_u16(event::FLAGS)?),
            device_off_wrap: RingU16(dev.atomic_u16(event::OFF_WRAP)?),
            device_flags: RingU16(dev.atomic_u16(event::FLAGS)?),
        })
    }

    /// The flags word of the descriptor at offset `off` (the publication point).
    #[inline]
    pub(crate) fn flags(&self, off: u16) -> RingU16<'m> {
        RingU16(self.descs.flags_cell(off))
    }
}

/// Whether `flags` (as read) mark a descriptor available in lap `wrap`.
#[inline]
pub(crate) fn is_avail(flags: u16, wrap: bool) -> bool {
    PackedDescFlags::from_bits_retain(flags).wrap_bits() == PackedDescFlags::avail_bits(wrap)
}

/// Whether `flags` (as read) mark a descriptor used in lap `wrap`.
#[inline]
pub(crate) fn is_used(flags: u16, wrap: bool) -> bool {
    PackedDescFlags::from_bits_retain(flags).wrap_bits() == PackedDescFlags::used_bits(wrap)
}

#[cfg(test)]
mod tests {
    use super::Pos;

    #[test]
    fn positions_wrap_with_their_counter() {
        let size = 4;
        let p = Pos::START;
        assert_eq!((p.off(size), p.wrap(size)), (0, true));
        let p = p.advance(3);
        assert_eq!((p.off(size), p.wrap(size)), (3, true));
        let p = p.advance(2);
        assert_eq!((p.off(size), p.wrap(size)), (1, false));
        assert_eq!(p.off_wrap(size), 1);
        let p = p.advance(4);
        assert_eq!(
            (p.off(size), p.wrap(size), p.off_wrap(size)),
            (1, true, 0x8001)
        );
        // The 16-bit counter wraps at a lap boundary (2^16 is a multiple of 2 * size).
        let p = Pos { idx: u16::MAX };
        assert_eq!((p.off(size), p.wrap(size)), (3, false));
        let p = p.advance(1);
        assert_eq!((p.off(size), p.wrap(size)), (0, true));
        let big = 32768;
        let p = Pos { idx: 32767 }.advance(1);
        assert_eq!((p.off(big), p.wrap(big)), (0, false));
        assert_eq!(p.advance(32768), Pos::START);
    }
}
