//! Ethernet II and IEEE 802.1Q wire formats.
//!
//! The switch reads a frame's header exactly once into private memory ([`EthernetHeader`]),
//! validates it there and builds every egress header from that private copy; a peer that
//! rewrites its buffer after the check cannot change what the switch decided on.
//!
//! Parsing never panics: every length is checked before a field is read.

use core::fmt;

/// Byte ranges of the Ethernet II header fields.
mod field {
    use core::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
}

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of one 802.1Q tag (TPID + TCI).
pub const TAG_LEN: usize = 4;
/// Longest header the switch ever builds: one 802.1Q tag.
pub const MAX_HEADER_LEN: usize = HEADER_LEN + TAG_LEN;

/// EtherType of a customer VLAN tag (802.1Q).
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of a service VLAN tag (802.1ad, "QinQ").
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard service tag TPIDs (`0x9100`, `0x9200`) that switches configured for
/// them read as VLAN tags: refused like [`ETHERTYPE_QINQ`].
pub const ETHERTYPE_LEGACY_STAGS: [u16; 2] = [0x9100, 0x9200];
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of MAC control frames (802.3 PAUSE, priority flow control); `0x8809` (slow
/// protocols) follows it.
pub const ETHERTYPE_MAC_CONTROL: u16 = 0x8808;
/// The first IEEE 802.1D reserved group address `01:80:c2:00:00:00` as a 48-bit value;
/// the range runs to `01:80:c2:00:00:0f`.
const LINK_LOCAL_BASE: u64 = 0x0180_c200_0000;
/// EtherType values below this one are 802.3 length fields, not types.
pub const ETHERTYPE_MIN: u16 = 0x0600;

pub use frame_link::MacAddress;

/// Why a frame could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Shorter than an Ethernet header (a runt): the length found.
    Runt(usize),
    /// An 802.1Q tag announced but cut off: the length found.
    TruncatedTag(usize),
    /// Two stacked VLAN tags (VLAN hopping attempt or QinQ): the inner TPID.
    DoubleTagged(u16),
    /// A service tag as outer tag: 802.1ad (`0x88a8`) or a pre-standard S-tag
    /// (`0x9100`, `0x9200`); QinQ is not supported. The TPID found.
    ServiceTag(u16),
    /// A source address that is a group address or all zero.
    BadSource(MacAddress),
    /// An 802.3 length field instead of an EtherType (below `0x0600`): the value.
    LengthField(u16),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Runt(n) => write!(f, "runt frame: {n} bytes, need {HEADER_LEN}"),
            ParseError::TruncatedTag(n) => {
                write!(f, "802.1Q tag cut off: frame of {n} bytes")
            }
            ParseError::DoubleTagged(t) => {
                write!(f, "double-tagged frame: inner TPID {t:#06x}")
            }
            ParseError::ServiceTag(t) => {
                write!(f, "service tag {t:#06x} (QinQ) not supported")
            }
            ParseError::BadSource(m) => write!(f, "invalid source address {m}"),
            ParseError::LengthField(v) => {
                write!(f, "802.3 length field {v:#06x} instead of an EtherType")
            }
        }
    }
}

/// An 802.1Q tag: priority code point and VLAN id (the DEI bit is carried through as 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag {
    /// Priority code point, 0..=7.
    pub pcp: u8,
    /// VLAN identifier, 0..=4095 (0: priority tag only).
    pub vid: u16,
}

impl VlanTag {
    /// The tag control information field (PCP in the top three bits, DEI 0, VID).
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 7) << 13) | (self.vid & 0x0fff)
    }

    /// Decodes a TCI field (the DEI bit is dropped).
    pub const fn from_tci(tci: u16) -> Self {
        VlanTag {
            pcp: (tci >> 13) as u8,
            vid: tci & 0x0fff,
        }
    }
}

/// A validated Ethernet II header held in private memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetHeader {
    /// Destination address.
    pub destination: MacAddress,
    /// Source address.
    pub source: MacAddress,
    /// The single 802.1Q tag, if the frame had one.
    pub tag: Option<VlanTag>,
    /// The EtherType after the tag (or after the addresses if untagged).
    pub ethertype: u16,
    /// Where the payload starts in the original frame (14 or 18).
    pub payload_offset: u16,
}

