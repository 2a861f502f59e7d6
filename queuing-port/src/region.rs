//! A shared-memory region seen as 32-bit little-endian words, every access atomic
//! (queuing data slots: 16-byte `asm!` moves on x86_64, see `vector`; else 64-bit
//! atomic words where the target has them, see `wide`).
//!
//! The peer may write any word at any time. Making every access an atomic (relaxed for
//! message bytes) keeps that well defined in Rust's memory model: a racing peer can only
//! make us read surprising *values*, which the channel code validates. This module is the
//! one place that turns raw memory into a region.
#![allow(unsafe_code)]

#[cfg(all(not(loom), target_has_atomic = "64"))]
use crate::sync::AtomicU64;
use crate::sync::{AtomicU32, Ordering};

/// A shared region: a slice of 32-bit words, shared with a possibly hostile peer.
#[derive(Clone, Copy)]
pub struct Region<'a> {
    words: &'a [AtomicU32],
}

impl core::fmt::Debug for Region<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Region")
            .field("bytes", &self.len_bytes())
            .finish()
    }
}

impl<'a> Region<'a> {
    /// A region over words the caller owns (tests, a kernel that copies between
    /// partitions, or any memory already typed as atomics).
    pub const fn new(words: &'a [AtomicU32]) -> Self {
        Self { words }
    }

    /// A region over raw shared memory (an mmap, a kernel-provided window).
    ///
    /// Fails with [`crate::RegionError::Misaligned`] when `ptr` is not 4-byte aligned. A
    /// trailing `len % 4` bytes are not used.
    ///
    /// # Safety
    ///
    /// `ptr..ptr+len` must be valid for reads and writes for `'a`, and must not be
    /// accessed other than atomically (or by another process/partition) while the
    /// region lives. The peer writing it concurrently is allowed: that is what this
    /// type is for.
    #[cfg(not(loom))]
    pub unsafe fn from_raw_parts(
        ptr: *mut u8,
        len: usize,
    ) -> Result<Self, crate::error::RegionError> {
        let addr = ptr as usize;
        if !addr.is_multiple_of(core::mem::align_of::<AtomicU32>()) {
            return Err(crate::error::RegionError::Misaligned { addr: addr as u64 });
        }
        let n = len / 4;
        // SAFETY: `ptr` is non-null-aligned for `AtomicU32` (checked above), valid for
        // `n * 4 <= len` bytes for `'a` (caller contract), and `AtomicU32` has the size
        // and alignment of `u32` and allows shared mutation, so any bit pattern and any
        // concurrent atomic access is fine.
        let words = unsafe { core::slice::from_raw_parts(ptr.cast::<AtomicU32>(), n) };
        Ok(Self { words })
    }

    /// Length in bytes (a multiple of 4).
    pub fn len_bytes(&self) -> usize {
        self.words.len() * 4
    }

    /// The words of the region.
    pub fn words(&self) -> &'a [AtomicU32] {
        self.words
    }

    /// A sub-slice of words, or `None` when out of the region.
    pub(crate) fn span(&self, start: usize, len: usize) -> Option<&'a [AtomicU32]> {
        self.words.get(start..start.checked_add(len)?)
    }
}

/// `words` seen as 64-bit atomics (`words.len() / 2` of them), when they start 8-byte
/// aligned: the view of the queuing data slots.
///
/// Where the `vector` copy does not run (targets other than x86_64, Miri, loom, slots
/// under 16 bytes), every accessor of a data slot uses this one rule (the sender, the
/// receiver, `mock::HostilePeer::poke_data`): 64-bit atomic words when the target has
/// them and the slot is 8-byte aligned, else the region's 32-bit words. Racing atomic accesses
/// of different sizes to the same bytes are undefined behaviour, so the width follows
/// from the address alone: both sides of a channel map the same memory at the same
/// alignment and pick the same width. Data slots start on a 64-byte boundary of the
/// region (see `layout`), so an 8-byte aligned region gets the 64-bit words.
#[cfg(all(not(loom), target_has_atomic = "64"))]
#[inline(always)]
pub(crate) fn wide(words: &[AtomicU32]) -> Option<&[AtomicU64]> {
    let p = words.as_ptr().cast::<AtomicU64>();
    if !p.is_aligned() {
        return None;
    }
    // SAFETY: `p` is aligned for `AtomicU64` (checked), derived from the slice (its
    // provenance covers all of it) and `words.len() / 2` 8-byte words lie within the
    // slice's `words.len() * 4` bytes. `AtomicU64` has the size of two `AtomicU32` and,
    // like them, allows shared mutation and any bit pattern. The bytes are accessed
    // only atomically through either view; every accessor of queuing data slots uses
    // this view when it exists (see above), so no two racing accesses differ in size.
    Some(unsafe { core::slice::from_raw_parts(p, words.len() / 2) })
}

