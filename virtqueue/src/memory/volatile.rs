//! [`VolatileSlice`]: a bounds-checked view of shared memory, and the volatile copies
//! between it and private memory.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::AtomicU16;

use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::sync::Ordering;
use crate::Error;

/// A bounds-checked view of `len` bytes of shared memory, valid for `'a`.
///
/// All accesses are volatile (payload, descriptors) or atomic (ring indices and flags):
/// the compiler never assumes the bytes stay the same between two reads, and no Rust
/// reference to the bytes is ever created. Control values are read once by the caller
/// into private memory.
#[derive(Clone, Copy)]
pub struct VolatileSlice<'a> {
    pub(super) ptr: *mut u8,
    pub(super) len: usize,
    _life: PhantomData<&'a UnsafeCell<[u8]>>,
}

// SAFETY: a `VolatileSlice` is a view of memory shared with another party anyway; every
// access is volatile or atomic, so moving or sharing the view between threads adds no
// data race the peer could not already cause, and no reference to the bytes is handed out.
unsafe impl Send for VolatileSlice<'_> {}
// SAFETY: as for `Send`.
unsafe impl Sync for VolatileSlice<'_> {}

impl core::fmt::Debug for VolatileSlice<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VolatileSlice")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .finish()
    }
}

impl<'a> VolatileSlice<'a> {
    /// A view of `len` bytes at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be valid for reads and writes for all of `'a`, and during
    /// `'a` this process must access those bytes only through volatile or atomic
    /// operations (such as those of this type), never through Rust references.
    pub unsafe fn from_raw_parts(ptr: *mut u8, len: usize) -> Self {
        VolatileSlice {
            ptr,
            len,
            _life: PhantomData,
        }
    }

