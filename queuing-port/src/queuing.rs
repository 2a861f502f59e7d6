//! Queuing channels: a single-producer single-consumer FIFO of whole messages.
//!
//! The source writes `tail` (messages sent, wrapping `u32`) and the slots; the receiver
//! writes `head` (messages received). Each side keeps its own index privately and only
//! *reads* the other one, once per refresh, validating `tail - head <= capacity` before
//! using it. A message length read from a slot is checked against the maximum before a
//! single byte is copied. Nothing the peer writes can make either side panic, index out
//! of bounds or loop.

use crate::config::PortDirection;
use crate::error::{Error, RegionError};
use crate::layout::{self, Geometry, Kind};
use crate::region::{self, Region};
use crate::sync::{AtomicU32, Ordering};

/// Status of a queuing port (APEX `QUEUING_PORT_STATUS_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuingPortStatus {
    /// Messages in the queue, as this side sees it.
    pub nb_message: u32,
    /// Queue depth.
    pub max_nb_message: u32,
    /// Maximum message size in bytes.
    pub max_message_size: u32,
    /// Direction of this port.
    pub port_direction: PortDirection,
    /// Processes of this partition blocked on the port (0 without the blocking layer).
    pub waiting_processes: u32,
}

/// A received message: its length, and whether the queue overflowed since the last
/// receive (APEX reports that as `INVALID_CONFIG` with the message delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the caller's buffer.
    pub len: usize,
    /// Messages were dropped (receiver full, drop-on-full mode) since the last receive.
    pub overflowed: bool,
}

impl Received {
    /// The APEX return code of this receive: `INVALID_CONFIG` on overflow, else
    /// `NO_ERROR`.
    pub const fn code(&self) -> crate::ReturnCode {
        if self.overflowed {
            crate::ReturnCode::InvalidConfig
        } else {
            crate::ReturnCode::NoError
        }
    }
}

/// The per-port sizes the hot paths use. The runtime handles pass the values resolved
/// on attach; the const-generic typed ports pass compile-time constants (checked equal
/// on attach), so the compiler folds the length and bounds checks that depend on them.
/// Memory safety never depends on these values: every slot access is bounds-checked
/// (`region::queue_slot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    /// Maximum message size in bytes.
    pub(crate) max: u32,
    /// Queue depth.
    pub(crate) cap: u32,
    /// Words per data slot.
    pub(crate) slot_words: usize,
    /// Words of the length array before the data slots.
    pub(crate) len_words: usize,
    /// `cap` is a power of two: the slot of index `i` is `i & (cap - 1)` (2^32 is a
    /// multiple of `cap`, so that stays right across the index wrap), no slot counter.
    pub(crate) pow2: bool,
}

impl Dims {
    /// The sizes of a typed port (`MSG`-byte messages, depth `N`); equal to the
    /// resolved ones of any region a typed port attaches to.
    pub(crate) const fn typed<const MSG: usize, const N: usize>() -> Self {
        let g = Geometry::queuing(MSG as u32, N as u32, false);
        Self {
            max: MSG as u32,
            cap: N as u32,
            slot_words: g.slot_words(),
            len_words: g.length_words(),
            pow2: N.is_power_of_two(),
        }
    }
}

/// Shared words of one queuing channel, resolved once from a validated geometry.
#[derive(Clone, Copy)]
struct Shared<'r> {
    tail: &'r AtomicU32,
    dropped: &'r AtomicU32,
    head: &'r AtomicU32,
    /// The length words (one per slot, source-owned lines, padded to whole lines), then
    /// the data slots, `slot_words` each, each starting on a cache line.
    body: &'r [AtomicU32],
    d: Dims,
    drop_on_full: bool,
}

impl<'r> Shared<'r> {
    fn resolve(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        let too_small = g.attach_checks(&region, Kind::Queuing)?;
        let one = |i| region.span(i, 1).and_then(|s| s.first()).ok_or(too_small);
        let slot_words = g.slot_words();
        let cap = g.capacity as usize;
        Ok(Self {
            tail: one(layout::PRODUCER)?,
            dropped: one(layout::PRODUCER + 1)?,
            head: one(layout::CONSUMER)?,
            body: region
                .span(g.length_word(0), g.length_words() + slot_words * cap)
                .ok_or(too_small)?,
            d: Dims {
                max: g.max_message_size,
                cap: g.capacity,
                slot_words,
                len_words: g.length_words(),
                pow2: g.capacity.is_power_of_two(),
            },
            drop_on_full: g.flags & layout::FLAG_DROP_ON_FULL != 0,
        })
    }

