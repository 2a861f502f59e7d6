//! The monitor port (counters) and the optional pcap tap (hex records on the UART).
//!
//! Every port mirrors its ingress to the monitor, so each frame is seen once, as it enters
//! the switch, spoofed or not. [`MonitorPort`] is the monitor port's link: it takes each
//! mirrored frame into one private buffer, parses it with `smoltcp::wire` (checked
//! accessors only: a malformed frame is counted as `other`, never a panic) and counts per
//! sending host: frames, ARP, ICMP echo requests and replies, TCP segments, SYNs and
//! FINs, and a matrix of echo replies from host to host. The serving phase waits on these
//! counts ("partition A answered 3 pings from the peer").
//!
//! [`PcapTap`] is the switch's [`Tap`]: with `pcap=1` on the command line it writes a
//! classic pcap stream (global header, then one record per mirrored frame) as lines
//! `pcap <hex>` on the UART; `grep '^pcap ' log | cut -c6- | xxd -r -p > monitor.pcap`
//! turns a log into a file Wireshark opens.

use smoltcp::wire::{
    ArpPacket, EthernetFrame, EthernetProtocol, Icmpv4Message, Icmpv4Packet, IpProtocol,
    Ipv4Address, Ipv4Packet, TcpPacket,
};
use vnet_switch::frame_link::LinkError;
use vnet_switch::pcap::{PcapError, PcapSink, PcapWriter};
use vnet_switch::{FrameLink, FrameMeta, LinkCaps, RxSlot, Tap, TapEvent, TxSlot};

/// Hosts the monitor tells apart: partition A, partition B, the peer, anyone else.
pub const HOSTS: usize = 4;
/// Names of the hosts, in index order.
pub const HOST_NAMES: [&str; HOSTS] = ["A", "B", "peer", "other"];

/// Counters of the frames one host sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostCounters {
    /// Frames.
    pub frames: u32,
    /// ARP packets.
    pub arp: u32,
    /// ICMP echo requests.
    pub echo_requests: u32,
    /// ICMP echo replies.
    pub echo_replies: u32,
    /// TCP segments.
    pub tcp: u32,
    /// TCP segments with SYN.
    pub syn: u32,
    /// TCP segments with FIN.
    pub fin: u32,
    /// Frames that are none of the above (or malformed).
    pub other: u32,
}

/// The monitor port's endpoint: a counting sink for mirrored frames.
pub struct MonitorPort {
    buf: [u8; 1536],
    reserved: bool,
    /// What it counted.
    pub counts: Counts,
}

impl MonitorPort {
    /// Counts for partition A, partition B and the peer.
    pub fn new(a: Ipv4Address, b: Ipv4Address, peer: Ipv4Address) -> Self {
        MonitorPort {
            buf: [0; 1536],
            reserved: false,
            counts: Counts {
                ips: [a, b, peer],
                hosts: [HostCounters::default(); HOSTS],
                replies: [[0; HOSTS]; HOSTS],
            },
        }
    }
}

/// Per-host counters of mirrored frames.
pub struct Counts {
    ips: [Ipv4Address; HOSTS - 1],
    /// Per-host counters (index: [`HOST_NAMES`]).
    pub hosts: [HostCounters; HOSTS],
    /// ICMP echo replies from host `[i]` to host `[j]`.
    pub replies: [[u32; HOSTS]; HOSTS],
}

impl Counts {
    fn host(&self, ip: Ipv4Address) -> usize {
        self.ips.iter().position(|h| *h == ip).unwrap_or(HOSTS - 1)
    }

