//! Typed errors: configuration (checked once), transmit (a partition's request), and
//! receive (a frame from the network, hostile).

use core::fmt;

/// A configuration the end system refuses (checked once, by [`EndSystem::new`](crate::EndSystem::new)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EsConfigError {
    /// A BAG that is not a power of two in 1..=128 ms.
    Bag {
        /// The VL.
        vl: u16,
        /// The BAG in ms.
        ms: u8,
    },
    /// An Lmax outside 64..=1518 bytes, or above what the end system's buffers hold.
    Lmax {
        /// The VL.
        vl: u16,
        /// The Lmax in bytes.
        lmax: u16,
        /// The largest Lmax this end system takes.
        max: u16,
    },
    /// The same VL id twice in one direction.
    DuplicateVl {
        /// The VL.
        vl: u16,
    },
    /// A port names a VL the table does not have.
    UnknownVl {
        /// The VL.
        vl: u16,
    },
    /// Two ports with the same VL and UDP ports.
    DuplicatePort {
        /// The VL.
        vl: u16,
        /// The destination UDP port.
        udp: u16,
    },
    /// A VL queue bound of 0 or above the end system's queue capacity.
    QueueBound {
        /// The VL.
        vl: u16,
        /// The bound asked for.
        bound: u8,
        /// The capacity.
        max: usize,
    },
    /// More VLs or ports than the end system's capacity.
    TooMany {
        /// What: `"tx VLs"`, `"rx VLs"`, `"tx ports"`, `"rx ports"`, `"bindings"`.
        what: &'static str,
        /// The capacity.
        max: usize,
    },
    /// A link speed of 0.
    LinkSpeed,
    /// The worst-case output jitter of the configured VLs (sum of their largest frames'
    /// transmission times at link speed plus the technological latency) exceeds 500 µs.
    Jitter {
        /// The worst case in ns.
        worst_ns: u64,
        /// The bound in ns.
        bound_ns: u64,
    },
    /// A binding names a port that is not configured for this partition.
    NotOwner {
        /// The partition.
        partition: u16,
        /// The port index.
        port: usize,
    },
    /// A binding names a port index outside the table.
    NoSuchPort {
        /// The port index.
        port: usize,
    },
    /// A skew max of 0.
    Skew {
        /// The VL.
        vl: u16,
    },
}

impl fmt::Display for EsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EsConfigError::Bag { vl, ms } => {
                write!(f, "VL {vl}: BAG {ms} ms is not a power of two in 1..=128")
            }
            EsConfigError::Lmax { vl, lmax, max } => {
                write!(f, "VL {vl}: Lmax {lmax} is outside 64..={max}")
            }
            EsConfigError::DuplicateVl { vl } => write!(f, "VL {vl} is configured twice"),
            EsConfigError::UnknownVl { vl } => {
                write!(f, "a port names VL {vl}, which is not configured")
            }
            EsConfigError::DuplicatePort { vl, udp } => {
                write!(f, "VL {vl}: UDP port {udp} is configured twice")
            }
            EsConfigError::QueueBound { vl, bound, max } => {
                write!(f, "VL {vl}: queue bound {bound} is outside 1..={max}")
            }
            EsConfigError::TooMany { what, max } => write!(f, "more than {max} {what}"),
            EsConfigError::LinkSpeed => write!(f, "link speed 0"),
            EsConfigError::Jitter { worst_ns, bound_ns } => write!(
                f,
                "worst-case output jitter {worst_ns} ns exceeds the bound of {bound_ns} ns"
            ),
            EsConfigError::NotOwner { partition, port } => {
                write!(f, "port {port} is not configured for partition {partition}")
            }
            EsConfigError::NoSuchPort { port } => write!(f, "no port {port}"),
            EsConfigError::Skew { vl } => write!(f, "VL {vl}: skew max 0"),
        }
    }
}

impl core::error::Error for EsConfigError {}

/// A partition's send request the end system refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxError {
    /// No transmit port with this index.
    NoSuchPort {
        /// The index.
        port: usize,
    },
    /// The port belongs to another partition.
    NotOwner {
        /// The partition that asked.
        partition: u16,
        /// The port.
        port: usize,
    },
    /// The message makes a frame longer than the VL's Lmax (dropped, counted).
    OverLmax {
        /// The frame length (FCS included).
        frame_len: usize,
        /// The VL's Lmax.
        lmax: u16,
    },
    /// The VL's queue is at its bound (dropped, counted).
    QueueFull {
        /// The VL.
        vl: u16,
    },
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TxError::NoSuchPort { port } => write!(f, "no transmit port {port}"),
            TxError::NotOwner { partition, port } => {
                write!(f, "transmit port {port} is not partition {partition}'s")
            }
            TxError::OverLmax { frame_len, lmax } => {
                write!(f, "a frame of {frame_len} bytes exceeds Lmax {lmax}")
            }
            TxError::QueueFull { vl } => write!(f, "VL {vl}: queue full"),
        }
    }
}

impl core::error::Error for TxError {}