    /// Check a (tail, head) pair read from shared memory.
    #[inline(always)]
    fn used(tail: u32, head: u32, cap: u32, field: &'static str) -> Result<u32, RegionError> {
        let used = tail.wrapping_sub(head);
        if used > cap {
            return Err(index_out_of_range(field, used, cap));
        }
        Ok(used)
    }

    /// The length word and the data words of the slot at `at` (private state: the
    /// checks only guard against our own mistakes).
    #[inline(always)]
    fn slot(&self, pos: usize, d: Dims) -> Option<(&'r AtomicU32, &'r [AtomicU32])> {
        // One compare when `pos` is known small (a power-of-two mask) and the sizes are
        // a typed port's constants: the overflow checks fold away.
        region::queue_slot(self.body, pos, d.len_words, d.slot_words)
    }
}

/// The error of an index window check (cold: keeps the hot path straight).
#[cold]
fn index_out_of_range(field: &'static str, used: u32, capacity: u32) -> RegionError {
    RegionError::IndexOutOfRange {
        field,
        used,
        capacity,
    }
}

/// A slot outside the region: only our own bug could get here (the region was sized
/// on attach); reported as `NOT_AVAILABLE` rather than a panic. Cold.
#[cold]
fn no_slot() -> Error {
    core::hint::cold_path();
    Error::NotAvailable
}

/// Slot cursor of one side: the slot of this side's index. A power-of-two capacity
/// derives it from the index; any other keeps a counter that wraps at the capacity
/// (the index wraps at 2^32, not a multiple of it).
#[derive(Debug, Clone, Copy)]
struct Cursor {
    pos: usize,
}

impl Cursor {
    /// The cursor of slot `pos % capacity`.
    fn slot(pos: u64, d: Dims) -> Self {
        Self {
            pos: (pos % u64::from(d.cap)) as usize,
        }
    }

    /// The slot of `index`, this side's current index.
    #[inline(always)]
    fn pos(&self, index: u32, d: Dims) -> usize {
        if d.pow2 {
            (index & d.cap.wrapping_sub(1)) as usize
        } else {
            self.pos
        }
    }

    /// Step to the next slot (with the index).
    #[inline(always)]
    fn advance(&mut self, d: Dims) {
        if !d.pow2 {
            self.pos += 1;
            if self.pos == d.cap as usize {
                self.pos = 0;
            }
        }
    }
}

/// Sending side of a queuing channel (runtime sizes). Never blocks.
pub struct QueueSender<'r> {
    sh: Shared<'r>,
    tail: u32,
    /// Publish when `index & batch_mask == 0` (batch a power of two).
    batch_mask: u32,
    cached_head: u32,
    at: Cursor,
    dropped: u32,
}

impl core::fmt::Debug for QueueSender<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueueSender")
            .field("tail", &self.tail)
            .field("max_message_size", &self.sh.d.max)
            .field("max_nb_message", &self.sh.d.cap)
            .finish()
    }
}

impl<'r> QueueSender<'r> {
    /// Attach to a formatted region as the source: header validated against `g`,
    /// indices read once and checked.
    pub fn attach(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        let sh = Shared::resolve(region, g)?;
        let tail = region::load(sh.tail, Ordering::Acquire);
        let head = region::load(sh.head, Ordering::Acquire);
        Shared::used(tail, head, sh.d.cap, "head")?;
        Ok(Self {
            tail,
            batch_mask: 0,
            cached_head: head,
            at: Cursor::slot(tail.into(), sh.d),
            dropped: region::load(sh.dropped, Ordering::Relaxed),
            sh,
        })
    }

    /// The sizes resolved on attach.
    pub(crate) fn dims(&self) -> Dims {
        self.sh.d
    }

