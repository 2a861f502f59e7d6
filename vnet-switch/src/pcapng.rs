//! A `no_std`, heap-free pcapng writer for the monitor: every mirrored frame with its
//! port (one pcapng interface per switch port, named), its direction (`epb_flags`) and
//! the switch's verdict as a packet comment, so Wireshark shows *why* a frame was
//! dropped (display filter `frame.comment contains "dropped"`). Classic pcap
//! ([`pcap`](crate::pcap)) has no place for the verdict.
//!
//! [`PcapngWriter`] writes to any [`PcapSink`] (a caller buffer, or a file with `std`)
//! and is a [`Tap`]. [`Packets`] reads the enhanced packet blocks of such a file back
//! without allocating (for tests and tools; a file's lengths are checked, not trusted).
//!
//! ```
//! use vnet_switch::pcap::SliceSink;
//! use vnet_switch::pcapng::{Packets, PcapngWriter};
//! use vnet_switch::{Direction, DropReason, PortId, Tap, TapEvent, Verdict};
//!
//! let mut buf = [0u8; 1024];
//! let mut tap = PcapngWriter::new(SliceSink::new(&mut buf), &["uplink", "A"]).unwrap();
//! let event = TapEvent {
//!     port: PortId::new(1),
//!     direction: Direction::Ingress,
//!     verdict: Verdict::Dropped(DropReason::Spoofed),
//!     time_ns: 1_000,
//! };
//! tap.frame(&event, &[0xff; 14], b"payload");
//! assert_eq!((tap.records, tap.errors), (1, 0));
//!
//! let file = tap.sink().written();
//! let p = Packets::new(file).unwrap().next().unwrap().unwrap();
//! assert_eq!((p.interface, p.time_ns, p.data.len()), (1, 1_000, 21));
//! assert_eq!(p.comment, Some("from port 1 (A): dropped: spoofed source address"));
//! ```

use core::fmt::{self, Write as _};

use crate::monitor::{Direction, Tap, TapEvent, Verdict};
use crate::pcap::{PcapError, PcapSink, LINKTYPE_ETHERNET};

/// Section header block type.
pub const SHB: u32 = 0x0A0D_0D0A;
/// Interface description block type.
pub const IDB: u32 = 1;
/// Enhanced packet block type.
pub const EPB: u32 = 6;
/// The byte-order magic (written little-endian).
pub const BYTE_ORDER: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const IF_NAME: u16 = 2;
const EPB_FLAGS: u16 = 2;
const IF_TSRESOL: u16 = 9;
/// `epb_flags` direction bits.
const INBOUND: u32 = 1;
const OUTBOUND: u32 = 2;
/// Longest interface name written (longer names are cut at a character boundary).
const MAX_NAME: usize = 64;

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

const ZEROS: [u8; 4] = [0; 4];

/// Writes pcapng records of the switch's mirrored frames to a sink.
#[derive(Debug)]
pub struct PcapngWriter<'n, S> {
    sink: S,
    names: &'n [&'n str],
    /// Records written.
    pub records: u64,
    /// Records lost because the sink refused them (as a [`Tap`]), or too long for a
    /// pcapng block.
    pub errors: u64,
}

/// A name cut to [`MAX_NAME`] bytes at a character boundary.
fn short(name: &str) -> &str {
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Writes one option (code, length, value, padding).
fn option<S: PcapSink>(sink: &mut S, code: u16, value: &[u8]) -> Result<(), PcapError> {
    sink.write_all(&code.to_le_bytes())?;
    sink.write_all(&(value.len() as u16).to_le_bytes())?;
    sink.write_all(value)?;
    sink.write_all(&ZEROS[..pad4(value.len())])
}

/// The comment of a frame: port, its name, direction, verdict.
struct Comment<'a> {
    event: &'a TapEvent,
    name: &'a str,
}

impl fmt::Display for Comment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.event.direction {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        write!(
            f,
            "{dir} port {} ({}): ",
            self.event.port.index(),
            self.name
        )?;
        match self.event.verdict {
            Verdict::Forwarded { copies } => write!(f, "forwarded ({copies} copies)"),
            Verdict::Dropped(r) => write!(f, "dropped: {r}"),
        }
    }
}