/// Slot `pos` of a queue body (`lens` length words, then the data slots of `words`
/// words each, contiguous as the layout puts them): its length word and its data
/// words, or `None` when the slot's end is beyond `body`.
///
/// One compare guards both accesses whatever `pos`, `lens` and `words` are (a wrong
/// value can only name another in-bounds word): the hot path's bounds check, folded to
/// a constant expression for a typed port.
#[inline(always)]
pub(crate) fn queue_slot(
    body: &[AtomicU32],
    pos: usize,
    lens: usize,
    words: usize,
) -> Option<(&AtomicU32, &[AtomicU32])> {
    let start = pos.checked_mul(words)?.checked_add(lens)?;
    let end = start.checked_add(words)?;
    // `pos < lens` keeps the length word out of the data; `words > 0` makes
    // `end <= body.len()` imply `pos < body.len()` (as `pos <= start < end`).
    if end > body.len() || pos >= lens || words == 0 {
        return None;
    }
    // SAFETY: `pos < lens <= start < end <= body.len()` (`words > 0`), so the word at
    // `pos` and the words `start..end` are inside `body`.
    unsafe { Some((body.get_unchecked(pos), body.get_unchecked(start..end))) }
}

/// Zero queuing data slots (relaxed) at the atomic width the ports copy them with (see
/// [`wide`]); formatting runs before any peer attaches.
pub(crate) fn zero_slots(words: &[AtomicU32]) {
    #[cfg(all(not(loom), target_has_atomic = "64"))]
    if let Some(wide) = wide(words) {
        for w in wide {
            w.store(0, Ordering::Relaxed);
        }
        // An odd last word is outside the wide view.
        if words.len() % 2 == 1 {
            if let Some(w) = words.last() {
                w.store(0, Ordering::Relaxed);
            }
        }
        return;
    }
    for w in words {
        w.store(0, Ordering::Relaxed);
    }
}

/// Load a little-endian control word.
#[inline]
pub(crate) fn load(w: &AtomicU32, o: Ordering) -> u32 {
    u32::from_le(w.load(o))
}

/// Store a little-endian control word.
#[inline]
pub(crate) fn store(w: &AtomicU32, v: u32, o: Ordering) {
    w.store(v.to_le(), o)
}

/// Copy `src` into shared words: one relaxed atomic store per word, the bytes in
/// memory order (as a `memcpy` would leave them), the last word padded with zeros.
/// `dst` must hold at least `src.len().div_ceil(4)` words; extra words are left
/// untouched.
///
/// Defined whatever the peer does meanwhile: every access to shared memory is an
/// atomic, of the one size every accessor of those bytes uses (32-bit words here; the
/// queuing data slots use [`wide`], 64-bit where available), so a peer writing the
/// same words concurrently (breaking the protocol) races on *values*, never a data
/// race. Racing atomic accesses of different sizes to the same bytes would be
/// undefined behaviour too.
#[inline(always)]
pub(crate) fn copy_in(dst: &[AtomicU32], src: &[u8]) {
    // Whole pairs of words first: one 8-byte load of the private side feeds two word
    // stores (measured faster than word by word).
    let pairs = (src.len() / 8).min(dst.len() / 2);
    let (src_pairs, src) = src.split_at(pairs * 8);
    let (dst_pairs, dst) = dst.split_at(pairs * 2);
    for (c, w) in src_pairs.chunks_exact(8).zip(dst_pairs.chunks_exact(2)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        let (first, second) = split_u64(u64::from_ne_bytes(b));
        w[0].store(first, Ordering::Relaxed);
        w[1].store(second, Ordering::Relaxed);
    }
    let mut chunks = src.chunks_exact(4);
    let mut words = dst.iter();
    // `chunks` first: `zip` must not pull a word when the chunks are exhausted.
    for (c, w) in (&mut chunks).zip(&mut words) {
        let mut b = [0u8; 4];
        b.copy_from_slice(c);
        w.store(u32::from_ne_bytes(b), Ordering::Relaxed);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        if let Some(w) = words.next() {
            let mut b = [0u8; 4];
            b[..rest.len()].copy_from_slice(rest);
            w.store(u32::from_ne_bytes(b), Ordering::Relaxed);
        }
    }
}