impl EthernetHeader {
    /// Parses the header of `frame`; reads each byte once and checks every length first.
    ///
    /// Rejects runts, cut-off tags, double tags (any 802.1Q, 802.1ad or pre-standard
    /// S-tag TPID after the first tag), service tags (802.1ad, `0x9100`, `0x9200`) as
    /// outer tag, 802.3 length fields and group or zero source addresses.
    #[inline]
    pub fn parse(frame: &[u8]) -> Result<Self, ParseError> {
        RawHeader::parse(frame).map(|r| EthernetHeader {
            destination: MacAddress::from_u64(r.dst),
            source: MacAddress::from_u64(r.src),
            tag: r.tag(),
            ethertype: r.ethertype,
            payload_offset: r.payload_offset,
        })
    }

    /// Writes an egress header (untagged, or with `tag`) into `out`; returns its length.
    #[inline]
    pub fn emit(&self, tag: Option<VlanTag>, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[field::DESTINATION].copy_from_slice(&self.destination.0);
        out[field::SOURCE].copy_from_slice(&self.source.0);
        match tag {
            Some(t) => {
                out[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                out[14..16].copy_from_slice(&t.tci().to_be_bytes());
                out[16..18].copy_from_slice(&self.ethertype.to_be_bytes());
                HEADER_LEN + TAG_LEN
            }
            None => {
                out[12..14].copy_from_slice(&self.ethertype.to_be_bytes());
                HEADER_LEN
            }
        }
    }
}

/// A validated header as plain integers: the switch's private copy on the hot path.
///
/// Every field is loaded from the frame exactly once, straight into a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawHeader {
    /// Destination address, low 48 bits.
    pub(crate) dst: u64,
    /// Source address, low 48 bits.
    pub(crate) src: u64,
    /// The TCI of the single tag (meaningful if `tagged`).
    pub(crate) tci: u16,
    /// `true` if the frame had one 802.1Q tag.
    pub(crate) tagged: bool,
    /// EtherType after the tag.
    pub(crate) ethertype: u16,
    /// Where the payload starts (14 or 18).
    pub(crate) payload_offset: u16,
}

/// `true` for an EtherType (big-endian bytes) the fast path takes: below `0x8100` and not
/// a length (a high byte of `0x06..=0x80`), or IPv6. The common case decides on the
/// high byte alone.
#[inline(always)]
pub(crate) fn is_fast_ethertype(t: [u8; 2]) -> bool {
    if t[0].wrapping_sub(0x06) <= 0x80 - 0x06 {
        return true;
    }
    u16::from_be_bytes(t) == ETHERTYPE_IPV6
}

/// `true` for a service tag TPID: 802.1ad or a pre-standard S-tag.
#[inline]
const fn is_service_tag(t: u16) -> bool {
    t == ETHERTYPE_QINQ || t == ETHERTYPE_LEGACY_STAGS[0] || t == ETHERTYPE_LEGACY_STAGS[1]
}

const GROUP_BIT: u64 = 1 << 40;
const BROADCAST_U64: u64 = 0xffff_ffff_ffff;

impl RawHeader {
    /// Parses like [`EthernetHeader::parse`].
    #[inline]
    pub(crate) fn parse(frame: &[u8]) -> Result<Self, ParseError> {
        let Some(h) = frame.first_chunk::<HEADER_LEN>() else {
            return Err(ParseError::Runt(frame.len()));
        };
        let dst = u64::from_be_bytes([0, 0, h[0], h[1], h[2], h[3], h[4], h[5]]);
        let src = u64::from_be_bytes([0, 0, h[6], h[7], h[8], h[9], h[10], h[11]]);
        if src & GROUP_BIT != 0 || src == 0 {
            return Err(ParseError::BadSource(MacAddress::from_u64(src)));
        }
        let outer = u16::from_be_bytes([h[12], h[13]]);
        let (tci, tagged, ethertype, payload_offset) = match outer {
            t if is_service_tag(t) => return Err(ParseError::ServiceTag(t)),
            ETHERTYPE_VLAN => {
                let Some(t) = frame
                    .get(HEADER_LEN..)
                    .and_then(|r| r.first_chunk::<TAG_LEN>())
                else {
                    return Err(ParseError::TruncatedTag(frame.len()));
                };
                let inner = u16::from_be_bytes([t[2], t[3]]);
                if inner == ETHERTYPE_VLAN || is_service_tag(inner) {
                    return Err(ParseError::DoubleTagged(inner));
                }
                (
                    u16::from_be_bytes([t[0], t[1]]),
                    true,
                    inner,
                    HEADER_LEN + TAG_LEN,
                )
            }
            other => (0, false, other, HEADER_LEN),
        };
        if ethertype < ETHERTYPE_MIN {
            return Err(ParseError::LengthField(ethertype));
        }
        Ok(RawHeader {
            dst,
            src,
            tci,
            tagged,
            ethertype,
            payload_offset: payload_offset as u16,
        })
    }