    /// Maximum message size in bytes.
    pub fn max_message_size(&self) -> u32 {
        self.sh.d.max
    }

    /// Queue depth.
    pub fn max_nb_message(&self) -> u32 {
        self.sh.d.cap
    }

    /// Whether a full queue drops messages (and tells the receiver) instead of failing.
    pub fn drops_on_full(&self) -> bool {
        self.sh.drop_on_full
    }

    /// Publish the `tail` index only when it is a multiple of `batch`, whenever the
    /// queue is seen full, and on [`flush`](Self::flush): fewer cache-line transfers
    /// for a poll loop that sends a burst and then flushes. Messages are invisible to
    /// the receiver until published (at most `batch - 1` of them). Default 1 (every
    /// send visible at once, exact APEX semantics). Clamped to `1..=capacity`, then
    /// rounded down to a power of two. Publishes what is pending first.
    pub fn set_publish_batch(&mut self, batch: u32) {
        self.flush();
        self.batch_mask = batch_mask(batch, self.sh.d.cap);
    }

    /// Publish the `tail` index now (make every sent message visible).
    #[inline]
    pub fn flush(&mut self) {
        flush(self.sh.tail, self.tail);
    }

    /// Send one message without waiting.
    ///
    /// Precedence as APEX `SEND_QUEUING_MESSAGE`: length above the maximum →
    /// `INVALID_CONFIG`, length 0 → `INVALID_PARAM`, full → `NOT_AVAILABLE` (or, in
    /// drop-on-full mode, `Ok` with the message dropped and the receiver told). A `head`
    /// index from the receiver outside the window → [`Error::Corrupt`].
    #[inline]
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), Error> {
        self.send_with(msg, self.sh.d)
    }

    /// [`try_send`](Self::try_send) with the port's sizes `d` (constants for a typed
    /// port).
    #[inline(always)]
    pub(crate) fn send_with(&mut self, msg: &[u8], d: Dims) -> Result<(), Error> {
        check_len(msg.len(), d.max)?;
        if self.tail.wrapping_sub(self.cached_head) >= d.cap {
            // Looks full by the cached head: re-read it (rare: once per queue's worth).
            core::hint::cold_path();
            if self.refresh_head(d.cap)? {
                return self.full();
            }
        }
        let pos = self.at.pos(self.tail, d);
        let (len_w, data) = self.sh.slot(pos, d).ok_or_else(no_slot)?;
        region::store(len_w, msg.len() as u32, Ordering::Relaxed);
        region::copy_in_owned(data, msg, d.max as usize);
        self.tail = self.tail.wrapping_add(1);
        self.at.advance(d);
        publish(self.sh.tail, self.tail, self.batch_mask);
        Ok(())
    }

    /// The queue is full: publish what we hold back, then drop or refuse.
    #[cold]
    fn full(&mut self) -> Result<(), Error> {
        // Never leave the receiver waiting for messages we hold back.
        self.flush();
        if self.sh.drop_on_full {
            self.dropped = self.dropped.wrapping_add(1);
            region::store(self.sh.dropped, self.dropped, Ordering::Release);
            return Ok(());
        }
        Err(Error::NotAvailable)
    }

    /// Re-read the receiver's `head`; returns whether the queue is (still) full.
    #[inline]
    fn refresh_head(&mut self, cap: u32) -> Result<bool, Error> {
        let head = region::load(self.sh.head, Ordering::Acquire);
        let used = Shared::used(self.tail, head, cap, "head")?;
        self.cached_head = head;
        Ok(used >= cap)
    }

    /// Messages in the queue as the source sees it (re-reads the receiver's index).
    pub fn nb_message(&mut self) -> Result<u32, Error> {
        self.refresh_head(self.sh.d.cap)?;
        Ok(self.tail.wrapping_sub(self.cached_head))
    }

    /// Status of the port (the receiver's index is re-read and checked).
    pub fn status(&mut self) -> Result<QueuingPortStatus, Error> {
        Ok(QueuingPortStatus {
            nb_message: self.nb_message()?,
            max_nb_message: self.sh.d.cap,
            max_message_size: self.sh.d.max,
            port_direction: PortDirection::Source,
            waiting_processes: 0,
        })
    }
}

