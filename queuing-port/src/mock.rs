//! Test doubles: owned regions and a hostile peer that writes anything anywhere.

use crate::layout::Geometry;
use crate::region::{self, Region};
use crate::sync::{AtomicU32, Ordering};

/// An owned, formatted region of `WORDS` words (for tests; `WORDS * 4` bytes), aligned
/// to a 64-byte cache line like a real shared mapping.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct OwnedRegion<const WORDS: usize> {
    words: [AtomicU32; WORDS],
}

impl<const WORDS: usize> OwnedRegion<WORDS> {
    /// A zeroed region.
    pub fn zeroed() -> Self {
        Self {
            words: core::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// A region formatted for `g` (panics in tests if it does not fit).
    pub fn formatted(g: &Geometry) -> Self {
        let r = Self::zeroed();
        if let Err(e) = g.format(&r.region()) {
            panic!("test region does not fit the geometry: {e}");
        }
        r
    }

    /// The region.
    pub fn region(&self) -> Region<'_> {
        Region::new(&self.words)
    }
}

/// A peer that writes raw words into a region: the malicious partition.
#[derive(Debug, Clone, Copy)]
pub struct HostilePeer<'r> {
    region: Region<'r>,
}

impl<'r> HostilePeer<'r> {
    /// A hostile peer over `region`.
    pub fn new(region: Region<'r>) -> Self {
        Self { region }
    }

    /// Write `value` at word `index` (ignored beyond the region).
    pub fn poke(&self, index: usize, value: u32) {
        if let Some(w) = self.region.words().get(index) {
            region::store(w, value, Ordering::Release);
        }
    }

    /// Write `value` (its bytes in memory order) over the two words at `index` and
    /// `index + 1` of a queuing channel's data slots (ignored beyond the region), at the
    /// width the queue's own sides access the slots with: one 64-bit atomic store when
    /// the target has them and the pair is 8-byte aligned, else two 32-bit ones.
    /// Racing atomics of different sizes on the same bytes are undefined behaviour, so
    /// a peer writing the slots *while* the queue copies them must use this, not
    /// [`poke`](Self::poke). (On x86_64 outside Miri the queue copies slots with
    /// 16-byte `asm!` moves, opaque to the compiler; Miri runs the atomic copies, and
    /// with them the tests that race.) Data slots start at even word indices
    /// ([`Geometry::slot_word`](crate::Geometry::slot_word)).
    pub fn poke_data(&self, index: usize, value: u64) {
        let Some(pair) = self.pair(index) else {
            return;
        };
        #[cfg(all(not(loom), target_has_atomic = "64"))]
        if let Some([w]) = region::wide(pair) {
            w.store(value, Ordering::Release);
            return;
        }
        let b = value.to_ne_bytes();
        for (w, c) in pair.iter().zip(b.chunks_exact(4)) {
            let mut word = [0u8; 4];
            word.copy_from_slice(c);
            w.store(u32::from_ne_bytes(word), Ordering::Release);
        }
    }

    /// Read the two words at `index` and `index + 1` of a queuing channel's data slots
    /// as [`poke_data`](Self::poke_data) writes them (their bytes in memory order), or
    /// `None` beyond the region.
    pub fn peek_data(&self, index: usize) -> Option<u64> {
        let pair = self.pair(index)?;
        #[cfg(all(not(loom), target_has_atomic = "64"))]
        if let Some([w]) = region::wide(pair) {
            return Some(w.load(Ordering::Acquire));
        }
        let mut b = [0u8; 8];
        for (w, c) in pair.iter().zip(b.chunks_exact_mut(4)) {
            c.copy_from_slice(&w.load(Ordering::Acquire).to_ne_bytes());
        }
        Some(u64::from_ne_bytes(b))
    }

    /// Words `index` and `index + 1`, when in the region.
    fn pair(&self, index: usize) -> Option<&'r [AtomicU32]> {
        self.region.words().get(index..index.checked_add(2)?)
    }

    /// Overwrite every word of a queuing channel laid out by `geometry` with `value`,
    /// each at the width the ports access it with: the control words and lengths as
    /// 32-bit words, the data slots through [`poke_data`](Self::poke_data) (an odd last
    /// word as a 32-bit word, as formatting writes it). Use this rather than
    /// [`scribble`](Self::scribble) once the ports may have copied messages: racing or
    /// not, atomics of different sizes on the same bytes are outside Rust's memory model
    /// (Miri stops on them).
    pub fn scribble_channel(&self, geometry: &Geometry, value: u32) {
        let data = geometry.slot_word(0);
        let words = self.region.words().len();
        for i in 0..data.min(words) {
            self.poke(i, value);
        }
        for i in (data..words).step_by(2) {
            if i + 1 < words {
                self.poke_data(i, u64::from(value) * 0x1_0000_0001);
            } else {
                self.poke(i, value);
            }
        }
    }

    /// Overwrite every word with `value` (32-bit stores: before the ports copied any
    /// message, or for regions that are not queuing channels).
    pub fn scribble(&self, value: u32) {
        for w in self.region.words() {
            region::store(w, value, Ordering::Relaxed);
        }
    }

    /// Word index of the source's `tail` (queuing) / `latest` (sampling).
    pub const TAIL: usize = crate::layout::PRODUCER;
    /// Word index of the source's `dropped` counter.
    pub const DROPPED: usize = crate::layout::PRODUCER + 1;
    /// Word index of the receiver's `head`.
    pub const HEAD: usize = crate::layout::CONSUMER;
    /// Word index where the slots begin (queuing: the length array, then the data slots;
    /// see [`Geometry::length_word`] and [`Geometry::slot_word`]).
    pub const SLOTS: usize = crate::layout::SLOTS;
}
