//! The monitor tap as a pcapng file: every frame the switch mirrors, with its port, its
//! direction (`epb_flags`) and the switch's verdict as a packet comment, so Wireshark
//! shows *why* a frame was dropped (`frame.comment contains "dropped"`). Classic pcap (the
//! `vnet_switch::pcap` writer) has no place for the verdict.
//!
//! Also a small reader ([`read_packets`]) so tests check the file they produced.

use std::io::{self, Write};

use vnet_switch::{Direction, Tap, TapEvent, Verdict};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const EPB: u32 = 6;
const BYTE_ORDER: u32 = 0x1A2B_3C4D;
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const EPB_FLAGS: u16 = 2;
const IF_TSRESOL: u16 = 9;

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.extend(std::iter::repeat_n(0, pad4(value.len())));
}

/// Writes `body` as a block of type `kind` (length fields around it).
fn block(w: &mut impl Write, kind: u32, body: &[u8]) -> io::Result<()> {
    let total = (12 + body.len()) as u32;
    w.write_all(&kind.to_le_bytes())?;
    w.write_all(&total.to_le_bytes())?;
    w.write_all(body)?;
    w.write_all(&total.to_le_bytes())
}

/// A [`Tap`] writing pcapng to `W`, naming ports with `names`.
pub struct PcapngTap<W: Write> {
    out: W,
    names: Vec<String>,
    /// Records written.
    pub records: u64,
    /// Records lost to I/O errors.
    pub errors: u64,
}

impl<W: Write> PcapngTap<W> {
    /// Writes the section and interface headers; `names[i]` names switch port `i`.
    pub fn new(mut out: W, names: &[&str]) -> io::Result<Self> {
        let mut shb = Vec::new();
        shb.extend_from_slice(&BYTE_ORDER.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        block(&mut out, SHB, &shb)?;
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u16.to_le_bytes()); // LINKTYPE_ETHERNET
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&65535u32.to_le_bytes());
        option(&mut idb, IF_TSRESOL, &[9]); // nanoseconds
        option(&mut idb, OPT_END, &[]);
        block(&mut out, IDB, &idb)?;
        Ok(PcapngTap {
            out,
            names: names.iter().map(|s| s.to_string()).collect(),
            records: 0,
            errors: 0,
        })
    }

    /// The comment a frame gets: port, direction, verdict.
    pub fn comment(&self, event: &TapEvent) -> String {
        let i = event.port.index();
        let name = self.names.get(i).map_or("?", String::as_str);
        let dir = match event.direction {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        let verdict = match event.verdict {
            Verdict::Forwarded { copies } => format!("forwarded ({copies} copies)"),
            Verdict::Dropped(r) => format!("dropped: {r}"),
        };
        format!("{dir} port {i} ({name}): {verdict}")
    }

    fn write(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) -> io::Result<()> {
        let len = header.len() + payload.len();
        let mut b = Vec::with_capacity(len + 96);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&((event.time_ns >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(event.time_ns as u32).to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(header);
        b.extend_from_slice(payload);
        b.extend(std::iter::repeat_n(0, pad4(len)));
        option(&mut b, OPT_COMMENT, self.comment(event).as_bytes());
        let flags: u32 = match event.direction {
            Direction::Ingress => 1,
            Direction::Egress => 2,
        };
        option(&mut b, EPB_FLAGS, &flags.to_le_bytes());
        option(&mut b, OPT_END, &[]);
        block(&mut self.out, EPB, &b)
    }

    /// Flushes the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Tap for PcapngTap<W> {
    fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) {
        match self.write(event, header, payload) {
            Ok(()) => self.records += 1,
            Err(_) => self.errors += 1,
        }
    }
}

/// One packet read back from a pcapng file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Timestamp in nanoseconds.
    pub time_ns: u64,
    /// The frame.
    pub data: Vec<u8>,
    /// The packet comment.
    pub comment: String,
}

/// Reads the enhanced packet blocks of a pcapng file written by [`PcapngTap`] (one
/// section, little-endian); `None` if the file is not such a file.
pub fn read_packets(file: &[u8]) -> Option<Vec<Packet>> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(file.get(at..at + 4)?.try_into().ok()?))
    };
    if u32_at(0)? != SHB || u32_at(8)? != BYTE_ORDER {
        return None;
    }
    let mut at = 0;
    let mut out = Vec::new();
    while at < file.len() {
        let kind = u32_at(at)?;
        let total = usize::try_from(u32_at(at + 4)?).ok()?;
        if total < 12 || total % 4 != 0 || u32_at(at + total - 4)? as usize != total {
            return None;
        }
        if kind == EPB {
            let body = file.get(at + 8..at + total - 4)?;
            let b32 = |o: usize| -> Option<u32> {
                Some(u32::from_le_bytes(body.get(o..o + 4)?.try_into().ok()?))
            };
            let time_ns = (u64::from(b32(4)?) << 32) | u64::from(b32(8)?);
            let caplen = usize::try_from(b32(12)?).ok()?;
            let data = body.get(20..20 + caplen)?.to_vec();
            let mut o = 20 + caplen + pad4(caplen);
            let mut comment = String::new();
            while o + 4 <= body.len() {
                let code = u16::from_le_bytes([body[o], body[o + 1]]);
                let len = usize::from(u16::from_le_bytes([body[o + 2], body[o + 3]]));
                if code == OPT_END {
                    break;
                }
                let value = body.get(o + 4..o + 4 + len)?;
                if code == OPT_COMMENT {
                    comment = String::from_utf8_lossy(value).into_owned();
                }
                o += 4 + len + pad4(len);
            }
            out.push(Packet {
                time_ns,
                data,
                comment,
            });
        }
        at += total;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vnet_switch::{DropReason, PortId};

    #[test]
    fn written_packets_read_back_with_their_verdict() {
        let mut tap = PcapngTap::new(Vec::new(), &["uplink", "A"]).unwrap();
        let event = TapEvent {
            port: PortId::new(1),
            direction: Direction::Ingress,
            verdict: Verdict::Dropped(DropReason::Spoofed),
            time_ns: 5_000_000_123,
        };
        tap.frame(&event, &[1, 2, 3], &[4, 5]);
        let file = tap.into_inner();
        let packets = read_packets(&file).unwrap();
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0].data, vec![1, 2, 3, 4, 5]);
        assert_eq!(packets[0].time_ns, 5_000_000_123);
        assert_eq!(
            packets[0].comment,
            "from port 1 (A): dropped: spoofed source address"
        );
        assert_eq!(read_packets(&file[..file.len() - 1]), None);
    }
}