/// Copy shared words into `dst` (`dst.len()` bytes): one relaxed atomic load per word,
/// each word loaded once. See [`copy_in`] for why this is defined under a racing
/// peer; what arrives is private bytes, opaque payload to the caller.
#[inline(always)]
pub(crate) fn copy_out(src: &[AtomicU32], dst: &mut [u8]) {
    // Whole pairs of words first: two word loads, one 8-byte store to the private side
    // (measured faster than word by word).
    let pairs = (dst.len() / 8).min(src.len() / 2);
    let (src_pairs, src) = src.split_at(pairs * 2);
    let (dst_pairs, dst) = dst.split_at_mut(pairs * 8);
    for (c, w) in dst_pairs.chunks_exact_mut(8).zip(src_pairs.chunks_exact(2)) {
        let first = w[0].load(Ordering::Relaxed);
        let second = w[1].load(Ordering::Relaxed);
        c.copy_from_slice(&join_u64(first, second).to_ne_bytes());
    }
    let mut words = src.iter();
    let mut chunks = dst.chunks_exact_mut(4);
    for (c, w) in (&mut chunks).zip(&mut words) {
        c.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        if let Some(w) = words.next() {
            let b = w.load(Ordering::Relaxed).to_ne_bytes();
            let n = rest.len();
            rest.copy_from_slice(&b[..n]);
        }
    }
}

/// The two words whose bytes, in memory order, are those of `v` in memory order.
#[inline(always)]
const fn split_u64(v: u64) -> (u32, u32) {
    let (low, high) = (v as u32, (v >> 32) as u32);
    if cfg!(target_endian = "little") {
        (low, high)
    } else {
        (high, low)
    }
}

/// The inverse of [`split_u64`].
#[inline(always)]
const fn join_u64(first: u32, second: u32) -> u64 {
    let (low, high) = if cfg!(target_endian = "little") {
        (first, second)
    } else {
        (second, first)
    };
    low as u64 | (high as u64) << 32
}

/// Copy `src` into a queue slot (see [`copy_in`]), at the width [`wide`] gives. The protocol hands the slot to this
/// side alone until `tail` is published, but a peer that breaks it and writes the slot
/// concurrently must not make the copy undefined, so this is an atomic word copy
/// too, never a plain `memcpy` over shared memory. `full`: the port's maximum message
/// size, a constant for the typed ports: a full-size message is copied at constant
/// offsets, fully unrolled, without waiting for its length.
#[inline(always)]
pub(crate) fn copy_in_owned(dst: &[AtomicU32], src: &[u8], full: usize) {
    // Two calls per width, not one over a chosen slice: the first is compiled for the
    // constant length.
    #[cfg(all(target_arch = "x86_64", not(miri), not(loom)))]
    {
        let done = if src.len() == full {
            crate::vector::copy_in(dst, &src[..full])
        } else {
            crate::vector::copy_in(dst, src)
        };
        if done {
            return;
        }
    }
    // Queue slots are whole 64-byte lines (`layout`), so an even number of words; an
    // odd one would leave its last word outside the wide view.
    #[cfg(all(not(loom), target_has_atomic = "64"))]
    if let Some(dst) = wide(dst).filter(|_| dst.len().is_multiple_of(2)) {
        if src.len() == full {
            copy_in_wide(dst, &src[..full])
        } else {
            copy_in_wide(dst, src)
        }
        return;
    }
    if src.len() == full {
        copy_in(dst, &src[..full])
    } else {
        copy_in(dst, src)
    }
}

/// Copy a queue slot out into `dst` (see [`copy_out`] and [`copy_in_owned`]).
#[inline(always)]
pub(crate) fn copy_out_owned(src: &[AtomicU32], dst: &mut [u8], full: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri), not(loom)))]
    {
        let done = if dst.len() == full {
            crate::vector::copy_out(src, &mut dst[..full])
        } else {
            crate::vector::copy_out(src, dst)
        };
        if done {
            return;
        }
    }
    #[cfg(all(not(loom), target_has_atomic = "64"))]
    if let Some(src) = wide(src).filter(|_| src.len().is_multiple_of(2)) {
        if dst.len() == full {
            copy_out_wide(src, &mut dst[..full])
        } else {
            copy_out_wide(src, dst)
        }
        return;
    }
    if dst.len() == full {
        copy_out(src, &mut dst[..full])
    } else {
        copy_out(src, dst)
    }
}

