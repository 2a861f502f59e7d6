//! Queuing data slot copies with 16-byte SSE moves (x86_64, outside Miri and loom).
//!
//! A queue slot is handed to one side at a time, but a peer that breaks the protocol
//! may write it while this side copies. Rust's atomics stop at 8 bytes, and a plain
//! `memcpy` over memory another party writes is a data race. An `asm!` block is opaque
//! to the compiler: it cannot assume the bytes stay put, cache them, or tear the copy
//! into something else, and the block's effect is one the abstract machine can express
//! — a relaxed atomic load or store of every byte (the per-byte atomic `memcpy` of
//! C++'s P1478). What the copy reads under a racing peer is some mix of old and new
//! bytes: opaque payload, which the receiver treats as such anyway.
//!
//! Both sides of a channel run the same code on the same memory, so every access to a
//! slot of at least 16 bytes is a 16-byte move (smaller slots keep the 32-bit words);
//! SSE2 is part of the x86_64 baseline. Under Miri and loom the atomic word copies of
//! [`region`](crate::region) run instead (they cannot run `asm!`), and with them the
//! tests that play a racing peer.

#![allow(unsafe_code)]

use crate::sync::AtomicU32;

/// One block: the width of every access to a slot.
const BLOCK: usize = 16;

/// Copies `n` bytes (`16 <= n`) from `src` to `dst` in 16-byte moves, the last one
/// overlapping the one before where `n` is not a multiple of 16 (bytes written twice
/// carry the same value).
///
/// # Safety
///
/// `src` is valid for reads and `dst` for writes of `n` bytes; if either is shared
/// with a peer, it is reached only through `UnsafeCell` (atomics) or `asm!`.
#[inline(always)]
unsafe fn copy_blocks(dst: *mut u8, src: *const u8, n: usize) {
    debug_assert!(n >= BLOCK);
    let mut at = 0;
    // Four blocks per `asm!` block: a 64-byte message is one block of code.
    while n - at >= 4 * BLOCK {
        // SAFETY: `at + 64 <= n`: both ranges are inside the `n` valid bytes.
        unsafe { copy64(dst.add(at), src.add(at)) };
        at += 4 * BLOCK;
    }
    while n - at >= BLOCK {
        // SAFETY: `at + 16 <= n`.
        unsafe { copy16(dst.add(at), src.add(at)) };
        at += BLOCK;
    }
    if at < n {
        // SAFETY: `n >= 16`, so `n - 16 .. n` is inside the valid bytes.
        unsafe { copy16(dst.add(n - BLOCK), src.add(n - BLOCK)) };
    }
}

/// Moves 64 bytes with four 16-byte loads, then four 16-byte stores.
///
/// # Safety
///
/// As [`copy_blocks`] for 64 bytes.
#[inline(always)]
unsafe fn copy64(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller's contract: 64 readable bytes at `src`, 64 writable at
    // `dst`. The block touches no stack and no flags, and unaligned moves need no
    // alignment.
    unsafe {
        core::arch::asm!(
            "movdqu {a}, xmmword ptr [{s}]",
            "movdqu {b}, xmmword ptr [{s} + 16]",
            "movdqu {c}, xmmword ptr [{s} + 32]",
            "movdqu {d}, xmmword ptr [{s} + 48]",
            "movdqu xmmword ptr [{t}], {a}",
            "movdqu xmmword ptr [{t} + 16], {b}",
            "movdqu xmmword ptr [{t} + 32], {c}",
            "movdqu xmmword ptr [{t} + 48], {d}",
            s = in(reg) src,
            t = in(reg) dst,
            a = out(xmm_reg) _,
            b = out(xmm_reg) _,
            c = out(xmm_reg) _,
            d = out(xmm_reg) _,
            options(nostack, preserves_flags),
        );
    }
}

/// Moves 16 bytes with one 16-byte load and one 16-byte store.
///
/// # Safety
///
/// As [`copy_blocks`] for 16 bytes.
#[inline(always)]
unsafe fn copy16(dst: *mut u8, src: *const u8) {
    // SAFETY: as in `copy64`, for 16 bytes.
    unsafe {
        core::arch::asm!(
            "movdqu {a}, xmmword ptr [{s}]",
            "movdqu xmmword ptr [{t}], {a}",
            s = in(reg) src,
            t = in(reg) dst,
            a = out(xmm_reg) _,
            options(nostack, preserves_flags),
        );
    }
}