/// Counts the bytes of a formatted value (first pass: the option length comes first).
struct Count(usize);

impl fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Writes formatted text straight to a sink (second pass), keeping its error.
struct SinkText<'s, S> {
    sink: &'s mut S,
    error: Option<PcapError>,
}

impl<S: PcapSink> fmt::Write for SinkText<'_, S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.sink.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}

impl<'n, S: PcapSink> PcapngWriter<'n, S> {
    /// Writes the section header and one interface per name (`names[i]` is switch port
    /// `i`; Ethernet, nanosecond timestamps).
    pub fn new(mut sink: S, names: &'n [&'n str]) -> Result<Self, PcapError> {
        // SHB: byte order, version 1.0, section length unknown.
        let mut shb = [0u8; 28];
        shb[0..4].copy_from_slice(&SHB.to_le_bytes());
        shb[4..8].copy_from_slice(&28u32.to_le_bytes());
        shb[8..12].copy_from_slice(&BYTE_ORDER.to_le_bytes());
        shb[12..14].copy_from_slice(&1u16.to_le_bytes());
        shb[16..24].copy_from_slice(&(-1i64).to_le_bytes());
        shb[24..28].copy_from_slice(&28u32.to_le_bytes());
        sink.write_all(&shb)?;
        for name in names {
            let name = short(name).as_bytes();
            let total = 12 + 8 + (4 + name.len() + pad4(name.len())) + 8 + 4;
            sink.write_all(&IDB.to_le_bytes())?;
            sink.write_all(&(total as u32).to_le_bytes())?;
            sink.write_all(&(LINKTYPE_ETHERNET as u16).to_le_bytes())?;
            sink.write_all(&0u16.to_le_bytes())?;
            sink.write_all(&0u32.to_le_bytes())?; // snaplen: no limit
            option(&mut sink, IF_NAME, name)?;
            option(&mut sink, IF_TSRESOL, &[9, 0, 0, 0][..1])?;
            option(&mut sink, OPT_END, &[])?;
            sink.write_all(&(total as u32).to_le_bytes())?;
        }
        Ok(PcapngWriter {
            sink,
            names,
            records: 0,
            errors: 0,
        })
    }

    /// Writes one frame (`header` then `payload`) with its port, direction and verdict.
    /// A port without a name is written on interface 0, its number in the comment.
    pub fn write(
        &mut self,
        event: &TapEvent,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), PcapError> {
        let port = event.port.index();
        let (interface, name) = match self.names.get(port) {
            Some(n) => (port, short(n)),
            None => (0, "?"),
        };
        let comment = Comment { event, name };
        let mut count = Count(0);
        // Formatting a `Comment` into a counter cannot fail.
        let _ = write!(count, "{comment}");
        let clen = count.0.min(usize::from(u16::MAX));
        let len = header.len() + payload.len();
        let total = 12 + 20 + len + pad4(len) + 4 + clen + pad4(clen) + 8 + 4;
        let Ok(total32) = u32::try_from(total) else {
            return Err(PcapError::Full {
                needed: total,
                left: 0,
            });
        };
        let s = &mut self.sink;
        s.write_all(&EPB.to_le_bytes())?;
        s.write_all(&total32.to_le_bytes())?;
        s.write_all(&(interface as u32).to_le_bytes())?;
        s.write_all(&((event.time_ns >> 32) as u32).to_le_bytes())?;
        s.write_all(&(event.time_ns as u32).to_le_bytes())?;
        s.write_all(&(len as u32).to_le_bytes())?;
        s.write_all(&(len as u32).to_le_bytes())?;
        s.write_all(header)?;
        s.write_all(payload)?;
        s.write_all(&ZEROS[..pad4(len)])?;
        s.write_all(&OPT_COMMENT.to_le_bytes())?;
        s.write_all(&(clen as u16).to_le_bytes())?;
        let mut text = SinkText {
            sink: &mut *s,
            error: None,
        };
        if write!(text, "{comment}").is_err() {
            return Err(text.error.unwrap_or(PcapError::Io));
        }
        s.write_all(&ZEROS[..pad4(clen)])?;
        let flags = match event.direction {
            Direction::Ingress => INBOUND,
            Direction::Egress => OUTBOUND,
        };
        option(s, EPB_FLAGS, &flags.to_le_bytes())?;
        option(s, OPT_END, &[])?;
        s.write_all(&total32.to_le_bytes())?;
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

impl<S: PcapSink> Tap for PcapngWriter<'_, S> {
    fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) {
        if self.write(event, header, payload).is_err() {
            self.errors += 1;
        }
    }
}