    /// A view of a private, exclusively borrowed buffer (for tests and for memory the
    /// integrator owns and shares).
    pub fn from_mut_slice(buf: &'a mut [u8]) -> Self {
        // SAFETY: the exclusive borrow lasts for 'a, so nothing else in this process
        // accesses the bytes except through views derived from this one.
        unsafe { Self::from_raw_parts(buf.as_mut_ptr(), buf.len()) }
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The host address of the first byte (for alignment checks and diagnostics).
    pub fn host_addr(&self) -> usize {
        self.ptr.addr()
    }

    #[inline]
    fn check(&self, offset: usize, len: usize) -> Result<(), Error> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::SliceBounds {
                offset,
                len,
                slice_len: self.len,
            }),
        }
    }

    /// The sub-view `offset..offset + len`.
    #[inline]
    pub fn subslice(&self, offset: usize, len: usize) -> Result<VolatileSlice<'a>, Error> {
        self.check(offset, len)?;
        // SAFETY: offset + len <= self.len (checked), so the new view is inside this one
        // and inherits its validity and access rules.
        Ok(unsafe { Self::from_raw_parts(self.ptr.add(offset), len) })
    }

    /// Copy `dst.len()` bytes starting at `offset` into private memory.
    #[inline]
    pub fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<(), Error> {
        self.check(offset, dst.len())?;
        // SAFETY: the range is inside the view (checked above).
        unsafe { volatile_read(self.ptr.add(offset), dst) };
        Ok(())
    }

    /// Copy `src` into the view starting at `offset`.
    #[inline]
    pub fn write_from(&self, offset: usize, src: &[u8]) -> Result<(), Error> {
        self.check(offset, src.len())?;
        // SAFETY: the range is inside the view (checked above).
        unsafe { volatile_write(self.ptr.add(offset), src) };
        Ok(())
    }

    /// Fill `len` bytes at `offset` with `byte`.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<(), Error> {
        self.check(offset, len)?;
        for i in 0..len {
            // SAFETY: offset + i < offset + len <= self.len.
            unsafe { ptr::write_volatile(self.ptr.add(offset + i), byte) };
        }
        Ok(())
    }

    /// Read one plain-data value (a snapshot: the copy is private afterwards).
    #[inline]
    pub fn read_obj<T: FromBytes + IntoBytes>(&self, offset: usize) -> Result<T, Error> {
        let mut v = T::new_zeroed();
        self.read_into(offset, v.as_mut_bytes())?;
        Ok(v)
    }

    /// Write one plain-data value.
    #[inline]
    pub fn write_obj<T: IntoBytes + Immutable>(&self, offset: usize, v: &T) -> Result<(), Error> {
        self.write_from(offset, v.as_bytes())
    }

    /// One volatile load of a little-endian `u16`/`u32`/`u64` at `offset` when it is
    /// naturally aligned in host memory (bytewise otherwise): the fast path for ring and
    /// descriptor fields.
    #[inline]
    pub fn read_u16(&self, offset: usize) -> Result<u16, Error> {
        self.check(offset, 2)?;
        // SAFETY: in bounds (checked); the pointer is only dereferenced when aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(2) {
                return Ok(u16::from_le(ptr::read_volatile(p.cast::<u16>())));
            }
        }
        let mut b = [0u8; 2];
        self.read_into(offset, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// See [`VolatileSlice::read_u16`].
    #[inline]
    pub fn read_u32(&self, offset: usize) -> Result<u32, Error> {
        self.check(offset, 4)?;
        // SAFETY: in bounds (checked); the pointer is only dereferenced when aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(4) {
                return Ok(u32::from_le(ptr::read_volatile(p.cast::<u32>())));
            }
        }
        let mut b = [0u8; 4];
        self.read_into(offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// See [`VolatileSlice::read_u16`].
    #[inline]
    pub fn read_u64(&self, offset: usize) -> Result<u64, Error> {
        self.check(offset, 8)?;
        // SAFETY: in bounds (checked); the pointer is only dereferenced when aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(8) {
                return Ok(u64::from_le(ptr::read_volatile(p.cast::<u64>())));
            }
        }
        let mut b = [0u8; 8];
        self.read_into(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Two little-endian `u64`s at `offset` and `offset + 8` (a descriptor), with one
    /// bounds check and, when 8-aligned in host memory, two single volatile loads.
    #[inline]
    pub fn read_u64_pair(&self, offset: usize) -> Result<(u64, u64), Error> {
        self.check(offset, 16)?;
        // SAFETY: offset + 16 <= len (checked); the pointers are only dereferenced as
        // `u64` when 8-aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(8) {
                let lo = ptr::read_volatile(p.cast::<u64>());
                let hi = ptr::read_volatile(p.add(8).cast::<u64>());
                return Ok((u64::from_le(lo), u64::from_le(hi)));
            }
        }
        let mut b = [0u8; 16];
        self.read_into(offset, &mut b)?;
        let (lo, hi) = b.split_at(8);
        let word = |h: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(h);
            u64::from_le_bytes(w)
        };
        Ok((word(lo), word(hi)))
    }

    /// Two little-endian `u32`s at `offset` and `offset + 4` (a used element): one
    /// 8-byte volatile store when 8-aligned in host memory, two 4-byte stores when
    /// 4-aligned, bytewise otherwise.
    #[inline]
    pub fn write_u32_pair(&self, offset: usize, first: u32, second: u32) -> Result<(), Error> {
        self.check(offset, 8)?;
        // SAFETY: offset + 8 <= len (checked); each pointer is dereferenced only with the
        // alignment of the type it is cast to.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(8) {
                let v = u64::from(first) | u64::from(second) << 32;
                ptr::write_volatile(p.cast::<u64>(), v.to_le());
                return Ok(());
            }
            if p.addr().is_multiple_of(4) {
                ptr::write_volatile(p.cast::<u32>(), first.to_le());
                ptr::write_volatile(p.add(4).cast::<u32>(), second.to_le());
                return Ok(());
            }
        }
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&first.to_le_bytes());
        b[4..].copy_from_slice(&second.to_le_bytes());
        self.write_from(offset, &b)
    }

    /// One volatile store of a little-endian `u64` when aligned (bytewise otherwise).
    #[inline]
    pub fn write_u64(&self, offset: usize, value: u64) -> Result<(), Error> {
        self.check(offset, 8)?;
        // SAFETY: in bounds (checked); the pointer is only dereferenced when aligned.
        unsafe {
            let p = self.ptr.add(offset);
            if p.addr().is_multiple_of(8) {
                ptr::write_volatile(p.cast::<u64>(), value.to_le());
                return Ok(());
            }
        }
        self.write_from(offset, &value.to_le_bytes())
    }

    /// The 16-bit field at `offset` as an atomic (must be 2-aligned in host memory).
    #[inline]
    pub(crate) fn atomic_u16(&self, offset: usize) -> Result<&'a AtomicU16, Error> {
        self.check(offset, 2)?;
        // SAFETY: in bounds (checked).
        let p = unsafe { self.ptr.add(offset) };
        if !p.addr().is_multiple_of(2) {
            return Err(Error::Misaligned {
                part: "16-bit ring field",
                addr: p.addr() as u64,
                align: 2,
            });
        }
        // SAFETY: `p` is in bounds, 2-aligned, valid for 'a, and accessed by this process
        // only through volatile/atomic operations (the `from_raw_parts` contract), so
        // treating it as an `AtomicU16` for the duration of the borrow is sound.
        Ok(unsafe { AtomicU16::from_ptr(p.cast::<u16>()) })
    }

    /// Atomically load a little-endian `u16` (ring `idx`, `flags`, event fields). The
    /// ordering is given by the fences of [`crate::ordering`]; the load itself is relaxed.
    pub fn load_u16(&self, offset: usize) -> Result<u16, Error> {
        Ok(u16::from_le(
            self.atomic_u16(offset)?.load(Ordering::Relaxed),
        ))
    }

    /// Atomically store a little-endian `u16` (relaxed; see [`crate::ordering`]).
    pub fn store_u16(&self, offset: usize, value: u16) -> Result<(), Error> {
        self.atomic_u16(offset)?
            .store(value.to_le(), Ordering::Relaxed);
        Ok(())
    }
}