    /// Counts one frame (any bytes).
    pub fn count(&mut self, frame: &[u8]) {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.hosts[HOSTS - 1].other += 1;
            return;
        };
        match eth.ethertype() {
            EthernetProtocol::Arp => {
                let from = ArpPacket::new_checked(eth.payload())
                    .ok()
                    .and_then(|a| <[u8; 4]>::try_from(a.source_protocol_addr()).ok())
                    .map_or(HOSTS - 1, |ip| self.host(Ipv4Address::from(ip)));
                self.hosts[from].frames += 1;
                self.hosts[from].arp += 1;
            }
            EthernetProtocol::Ipv4 => self.count_ipv4(eth.payload()),
            _ => self.hosts[HOSTS - 1].other += 1,
        }
    }

    fn count_ipv4(&mut self, packet: &[u8]) {
        let Ok(ip) = Ipv4Packet::new_checked(packet) else {
            self.hosts[HOSTS - 1].other += 1;
            return;
        };
        let (from, to) = (self.host(ip.src_addr()), self.host(ip.dst_addr()));
        let h = &mut self.hosts[from];
        h.frames += 1;
        match ip.next_header() {
            IpProtocol::Icmp => match Icmpv4Packet::new_checked(ip.payload()).map(|p| p.msg_type())
            {
                Ok(Icmpv4Message::EchoRequest) => h.echo_requests += 1,
                Ok(Icmpv4Message::EchoReply) => {
                    h.echo_replies += 1;
                    self.replies[from][to] += 1;
                }
                _ => h.other += 1,
            },
            IpProtocol::Tcp => match TcpPacket::new_checked(ip.payload()) {
                Ok(t) => {
                    h.tcp += 1;
                    h.syn += u32::from(t.syn());
                    h.fin += u32::from(t.fin());
                }
                Err(_) => h.other += 1,
            },
            _ => h.other += 1,
        }
    }
}

impl FrameLink for MonitorPort {
    type Error = LinkError;
    fn caps(&self) -> LinkCaps {
        LinkCaps::new(self.buf.len())
    }
    fn rx_take(&mut self) -> Result<Option<RxSlot>, LinkError> {
        Ok(None) // the monitor never sends
    }
    fn rx_frame(&self, _: &RxSlot) -> &[u8] {
        &[]
    }
    fn rx_release(&mut self, _: RxSlot) {}
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, LinkError> {
        if len > self.buf.len() {
            return Err(LinkError::FrameLength {
                len,
                min: 0,
                max: self.buf.len(),
            });
        }
        if self.reserved {
            return Ok(None);
        }
        self.reserved = true;
        Ok(Some(TxSlot::new(0, len)))
    }
    fn tx_write(&mut self, slot: &TxSlot, offset: usize, bytes: &[u8]) -> Result<(), LinkError> {
        let reserved = slot.len();
        let end = offset.checked_add(bytes.len()).filter(|e| *e <= reserved);
        let out_of_bounds = LinkError::OutOfBounds {
            offset,
            len: bytes.len(),
            reserved,
        };
        let dst = end
            .and_then(|e| self.buf.get_mut(offset..e))
            .ok_or(out_of_bounds)?;
        dst.copy_from_slice(bytes);
        Ok(())
    }
    fn tx_commit(&mut self, slot: TxSlot, _: FrameMeta) -> Result<(), LinkError> {
        self.reserved = false;
        let len = slot.len().min(self.buf.len());
        self.counts.count(&self.buf[..len]);
        Ok(())
    }
    fn tx_abort(&mut self, _: TxSlot) {
        self.reserved = false;
    }
}

/// A pcap sink that prints each write as one `pcap <hex>` line on the UART.
pub struct UartHex;

impl PcapSink for UartHex {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PcapError> {
        use core::fmt::Write as _;
        let mut uart = crate::platform::Uart;
        let _ = uart.write_str("pcap ");
        for b in bytes {
            let _ = write!(uart, "{b:02x}");
        }
        let _ = uart.write_str("\n");
        Ok(())
    }
}

/// The switch's tap: pcap records on the UART when enabled, nothing otherwise.
pub struct PcapTap(pub Option<PcapWriter<UartHex>>);

impl PcapTap {
    /// Writes the pcap global header now if `on`.
    pub fn new(on: bool) -> Self {
        PcapTap(on.then(|| PcapWriter::new(UartHex, 1536).ok()).flatten())
    }
}

impl Tap for PcapTap {
    fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) {
        if let Some(w) = &mut self.0 {
            w.frame(event, header, payload);
        }
    }
}