/// Publish this side's new `index` to its shared word when it is a multiple of the
/// batch (`batch_mask`: the batch minus one, a power of two minus one; 0 publishes
/// every index). Batches aligned to the index also keep each side on whole length
/// lines (sixteen lengths to a line) when the batch is a multiple of 16.
#[inline(always)]
fn publish(word: &AtomicU32, index: u32, batch_mask: u32) {
    if index & batch_mask == 0 {
        region::store(word, index, Ordering::Release);
    }
}

/// Publish `index` to this side's own shared word unless it holds it already (reading
/// our own word decides only whether to write it again; a peer that overwrote it gets
/// it rewritten).
#[inline]
fn flush(word: &AtomicU32, index: u32) {
    if region::load(word, Ordering::Relaxed) != index {
        region::store(word, index, Ordering::Release);
    }
}

/// The publication mask of a batch: clamped to `1..=cap`, rounded down to a power of
/// two, minus one.
fn batch_mask(batch: u32, cap: u32) -> u32 {
    let b = batch.clamp(1, cap.max(1));
    (1u32 << (31 - b.leading_zeros())) - 1
}

/// APEX length checks of a message to send, in the standard's order.
#[inline]
pub(crate) fn check_len(len: usize, max: u32) -> Result<(), Error> {
    // One compare on the hot path: `len - 1 < max` is `1 <= len <= max`.
    if len.wrapping_sub(1) < max as usize {
        return Ok(());
    }
    if len > max as usize {
        return Err(Error::InvalidConfig {
            what: "message length",
            value: len as u64,
        });
    }
    if len == 0 {
        return Err(Error::InvalidParam {
            what: "message length",
            value: 0,
        });
    }
    Ok(())
}

/// Receiving side of a queuing channel (runtime sizes). Never blocks.
pub struct QueueReceiver<'r> {
    sh: Shared<'r>,
    head: u32,
    cached_tail: u32,
    /// Publish when `index & batch_mask == 0` (batch a power of two).
    batch_mask: u32,
    at: Cursor,
    last_dropped: u32,
}

impl core::fmt::Debug for QueueReceiver<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueueReceiver")
            .field("head", &self.head)
            .field("max_message_size", &self.sh.d.max)
            .field("max_nb_message", &self.sh.d.cap)
            .finish()
    }
}

impl<'r> QueueReceiver<'r> {
    /// Attach to a formatted region as the destination: header validated against `g`,
    /// indices read once and checked.
    pub fn attach(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        let sh = Shared::resolve(region, g)?;
        let head = region::load(sh.head, Ordering::Acquire);
        let tail = region::load(sh.tail, Ordering::Acquire);
        Shared::used(tail, head, sh.d.cap, "tail")?;
        Ok(Self {
            head,
            cached_tail: tail,
            batch_mask: 0,
            at: Cursor::slot(head.into(), sh.d),
            last_dropped: region::load(sh.dropped, Ordering::Relaxed),
            sh,
        })
    }

    /// Publish the `head` index only when it is a multiple of `batch` (and whenever the
    /// queue is seen empty, and on [`flush`](Self::flush)). Fewer cache-line transfers
    /// to the source; the source may see the queue full for up to `batch - 1` messages
    /// already received. Default 1 (exact APEX semantics). Clamped to `1..=capacity`,
    /// then rounded down to a power of two. Publishes what is pending first.
    pub fn set_publish_batch(&mut self, batch: u32) {
        self.flush();
        self.batch_mask = batch_mask(batch, self.sh.d.cap);
    }

    /// Publish the `head` index now.
    #[inline]
    pub fn flush(&mut self) {
        flush(self.sh.head, self.head);
    }

    /// The sizes resolved on attach.
    pub(crate) fn dims(&self) -> Dims {
        self.sh.d
    }

    /// Maximum message size in bytes.
    pub fn max_message_size(&self) -> u32 {
        self.sh.d.max
    }

    /// Queue depth.
    pub fn max_nb_message(&self) -> u32 {
        self.sh.d.cap
    }