/// Alignment of the shared side of a 32-byte copy block: 16 on x86-64 (two SSE2 16-byte
/// volatile accesses per block, baseline on every x86-64 CPU), 8 elsewhere (four 8-byte
/// volatile accesses).
const BLOCK_ALIGN: usize = if cfg!(target_arch = "x86_64") { 16 } else { 8 };

/// Copy one 32-byte block from shared memory at `src` (BLOCK_ALIGN-aligned) to private
/// memory at `dst` (any alignment): volatile loads, then plain unaligned stores.
///
/// # Safety
/// `src..src + 32` valid for volatile reads and BLOCK_ALIGN-aligned; `dst..dst + 32`
/// valid for writes.
#[inline(always)]
unsafe fn read_block(src: *const u8, dst: *mut u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: by the caller's contract; `__m128i` needs 16-byte alignment for the
    // volatile loads (BLOCK_ALIGN), the private stores are unaligned.
    unsafe {
        use core::arch::x86_64::__m128i;
        let a = ptr::read_volatile(src.cast::<__m128i>());
        let b = ptr::read_volatile(src.add(16).cast::<__m128i>());
        ptr::write_unaligned(dst.cast::<__m128i>(), a);
        ptr::write_unaligned(dst.add(16).cast::<__m128i>(), b);
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: by the caller's contract (8-aligned volatile loads).
    unsafe {
        let p = src.cast::<u64>();
        let w = [
            ptr::read_volatile(p),
            ptr::read_volatile(p.add(1)),
            ptr::read_volatile(p.add(2)),
            ptr::read_volatile(p.add(3)),
        ];
        ptr::write_unaligned(dst.cast::<[u64; 4]>(), w);
    }
}

/// Copy one 32-byte block from private memory at `src` (any alignment) to shared memory
/// at `dst` (BLOCK_ALIGN-aligned): plain unaligned loads, then volatile stores.
///
/// # Safety
/// `src..src + 32` valid for reads; `dst..dst + 32` valid for volatile writes and
/// BLOCK_ALIGN-aligned.
#[inline(always)]
unsafe fn write_block(src: *const u8, dst: *mut u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: by the caller's contract, as in `read_block`.
    unsafe {
        use core::arch::x86_64::__m128i;
        let a = ptr::read_unaligned(src.cast::<__m128i>());
        let b = ptr::read_unaligned(src.add(16).cast::<__m128i>());
        ptr::write_volatile(dst.cast::<__m128i>(), a);
        ptr::write_volatile(dst.add(16).cast::<__m128i>(), b);
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: by the caller's contract (8-aligned volatile stores).
    unsafe {
        let p = dst.cast::<u64>();
        let w = ptr::read_unaligned(src.cast::<[u64; 4]>());
        ptr::write_volatile(p, w[0]);
        ptr::write_volatile(p.add(1), w[1]);
        ptr::write_volatile(p.add(2), w[2]);
        ptr::write_volatile(p.add(3), w[3]);
    }
}

/// 256-bit volatile copies for CPUs with AVX, chosen at run time (the crate is built
/// for baseline x86-64; the CPU and the OS are asked once, with `cpuid` and `xgetbv`).
/// Not under Miri, which runs the baseline path.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
mod wide {
    use core::arch::x86_64::{__m128i, __m256i};
    use core::ptr;
    use core::sync::atomic::{AtomicU8, Ordering};

    /// 0: not asked yet, 1: no AVX, 2: AVX usable.
    static AVX: AtomicU8 = AtomicU8::new(0);

    /// Whether 256-bit loads and stores may be used.
    #[inline(always)]
    pub(super) fn avx() -> bool {
        if cfg!(target_feature = "avx") {
            return true;
        }
        match AVX.load(Ordering::Relaxed) {
            0 => detect(),
            v => v == 2,
        }
    }

    #[cold]
    fn detect() -> bool {
        // CPUID.1:ECX bit 28 = AVX, bit 27 = OSXSAVE (the OS uses XSAVE, so XGETBV exists);
        // XCR0 bits 1 and 2: the OS saves the SSE and AVX register state.
        let ecx = core::arch::x86_64::__cpuid(1).ecx;
        let ok = ecx & (1 << 27) != 0 && ecx & (1 << 28) != 0 && {
            // SAFETY: OSXSAVE is set, so XGETBV is enabled and register 0 exists.
            let xcr0 = unsafe { core::arch::x86_64::_xgetbv(0) };
            xcr0 & 0b110 == 0b110
        };
        AVX.store(if ok { 2 } else { 1 }, Ordering::Relaxed);
        ok
    }

    /// [`super::volatile_read`] of 128 bytes or more: with 256-bit blocks when AVX is
    /// usable. Out of line, so that small copies stay leaf code (no register saves for
    /// the detection call).
    ///
    /// # Safety
    /// `src..src + dst.len()` valid for volatile reads.
    #[inline(never)]
    pub(super) unsafe fn read_big(src: *const u8, dst: &mut [u8]) {
        if avx() {
            // SAFETY: AVX is usable (checked); the range by the caller's contract.
            unsafe { read_all(src, dst) }
        } else {
            // SAFETY: by the caller's contract.
            unsafe { super::read_with::<false>(src, dst) }
        }
    }

    /// [`super::volatile_write`] of 128 bytes or more, as [`read_big`].
    ///
    /// # Safety
    /// `dst..dst + src.len()` valid for volatile writes.
    #[inline(never)]
    pub(super) unsafe fn write_big(dst: *mut u8, src: &[u8]) {
        if avx() {
            // SAFETY: AVX is usable (checked); the range by the caller's contract.
            unsafe { write_all(dst, src) }
        } else {
            // SAFETY: by the caller's contract.
            unsafe { super::write_with::<false>(dst, src) }
        }
    }

    /// [`super::volatile_read`] with 256-bit blocks.
    ///
    /// # Safety
    /// AVX usable ([`avx`]); `src..src + dst.len()` valid for volatile reads.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn read_all(src: *const u8, dst: &mut [u8]) {
        // SAFETY: by the caller's contract.
        unsafe { super::read_with::<true>(src, dst) }
    }

    /// [`super::volatile_write`] with 256-bit blocks.
    ///
    /// # Safety
    /// AVX usable ([`avx`]); `dst..dst + src.len()` valid for volatile writes.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn write_all(dst: *mut u8, src: &[u8]) {
        // SAFETY: by the caller's contract.
        unsafe { super::write_with::<true>(dst, src) }
    }

    /// Copy 32-byte blocks from shared `src + i` (16-aligned) to private `dst + i` while a
    /// whole block is left (128 bytes per round); returns the new `i`.
    ///
    /// # Safety
    /// AVX usable ([`avx`]); `src + i..src + n` valid for volatile reads, `dst + i..dst + n`
    /// valid for writes; `src + i` 16-aligned.
    #[target_feature(enable = "avx")]
    #[inline]
    pub(super) unsafe fn read(src: *const u8, dst: *mut u8, mut i: usize, n: usize) -> usize {
        // SAFETY: every access is inside `i..n` (checked against `n` before it), each
        // shared one naturally aligned for its type (one 16-byte step reaches 32-byte
        // alignment), by the caller's contract.
        unsafe {
            if !src.add(i).addr().is_multiple_of(32) {
                let w = ptr::read_volatile(src.add(i).cast::<__m128i>());
                ptr::write_unaligned(dst.add(i).cast::<__m128i>(), w);
                i += 16;
            }
            // 256 bytes per round (the loop end computed first: an `i != end` loop
            // compiles to add/cmp/branch).
            let end = i + (n - i) / 256 * 256;
            while i != end {
                read_blocks::<8>(src.add(i), dst.add(i));
                i += 256;
            }
            // The rest of the blocks in at most three steps (no loop for the compiler to
            // unroll with a prologue of its own).
            if n - i >= 128 {
                read_blocks::<4>(src.add(i), dst.add(i));
                i += 128;
            }
            if n - i >= 64 {
                read_blocks::<2>(src.add(i), dst.add(i));
                i += 64;
            }
            if n - i >= 32 {
                read_blocks::<1>(src.add(i), dst.add(i));
                i += 32;
            }
        }
        i
    }

    /// `K` 32-byte blocks from shared `src` (32-aligned) to private `dst`: all loads
    /// first, then the stores.
    ///
    /// # Safety
    /// AVX usable; `src..src + 32 * K` valid for volatile reads and 32-aligned,
    /// `dst..dst + 32 * K` valid for writes.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn read_blocks<const K: usize>(src: *const u8, dst: *mut u8) {
        let s = src.cast::<__m256i>();
        // SAFETY: by the caller's contract (each load 32-aligned, inside the range).
        let w: [__m256i; K] = core::array::from_fn(|k| unsafe { ptr::read_volatile(s.add(k)) });
        // SAFETY: by the caller's contract (unaligned private stores inside the range).
        unsafe { ptr::write_unaligned(dst.cast::<[__m256i; K]>(), w) };
    }

    /// `K` 32-byte blocks from private `src` to shared `dst` (32-aligned).
    ///
    /// # Safety
    /// AVX usable; `src..src + 32 * K` valid for reads, `dst..dst + 32 * K` valid for
    /// volatile writes and 32-aligned.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn write_blocks<const K: usize>(src: *const u8, dst: *mut u8) {
        // SAFETY: by the caller's contract (unaligned private loads inside the range).
        let w = unsafe { ptr::read_unaligned(src.cast::<[__m256i; K]>()) };
        let d = dst.cast::<__m256i>();
        for (k, v) in w.into_iter().enumerate() {
            // SAFETY: by the caller's contract (each store 32-aligned, inside the range).
            unsafe { ptr::write_volatile(d.add(k), v) };
        }
    }

    /// [`read`] the other way: private `src + i` to shared `dst + i` (16-aligned).
    ///
    /// # Safety
    /// As for [`read`], with the roles of the two sides swapped.
    #[target_feature(enable = "avx")]
    #[inline]
    pub(super) unsafe fn write(src: *const u8, dst: *mut u8, mut i: usize, n: usize) -> usize {
        // SAFETY: as in `read`.
        unsafe {
            if !dst.add(i).addr().is_multiple_of(32) {
                let w = ptr::read_unaligned(src.add(i).cast::<__m128i>());
                ptr::write_volatile(dst.add(i).cast::<__m128i>(), w);
                i += 16;
            }
            // As in `read`.
            let end = i + (n - i) / 256 * 256;
            while i != end {
                write_blocks::<8>(src.add(i), dst.add(i));
                i += 256;
            }
            // The rest of the blocks in at most three steps (no loop for the compiler to
            // unroll with a prologue of its own).
            if n - i >= 128 {
                write_blocks::<4>(src.add(i), dst.add(i));
                i += 128;
            }
            if n - i >= 64 {
                write_blocks::<2>(src.add(i), dst.add(i));
                i += 64;
            }
            if n - i >= 32 {
                write_blocks::<1>(src.add(i), dst.add(i));
                i += 32;
            }
        }
        i
    }
}