    /// The header of an untagged frame that [`parse`](Self::parse) accepts, read with
    /// three loads; `None` for everything else (tagged frames included), which `parse`
    /// then classifies. Never panics.
    #[cfg(test)]
    pub(crate) fn parse_untagged(frame: &[u8]) -> Option<Self> {
        let h = Self::untagged(frame.first_chunk::<HEADER_LEN>()?);
        h.is_untagged_ok().then_some(h)
    }

    /// The fields of `h` read as an untagged header, unchecked: only meaningful if
    /// [`is_untagged_ok`](Self::is_untagged_ok).
    #[inline(always)]
    pub(crate) fn untagged(h: &[u8; HEADER_LEN]) -> Self {
        let (w0, rest) = h.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
        let (w1, rest) = rest.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
        let t = rest.first_chunk::<2>().copied().unwrap_or([0; 2]);
        let w1 = u64::from_be_bytes(*w1);
        RawHeader {
            dst: (u64::from(u32::from_be_bytes(*w0)) << 16) | (w1 >> 48),
            src: w1 & BROADCAST_U64,
            tci: 0,
            tagged: false,
            ethertype: u16::from_be_bytes(t),
            payload_offset: HEADER_LEN as u16,
        }
    }

    /// `true` if [`untagged`](Self::untagged) read a header [`parse`](Self::parse)
    /// accepts as untagged: a unicast, non-zero source and an EtherType that is neither
    /// a length nor a tag.
    #[cfg(test)]
    pub(crate) fn is_untagged_ok(&self) -> bool {
        self.src & GROUP_BIT == 0
            && self.src != 0
            && self.ethertype >= ETHERTYPE_MIN
            && self.ethertype != ETHERTYPE_VLAN
            && !is_service_tag(self.ethertype)
    }

    /// `true` if [`untagged`](Self::untagged) read a header the fast path may take: one
    /// [`is_untagged_ok`](Self::is_untagged_ok) accepts, with an EtherType below
    /// `0x8100` or IPv6 (`0x86dd`). Every tag TPID and every link-control EtherType
    /// (MAC control `0x8808`, slow protocols `0x8809`) is above `0x8100`, so two
    /// comparisons decide; anything else takes the full path, which decides as always.
    #[cfg(test)]
    pub(crate) fn is_fast_ok(&self) -> bool {
        self.src_is_ok() && is_fast_ethertype(self.ethertype.to_be_bytes())
    }

    /// A unicast, non-zero source (with [`is_fast_ethertype`], what the fast path takes).
    #[inline(always)]
    pub(crate) fn src_is_ok(&self) -> bool {
        self.src & GROUP_BIT == 0 && self.src != 0
    }

