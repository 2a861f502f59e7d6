//! The three parts of one split ring, translated once and checked at attach time.

use crate::layout::{self, avail, used, Descriptor, QueueConfig};
use crate::memory::Slots;
use crate::ordering::{Barriers, RingU16};
use crate::{Error, Features, SharedMemory, VolatileSlice};

/// Translated, checked views of a split ring, shared by [`crate::DriverQueue`] and
/// [`crate::DeviceQueue`].
#[derive(Clone, Copy)]
pub(crate) struct SplitRing<'m> {
    pub(crate) size: u16,
    pub(crate) avail_flags: RingU16<'m>,
    pub(crate) avail_idx: RingU16<'m>,
    pub(crate) used_event: RingU16<'m>,
    pub(crate) used_flags: RingU16<'m>,
    pub(crate) used_idx: RingU16<'m>,
    pub(crate) avail_event: RingU16<'m>,
    pub(crate) barriers: Barriers,
    /// The descriptor table as slots (checked once, accessed without bounds checks).
    desc_slots: Slots<'m, 16>,
    /// `avail.ring[]`.
    avail_slots: Slots<'m, 2>,
    /// `used.ring[]`.
    used_slots: Slots<'m, 8>,
}

/// Read a descriptor once, field by field with single aligned loads (two 8-byte loads).
#[inline]
pub(crate) fn read_desc_at(table: &VolatileSlice<'_>, off: usize) -> Result<Descriptor, Error> {
    let (lo, hi) = table.read_u64_pair(off)?;
    Ok(desc_from_words(lo, hi))
}

/// A descriptor from its two little-endian words as loaded.
#[inline]
pub(crate) fn desc_from_words(lo: u64, hi: u64) -> Descriptor {
    Descriptor::new(
        lo,
        hi as u32,
        crate::layout::DescFlags::from_bits_retain((hi >> 32) as u16),
        (hi >> 48) as u16,
    )
}

/// A queue size: a power of two in `1..=min(max, 32768)`.
pub(crate) fn check_size(size: u16, max: usize) -> Result<u16, Error> {
    let max = max.min(layout::MAX_QUEUE_SIZE as usize) as u16;
    if size == 0 || !size.is_power_of_two() || size > max {
        return Err(Error::InvalidQueueSize { size, max });
    }
    Ok(size)
}

pub(crate) fn part<'m, M: SharedMemory + ?Sized>(
    mem: &'m M,
    name: &'static str,
    addr: u64,
    bytes: u64,
    align: u64,
) -> Result<VolatileSlice<'m>, Error> {
    if !addr.is_multiple_of(align) {
        return Err(Error::Misaligned {
            part: name,
            addr,
            align,
        });
    }
    let len = usize::try_from(bytes).map_err(|_| Error::OutOfMemory { addr, len: bytes })?;
    let view = mem.slice(addr, len)?;
    // Host alignment matters for the atomics; a translation that breaks it is rejected.
    if !(view.host_addr() as u64).is_multiple_of(align.min(4)) {
        return Err(Error::Misaligned {
            part: name,
            addr: view.host_addr() as u64,
            align: align.min(4),
        });
    }
    Ok(view)
}

impl<'m> SplitRing<'m> {
    /// Check `cfg` (size a power of two in `1..=max`, parts aligned and inside memory)
    /// and translate the three parts.
    pub(crate) fn attach<M: SharedMemory + ?Sized>(
        mem: &'m M,
        cfg: QueueConfig,
        max: usize,
        features: Features,
    ) -> Result<Self, Error> {
        let size = check_size(cfg.size, max)?;
        let desc = part(
            mem,
            "descriptor table",
            cfg.desc,
            layout::desc_table_bytes(size),
            layout::DESC_ALIGN,
        )?;
        let avail_v = part(
            mem,
            "avail ring",
            cfg.avail,
            layout::avail_ring_bytes(size),
            layout::AVAIL_ALIGN,
        )?;
        let used_v = part(
            mem,
            "used ring",
            cfg.used,
            layout::used_ring_bytes(size),
            layout::USED_ALIGN,
        )?;
        let barriers = Barriers::for_features(features);
        Ok(SplitRing {
            size,
            avail_flags: RingU16(avail_v.atomic_u16(avail::FLAGS)?),
            avail_idx: RingU16(avail_v.atomic_u16(avail::IDX)?),
            used_event: RingU16(avail_v.atomic_u16(avail::used_event(size))?),
            used_flags: RingU16(used_v.atomic_u16(used::FLAGS)?),
            used_idx: RingU16(used_v.atomic_u16(used::IDX)?),
            avail_event: RingU16(used_v.atomic_u16(used::avail_event(size))?),
            barriers,
            desc_slots: Slots::new(&desc, 0, size)?,
            avail_slots: Slots::new(&avail_v, avail::ring(0), size)?,
            used_slots: Slots::new(&used_v, used::ring(0), size)?,
        })
    }

    // The device side keeps its own views; the mock device reads and writes through these.
    #[cfg(any(test, feature = "test-utils"))]
    /// Read descriptor `i mod size` of the main table once (callers check `i < size`).
    #[inline]
    pub(crate) fn read_desc(&self, i: u16) -> Descriptor {
        let (lo, hi) = self.desc_slots.load_u64_pair(i);
        desc_from_words(lo, hi)
    }

    /// Write descriptor `i mod size` (callers pass `i < size`).
    #[inline]
    pub(crate) fn write_desc(&self, i: u16, d: &Descriptor) {
        let hi =
            u64::from(d.len.get()) | u64::from(d.flags.get()) << 32 | u64::from(d.next.get()) << 48;
        self.desc_slots.store_u64_pair(i, d.addr.get(), hi);
    }

    // The device side keeps its own views; the mock device reads and writes through these.
    #[cfg(any(test, feature = "test-utils"))]
    /// Avail ring slot for free-running index `idx`.
    #[inline]
    pub(crate) fn read_avail_slot(&self, idx: u16) -> u16 {
        self.avail_slots.load_u16(idx)
    }

    /// Write the avail slot for free-running index `idx`.
    #[inline]
    pub(crate) fn write_avail_slot(&self, idx: u16, head: u16) {
        self.avail_slots.store_u16(idx, head);
    }

    /// Read the used element for free-running index `idx` once: `(id, len)`.
    #[inline]
    pub(crate) fn read_used_slot(&self, idx: u16) -> (u32, u32) {
        self.used_slots.load_u32_pair(idx)
    }

    // The device side keeps its own views; the mock device reads and writes through these.
    #[cfg(any(test, feature = "test-utils"))]
    /// Write the used element for free-running index `idx`: one 8-byte store or two
    /// 4-byte stores (the used ring is 4-aligned in host memory, checked at attach).
    #[inline]
    pub(crate) fn write_used_slot(&self, idx: u16, id: u32, len: u32) {
        self.used_slots.store_u32_pair(idx, id, len);
    }
}