/// [`copy_in`] over 64-bit atomic words: one relaxed store per 8 bytes, the bytes in
/// memory order, the last word padded with zeros.
#[cfg(all(not(loom), target_has_atomic = "64"))]
#[inline(always)]
pub(crate) fn copy_in_wide(dst: &[AtomicU64], src: &[u8]) {
    let mut chunks = src.chunks_exact(8);
    let mut words = dst.iter();
    // `chunks` first: `zip` must not pull a word when the chunks are exhausted.
    for (c, w) in (&mut chunks).zip(&mut words) {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        w.store(u64::from_ne_bytes(b), Ordering::Relaxed);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        if let Some(w) = words.next() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            w.store(u64::from_ne_bytes(b), Ordering::Relaxed);
        }
    }
}

/// [`copy_out`] over 64-bit atomic words: one relaxed load per 8 bytes.
#[cfg(all(not(loom), target_has_atomic = "64"))]
#[inline(always)]
pub(crate) fn copy_out_wide(src: &[AtomicU64], dst: &mut [u8]) {
    let mut words = src.iter();
    let mut chunks = dst.chunks_exact_mut(8);
    for (c, w) in (&mut chunks).zip(&mut words) {
        c.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        if let Some(w) = words.next() {
            let b = w.load(Ordering::Relaxed).to_ne_bytes();
            let n = rest.len();
            rest.copy_from_slice(&b[..n]);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn words(n: usize) -> std::vec::Vec<AtomicU32> {
        (0..n).map(|i| AtomicU32::new(i as u32)).collect()
    }

    /// 18 words starting on a 16-byte boundary, all bits set.
    #[repr(C, align(16))]
    struct Aligned([AtomicU32; 18]);

    fn aligned() -> Aligned {
        Aligned(core::array::from_fn(|_| AtomicU32::new(u32::MAX)))
    }

    #[test]
    fn queue_slot_guards_every_out_of_range_input() {
        let body = words(20); // 4 length words, then 4 slots of 4 words
        let (len, data) = queue_slot(&body, 0, 4, 4).unwrap();
        assert_eq!(load(len, Ordering::Relaxed), 0);
        assert_eq!(data.len(), 4);
        assert_eq!(load(&data[0], Ordering::Relaxed), 4);
        let (len, data) = queue_slot(&body, 3, 4, 4).unwrap();
        assert_eq!(load(len, Ordering::Relaxed), 3);
        assert_eq!(load(&data[3], Ordering::Relaxed), 19);
        // Position past the length words, slot end past the body, empty slots,
        // overflowing arithmetic.
        assert!(queue_slot(&body, 4, 4, 4).is_none());
        assert!(queue_slot(&body, 3, 4, 5).is_none());
        assert!(queue_slot(&body, 0, 4, 0).is_none());
        assert!(queue_slot(&body, 0, 20, 1).is_none());
        assert!(queue_slot(&body, 1, 2, usize::MAX).is_none());
        assert!(queue_slot(&body, usize::MAX, usize::MAX, 2).is_none());
        assert!(queue_slot(&body, 1, usize::MAX, 1).is_none());
        // The last slot that fits, exactly.
        assert!(queue_slot(&body, 1, 2, 9).is_some());
        assert!(queue_slot(&body, 1, 2, 10).is_none());
    }

    #[test]
    fn spans_and_raw_regions_stay_inside() {
        let w = words(8);
        let r = Region::new(&w);
        assert_eq!(r.len_bytes(), 32);
        assert_eq!(std::format!("{r:?}"), "Region { bytes: 32 }");
        assert_eq!(r.span(2, 6).map(<[_]>::len), Some(6));
        assert!(r.span(2, 7).is_none());
        assert!(r.span(usize::MAX, 2).is_none());
        assert_eq!(r.span(8, 0).map(<[_]>::len), Some(0));

        let mut buf = [0u64; 4];
        let p = buf.as_mut_ptr().cast::<u8>();
        // SAFETY: `buf` is valid for its 32 bytes for this scope and only reached
        // through the region below.
        let r = unsafe { Region::from_raw_parts(p, 31) }.unwrap();
        assert_eq!(r.len_bytes(), 28, "a trailing partial word is not used");
        // SAFETY: as above; the pointer is one byte in, so it is refused.
        let e = unsafe { Region::from_raw_parts(p.wrapping_add(1), 8) }.unwrap_err();
        assert!(matches!(e, crate::error::RegionError::Misaligned { .. }));
    }

    #[cfg(target_has_atomic = "64")]
    #[test]
    fn the_wide_view_needs_eight_byte_alignment_and_halves_the_words() {
        let buf = aligned();
        let r = Region::new(&buf.0[..8]);
        assert_eq!(wide(r.words()).map(<[_]>::len), Some(4));
        assert_eq!(wide(&r.words()[..7]).map(<[_]>::len), Some(3));
        assert!(wide(&r.words()[1..]).is_none(), "4 bytes off: 32-bit words");
    }

    #[test]
    fn word_copies_round_trip_every_length_and_pad_with_zeros() {
        for n in 0..=24usize {
            let src: std::vec::Vec<u8> = (0..n).map(|i| i as u8 + 1).collect();
            let w = words(8);
            copy_in(&w, &src);
            let mut out = std::vec![0u8; n];
            copy_out(&w, &mut out);
            assert_eq!(out, src);
            // The last word's unused bytes are zero; words after it untouched.
            let used = n.div_ceil(4);
            for (i, word) in w.iter().enumerate() {
                let b = word.load(Ordering::Relaxed).to_ne_bytes();
                if i < used {
                    for (k, &byte) in b.iter().enumerate() {
                        let at = 4 * i + k;
                        let want = if at < n { at as u8 + 1 } else { 0 };
                        assert_eq!(byte, want, "length {n} byte {at}");
                    }
                } else {
                    assert_eq!(
                        word.load(Ordering::Relaxed),
                        i as u32,
                        "length {n} word {i}"
                    );
                }
            }
        }
    }

    #[cfg(target_has_atomic = "64")]
    #[test]
    fn wide_copies_round_trip_every_length_and_pad_with_zeros() {
        use crate::sync::AtomicU64;
        for n in 0..=40usize {
            let src: std::vec::Vec<u8> = (0..n).map(|i| i as u8 + 1).collect();
            let w: std::vec::Vec<AtomicU64> = (0..6).map(|_| AtomicU64::new(u64::MAX)).collect();
            copy_in_wide(&w, &src);
            let mut out = std::vec![0u8; n];
            copy_out_wide(&w, &mut out);
            assert_eq!(out, src[..n]);
            let used = n.div_ceil(8);
            for (i, word) in w.iter().enumerate() {
                let b = word.load(Ordering::Relaxed).to_ne_bytes();
                for (k, &byte) in b.iter().enumerate() {
                    let at = 8 * i + k;
                    let want = if at < n {
                        at as u8 + 1
                    } else if i < used {
                        0
                    } else {
                        0xff
                    };
                    assert_eq!(byte, want, "length {n} byte {at}");
                }
            }
        }
    }

    #[test]
    fn owned_copies_take_the_full_size_path_and_any_other_length() {
        // Slots of every size class around the 16-byte vector width, full and short
        // messages: what goes in comes out.
        for slot_words in [1usize, 2, 3, 4, 5, 16, 17] {
            let full = slot_words * 4;
            for n in [0, 1, full.saturating_sub(1), full] {
                let src: std::vec::Vec<u8> = (0..n).map(|i| i as u8 ^ 0x5a).collect();
                let buf = aligned();
                let slot = &buf.0[..slot_words];
                copy_in_owned(slot, &src, full);
                let mut out = std::vec![0u8; n];
                copy_out_owned(slot, &mut out, full);
                assert_eq!(out, src, "slot of {slot_words} words, {n} bytes");
            }
        }
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "stores 32-bit words, then zeroes them through the 64-bit view on purpose: Miri's weak-memory model cannot hold mixed-size atomics"
    )]
    fn zeroing_reaches_every_slot_word_at_either_width() {
        for n in [1usize, 2, 7, 8] {
            let buf = aligned();
            let r = Region::new(&buf.0[..10]);
            // 8-byte aligned (64-bit view where the target has it) and 4 bytes off.
            for words in [&r.words()[..n], &r.words()[1..=n]] {
                words
                    .iter()
                    .for_each(|w| w.store(u32::MAX, Ordering::Relaxed));
                zero_slots(words);
                assert!(
                    words.iter().all(|w| w.load(Ordering::Relaxed) == 0),
                    "{n} words"
                );
            }
            assert_eq!(
                r.words()[9].load(Ordering::Relaxed),
                u32::MAX,
                "beyond the slots"
            );
        }
    }

    #[test]
    fn a_short_destination_bounds_the_word_copies() {
        let src: std::vec::Vec<u8> = (1..=24).collect();
        let w = words(4);
        copy_in(&w[..2], &src);
        let mut out = [0u8; 8];
        copy_out(&w[..2], &mut out);
        assert_eq!(out[..], src[..8]);
        assert_eq!(w[2].load(Ordering::Relaxed), 2, "untouched");
        let mut long = [0u8; 24];
        copy_out(&w[..2], &mut long);
        assert_eq!(long[..8], src[..8]);
        assert!(long[8..].iter().all(|&b| b == 0));
    }
}