/// Copies `src` into a queue slot (`dst`) in 16-byte moves; `false` (nothing written)
/// when the slot is shorter than 16 bytes or than `src`.
#[inline(always)]
pub(crate) fn copy_in(dst: &[AtomicU32], src: &[u8]) -> bool {
    let room = dst.len() * 4;
    if room < BLOCK || src.len() > room {
        return false;
    }
    let to = dst.as_ptr().cast::<u8>().cast_mut();
    if src.len() >= BLOCK {
        // SAFETY: `src` holds `src.len()` bytes; the slot `room >= src.len()` bytes of
        // `AtomicU32` (interior mutability: writable through a shared reference, and
        // reached here only through `asm!`); the pointer's provenance covers the slice.
        unsafe { copy_blocks(to, src.as_ptr(), src.len()) };
    } else {
        // A short message: one block, zero padded.
        let mut b = [0u8; BLOCK];
        b[..src.len()].copy_from_slice(src);
        // SAFETY: 16 bytes of `b`; `room >= 16` bytes of the slot, as above.
        unsafe { copy16(to, b.as_ptr()) };
    }
    true
}

/// Copies a queue slot (`src`) out into `dst` (`dst.len()` bytes) in 16-byte moves;
/// `false` (nothing read) when the slot is shorter than 16 bytes or than `dst`.
#[inline(always)]
pub(crate) fn copy_out(src: &[AtomicU32], dst: &mut [u8]) -> bool {
    let room = src.len() * 4;
    if room < BLOCK || dst.len() > room {
        return false;
    }
    let from = src.as_ptr().cast::<u8>();
    if dst.len() >= BLOCK {
        // SAFETY: `dst` is private and holds `dst.len()` bytes; the slot
        // `room >= dst.len()` readable bytes, reached only through `asm!` here.
        unsafe { copy_blocks(dst.as_mut_ptr(), from, dst.len()) };
    } else {
        let mut b = [0u8; BLOCK];
        // SAFETY: 16 writable bytes of `b`; `room >= 16` readable bytes of the slot.
        unsafe { copy16(b.as_mut_ptr(), from) };
        let n = dst.len();
        dst.copy_from_slice(&b[..n]);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slot of `words` words filled with `fill`.
    fn slot(words: usize, fill: u8) -> std::vec::Vec<AtomicU32> {
        (0..words)
            .map(|_| AtomicU32::new(u32::from_ne_bytes([fill; 4])))
            .collect()
    }

    fn bytes(slot: &[AtomicU32]) -> std::vec::Vec<u8> {
        slot.iter()
            .flat_map(|w| w.load(core::sync::atomic::Ordering::Relaxed).to_ne_bytes())
            .collect()
    }

    #[test]
    fn every_length_round_trips_and_stays_inside_its_bytes() {
        for words in 1..=40usize {
            let room = words * 4;
            for len in 0..=room + 4 {
                let msg: std::vec::Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
                let s = slot(words, 0xee);
                let copied = copy_in(&s, &msg);
                assert_eq!(
                    copied,
                    room >= BLOCK && len <= room,
                    "words {words} len {len}"
                );
                let after = bytes(&s);
                if !copied {
                    assert!(after.iter().all(|&b| b == 0xee), "refused copy wrote");
                    let mut out = std::vec![0x55u8; len];
                    assert!(!copy_out(&s, &mut out));
                    assert!(out.iter().all(|&b| b == 0x55), "refused copy read");
                    continue;
                }
                assert_eq!(&after[..len], &msg[..]);
                // Beyond the message: untouched, except a short message's block
                // padding (zeros up to 16 bytes).
                for (i, &b) in after.iter().enumerate().skip(len) {
                    let want = if len < BLOCK && i < BLOCK { 0 } else { 0xee };
                    assert_eq!(b, want, "words {words} len {len} byte {i}");
                }
                let mut out = std::vec![0u8; len];
                assert!(copy_out(&s, &mut out));
                assert_eq!(out, msg);
            }
        }
    }
}
