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

/// Shared words of one queuing channel, resolved once from a validated geometry.
#[derive(Clone, Copy)]
struct Shared<'r> {
    tail: &'r AtomicU32,
    dropped: &'r AtomicU32,
    head: &'r AtomicU32,
    slots: &'r [AtomicU32],
    max: u32,
    cap: u32,
    slot_words: usize,
    drop_on_full: bool,
}

impl<'r> Shared<'r> {
    fn resolve(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        if g.kind != Kind::Queuing {
            return Err(Error::InvalidConfig {
                what: "channel kind",
                value: g.kind as u64,
            });
        }
        g.validate(&region)?;
        let too_small = RegionError::TooSmall {
            needed: g.region_bytes() as u64,
            got: region.len_bytes() as u64,
        };
        let one = |i| region.span(i, 1).and_then(|s| s.first()).ok_or(too_small);
        let slot_words = g.slot_words();
        Ok(Self {
            tail: one(layout::PRODUCER)?,
            dropped: one(layout::PRODUCER + 1)?,
            head: one(layout::CONSUMER)?,
            slots: region
                .span(layout::SLOTS, slot_words * g.capacity as usize)
                .ok_or(too_small)?,
            max: g.max_message_size,
            cap: g.capacity,
            slot_words,
            drop_on_full: g.flags & layout::FLAG_DROP_ON_FULL != 0,
        })
    }

    /// Check a (tail, head) pair read from shared memory.
    fn used(&self, tail: u32, head: u32, field: &'static str) -> Result<u32, RegionError> {
        let used = tail.wrapping_sub(head);
        if used > self.cap {
            return Err(RegionError::IndexOutOfRange {
                field,
                used,
                capacity: self.cap,
            });
        }
        Ok(used)
    }

    /// The length word and the data words of slot `pos`.
    #[inline]
    fn slot(&self, pos: usize) -> Option<(&'r AtomicU32, &'r [AtomicU32])> {
        let slot = self
            .slots
            .get(pos * self.slot_words..(pos + 1) * self.slot_words)?;
        let (len, data) = slot.split_first()?;
        Some((len, data))
    }
}

/// Sending side of a queuing channel (runtime sizes). Never blocks.
pub struct QueueSender<'r> {
    sh: Shared<'r>,
    tail: u32,
    published: u32,
    batch: u32,
    cached_head: u32,
    pos: usize,
    dropped: u32,
}

impl core::fmt::Debug for QueueSender<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueueSender")
            .field("tail", &self.tail)
            .field("max_message_size", &self.sh.max)
            .field("max_nb_message", &self.sh.cap)
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
        sh.used(tail, head, "head")?;
        Ok(Self {
            tail,
            published: tail,
            batch: 1,
            cached_head: head,
            pos: (tail % sh.cap) as usize,
            dropped: region::load(sh.dropped, Ordering::Relaxed),
            sh,
        })
    }

    /// Maximum message size in bytes.
    pub fn max_message_size(&self) -> u32 {
        self.sh.max
    }

    /// Queue depth.
    pub fn max_nb_message(&self) -> u32 {
        self.sh.cap
    }

    /// Whether a full queue drops messages (and tells the receiver) instead of failing.
    pub fn drops_on_full(&self) -> bool {
        self.sh.drop_on_full
    }

    /// Publish the `tail` index only every `batch` sends, whenever the queue is seen
    /// full, and on [`flush`](Self::flush): fewer cache-line transfers for a poll loop
    /// that sends a burst and then flushes. Messages are invisible to the receiver until
    /// published. Default 1 (every send visible at once, exact APEX semantics). Clamped
    /// to `1..=capacity`.
    pub fn set_publish_batch(&mut self, batch: u32) {
        self.batch = batch.clamp(1, self.sh.cap);
        if self.batch == 1 {
            self.flush();
        }
    }

    /// Publish the `tail` index now (make every sent message visible).
    #[inline]
    pub fn flush(&mut self) {
        if self.published != self.tail {
            self.published = self.tail;
            region::store(self.sh.tail, self.tail, Ordering::Release);
        }
    }

    /// Send one message without waiting.
    ///
    /// Precedence as APEX `SEND_QUEUING_MESSAGE`: length above the maximum →
    /// `INVALID_CONFIG`, length 0 → `INVALID_PARAM`, full → `NOT_AVAILABLE` (or, in
    /// drop-on-full mode, `Ok` with the message dropped and the receiver told). A `head`
    /// index from the receiver outside the window → [`Error::Corrupt`].
    #[inline]
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), Error> {
        check_len(msg.len(), self.sh.max)?;
        if self.tail.wrapping_sub(self.cached_head) >= self.sh.cap && self.refresh_head()? {
            // Never leave the receiver waiting for messages we hold back.
            self.flush();
            if self.sh.drop_on_full {
                self.dropped = self.dropped.wrapping_add(1);
                region::store(self.sh.dropped, self.dropped, Ordering::Release);
                return Ok(());
            }
            return Err(Error::NotAvailable);
        }
        let (len_w, data) = self.sh.slot(self.pos).ok_or(Error::NotAvailable)?;
        region::store(len_w, msg.len() as u32, Ordering::Relaxed);
        region::copy_in_owned(data, msg);
        self.tail = self.tail.wrapping_add(1);
        self.pos += 1;
        if self.pos == self.sh.cap as usize {
            self.pos = 0;
        }
        if self.tail.wrapping_sub(self.published) >= self.batch {
            self.published = self.tail;
            region::store(self.sh.tail, self.tail, Ordering::Release);
        }
        Ok(())
    }

    /// Re-read the receiver's `head`; returns whether the queue is (still) full.
    #[inline]
    fn refresh_head(&mut self) -> Result<bool, Error> {
        let head = region::load(self.sh.head, Ordering::Acquire);
        let used = self.sh.used(self.tail, head, "head")?;
        self.cached_head = head;
        Ok(used >= self.sh.cap)
    }

    /// Messages in the queue as the source sees it (re-reads the receiver's index).
    pub fn nb_message(&mut self) -> Result<u32, Error> {
        self.refresh_head()?;
        Ok(self.tail.wrapping_sub(self.cached_head))
    }

    /// Status of the port (the receiver's index is re-read and checked).
    pub fn status(&mut self) -> Result<QueuingPortStatus, Error> {
        Ok(QueuingPortStatus {
            nb_message: self.nb_message()?,
            max_nb_message: self.sh.cap,
            max_message_size: self.sh.max,
            port_direction: PortDirection::Source,
            waiting_processes: 0,
        })
    }
}