/// One enhanced packet block read back, borrowing the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Interface (switch port) index.
    pub interface: u32,
    /// Timestamp in nanoseconds (the writer's resolution).
    pub time_ns: u64,
    /// The captured frame.
    pub data: &'a [u8],
    /// The packet comment, if it has one in UTF-8.
    pub comment: Option<&'a str>,
    /// `epb_flags`, if present (1: inbound, 2: outbound in the low bits).
    pub flags: Option<u32>,
}

/// A pcapng file that is not one little-endian section as [`PcapngWriter`] writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadFile {
    /// Byte offset of the block that could not be read.
    pub at: usize,
}

impl fmt::Display for BadFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a readable pcapng block at byte {}", self.at)
    }
}

/// The enhanced packet blocks of a pcapng file, in order; other blocks are skipped.
/// Every length is checked against the file: a bad block ends the iteration with
/// [`BadFile`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    file: &'a [u8],
    at: usize,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let w = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([w[0], w[1]]))
}

impl<'a> Packets<'a> {
    /// Reads from `file`, which must start with a little-endian section header.
    pub fn new(file: &'a [u8]) -> Result<Self, BadFile> {
        if u32_at(file, 0) != Some(SHB) || u32_at(file, 8) != Some(BYTE_ORDER) {
            return Err(BadFile { at: 0 });
        }
        Ok(Packets { file, at: 0 })
    }

    fn block(&self) -> Option<(u32, &'a [u8], usize)> {
        let kind = u32_at(self.file, self.at)?;
        let total = usize::try_from(u32_at(self.file, self.at + 4)?).ok()?;
        if total < 12 || total % 4 != 0 {
            return None;
        }
        let end = self.at.checked_add(total)?;
        if u32_at(self.file, end - 4)? as usize != total {
            return None;
        }
        Some((kind, self.file.get(self.at + 8..end - 4)?, end))
    }

