//! A shared-memory region seen as 32-bit little-endian words, every access atomic.
//!
//! The peer may write any word at any time. Making every access an atomic (relaxed for
//! message bytes) keeps that well defined in Rust's memory model: a racing peer can only
//! make us read surprising *values*, which the channel code validates. This module is the
//! one place that turns raw memory into a region.
#![allow(unsafe_code)]

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

/// Copy `src` into shared words (relaxed, little-endian byte order), padding the last
/// word with zeros. `dst` must hold at least `src.len().div_ceil(4)` words; extra
/// words are left untouched.
#[inline]
pub(crate) fn copy_in(dst: &[AtomicU32], src: &[u8]) {
    let mut chunks = src.chunks_exact(4);
    let mut words = dst.iter();
    // `chunks` first: `zip` must not pull a word when the chunks are exhausted.
    for (c, w) in (&mut chunks).zip(&mut words) {
        let mut b = [0u8; 4];
        b.copy_from_slice(c);
        w.store(u32::from_le_bytes(b).to_le(), Ordering::Relaxed);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        if let Some(w) = words.next() {
            let mut b = [0u8; 4];
            b[..rest.len()].copy_from_slice(rest);
            w.store(u32::from_le_bytes(b).to_le(), Ordering::Relaxed);
        }
    }
}

/// Copy shared words into `dst` (relaxed), `dst.len()` bytes.
#[inline]
pub(crate) fn copy_out(src: &[AtomicU32], dst: &mut [u8]) {
    let mut words = src.iter();
    let mut chunks = dst.chunks_exact_mut(4);
    for (c, w) in (&mut chunks).zip(&mut words) {
        c.copy_from_slice(&u32::from_le(w.load(Ordering::Relaxed)).to_le_bytes());
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        if let Some(w) = words.next() {
            let b = u32::from_le(w.load(Ordering::Relaxed)).to_le_bytes();
            let n = rest.len();
            rest.copy_from_slice(&b[..n]);
        }
    }
}

/// Copy `n` bytes. Up to 64 bytes (a small message): two overlapping fixed-size
/// copies of the largest power of two not above `n` (one ending at `n`), inlined as a
/// few vector or word moves, no loop and no call. Above 64 bytes (frames): one
/// `memcpy`, whose own vector loop wins at that size.
///
/// # Safety
///
/// `src` readable and `dst` writable for `n` bytes, not overlapping.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn copy_len(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: the caller's contract covers `n` bytes; `copy_ends::<K>` is called only
    // with `K <= n`.
    unsafe {
        if n > 64 {
            core::ptr::copy_nonoverlapping(src, dst, n);
        } else if n >= 32 {
            copy_ends::<32>(src, dst, n);
        } else if n >= 16 {
            copy_ends::<16>(src, dst, n);
        } else if n >= 8 {
            copy_ends::<8>(src, dst, n);
        } else if n >= 4 {
            copy_ends::<4>(src, dst, n);
        } else if n > 0 {
            // 1..=3 bytes: first, middle, last.
            *dst = *src;
            *dst.add(n / 2) = *src.add(n / 2);
            *dst.add(n - 1) = *src.add(n - 1);
        }
    }
}

/// [`copy_len`] with its own path for `n == full` (the port's maximum message size,
/// a constant for the typed ports): a full-size message is then copied at constant
/// offsets, without waiting for `n` (a length just loaded from shared memory or from
/// the caller's slice).
///
/// # Safety
///
/// As [`copy_len`].
#[cfg(not(loom))]
#[inline(always)]
unsafe fn copy_blocks(src: *const u8, dst: *mut u8, n: usize, full: usize) {
    // SAFETY: caller contract, with `full == n` in the first branch.
    unsafe {
        if n == full {
            copy_len(src, dst, full)
        } else {
            copy_len(src, dst, n)
        }
    }
}

/// Copy bytes `0..K` and `n - K..n` (together all of `0..n` when `K <= n <= 2 * K`).
///
/// # Safety
///
/// `K <= n`; `src` readable and `dst` writable for `n` bytes, not overlapping.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn copy_ends<const K: usize>(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: `0..K` and `n - K..n` lie within `0..n` (`K <= n`, caller contract), in
    // both buffers; a byte copied twice gets the same value.
    unsafe {
        core::ptr::copy_nonoverlapping(src, dst, K);
        core::ptr::copy_nonoverlapping(src.add(n - K), dst.add(n - K), K);
    }
}

/// Bulk copy of `src` into a slot the queue protocol hands to this side exclusively
/// (the receiver cannot touch it before `tail` is published). Plain copies instead of
/// word atomics: the hot path for frame-sized messages. A peer that breaks the protocol
/// and writes the slot concurrently can only change the opaque payload bytes; lengths
/// and indices never go through here. Under loom the atomic copy is used. `full`: the
/// port's maximum message size (see [`copy_blocks`]).
#[inline]
pub(crate) fn copy_in_owned(dst: &[AtomicU32], src: &[u8], full: usize) {
    #[cfg(not(loom))]
    if src.len() <= dst.len() * 4 {
        // SAFETY: `dst` covers `dst.len() * 4 >= src.len()` bytes of memory that
        // `AtomicU32` (an `UnsafeCell`) allows to be written through a shared
        // reference; `src` is a distinct, private buffer, so they do not overlap; the
        // pointer is derived from the slice, keeping its provenance.
        unsafe {
            copy_blocks(
                src.as_ptr(),
                dst.as_ptr().cast::<u8>().cast_mut(),
                src.len(),
                full,
            )
        };
        return;
    }
    copy_in(dst, src)
}

/// Bulk copy out of a slot the queue protocol hands to this side exclusively (the
/// source does not reuse it before `head` is published). See [`copy_in_owned`].
#[inline]
pub(crate) fn copy_out_owned(src: &[AtomicU32], dst: &mut [u8], full: usize) {
    #[cfg(not(loom))]
    if dst.len() <= src.len() * 4 {
        // SAFETY: `src` covers at least `dst.len()` readable bytes, `dst` is a distinct
        // private buffer; any bit pattern is a valid `u8`.
        unsafe { copy_blocks(src.as_ptr().cast::<u8>(), dst.as_mut_ptr(), dst.len(), full) };
        return;
    }
    copy_out(src, dst)
}