/// APEX length checks of a message to send, in the standard's order.
#[inline]
pub(crate) fn check_len(len: usize, max: u32) -> Result<(), Error> {
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
    published: u32,
    batch: u32,
    pos: usize,
    last_dropped: u32,
}

impl core::fmt::Debug for QueueReceiver<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueueReceiver")
            .field("head", &self.head)
            .field("max_message_size", &self.sh.max)
            .field("max_nb_message", &self.sh.cap)
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
        sh.used(tail, head, "tail")?;
        Ok(Self {
            head,
            cached_tail: tail,
            published: head,
            batch: 1,
            pos: (head % sh.cap) as usize,
            last_dropped: region::load(sh.dropped, Ordering::Relaxed),
            sh,
        })
    }

    /// Publish the `head` index only every `batch` receives (and whenever the queue is
    /// seen empty, and on [`flush`](Self::flush)). Fewer cache-line transfers to the
    /// source; the source may see the queue full for up to `batch - 1` messages already
    /// received. Default 1 (exact APEX semantics). Clamped to `1..=capacity`.
    pub fn set_publish_batch(&mut self, batch: u32) {
        self.batch = batch.clamp(1, self.sh.cap);
    }

    /// Publish the `head` index now.
    pub fn flush(&mut self) {
        if self.published != self.head {
            self.published = self.head;
            region::store(self.sh.head, self.head, Ordering::Release);
        }
    }

    /// Maximum message size in bytes.
    pub fn max_message_size(&self) -> u32 {
        self.sh.max
    }

    /// Queue depth.
    pub fn max_nb_message(&self) -> u32 {
        self.sh.cap
    }

    /// Re-read the source's `tail`; returns the number of messages available.
    #[inline]
    fn refresh_tail(&mut self) -> Result<u32, Error> {
        let tail = region::load(self.sh.tail, Ordering::Acquire);
        let avail = self.sh.used(tail, self.head, "tail")?;
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
        if buf.len() < self.sh.max as usize {
            return Err(Error::InvalidParam {
                what: "buffer length",
                value: buf.len() as u64,
            });
        }
        if self.head == self.cached_tail && self.refresh_tail()? == 0 {
            self.flush();
            return Err(Error::NotAvailable);
        }
        let (len_w, data) = self.sh.slot(self.pos).ok_or(Error::NotAvailable)?;
        let len = region::load(len_w, Ordering::Relaxed);
        let result = if len == 0 || len > self.sh.max {
            Err(Error::Corrupt(RegionError::LengthOutOfRange {
                len,
                max: self.sh.max,
            }))
        } else {
            let n = len as usize;
            if let Some(dst) = buf.get_mut(..n) {
                region::copy_out_owned(data, dst);
            }
            Ok(Received {
                len: n,
                overflowed: self.take_overflow(),
            })
        };
        self.advance();
        result
    }

    #[inline]
    fn advance(&mut self) {
        self.head = self.head.wrapping_add(1);
        self.pos += 1;
        if self.pos == self.sh.cap as usize {
            self.pos = 0;
        }
        if self.head.wrapping_sub(self.published) >= self.batch {
            self.published = self.head;
            region::store(self.sh.head, self.head, Ordering::Release);
        }
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
        let avail = self.refresh_tail()?;
        self.pos = ((self.pos as u64 + avail as u64) % self.sh.cap as u64) as usize;
        self.head = self.cached_tail;
        self.last_dropped = region::load(self.sh.dropped, Ordering::Relaxed);
        self.flush();
        Ok(())
    }

    /// Messages waiting, as the receiver sees it (re-reads and checks the source's index).
    pub fn nb_message(&mut self) -> Result<u32, Error> {
        self.refresh_tail()
    }

    /// Status of the port.
    pub fn status(&mut self) -> Result<QueuingPortStatus, Error> {
        Ok(QueuingPortStatus {
            nb_message: self.nb_message()?,
            max_nb_message: self.sh.cap,
            max_message_size: self.sh.max,
            port_direction: PortDirection::Destination,
            waiting_processes: 0,
        })
    }
}