    /// Re-read the source's `tail`; returns the number of messages available.
    #[inline]
    fn refresh_tail(&mut self, head: u32, cap: u32) -> Result<u32, Error> {
        let tail = region::load(self.sh.tail, Ordering::Acquire);
        let avail = Shared::used(tail, head, cap, "tail")?;
        self.cached_tail = tail;
        Ok(avail)
    }

    /// Receive one message into `buf` without waiting.
    ///
    /// `buf` shorter than the maximum message size → `INVALID_PARAM`; empty →
    /// `NOT_AVAILABLE`. A bad `tail` index → [`Error::Corrupt`] (nothing consumed); a
    /// slot whose length is 0 or above the maximum → [`Error::Corrupt`] with that slot
    /// consumed, so the queue goes on.
    #[inline]
    pub fn try_receive(&mut self, buf: &mut [u8]) -> Result<Received, Error> {
        self.receive_with(buf, self.sh.d)
    }

    /// [`try_receive`](Self::try_receive) with the port's sizes `d` (constants for a
    /// typed port).
    #[inline(always)]
    pub(crate) fn receive_with(&mut self, buf: &mut [u8], d: Dims) -> Result<Received, Error> {
        if buf.len() < d.max as usize {
            return Err(Error::InvalidParam {
                what: "buffer length",
                value: buf.len() as u64,
            });
        }
        let head = self.head;
        if head == self.cached_tail && self.refresh_tail(head, d.cap)? == 0 {
            return self.empty();
        }
        let pos = self.at.pos(head, d);
        let (len_w, data) = self.sh.slot(pos, d).ok_or_else(no_slot)?;
        let len = region::load(len_w, Ordering::Relaxed);
        // `1 <= len <= max` in one compare.
        if len.wrapping_sub(1) >= d.max {
            return Err(self.bad_length(len, d));
        }
        let n = len as usize;
        if let Some(dst) = buf.get_mut(..n) {
            region::copy_out_owned(data, dst, d.max as usize);
        }
        let overflowed = self.take_overflow();
        self.consume(d);
        Ok(Received { len: n, overflowed })
    }

    /// Step past the current slot and publish per the batch.
    #[inline(always)]
    fn consume(&mut self, d: Dims) {
        self.head = self.head.wrapping_add(1);
        self.at.advance(d);
        publish(self.sh.head, self.head, self.batch_mask);
    }

    /// A slot whose length is 0 or above the maximum: consumed anyway, so a bad length
    /// does not wedge the queue.
    #[cold]
    fn bad_length(&mut self, len: u32, d: Dims) -> Error {
        self.consume(d);
        RegionError::LengthOutOfRange { len, max: d.max }.into()
    }

    /// The queue is empty: publish what we hold back (the source may be waiting).
    #[cold]
    fn empty(&mut self) -> Result<Received, Error> {
        self.flush();
        Err(Error::NotAvailable)
    }

    #[inline]
    fn take_overflow(&mut self) -> bool {
        if !self.sh.drop_on_full {
            return false;
        }
        let d = region::load(self.sh.dropped, Ordering::Relaxed);
        let over = d != self.last_dropped;
        self.last_dropped = d;
        over
    }

    /// Discard every message in the queue and the overflow flag (APEX
    /// `CLEAR_QUEUING_PORT`).
    pub fn clear(&mut self) -> Result<(), Error> {
        let avail = self.refresh_tail(self.head, self.sh.d.cap)?;
        let pos = self.at.pos(self.head, self.sh.d);
        self.at = Cursor::slot(pos as u64 + u64::from(avail), self.sh.d);
        self.head = self.cached_tail;
        self.last_dropped = region::load(self.sh.dropped, Ordering::Relaxed);
        self.flush();
        Ok(())
    }

    /// Messages waiting, as the receiver sees it (re-reads and checks the source's index).
    pub fn nb_message(&mut self) -> Result<u32, Error> {
        self.refresh_tail(self.head, self.sh.d.cap)
    }

    /// Status of the port.
    pub fn status(&mut self) -> Result<QueuingPortStatus, Error> {
        Ok(QueuingPortStatus {
            nb_message: self.nb_message()?,
            max_nb_message: self.sh.d.cap,
            max_message_size: self.sh.d.max,
            port_direction: PortDirection::Destination,
            waiting_processes: 0,
        })
    }
}