    /// The tagged egress header of an untagged header `h` (validated): what
    /// `untagged(h).emit(Some(tci), _)` writes, built from the bytes (so nothing decoded
    /// from `h` needs to be kept for it).
    #[inline(always)]
    pub(crate) fn tag_untagged(h: &[u8; HEADER_LEN], tci: u16) -> [u8; HEADER_LEN + TAG_LEN] {
        let mut out = [0u8; HEADER_LEN + TAG_LEN];
        let (addrs, ethertype) = h.split_at(12);
        out[..12].copy_from_slice(addrs);
        out[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        out[14..16].copy_from_slice(&tci.to_be_bytes());
        out[16..].copy_from_slice(ethertype);
        out
    }

    /// `true` for MAC control (`0x8808`: PAUSE, PFC) and slow protocols (`0x8809`: LACP,
    /// marker, OAM), which act on the physical link they arrive on.
    #[inline(always)]
    pub(crate) fn is_mac_control(&self) -> bool {
        self.ethertype & 0xfffe == ETHERTYPE_MAC_CONTROL
    }

    /// `true` for a destination in the IEEE 802.1D reserved range
    /// `01:80:c2:00:00:00`–`0f` (link-local control protocols a bridge never forwards);
    /// the last octet is the low nibble.
    #[inline(always)]
    pub(crate) fn dst_is_link_local(&self) -> bool {
        self.dst & !0xf == LINK_LOCAL_BASE
    }

    /// The tag, if any.
    #[inline]
    pub(crate) fn tag(&self) -> Option<VlanTag> {
        self.tagged.then_some(VlanTag::from_tci(self.tci))
    }

    /// `true` for group destinations (broadcast included).
    #[inline]
    pub(crate) fn dst_is_multicast(&self) -> bool {
        self.dst & GROUP_BIT != 0
    }

    /// `true` for the broadcast destination.
    #[inline]
    pub(crate) fn dst_is_broadcast(&self) -> bool {
        self.dst == BROADCAST_U64
    }

    /// Writes an egress header (untagged, or tagged with `tci`) into `out`; returns its
    /// length. Written as whole words so it can be copied on without stalls.
    #[inline]
    pub(crate) fn emit(&self, tci: Option<u16>, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        let w0 = (self.dst << 16) | (self.src >> 32);
        out[0..8].copy_from_slice(&w0.to_be_bytes());
        let (type_at, len) = match tci {
            Some(tci) => {
                let w1 = ((self.src & 0xffff_ffff) << 32)
                    | (u64::from(ETHERTYPE_VLAN) << 16)
                    | u64::from(tci);
                out[8..16].copy_from_slice(&w1.to_be_bytes());
                (16, HEADER_LEN + TAG_LEN)
            }
            None => {
                let w1 = ((self.src & 0xffff_ffff) << 32) | (u64::from(self.ethertype) << 16);
                out[8..16].copy_from_slice(&w1.to_be_bytes());
                (12, HEADER_LEN)
            }
        };
        out[type_at..type_at + 2].copy_from_slice(&self.ethertype.to_be_bytes());
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ethertype: &[u8], rest: &[u8]) -> [u8; 64] {
        let mut f = [0u8; 64];
        f[0..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..12 + ethertype.len()].copy_from_slice(ethertype);
        f[12 + ethertype.len()..12 + ethertype.len() + rest.len()].copy_from_slice(rest);
        f
    }

    #[test]
    fn parse_errors_say_what_was_wrong_with_the_value_found() {
        let cases: [(ParseError, &str); 6] = [
            (ParseError::Runt(9), "runt frame: 9 bytes, need 14"),
            (
                ParseError::TruncatedTag(16),
                "802.1Q tag cut off: frame of 16 bytes",
            ),
            (
                ParseError::DoubleTagged(0x8100),
                "double-tagged frame: inner TPID 0x8100",
            ),
            (
                ParseError::ServiceTag(0x88a8),
                "service tag 0x88a8 (QinQ) not supported",
            ),
            (
                ParseError::BadSource(MacAddress([1, 0, 0, 0, 0, 0])),
                "invalid source address 01:00:00:00:00:00",
            ),
            (
                ParseError::LengthField(0x05dc),
                "802.3 length field 0x05dc instead of an EtherType",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn untagged_and_tagged_headers_parse_and_round_trip() {
        let f = frame(&[0x08, 0x00], &[]);
        let h = EthernetHeader::parse(&f).unwrap();
        assert!(h.destination.is_broadcast());
        assert_eq!((h.tag, h.ethertype, h.payload_offset), (None, 0x0800, 14));
        let t = frame(&[0x81, 0x00, 0xa0, 0x05, 0x86, 0xdd], &[]);
        let h = EthernetHeader::parse(&t).unwrap();
        assert_eq!(h.tag, Some(VlanTag { pcp: 5, vid: 5 }));
        assert_eq!((h.ethertype, h.payload_offset), (0x86dd, 18));
        let mut out = [0u8; MAX_HEADER_LEN];
        assert_eq!(h.emit(h.tag, &mut out), 18);
        assert_eq!(&out[..], &t[..18]);
        assert_eq!(h.emit(None, &mut out), 14);
        assert_eq!(&out[12..14], &[0x86, 0xdd]);
    }

    #[test]
    fn raw_header_emits_what_the_public_header_emits() {
        let t = frame(&[0x81, 0x00, 0xa0, 0x05, 0x86, 0xdd], &[]);
        let raw = RawHeader::parse(&t).unwrap();
        let h = EthernetHeader::parse(&t).unwrap();
        let (mut a, mut b) = ([0u8; MAX_HEADER_LEN], [0u8; MAX_HEADER_LEN]);
        assert_eq!(raw.emit(Some(0xa005), &mut a), h.emit(h.tag, &mut b));
        assert_eq!(a, b);
        assert_eq!(raw.emit(None, &mut a), h.emit(None, &mut b));
        assert_eq!(a[..14], b[..14]);
        assert!(raw.dst_is_broadcast() && raw.dst_is_multicast());
        assert_eq!(MacAddress::from_u64(raw.src), h.source);
        assert_eq!(
            RawHeader::parse_untagged(&t),
            None,
            "tagged: the full parse"
        );
        let u = frame(&[0x86, 0xdd], &[]);
        assert_eq!(RawHeader::parse_untagged(&u), RawHeader::parse(&u).ok());
        assert_eq!(RawHeader::parse_untagged(&u[..13]), None);
    }

    #[test]
    fn the_untagged_parse_agrees_with_the_full_parse() {
        // EtherTypes across the range (fewer under Miri, ~1000x slower) and a set of
        // source addresses: accepted exactly when `parse` accepts an untagged frame,
        // with the same fields.
        let step = if cfg!(miri) { 331 } else { 7 };
        let sources: [[u8; 6]; 4] = [[2, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 1], [0; 6], [0xff; 6]];
        for src in sources {
            for t in (0..=u16::MAX).step_by(step).chain([
                0x05ff, 0x0600, 0x8100, 0x88a8, 0x9100, 0x9200, 0x8808, 0x0800,
            ]) {
                let mut f = frame(&t.to_be_bytes(), &[0, 0, 0, 0]);
                f[6..12].copy_from_slice(&src);
                let full = RawHeader::parse(&f).ok().filter(|h| !h.tagged);
                assert_eq!(RawHeader::parse_untagged(&f), full, "type {t:#06x}");
                // The fast path takes a subset: never a tag, never link control.
                let h = RawHeader::untagged(f.first_chunk().unwrap());
                if h.is_fast_ok() {
                    assert_eq!(Some(h), full, "fast path took type {t:#06x}");
                    let mut out = [0u8; MAX_HEADER_LEN];
                    assert_eq!(h.emit(Some(0xa005), &mut out), MAX_HEADER_LEN);
                    let head = f.first_chunk().unwrap();
                    assert_eq!(RawHeader::tag_untagged(head, 0xa005), out);
                    assert!((t < 0x8100 || t == 0x86dd) && !h.is_mac_control());
                }
            }
        }
    }

    #[test]
    fn hostile_headers_are_typed_errors() {
        assert_eq!(EthernetHeader::parse(&[0u8; 13]), Err(ParseError::Runt(13)));
        let t = frame(&[0x81, 0x00, 0x00, 0x05], &[]);
        assert_eq!(
            EthernetHeader::parse(&t[..16]),
            Err(ParseError::TruncatedTag(16))
        );
        let d = frame(&[0x81, 0x00, 0x00, 0x05, 0x81, 0x00, 0x00, 0x07], &[]);
        assert_eq!(
            EthernetHeader::parse(&d),
            Err(ParseError::DoubleTagged(0x8100))
        );
        for tpid in [0x88a8u16, 0x9100, 0x9200] {
            let q = frame(&tpid.to_be_bytes(), &[0x00, 0x05, 0x08, 0x00]);
            assert_eq!(EthernetHeader::parse(&q), Err(ParseError::ServiceTag(tpid)));
            let mut d = frame(&[0x81, 0x00, 0x00, 0x05], &[0x00, 0x07, 0x08, 0x00]);
            d[16..18].copy_from_slice(&tpid.to_be_bytes());
            assert_eq!(
                EthernetHeader::parse(&d),
                Err(ParseError::DoubleTagged(tpid))
            );
        }
        let l = frame(&[0x00, 0x40], &[]);
        assert_eq!(
            EthernetHeader::parse(&l),
            Err(ParseError::LengthField(0x40))
        );
        let mut s = frame(&[0x08, 0x00], &[]);
        s[6] = 1;
        assert!(matches!(
            EthernetHeader::parse(&s),
            Err(ParseError::BadSource(_))
        ));
    }
}
