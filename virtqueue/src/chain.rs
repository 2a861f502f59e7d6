//! A validated descriptor chain popped by the device side, and its payload reader and
//! writer.
//!
//! Every descriptor of the chain was read exactly once from shared memory at pop time,
//! checked, and its buffer translated; the chain holds only those private copies (each
//! buffer's peer address, length and direction), not a borrow of the memory, so it can be
//! kept across calls by whoever holds the queue. Payload bytes are copied through
//! [`VolatileSlice`]s translated again from the queue's memory
//! ([`crate::DeviceQueue::memory`]) when a reader or writer reaches them.

use zerocopy::{FromBytes, IntoBytes};

use crate::{Error, SharedMemory, VolatileSlice};

/// One buffer of a chain: its peer address and length (checked to be inside the memory
/// at pop time) and its direction.
#[derive(Clone, Copy)]
pub struct Segment {
    addr: u64,
    len: u32,
    writable: bool,
}

impl Segment {
    /// The buffer in `mem` (the memory of the queue that popped it, which translates it
    /// as it did at pop time).
    #[inline]
    pub fn slice<'a, M: SharedMemory + ?Sized>(
        &self,
        mem: &'a M,
    ) -> Result<VolatileSlice<'a>, Error> {
        mem.slice(self.addr, self.len as usize)
    }

    /// Its peer address.
    #[inline]
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Its length in bytes.
    #[inline]
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether it is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Device-writable (otherwise device-readable).
    #[inline]
    pub fn is_writable(&self) -> bool {
        self.writable
    }
}

impl core::fmt::Debug for Segment {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Segment")
            .field("addr", &self.addr)
            .field("len", &self.len)
            .field("writable", &self.writable)
            .finish()
    }
}

/// A validated chain: readable segments first, then writable ones, at most `S` in all.
///
/// Return it with [`crate::DeviceQueue::add_used`] using [`DescriptorChain::head`]. It
/// borrows nothing: read and write its buffers with [`DescriptorChain::reader`] and
/// [`DescriptorChain::writer`] over the queue's memory.
#[derive(Debug, Clone)]
pub struct DescriptorChain<const S: usize = 16> {
    pub(crate) head: u16,
    pub(crate) segs: heapless::Vec<Segment, S>,
    pub(crate) readable_segs: u16,
    pub(crate) readable_len: u32,
    pub(crate) writable_len: u32,
}

impl<const S: usize> Default for DescriptorChain<S> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const S: usize> DescriptorChain<S> {
    /// A chain with no segment, to be filled by [`crate::DeviceQueue::pop_into`].
    pub const fn empty() -> Self {
        DescriptorChain {
            head: 0,
            segs: heapless::Vec::new(),
            readable_segs: 0,
            readable_len: 0,
            writable_len: 0,
        }
    }

    #[inline]
    pub(crate) fn reset(&mut self, head: u16) {
        self.head = head;
        self.segs.clear();
        self.readable_segs = 0;
        self.readable_len = 0;
        self.writable_len = 0;
    }

    /// Validate one buffer (order, 4 GiB total, inside `mem`, capacity) and append it.
    #[inline]
    pub(crate) fn push_segment<M: SharedMemory + ?Sized>(
        &mut self,
        mem: &M,
        addr: u64,
        len: u32,
        writable: bool,
        position: u32,
    ) -> Result<(), Error> {
        let head = self.head;
        if !writable && self.segs.len() > usize::from(self.readable_segs) {
            return Err(Error::ReadableAfterWritable { head, position });
        }
        // Both directions together stay below 2^32 bytes (checked before translating).
        let sum = u64::from(self.readable_len) + u64::from(self.writable_len) + u64::from(len);
        if sum > u64::from(u32::MAX) {
            return Err(Error::ChainBytesOverflow { head });
        }
        mem.slice(addr, len as usize)
            .map_err(|_| Error::BufferOutOfMemory { head, addr, len })?;
        if writable {
            self.writable_len += len;
        } else {
            self.readable_len += len;
        }
        self.segs
            .push(Segment {
                addr,
                len,
                writable,
            })
            .map_err(|_| Error::TooManySegments { head, capacity: S })?;
        if !writable {
            self.readable_segs += 1;
        }
        Ok(())
    }

