//! The shared-region layout: header, one cache-line group per side, slots.
//!
//! All fields are 32-bit little-endian words; offsets below are in words.
//!
//! | words     | owner     | content |
//! |-----------|-----------|---------|
//! | 0..16     | formatter | [`Header`] (magic, version, kind, sizes), read once on attach |
//! | 16..32    | source    | queuing: `tail` (messages sent, wrapping), `dropped`; sampling: `latest` |
//! | 32..48    | receiver  | queuing: `head` (messages received, wrapping); unused for sampling |
//! | 48..      | source    | queuing: the length array (one word per slot, padded to whole 64-byte groups), then the data slots, each padded to whole 64-byte groups; sampling: slots of `stamp`, `len`, `time_lo`, `time_hi`, data |
//!
//! Each side writes only its own 64-byte groups (the sampling readers write nothing).
//! Queuing data slots start on a cache line and are padded to whole lines, so a 64-byte
//! message is exactly one line (like `rtrb`'s `[u8; 64]`) and copies never split a
//! line; the lengths live apart, sixteen to a line, so a message costs one data line
//! plus a sixteenth of a length line. With the source's index published at multiples of
//! 16 (`set_publish_batch(16)` or more), the receiver reads a length line only after the
//! source has moved past it (no line ping-pong); publishing every message, the two
//! sides may share the current length line, like any per-message index.

use zerocopy::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::error::RegionError;
use crate::region::{self, Region};
use crate::sync::Ordering;

/// `b"PNQP"` read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"PNQP");
/// Layout version.
pub const VERSION: u32 = 2;
/// Words per cache-line group (64 bytes).
pub const LINE_WORDS: usize = 16;
/// First word of the source's group.
pub(crate) const PRODUCER: usize = LINE_WORDS;
/// First word of the receiver's group.
pub(crate) const CONSUMER: usize = 2 * LINE_WORDS;
/// First word of the slots.
pub(crate) const SLOTS: usize = 3 * LINE_WORDS;
/// Words before the data in a sampling slot.
pub(crate) const SAMPLE_SLOT_HEADER: usize = 4;
/// Number of buffers in a sampling region: a reader is torn only if the writer laps
/// all of them during one copy.
pub const SAMPLING_SLOTS: u32 = 4;
/// Largest message size accepted in a layout (keeps every offset within `u32`).
pub const MAX_MESSAGE_SIZE_LIMIT: u32 = 1 << 24;
/// Largest queue depth accepted in a layout.
pub const MAX_NB_MESSAGE_LIMIT: u32 = 1 << 16;

/// Channel kind in the header.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A queuing channel.
    Queuing = 1,
    /// A sampling channel.
    Sampling = 2,
}

/// Header flag: the queue drops on full and tells the receiver (covert-channel safe).
pub const FLAG_DROP_ON_FULL: u32 = 1;

/// The region header as it lies in shared memory (words 0..16).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: U32,
    /// [`VERSION`].
    pub version: U32,
    /// [`Kind`] as `u32`.
    pub kind: U32,
    /// Maximum message size in bytes.
    pub max_message_size: U32,
    /// Queuing: maximum number of messages; sampling: number of buffers.
    pub capacity: U32,
    /// Words per slot.
    pub slot_words: U32,
    /// Words the whole channel uses.
    pub total_words: U32,
    /// `FLAG_*` bits.
    pub flags: U32,
    /// Sampling refresh period in ns, low half.
    pub refresh_lo: U32,
    /// Sampling refresh period in ns, high half.
    pub refresh_hi: U32,
    /// Reserved, zero.
    pub reserved: [U32; 6],
}

/// The shape of a channel in memory, computed from the (trusted) configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Channel kind.
    pub kind: Kind,
    /// Maximum message size in bytes.
    pub max_message_size: u32,
    /// Queue depth, or number of sampling buffers.
    pub capacity: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Sampling refresh period (ns); 0 for queuing channels.
    pub refresh_period: u64,
}

impl Geometry {
    /// Geometry of a queuing channel.
    pub const fn queuing(max_message_size: u32, max_nb_message: u32, drop_on_full: bool) -> Self {
        Self {
            kind: Kind::Queuing,
            max_message_size,
            capacity: max_nb_message,
            flags: if drop_on_full { FLAG_DROP_ON_FULL } else { 0 },
            refresh_period: 0,
        }
    }

    /// Geometry of a sampling channel.
    pub const fn sampling(max_message_size: u32, refresh_period: u64) -> Self {
        Self {
            kind: Kind::Sampling,
            max_message_size,
            capacity: SAMPLING_SLOTS,
            flags: 0,
            refresh_period,
        }
    }

    /// Words per slot (queuing: data, padded to whole 64-byte groups; sampling: slot
    /// header and data).
    pub const fn slot_words(&self) -> usize {
        let data = (self.max_message_size as usize).div_ceil(4);
        match self.kind {
            Kind::Queuing => data.div_ceil(LINE_WORDS) * LINE_WORDS,
            Kind::Sampling => SAMPLE_SLOT_HEADER + data,
        }
    }

    /// Words of the queuing length array (one per slot, padded to whole 64-byte
    /// groups); 0 for sampling channels.
    pub const fn length_words(&self) -> usize {
        match self.kind {
            Kind::Queuing => (self.capacity as usize).div_ceil(LINE_WORDS) * LINE_WORDS,
            Kind::Sampling => 0,
        }
    }

