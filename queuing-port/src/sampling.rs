//! Sampling channels: one writer, any number of readers, latest whole message wins.
//!
//! The writer rotates over [`SAMPLING_SLOTS`](crate::layout::SAMPLING_SLOTS) buffers.
//! Each buffer has a `stamp` word: the writer sets it to 0 (busy), writes length, time
//! and data, then sets it to the write's sequence number and publishes that number in
//! `latest`. A reader copies the buffer `latest` names and keeps the copy only if the
//! stamp equals that sequence number before *and* after the copy (a per-buffer seqlock),
//! so it never returns a torn message. The writer is wait-free and never reads memory a
//! reader writes (readers write nothing); readers give up after
//! [`READ_ATTEMPTS`] lost races with `NOT_AVAILABLE`, so every read is bounded.

use crate::config::PortDirection;
use crate::error::{Error, RegionError};
use crate::layout::{self, Geometry, Kind, SAMPLE_SLOT_HEADER};
use crate::queuing::check_len;
use crate::region::{self, Region};
use crate::sync::{fence, AtomicU32, Ordering};

/// How many times a reader retries a copy the writer overwrote.
pub const READ_ATTEMPTS: u32 = 4;

/// APEX `VALIDITY_TYPE`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// The message is older than the refresh period (or there is none).
    Invalid = 0,
    /// The message is within the refresh period.
    Valid = 1,
}

/// ARINC 653 Part 2 message age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAge {
    /// Age within the refresh period.
    Fresh,
    /// Age above the refresh period.
    Stale,
}

/// ARINC 653 Part 2 update state of a destination port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateState {
    /// Nothing was ever written.
    EmptyPort,
    /// The latest message was already read through this port.
    ConsumedMessage,
    /// A message this port has not read yet.
    NewMessage,
}

/// A message read from a sampling port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampledMessage {
    /// Bytes written into the caller's buffer.
    pub len: usize,
    /// Validity against the refresh period.
    pub validity: Validity,
    /// Part 2 age.
    pub age: MessageAge,
    /// The writer's time stamp of the message (ns, the writer's clock).
    pub timestamp: u64,
    /// The message is new since this port's previous read.
    pub updated: bool,
}

/// Status of a sampling port (APEX `SAMPLING_PORT_STATUS_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplingPortStatus {
    /// Refresh period in ns.
    pub refresh_period: u64,
    /// Maximum message size in bytes.
    pub max_message_size: u32,
    /// Direction of this port.
    pub port_direction: PortDirection,
    /// Validity of the last message read through this port.
    pub last_msg_validity: Validity,
}

/// Part 2 current status of a destination port (`GET_SAMPLING_PORT_CURRENT_STATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplingPortCurrentStatus {
    /// The static status.
    pub status: SamplingPortStatus,
    /// Age of the message now in the port, `None` when empty.
    pub age: Option<MessageAge>,
    /// Update state relative to this port's reads.
    pub update: UpdateState,
}

#[derive(Clone, Copy)]
struct Shared<'r> {
    latest: &'r AtomicU32,
    slots: &'r [AtomicU32],
    max: u32,
    slot_words: usize,
    refresh: u64,
}

impl<'r> Shared<'r> {
    fn resolve(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        let too_small = g.attach_checks(&region, Kind::Sampling)?;
        let slot_words = g.slot_words();
        Ok(Self {
            latest: region
                .span(layout::PRODUCER, 1)
                .and_then(|s| s.first())
                .ok_or(too_small)?,
            slots: region
                .span(layout::SLOTS, slot_words * g.capacity as usize)
                .ok_or(too_small)?,
            max: g.max_message_size,
            slot_words,
            refresh: g.refresh_period,
        })
    }

    fn slot(&self, seq: u32) -> Option<&'r [AtomicU32]> {
        let pos = (seq % layout::SAMPLING_SLOTS) as usize;
        self.slots
            .get(pos * self.slot_words..(pos + 1) * self.slot_words)
    }

    fn fresh(&self, timestamp: u64, now: u64) -> bool {
        now.saturating_sub(timestamp) <= self.refresh
    }
}

/// Writing side of a sampling channel (runtime sizes). Wait-free.
pub struct SampleWriter<'r> {
    sh: Shared<'r>,
    seq: u32,
}