/// Why a received frame was not delivered. Every frame taken from a network ends
/// delivered, discarded as a redundant copy, or under exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RxError {
    /// The frame does not parse as AFDX Ethernet/IPv4/UDP.
    Frame(FrameError),
    /// A VL this end system does not receive.
    UnknownVl {
        /// The VL.
        vl: u16,
    },
    /// A VL configured for the other network only.
    WrongNetwork {
        /// The VL.
        vl: u16,
    },
    /// Longer than the VL's Lmax.
    OverLmax {
        /// The VL.
        vl: u16,
        /// The frame length (FCS included).
        frame_len: usize,
    },
    /// Sequence number outside the integrity window (previous + 1 or + 2; 0 is a reset).
    Integrity {
        /// The VL.
        vl: u16,
        /// The previous sequence number on this network.
        prev: u8,
        /// The received one.
        got: u8,
    },
    /// No receive port for this destination UDP port on the VL.
    UnknownPort {
        /// The VL.
        vl: u16,
        /// The destination UDP port.
        udp: u16,
    },
}

impl fmt::Display for RxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RxError::Frame(e) => write!(f, "malformed frame: {e}"),
            RxError::UnknownVl { vl } => write!(f, "VL {vl} is not received here"),
            RxError::WrongNetwork { vl } => write!(f, "VL {vl} is not configured on this network"),
            RxError::OverLmax { vl, frame_len } => {
                write!(f, "VL {vl}: a frame of {frame_len} bytes exceeds Lmax")
            }
            RxError::Integrity { vl, prev, got } => write!(
                f,
                "VL {vl}: sequence number {got} after {prev} is outside the integrity window"
            ),
            RxError::UnknownPort { vl, udp } => write!(f, "VL {vl}: no port for UDP {udp}"),
        }
    }
}

impl core::error::Error for RxError {}

impl From<FrameError> for RxError {
    fn from(e: FrameError) -> Self {
        RxError::Frame(e)
    }
}

/// A frame that is not well-formed AFDX Ethernet/IPv4/UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Shorter than the smallest AFDX frame (60 bytes without FCS).
    TooShort {
        /// The length.
        len: usize,
    },
    /// Longer than 1514 bytes (1518 with FCS).
    TooLong {
        /// The length.
        len: usize,
    },
    /// The destination MAC is not `03:00:00:00:xx:xx`.
    Destination {
        /// The first four bytes.
        prefix: [u8; 4],
    },
    /// The source MAC is not `02:00:00:nn:ee:(interface << 5)` with interface 001 or 010.
    Source {
        /// The last byte.
        last: u8,
    },
    /// EtherType not IPv4.
    EtherType {
        /// The value.
        value: u16,
    },
    /// IP version not 4.
    IpVersion {
        /// The version.
        version: u8,
    },
    /// IHL not 5 (options are refused).
    IpHeaderLen {
        /// The IHL in 32-bit words.
        ihl: u8,
    },
    /// The IP total length does not match the frame (frame = 14 + total + 1).
    IpTotalLen {
        /// The total length field.
        total: u16,
        /// The frame length.
        frame: usize,
    },
    /// A fragment (MF set or an offset): IP fragmentation is not supported.
    Fragment {
        /// Flags and fragment offset.
        flags_offset: u16,
    },
    /// The IPv4 header checksum does not verify.
    IpChecksum {
        /// The checksum field.
        field: u16,
    },
    /// Not UDP.
    Protocol {
        /// The protocol number.
        value: u8,
    },
    /// The destination IP is not `224.224.VL_hi.VL_lo` of the MAC's VL.
    DestinationIp {
        /// The address.
        ip: [u8; 4],
    },
    /// The UDP length does not match the IP payload.
    UdpLen {
        /// The UDP length field.
        udp: u16,
        /// The IP payload length.
        ip_payload: u16,
    },
    /// A non-zero UDP checksum that does not verify.
    UdpChecksum {
        /// The checksum field.
        field: u16,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::TooShort { len } => write!(f, "{len} bytes is shorter than 60"),
            FrameError::TooLong { len } => write!(f, "{len} bytes is longer than 1514"),
            FrameError::Destination { prefix } => {
                write!(f, "destination MAC prefix {prefix:02x?} is not 03:00:00:00")
            }
            FrameError::Source { last } => {
                write!(f, "source MAC last byte {last:#04x} names no network")
            }
            FrameError::EtherType { value } => write!(f, "EtherType {value:#06x} is not IPv4"),
            FrameError::IpVersion { version } => write!(f, "IP version {version}"),
            FrameError::IpHeaderLen { ihl } => write!(f, "IHL {ihl} (options refused)"),
            FrameError::IpTotalLen { total, frame } => {
                write!(
                    f,
                    "IP total length {total} does not fit a frame of {frame} bytes"
                )
            }
            FrameError::Fragment { flags_offset } => {
                write!(f, "IP fragment (flags/offset {flags_offset:#06x})")
            }
            FrameError::IpChecksum { field } => {
                write!(f, "IP header checksum {field:#06x} is wrong")
            }
            FrameError::Protocol { value } => write!(f, "IP protocol {value} is not UDP"),
            FrameError::DestinationIp { ip } => {
                write!(
                    f,
                    "destination IP {}.{}.{}.{} does not name the VL",
                    ip[0], ip[1], ip[2], ip[3]
                )
            }
            FrameError::UdpLen { udp, ip_payload } => {
                write!(
                    f,
                    "UDP length {udp} does not match the IP payload of {ip_payload}"
                )
            }
            FrameError::UdpChecksum { field } => write!(f, "UDP checksum {field:#06x} is wrong"),
        }
    }
}

impl core::error::Error for FrameError {}