    /// Word index of the length of queuing slot `i` in the region.
    pub const fn length_word(&self, i: usize) -> usize {
        SLOTS + i
    }

    /// Word index of the first data word of slot `i` in the region (queuing: after the
    /// length array; sampling: the slot header).
    pub const fn slot_word(&self, i: usize) -> usize {
        SLOTS + self.length_words() + i * self.slot_words()
    }

    /// Words the channel needs.
    pub const fn total_words(&self) -> usize {
        self.slot_word(self.capacity as usize)
    }

    /// Bytes the channel needs (what to allocate for the region).
    pub const fn region_bytes(&self) -> usize {
        self.total_words() * 4
    }

    /// Check the sizes are within the layout limits.
    pub(crate) fn check(&self) -> Result<(), crate::Error> {
        if self.max_message_size == 0 || self.max_message_size > MAX_MESSAGE_SIZE_LIMIT {
            return Err(crate::Error::InvalidConfig {
                what: "max_message_size",
                value: self.max_message_size as u64,
            });
        }
        if self.capacity == 0 || self.capacity > MAX_NB_MESSAGE_LIMIT {
            return Err(crate::Error::InvalidConfig {
                what: "max_nb_message",
                value: self.capacity as u64,
            });
        }
        Ok(())
    }

    fn header(&self) -> Header {
        Header {
            magic: MAGIC.into(),
            version: VERSION.into(),
            kind: (self.kind as u32).into(),
            max_message_size: self.max_message_size.into(),
            capacity: self.capacity.into(),
            slot_words: (self.slot_words() as u32).into(),
            total_words: (self.total_words() as u32).into(),
            flags: self.flags.into(),
            refresh_lo: (self.refresh_period as u32).into(),
            refresh_hi: ((self.refresh_period >> 32) as u32).into(),
            reserved: [U32::ZERO; 6],
        }
    }

    fn check_len(&self, region: &Region<'_>) -> Result<(), RegionError> {
        if region.len_bytes() < self.region_bytes() {
            return Err(RegionError::TooSmall {
                needed: self.region_bytes() as u64,
                got: region.len_bytes() as u64,
            });
        }
        Ok(())
    }

    /// Format `region` for this channel: header written, indices and slots zeroed. Done
    /// once by whoever sets the system up (kernel, integrator, or a trusted creator).
    pub fn format(&self, region: &Region<'_>) -> Result<(), crate::Error> {
        self.check()?;
        self.check_len(region)?;
        let words = region.words();
        // Queuing data slots zeroed at the width the ports copy them with (see
        // `region::wide`): no byte is ever accessed at two sizes.
        let data = match self.kind {
            Kind::Queuing => self.slot_word(0),
            Kind::Sampling => self.total_words(),
        };
        for w in words.iter().take(data).skip(LINE_WORDS) {
            region::store(w, 0, Ordering::Relaxed);
        }
        region::zero_slots(&words[data..self.total_words()]);
        let h = self.header();
        region::copy_in(&words[..LINE_WORDS], h.as_bytes());
        crate::sync::fence(Ordering::Release);
        Ok(())
    }

    /// The checks both sides of a `kind` channel run on attach: the geometry is of that
    /// kind and `region`'s header matches it. Returns the error to report when a part of
    /// the region turns out to be missing later, while it is being resolved.
    pub(crate) fn attach_checks(
        &self,
        region: &Region<'_>,
        kind: Kind,
    ) -> Result<RegionError, crate::Error> {
        if self.kind != kind {
            return Err(crate::Error::InvalidConfig {
                what: "channel kind",
                value: self.kind as u64,
            });
        }
        self.validate(region)?;
        Ok(RegionError::TooSmall {
            needed: self.region_bytes() as u64,
            got: region.len_bytes() as u64,
        })
    }

    /// Validate the header of `region` against this geometry: read once, every field
    /// compared with the configuration.
    pub fn validate(&self, region: &Region<'_>) -> Result<(), crate::Error> {
        self.check()?;
        self.check_len(region)?;
        let mut bytes = [0u8; LINE_WORDS * 4];
        region::copy_out(&region.words()[..LINE_WORDS], &mut bytes);
        crate::sync::fence(Ordering::Acquire);
        let found = Header::read_from_bytes(&bytes)
            .map_err(|_| RegionError::TooSmall { needed: 64, got: 0 })?;
        let want = self.header();
        let fields: [(&'static str, U32, U32); 10] = [
            ("magic", want.magic, found.magic),
            ("version", want.version, found.version),
            ("kind", want.kind, found.kind),
            (
                "max_message_size",
                want.max_message_size,
                found.max_message_size,
            ),
            ("capacity", want.capacity, found.capacity),
            ("slot_words", want.slot_words, found.slot_words),
            ("total_words", want.total_words, found.total_words),
            ("flags", want.flags, found.flags),
            ("refresh_lo", want.refresh_lo, found.refresh_lo),
            ("refresh_hi", want.refresh_hi, found.refresh_hi),
        ];
        for (field, e, f) in fields {
            if e != f {
                return Err(RegionError::HeaderMismatch {
                    field,
                    expected: e.get(),
                    found: f.get(),
                }
                .into());
            }
        }
        Ok(())
    }
}