    fn packet(body: &'a [u8]) -> Option<Packet<'a>> {
        let interface = u32_at(body, 0)?;
        let time_ns = (u64::from(u32_at(body, 4)?) << 32) | u64::from(u32_at(body, 8)?);
        let caplen = usize::try_from(u32_at(body, 12)?).ok()?;
        let data_end = 20usize.checked_add(caplen)?;
        let data = body.get(20..data_end)?;
        let mut o = data_end + pad4(caplen);
        let (mut comment, mut flags) = (None, None);
        // Each option advances `o` by at least 4: bounded by the block length.
        while o + 4 <= body.len() {
            let code = u16_at(body, o)?;
            let len = usize::from(u16_at(body, o + 2)?);
            if code == OPT_END {
                break;
            }
            let value = body.get(o + 4..o + 4 + len)?;
            match code {
                OPT_COMMENT => comment = core::str::from_utf8(value).ok(),
                EPB_FLAGS if len == 4 => flags = u32_at(value, 0),
                _ => {}
            }
            o += 4 + len + pad4(len);
        }
        Some(Packet {
            interface,
            time_ns,
            data,
            comment,
            flags,
        })
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>, BadFile>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.at < self.file.len() {
            let Some((kind, body, end)) = self.block() else {
                let at = self.at;
                self.at = self.file.len();
                return Some(Err(BadFile { at }));
            };
            let at = self.at;
            self.at = end;
            if kind == EPB {
                return Some(Self::packet(body).ok_or(BadFile { at }));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap::SliceSink;
    use crate::{DropReason, PortId};

    fn event(port: u8, direction: Direction, verdict: Verdict) -> TapEvent {
        TapEvent {
            port: PortId::new(port),
            direction,
            verdict,
            time_ns: 5_000_000_123,
        }
    }

    #[test]
    fn frames_read_back_with_port_direction_and_verdict() {
        let mut buf = [0u8; 4096];
        let names = [
            "uplink",
            "A",
            "a name longer than sixty-four bytes is cut where it stops being useful",
        ];
        let mut tap = PcapngWriter::new(SliceSink::new(&mut buf), &names).unwrap();
        tap.frame(
            &event(1, Direction::Ingress, Verdict::Dropped(DropReason::Spoofed)),
            &[1, 2, 3],
            &[4, 5],
        );
        tap.frame(
            &event(0, Direction::Egress, Verdict::Forwarded { copies: 2 }),
            &[9; 14],
            &[],
        );
        tap.frame(
            &event(7, Direction::Ingress, Verdict::Forwarded { copies: 1 }),
            &[],
            &[6; 60],
        );
        assert_eq!((tap.records, tap.errors), (3, 0));
        let file = tap.sink().written();
        let p: [Packet<'_>; 3] = {
            let mut it = Packets::new(file).unwrap().map(Result::unwrap);
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(Packets::new(file).unwrap().count(), 3);
        assert_eq!(
            (p[0].interface, p[0].data, p[0].time_ns),
            (1, &[1, 2, 3, 4, 5][..], 5_000_000_123)
        );
        assert_eq!(
            p[0].comment,
            Some("from port 1 (A): dropped: spoofed source address")
        );
        assert_eq!(p[0].flags, Some(INBOUND));
        assert_eq!(
            p[1].comment,
            Some("to port 0 (uplink): forwarded (2 copies)")
        );
        assert_eq!(p[1].flags, Some(OUTBOUND));
        assert_eq!((p[2].interface, p[2].data.len()), (0, 60));
        assert_eq!(p[2].comment, Some("from port 7 (?): forwarded (1 copies)"));
    }

    #[test]
    fn a_full_sink_counts_errors_and_a_cut_file_is_refused() {
        let mut buf = [0u8; 200];
        let mut tap = PcapngWriter::new(SliceSink::new(&mut buf), &["u"]).unwrap();
        tap.frame(
            &event(0, Direction::Ingress, Verdict::Forwarded { copies: 1 }),
            &[0; 14],
            &[0; 200],
        );
        assert_eq!((tap.records, tap.errors), (0, 1));

        let mut buf = [0u8; 512];
        let mut tap = PcapngWriter::new(SliceSink::new(&mut buf), &["u"]).unwrap();
        tap.frame(
            &event(0, Direction::Ingress, Verdict::Forwarded { copies: 1 }),
            &[0; 14],
            &[],
        );
        let file = tap.sink().written();
        for cut in 1..file.len() {
            let whole = Packets::new(&file[..cut])
                .map(|p| p.filter(Result::is_ok).count())
                .unwrap_or(0);
            assert_eq!(
                whole,
                0,
                "a file cut at {cut} of {} yields no packet",
                file.len()
            );
        }
        assert!(Packets::new(b"not pcapng at all").is_err());
    }

    #[test]
    fn hostile_lengths_never_panic() {
        // A section header, then a block claiming more bytes than the file has, and
        // an EPB whose capture length points past its block.
        let mut f = std::vec::Vec::new();
        f.extend_from_slice(&SHB.to_le_bytes());
        f.extend_from_slice(&28u32.to_le_bytes());
        f.extend_from_slice(&BYTE_ORDER.to_le_bytes());
        f.extend_from_slice(&[1, 0, 0, 0]);
        f.extend_from_slice(&(-1i64).to_le_bytes());
        f.extend_from_slice(&28u32.to_le_bytes());
        let mut epb = std::vec::Vec::new();
        epb.extend_from_slice(&EPB.to_le_bytes());
        epb.extend_from_slice(&36u32.to_le_bytes());
        epb.extend_from_slice(&[0; 12]);
        epb.extend_from_slice(&u32::MAX.to_le_bytes()); // caplen
        epb.extend_from_slice(&[0; 4]);
        epb.extend_from_slice(&36u32.to_le_bytes());
        f.extend_from_slice(&epb);
        let r: std::vec::Vec<_> = Packets::new(&f).unwrap().collect();
        assert_eq!(r, [Err(BadFile { at: 28 })]);
        f.truncate(28);
        f.extend_from_slice(&EPB.to_le_bytes());
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        let r: std::vec::Vec<_> = Packets::new(&f).unwrap().collect();
        assert_eq!(r, [Err(BadFile { at: 28 })]);
    }
}