    /// The head descriptor index: the id to return in the used ring.
    pub fn head(&self) -> u16 {
        self.head
    }

    /// Total bytes of the readable (device-read) buffers.
    pub fn readable_len(&self) -> u32 {
        self.readable_len
    }

    /// Total bytes of the writable (device-written) buffers.
    pub fn writable_len(&self) -> u32 {
        self.writable_len
    }

    /// All segments, readable ones first.
    pub fn segments(&self) -> &[Segment] {
        &self.segs
    }

    /// The readable segments.
    #[inline(always)]
    pub fn readable(&self) -> &[Segment] {
        self.segs
            .get(..usize::from(self.readable_segs))
            .unwrap_or(&[])
    }

    /// The writable segments.
    #[inline(always)]
    pub fn writable(&self) -> &[Segment] {
        self.segs
            .get(usize::from(self.readable_segs)..)
            .unwrap_or(&[])
    }

    /// A reader over the readable buffers in `mem`, the memory of the queue that popped
    /// the chain ([`crate::DeviceQueue::memory`]).
    #[inline(always)]
    pub fn reader<'c, M: SharedMemory + ?Sized>(&'c self, mem: &'c M) -> ChainReader<'c, M> {
        ChainReader {
            cursor: Cursor::new(mem, self.readable(), self.readable_len as usize),
        }
    }

    /// A writer over the writable buffers in `mem`, the memory of the queue that popped
    /// the chain ([`crate::DeviceQueue::memory`]).
    #[inline(always)]
    pub fn writer<'c, M: SharedMemory + ?Sized>(&'c self, mem: &'c M) -> ChainWriter<'c, M> {
        ChainWriter {
            cursor: Cursor::new(mem, self.writable(), self.writable_len as usize),
        }
    }
}

/// Position inside a list of segments of memory `M`.
struct Cursor<'c, M: ?Sized> {
    mem: &'c M,
    segs: &'c [Segment],
    seg: usize,
    off: usize,
    remaining: usize,
    done: usize,
}

impl<M: ?Sized> Clone for Cursor<'_, M> {
    fn clone(&self) -> Self {
        Cursor { ..*self }
    }
}

impl<M: ?Sized> core::fmt::Debug for Cursor<'_, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cursor")
            .field("seg", &self.seg)
            .field("off", &self.off)
            .field("remaining", &self.remaining)
            .field("done", &self.done)
            .finish()
    }
}

impl<'c, M: SharedMemory + ?Sized> Cursor<'c, M> {
    fn new(mem: &'c M, segs: &'c [Segment], total: usize) -> Self {
        Cursor {
            mem,
            segs,
            seg: 0,
            off: 0,
            remaining: total,
            done: 0,
        }
    }

    /// The `n` bytes at `off` of segment `s`, translated again (they were inside the
    /// memory at pop time).
    #[inline(always)]
    fn piece(&self, s: &Segment, off: usize, n: usize) -> Result<VolatileSlice<'c>, Error> {
        self.mem.slice(s.addr.wrapping_add(off as u64), n)
    }

    /// Visit up to `want` bytes as (view, start in caller buffer, length) pieces.
    #[inline(always)]
    fn advance(
        &mut self,
        want: usize,
        mut f: impl FnMut(VolatileSlice<'c>, usize, usize) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        // Fast path: the whole request lies in the current segment (one piece).
        if let Some(s) = self.segs.get(self.seg) {
            if want <= (s.len() as usize).saturating_sub(self.off) {
                f(self.piece(s, self.off, want)?, 0, want)?;
                self.off += want;
                self.remaining -= want;
                self.done += want;
                return Ok(want);
            }
        }
        // By value, so that the cursor never escapes and the fast path keeps it in
        // registers.
        let (cursor, moved) = self.clone().advance_pieces(want, f);
        *self = cursor;
        moved
    }

    /// The general case of [`Cursor::advance`]: the request spans segments. Returns the
    /// moved cursor.
    fn advance_pieces(
        mut self,
        want: usize,
        mut f: impl FnMut(VolatileSlice<'c>, usize, usize) -> Result<(), Error>,
    ) -> (Self, Result<usize, Error>) {
        let mut moved = 0;
        while moved < want {
            let Some(s) = self.segs.get(self.seg) else {
                break;
            };
            let left_in_seg = (s.len() as usize).saturating_sub(self.off);
            if left_in_seg == 0 {
                self.seg += 1;
                self.off = 0;
                continue;
            }
            let n = left_in_seg.min(want - moved);
            if let Err(e) = self.piece(s, self.off, n).and_then(|v| f(v, moved, n)) {
                return (self, Err(e));
            }
            self.off += n;
            moved += n;
        }
        self.remaining -= moved;
        self.done += moved;
        (self, Ok(moved))
    }
}

/// Reads the readable part of a chain as one byte stream.
#[derive(Debug, Clone)]
pub struct ChainReader<'c, M: ?Sized> {
    cursor: Cursor<'c, M>,
}

