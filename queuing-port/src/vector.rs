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
    // SAFETY: every move below covers `at..at + 64` or `at..at + 16` with that end at
    // most `n` (the loop conditions), or `n - 16..n` with `n >= 16`: inside the `n`
    // valid bytes of both sides (the caller's contract).
    unsafe {
        // Four blocks per `asm!` block: a 64-byte message is one block of code.
        while n - at >= 4 * BLOCK {
            copy64(dst.add(at), src.add(at));
            at += 4 * BLOCK;
        }
        while n - at >= BLOCK {
            copy16(dst.add(at), src.add(at));
            at += BLOCK;
        }
        if at < n {
            copy16(dst.add(n - BLOCK), src.add(n - BLOCK));
        }
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
    // A short message goes as one zero-padded block.
    let mut padded = [0u8; BLOCK];
    let (from, n) = if src.len() >= BLOCK {
        (src.as_ptr(), src.len())
    } else {
        padded[..src.len()].copy_from_slice(src);
        (padded.as_ptr(), BLOCK)
    };
    // SAFETY: `from` holds `n` readable bytes (`src`, or the 16 of `padded`); the slot
    // holds `room >= n` bytes of `AtomicU32` (interior mutability: writable through a
    // shared reference, and reached here only through `asm!`), and the pointer's
    // provenance covers the slice.
    unsafe { copy_blocks(to, from, n) };
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
    let mut padded = [0u8; BLOCK];
    let n = dst.len();
    let (to, len) = if n >= BLOCK {
        (dst.as_mut_ptr(), n)
    } else {
        (padded.as_mut_ptr(), BLOCK)
    };
    // SAFETY: `to` is private and holds `len` writable bytes (`dst`, or the 16 of
    // `padded`); the slot holds `room >= len` readable bytes, reached only through
    // `asm!` here.
    unsafe { copy_blocks(to, from, len) };
    if n < BLOCK {
        dst.copy_from_slice(&padded[..n]);
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
