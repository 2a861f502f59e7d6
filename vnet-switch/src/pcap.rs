//! A `no_std` pcap writer: `LINKTYPE_ETHERNET`, nanosecond timestamps.
//!
//! [`PcapWriter`] writes the classic libpcap format (magic `0xa1b23c4d`, version 2.4,
//! little-endian) to any [`PcapSink`]: a [`SliceSink`] over a caller buffer, or with the
//! `std` feature a `FileSink` that Wireshark and tshark open. It implements
//! [`Tap`], so it can record the switch's mirrored frames directly (the verdict is not
//! representable in classic pcap; it is in the [`TapEvent`]).

use core::fmt;

use crate::monitor::{Tap, TapEvent};

/// Magic number of a nanosecond-resolution pcap file.
pub const MAGIC_NS: u32 = 0xa1b2_3c4d;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Length of the global header.
pub const GLOBAL_HEADER_LEN: usize = 24;
/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// A sink could not take the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PcapError {
    /// Not enough room: bytes needed, bytes left.
    Full {
        /// Bytes the write needed.
        needed: usize,
        /// Bytes that were left.
        left: usize,
    },
    /// An I/O error (the `std` sink).
    Io,
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Full { needed, left } => {
                write!(f, "pcap sink full: {needed} bytes needed, {left} left")
            }
            PcapError::Io => write!(f, "pcap sink I/O error"),
        }
    }
}

/// Where pcap bytes go.
pub trait PcapSink {
    /// Writes all of `bytes`, or nothing and an error.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PcapError>;
}

/// A sink over a caller-provided buffer.
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceSink<'a> {
    /// A sink writing into `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceSink { buf, len: 0 }
    }
    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl PcapSink for SliceSink<'_> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PcapError> {
        let left = self.buf.len() - self.len;
        let dst = self
            .buf
            .get_mut(self.len..self.len + bytes.len())
            .ok_or(PcapError::Full {
                needed: bytes.len(),
                left,
            })?;
        dst.copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }
}

/// A pcap file sink (feature `std`), buffered.
#[cfg(feature = "std")]
pub struct FileSink(std::io::BufWriter<std::fs::File>);

#[cfg(feature = "std")]
impl FileSink {
    /// Creates (truncates) the file at `path`.
    pub fn create(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        Ok(FileSink(std::io::BufWriter::new(std::fs::File::create(
            path,
        )?)))
    }
    /// Flushes buffered bytes to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        self.0.flush()
    }
}

#[cfg(feature = "std")]
impl PcapSink for FileSink {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PcapError> {
        use std::io::Write;
        self.0.write_all(bytes).map_err(|_| PcapError::Io)
    }
}

/// Writes pcap records to a sink.
#[derive(Debug)]
pub struct PcapWriter<S> {
    sink: S,
    snaplen: u32,
    /// Records written.
    pub records: u64,
    /// Records lost because the sink refused them (when used as a [`Tap`]).
    pub errors: u64,
}

impl<S: PcapSink> PcapWriter<S> {
    /// Writes the global header; frames longer than `snaplen` are cut to it.
    pub fn new(mut sink: S, snaplen: u32) -> Result<Self, PcapError> {
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC_NS.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        sink.write_all(&h)?;
        Ok(PcapWriter {
            sink,
            snaplen,
            records: 0,
            errors: 0,
        })
    }

    /// Writes one record: the frame is the concatenation of `parts`.
    pub fn write_frame(&mut self, time_ns: u64, parts: &[&[u8]]) -> Result<(), PcapError> {
        let orig: usize = parts.iter().map(|p| p.len()).sum();
        let incl = orig.min(self.snaplen as usize);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&((time_ns / 1_000_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((time_ns % 1_000_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(incl as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(orig.min(u32::MAX as usize) as u32).to_le_bytes());
        self.sink.write_all(&h)?;
        let mut left = incl;
        for p in parts {
            let n = p.len().min(left);
            self.sink.write_all(&p[..n])?;
            left -= n;
        }
        self.records += 1;
        Ok(())
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink, mutably (e.g. to flush a file).
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Gives the sink back.
    pub fn into_sink(self) -> S {
        self.sink
    }
}

impl<S: PcapSink> Tap for PcapWriter<S> {
    fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) {
        if self.write_frame(event.time_ns, &[header, payload]).is_err() {
            self.errors += 1;
        }
    }
}
