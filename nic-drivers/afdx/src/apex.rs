//! The doors between AFDX ports and partitions' APEX ports: [`ApexSource`] (a
//! partition's port the I/O partition reads messages from) and [`ApexSink`] (a
//! partition's port it delivers messages to), implemented by the queuing-port crate's
//! ports over shared memory.
//!
//! Time: the end system counts µs; queuing-port's sampling ports stamp messages in ns
//! (`now_us * 1000`), against which partitions check validity by refresh period.

use core::fmt;

use queuing_port::{
    Error, QueueReceiver, QueueSender, QueuingPortReceiver, QueuingPortSender, SampleReader,
    SampleWriter, SamplingPortDestination, SamplingPortSource,
};

/// Why a delivery to a partition's port failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkError {
    /// A queuing port was full: the message is lost (counted as an overflow).
    Overflow,
    /// The port refused the message (size, a corrupt region).
    Port(Error),
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Overflow => f.write_str("queuing port full: message lost"),
            SinkError::Port(e) => write!(f, "port refused the message: {e}"),
        }
    }
}

impl core::error::Error for SinkError {}

/// A partition's port the I/O partition reads messages from, to send them on a VL.
pub trait ApexSource {
    /// The next message to send into `buf`, if any: a queuing port's oldest message, a
    /// sampling port's message if it was updated since the last fetch.
    fn fetch(&mut self, buf: &mut [u8], now_us: u64) -> Result<Option<usize>, Error>;
}

/// A partition's port the I/O partition delivers received messages to.
pub trait ApexSink {
    /// Delivers `msg` received at `now_us`: a queuing port appends it (full: an
    /// [`Overflow`](SinkError::Overflow)), a sampling port overwrites its value.
    fn deliver(&mut self, msg: &[u8], now_us: u64) -> Result<(), SinkError>;
}

fn sink_result(r: Result<(), Error>) -> Result<(), SinkError> {
    match r {
        Ok(()) => Ok(()),
        Err(Error::NotAvailable) => Err(SinkError::Overflow),
        Err(e) => Err(SinkError::Port(e)),
    }
}

fn fetched(r: Result<usize, Error>) -> Result<Option<usize>, Error> {
    match r {
        Ok(n) => Ok(Some(n)),
        Err(Error::NotAvailable | Error::NoAction) => Ok(None),
        Err(e) => Err(e),
    }
}

fn short_buf(len: usize) -> Error {
    Error::InvalidParam {
        what: "buffer length",
        value: len as u64,
    }
}

impl<const MSG: usize, const N: usize> ApexSink for QueuingPortSender<'_, MSG, N> {
    fn deliver(&mut self, msg: &[u8], _now_us: u64) -> Result<(), SinkError> {
        sink_result(self.try_send(msg))
    }
}

impl ApexSink for QueueSender<'_> {
    fn deliver(&mut self, msg: &[u8], _now_us: u64) -> Result<(), SinkError> {
        sink_result(self.try_send(msg))
    }
}

impl<const MSG: usize> ApexSink for SamplingPortSource<'_, MSG> {
    fn deliver(&mut self, msg: &[u8], now_us: u64) -> Result<(), SinkError> {
        sink_result(self.write(msg, now_us.saturating_mul(1000)))
    }
}

impl ApexSink for SampleWriter<'_> {
    fn deliver(&mut self, msg: &[u8], now_us: u64) -> Result<(), SinkError> {
        sink_result(self.write(msg, now_us.saturating_mul(1000)))
    }
}

impl<const MSG: usize, const N: usize> ApexSource for QueuingPortReceiver<'_, MSG, N> {
    fn fetch(&mut self, buf: &mut [u8], _now_us: u64) -> Result<Option<usize>, Error> {
        let len = buf.len();
        let b: &mut [u8; MSG] = buf
            .get_mut(..MSG)
            .and_then(|b| b.try_into().ok())
            .ok_or(short_buf(len))?;
        fetched(self.try_receive(b).map(|r| r.len))
    }
}

impl ApexSource for QueueReceiver<'_> {
    fn fetch(&mut self, buf: &mut [u8], _now_us: u64) -> Result<Option<usize>, Error> {
        fetched(self.try_receive(buf).map(|r| r.len))
    }
}

impl<const MSG: usize> ApexSource for SamplingPortDestination<'_, MSG> {
    fn fetch(&mut self, buf: &mut [u8], now_us: u64) -> Result<Option<usize>, Error> {
        let len = buf.len();
        let b: &mut [u8; MSG] = buf
            .get_mut(..MSG)
            .and_then(|b| b.try_into().ok())
            .ok_or(short_buf(len))?;
        fetched(
            self.read_updated(b, now_us.saturating_mul(1000))
                .map(|m| m.len),
        )
    }
}

impl ApexSource for SampleReader<'_> {
    fn fetch(&mut self, buf: &mut [u8], now_us: u64) -> Result<Option<usize>, Error> {
        fetched(
            self.read_updated(buf, now_us.saturating_mul(1000))
                .map(|m| m.len),
        )
    }
}