impl core::fmt::Debug for SampleWriter<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SampleWriter")
            .field("seq", &self.seq)
            .field("max_message_size", &self.sh.max)
            .finish()
    }
}

impl<'r> SampleWriter<'r> {
    /// Attach to a formatted region as the source (header validated against `g`).
    pub fn attach(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        let sh = Shared::resolve(region, g)?;
        // Continue the sequence of a previous writer; any value is acceptable.
        let seq = region::load(sh.latest, Ordering::Relaxed);
        Ok(Self { sh, seq })
    }

    /// Write a message stamped with `now` (ns): overwrites the previous one.
    ///
    /// Precedence as APEX `WRITE_SAMPLING_MESSAGE`: length above the maximum →
    /// `INVALID_CONFIG`, length 0 → `INVALID_PARAM`.
    #[inline]
    pub fn write(&mut self, msg: &[u8], now: u64) -> Result<(), Error> {
        check_len(msg.len(), self.sh.max)?;
        let mut seq = self.seq.wrapping_add(1);
        if seq == 0 {
            seq = 1;
        }
        let slot = self.sh.slot(seq).ok_or(Error::NotAvailable)?;
        let (head, data) = slot.split_at(SAMPLE_SLOT_HEADER);
        if let [stamp, len, lo, hi] = head {
            region::store(stamp, 0, Ordering::Relaxed);
            fence(Ordering::Release);
            region::store(len, msg.len() as u32, Ordering::Relaxed);
            region::store(lo, now as u32, Ordering::Relaxed);
            region::store(hi, (now >> 32) as u32, Ordering::Relaxed);
            region::copy_in(data, msg);
            region::store(stamp, seq, Ordering::Release);
        }
        self.seq = seq;
        region::store(self.sh.latest, seq, Ordering::Release);
        Ok(())
    }

    /// Maximum message size in bytes.
    pub fn max_message_size(&self) -> u32 {
        self.sh.max
    }

    /// Status of the port (a source has no last-read validity: reported `Invalid`).
    pub fn status(&self) -> SamplingPortStatus {
        SamplingPortStatus {
            refresh_period: self.sh.refresh,
            max_message_size: self.sh.max,
            port_direction: PortDirection::Source,
            last_msg_validity: Validity::Invalid,
        }
    }
}

/// Reading side of a sampling channel (runtime sizes). Writes nothing to shared memory.
pub struct SampleReader<'r> {
    sh: Shared<'r>,
    last_seq: u32,
    last_validity: Validity,
}

impl core::fmt::Debug for SampleReader<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SampleReader")
            .field("last_seq", &self.last_seq)
            .field("max_message_size", &self.sh.max)
            .finish()
    }
}

impl<'r> SampleReader<'r> {
    /// Attach to a formatted region as a destination (header validated against `g`).
    pub fn attach(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        Ok(Self {
            sh: Shared::resolve(region, g)?,
            last_seq: 0,
            last_validity: Validity::Invalid,
        })
    }

    /// Maximum message size in bytes.
    pub fn max_message_size(&self) -> u32 {
        self.sh.max
    }

    /// Copy the latest message into `buf`: `(seq, len, timestamp)`. Empty → `NO_ACTION`.
    fn snapshot(&self, buf: &mut [u8]) -> Result<(u32, usize, u64), Error> {
        if buf.len() < self.sh.max as usize {
            return Err(Error::InvalidParam {
                what: "buffer length",
                value: buf.len() as u64,
            });
        }
        for _ in 0..READ_ATTEMPTS {
            let seq = region::load(self.sh.latest, Ordering::Acquire);
            if seq == 0 {
                return Err(Error::NoAction);
            }
            let Some(slot) = self.sh.slot(seq) else {
                return Err(Error::NotAvailable);
            };
            let (head, data) = slot.split_at(SAMPLE_SLOT_HEADER);
            let [stamp, len_w, lo, hi] = head else {
                return Err(Error::NotAvailable);
            };
            if region::load(stamp, Ordering::Acquire) != seq {
                continue;
            }
            let len = region::load(len_w, Ordering::Relaxed);
            let ts = u64::from(region::load(lo, Ordering::Relaxed))
                | (u64::from(region::load(hi, Ordering::Relaxed)) << 32);
            // Copy at most the maximum, whatever the length says; judge it after.
            let n = len.min(self.sh.max) as usize;
            if let Some(dst) = buf.get_mut(..n) {
                region::copy_out(data, dst);
            }
            fence(Ordering::Acquire);
            if region::load(stamp, Ordering::Relaxed) != seq {
                continue;
            }
            if len == 0 || len > self.sh.max {
                return Err(RegionError::LengthOutOfRange {
                    len,
                    max: self.sh.max,
                }
                .into());
            }
            return Ok((seq, n, ts));
        }
        Err(Error::NotAvailable)
    }