impl<M: SharedMemory + ?Sized> ChainReader<'_, M> {
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.cursor.remaining
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> usize {
        self.cursor.done
    }

    #[inline(always)]
    fn copy(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let want = buf.len().min(self.cursor.remaining);
        self.cursor
            .advance(want, |view, at, n| view.read_into(0, &mut buf[at..at + n]))
    }

    /// Copy up to `buf.len()` bytes; returns how many were copied (0 if the memory no
    /// longer holds the chain's buffers: see [`ChainReader::read_exact`]).
    #[inline(always)]
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        self.copy(buf).unwrap_or(0)
    }

    /// Copy exactly `buf.len()` bytes, or fail without consuming anything: with
    /// [`Error::PayloadBounds`] when fewer remain, with [`Error::OutOfMemory`] when `mem`
    /// is not the memory the chain was popped from.
    #[inline(always)]
    pub fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        if buf.len() > self.cursor.remaining {
            return Err(Error::PayloadBounds {
                wanted: buf.len(),
                available: self.cursor.remaining,
            });
        }
        self.copy(buf).map(|_| ())
    }

    /// Read one plain-data value (e.g. a virtio-net header).
    pub fn read_obj<T: FromBytes + IntoBytes>(&mut self) -> Result<T, Error> {
        let mut v = T::new_zeroed();
        self.read_exact(v.as_mut_bytes())?;
        Ok(v)
    }

    /// Skip up to `n` bytes; returns how many were skipped.
    pub fn skip(&mut self, n: usize) -> usize {
        let want = n.min(self.cursor.remaining);
        self.cursor.advance(want, |_, _, _| Ok(())).unwrap_or(0)
    }
}

/// Writes the writable part of a chain as one byte stream.
#[derive(Debug, Clone)]
pub struct ChainWriter<'c, M: ?Sized> {
    cursor: Cursor<'c, M>,
}

impl<M: SharedMemory + ?Sized> ChainWriter<'_, M> {
    /// Room left.
    pub fn remaining(&self) -> usize {
        self.cursor.remaining
    }

    /// Bytes written so far: the `len` to report in the used ring.
    pub fn written(&self) -> u32 {
        // Bounded by the chain's writable_len, a u32.
        self.cursor.done as u32
    }

    #[inline(always)]
    fn copy(&mut self, buf: &[u8]) -> Result<usize, Error> {
        let want = buf.len().min(self.cursor.remaining);
        self.cursor
            .advance(want, |view, at, n| view.write_from(0, &buf[at..at + n]))
    }

    /// Copy up to `buf.len()` bytes; returns how many were copied (0 if the memory no
    /// longer holds the chain's buffers: see [`ChainWriter::write_all`]).
    #[inline(always)]
    pub fn write(&mut self, buf: &[u8]) -> usize {
        self.copy(buf).unwrap_or(0)
    }

    /// Copy all of `buf`, or fail without writing anything: with
    /// [`Error::PayloadBounds`] when it does not fit, with [`Error::OutOfMemory`] when
    /// `mem` is not the memory the chain was popped from.
    #[inline(always)]
    pub fn write_all(&mut self, buf: &[u8]) -> Result<(), Error> {
        if buf.len() > self.cursor.remaining {
            return Err(Error::PayloadBounds {
                wanted: buf.len(),
                available: self.cursor.remaining,
            });
        }
        self.copy(buf).map(|_| ())
    }

    /// Write one plain-data value.
    pub fn write_obj<T: IntoBytes + zerocopy::Immutable>(&mut self, v: &T) -> Result<(), Error> {
        self.write_all(v.as_bytes())
    }
}