/// Volatile copy from shared memory to private memory: each shared byte is loaded once,
/// by naturally aligned volatile loads (1, 2 and 4 bytes up to an 8-byte boundary, one
/// 8-byte word up to [`BLOCK_ALIGN`], 32-byte blocks — single 256-bit loads when the CPU
/// has AVX and at least 128 bytes are left —, 8-byte words, and a 4/2/1-byte tail);
/// `dst` is written with unaligned stores.
///
/// # Safety
/// `src..src + dst.len()` must be valid for volatile reads.
#[inline(always)]
pub(super) unsafe fn volatile_read(src: *const u8, dst: &mut [u8]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
    if dst.len() >= 128 {
        // SAFETY: by the caller's contract.
        return unsafe { wide::read_big(src, dst) };
    }
    let n = dst.len();
    if (src.addr() | n).is_multiple_of(32) {
        // Whole blocks from an aligned start (a buffer copied in 32-byte blocks): the
        // block loop alone.
        let d = dst.as_mut_ptr();
        let mut i = 0;
        while i != n {
            // SAFETY: i + 32 <= n (n is a multiple of 32), src + i is 32-aligned; in
            // range by the caller's contract.
            unsafe { read_block(src.add(i), d.add(i)) };
            i += 32;
        }
        return;
    }
    // SAFETY: by the caller's contract.
    unsafe { read_with::<false>(src, dst) }
}