    fn finish(&mut self, seq: u32, len: usize, timestamp: u64, now: u64) -> SampledMessage {
        let fresh = self.sh.fresh(timestamp, now);
        let updated = seq != self.last_seq;
        self.last_seq = seq;
        self.last_validity = if fresh {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        SampledMessage {
            len,
            validity: self.last_validity,
            age: if fresh {
                MessageAge::Fresh
            } else {
                MessageAge::Stale
            },
            timestamp,
            updated,
        }
    }

    /// APEX `READ_SAMPLING_MESSAGE`: the latest message, with its validity at `now`.
    /// Empty → `NO_ACTION`. `buf` must hold the maximum message size; its content is
    /// unspecified on error.
    #[inline]
    pub fn read(&mut self, buf: &mut [u8], now: u64) -> Result<SampledMessage, Error> {
        let (seq, len, ts) = self.snapshot(buf)?;
        Ok(self.finish(seq, len, ts, now))
    }

    /// Part 2 `READ_UPDATED_SAMPLING_MESSAGE`: like [`read`](Self::read), but
    /// `NO_ACTION` when there is no message this port has not read yet.
    pub fn read_updated(&mut self, buf: &mut [u8], now: u64) -> Result<SampledMessage, Error> {
        if region::load(self.sh.latest, Ordering::Acquire) == self.last_seq {
            return Err(Error::NoAction);
        }
        let (seq, len, ts) = self.snapshot(buf)?;
        if seq == self.last_seq {
            return Err(Error::NoAction);
        }
        Ok(self.finish(seq, len, ts, now))
    }

    /// Part 2 conditional read: the latest message only if it was written at or after
    /// `ref_time`, else `NOT_AVAILABLE`.
    pub fn read_conditional(
        &mut self,
        buf: &mut [u8],
        ref_time: u64,
        now: u64,
    ) -> Result<SampledMessage, Error> {
        let (seq, len, ts) = self.snapshot(buf)?;
        if ts < ref_time {
            return Err(Error::NotAvailable);
        }
        Ok(self.finish(seq, len, ts, now))
    }

    /// APEX status: refresh period, maximum size, direction, validity of the last read.
    pub fn status(&self) -> SamplingPortStatus {
        SamplingPortStatus {
            refresh_period: self.sh.refresh,
            max_message_size: self.sh.max,
            port_direction: PortDirection::Destination,
            last_msg_validity: self.last_validity,
        }
    }

    /// Part 2 current status at `now` (reads the latest buffer's stamp and time once).
    pub fn current_status(&self, now: u64) -> SamplingPortCurrentStatus {
        let status = self.status();
        let seq = region::load(self.sh.latest, Ordering::Acquire);
        if seq == 0 {
            return SamplingPortCurrentStatus {
                status,
                age: None,
                update: UpdateState::EmptyPort,
            };
        }
        let age = self.sh.slot(seq).and_then(|slot| match slot {
            [_, _, lo, hi, ..] => {
                let ts = u64::from(region::load(lo, Ordering::Relaxed))
                    | (u64::from(region::load(hi, Ordering::Relaxed)) << 32);
                Some(if self.sh.fresh(ts, now) {
                    MessageAge::Fresh
                } else {
                    MessageAge::Stale
                })
            }
            _ => None,
        });
        SamplingPortCurrentStatus {
            status,
            age,
            update: if seq == self.last_seq {
                UpdateState::ConsumedMessage
            } else {
                UpdateState::NewMessage
            },
        }
    }
}