/// [`volatile_read`], with the 256-bit block loop when `WIDE` (only inside a function
/// built with AVX, see `wide::read_all`).
///
/// # Safety
/// As for [`volatile_read`]; with `WIDE`, AVX usable.
#[inline(always)]
unsafe fn read_with<const WIDE: bool>(src: *const u8, dst: &mut [u8]) {
    let n = dst.len();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    // SAFETY: every shared access is at src + i .. src + i + size with i + size <= n,
    // valid by the caller's contract, and naturally aligned for its size (each step
    // checks the address or follows an 8-aligned position); every private store is inside
    // `dst` at the same offsets.
    unsafe {
        while i < n && !src.add(i).addr().is_multiple_of(8) {
            let a = src.add(i).addr();
            if a & 1 != 0 || n - i < 2 {
                *d.add(i) = ptr::read_volatile(src.add(i));
                i += 1;
            } else if a & 2 != 0 || n - i < 4 {
                let w = ptr::read_volatile(src.add(i).cast::<u16>());
                ptr::write_unaligned(d.add(i).cast::<u16>(), w);
                i += 2;
            } else {
                let w = ptr::read_volatile(src.add(i).cast::<u32>());
                ptr::write_unaligned(d.add(i).cast::<u32>(), w);
                i += 4;
            }
        }
        if n - i >= 8 && !src.add(i).addr().is_multiple_of(BLOCK_ALIGN) {
            let w = ptr::read_volatile(src.add(i).cast::<u64>());
            ptr::write_unaligned(d.add(i).cast::<u64>(), w);
            i += 8;
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
        if WIDE && n - i >= 32 {
            // AVX usable (the caller's contract); src + i is 16-aligned (n - i >= 8 above).
            i = wide::read(src, d, i, n);
        }
        // 32 bytes per round (src + i is BLOCK_ALIGN-aligned whenever a block is left).
        while i + 32 <= n {
            read_block(src.add(i), d.add(i));
            i += 32;
        }
        while i + 8 <= n {
            let w = ptr::read_volatile(src.add(i).cast::<u64>());
            ptr::write_unaligned(d.add(i).cast::<u64>(), w);
            i += 8;
        }
        // Here src + i is 8-aligned, or i == n.
        if n - i >= 4 {
            let w = ptr::read_volatile(src.add(i).cast::<u32>());
            ptr::write_unaligned(d.add(i).cast::<u32>(), w);
            i += 4;
        }
        if n - i >= 2 {
            let w = ptr::read_volatile(src.add(i).cast::<u16>());
            ptr::write_unaligned(d.add(i).cast::<u16>(), w);
            i += 2;
        }
        if n - i >= 1 {
            *d.add(i) = ptr::read_volatile(src.add(i));
        }
    }
}

/// Volatile copy from private memory to shared memory: each shared byte is stored once,
/// by naturally aligned volatile stores (as in [`volatile_read`]); `src` is read with
/// unaligned loads.
///
/// # Safety
/// `dst..dst + src.len()` must be valid for volatile writes.
#[inline(always)]
pub(super) unsafe fn volatile_write(dst: *mut u8, src: &[u8]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
    if src.len() >= 128 {
        // SAFETY: by the caller's contract.
        return unsafe { wide::write_big(dst, src) };
    }
    let n = src.len();
    if (dst.addr() | n).is_multiple_of(32) {
        // As in `volatile_read`.
        let s = src.as_ptr();
        let mut i = 0;
        while i != n {
            // SAFETY: as in `volatile_read`.
            unsafe { write_block(s.add(i), dst.add(i)) };
            i += 32;
        }
        return;
    }
    // SAFETY: by the caller's contract.
    unsafe { write_with::<false>(dst, src) }
}

/// [`volatile_write`], with the 256-bit block loop when `WIDE`.
///
/// # Safety
/// As for [`volatile_write`]; with `WIDE`, AVX usable.
#[inline(always)]
unsafe fn write_with<const WIDE: bool>(dst: *mut u8, src: &[u8]) {
    let n = src.len();
    let s = src.as_ptr();
    let mut i = 0;
    // SAFETY: as in `volatile_read`, with the roles of the two sides swapped.
    unsafe {
        while i < n && !dst.add(i).addr().is_multiple_of(8) {
            let a = dst.add(i).addr();
            if a & 1 != 0 || n - i < 2 {
                ptr::write_volatile(dst.add(i), *s.add(i));
                i += 1;
            } else if a & 2 != 0 || n - i < 4 {
                let w = ptr::read_unaligned(s.add(i).cast::<u16>());
                ptr::write_volatile(dst.add(i).cast::<u16>(), w);
                i += 2;
            } else {
                let w = ptr::read_unaligned(s.add(i).cast::<u32>());
                ptr::write_volatile(dst.add(i).cast::<u32>(), w);
                i += 4;
            }
        }
        if n - i >= 8 && !dst.add(i).addr().is_multiple_of(BLOCK_ALIGN) {
            let w = ptr::read_unaligned(s.add(i).cast::<u64>());
            ptr::write_volatile(dst.add(i).cast::<u64>(), w);
            i += 8;
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
        if WIDE && n - i >= 32 {
            // As in `read_with`.
            i = wide::write(s, dst, i, n);
        }
        // 32 bytes per round, as in `volatile_read`.
        while i + 32 <= n {
            write_block(s.add(i), dst.add(i));
            i += 32;
        }
        while i + 8 <= n {
            let w = ptr::read_unaligned(s.add(i).cast::<u64>());
            ptr::write_volatile(dst.add(i).cast::<u64>(), w);
            i += 8;
        }
        // Here dst + i is 8-aligned, or i == n.
        if n - i >= 4 {
            let w = ptr::read_unaligned(s.add(i).cast::<u32>());
            ptr::write_volatile(dst.add(i).cast::<u32>(), w);
            i += 4;
        }
        if n - i >= 2 {
            let w = ptr::read_unaligned(s.add(i).cast::<u16>());
            ptr::write_volatile(dst.add(i).cast::<u16>(), w);
            i += 2;
        }
        if n - i >= 1 {
            ptr::write_volatile(dst.add(i), *s.add(i));
        }
    }
}
