//! The kernel command line (`-append`): which NIC, the addresses, and what to wait for.
//!
//! ```text
//! nic=virtio-mmio|e1000 a=IP b=IP peer=IP [prefix=24] [serve=SECONDS]
//!     [pings=N] [tcp=N] [pcap=1]
//! ```
//!
//! `a` and `b` are the two partitions' addresses, `peer` the host on the uplink side that
//! both partitions ping in the self-checks (QEMU user networking's gateway, or the Linux
//! end of a TAP device). With `serve`, the image keeps serving after its self-checks
//! until each partition has answered `pings` ICMP echo requests from `peer` and closed
//! `tcp` TCP echo connections from it, or until `serve` seconds have passed (a failure).

use smoltcp::wire::Ipv4Address;

/// Which NIC drives the uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NicKind {
    /// virtio-net on a virtio-mmio slot (modern, version 2).
    VirtioMmio,
    /// Intel 82540EM on PCI.
    E1000,
}

/// The parsed command line.
#[derive(Debug, Clone, Copy)]
pub struct Args {
    /// The uplink NIC.
    pub nic: NicKind,
    /// Partition A's address.
    pub a: Ipv4Address,
    /// Partition B's address.
    pub b: Ipv4Address,
    /// The host on the uplink side.
    pub peer: Ipv4Address,
    /// Prefix length of the subnet all three share.
    pub prefix: u8,
    /// Seconds to serve the peer after the self-checks (0: exit after them).
    pub serve_s: u64,
    /// ICMP echo requests from the peer each partition must answer while serving.
    pub pings: u32,
    /// TCP echo connections from the peer each partition must complete while serving.
    pub tcp: u32,
    /// Write the monitor's pcap records to the UART as hex lines.
    pub pcap: bool,
}

/// Parses the command line; `Err` names the word that is wrong or missing.
pub fn parse(line: &str) -> Result<Args, &str> {
    let (mut nic, mut a, mut b, mut peer) = (None, None, None, None);
    let mut args = Args {
        nic: NicKind::VirtioMmio,
        a: Ipv4Address::UNSPECIFIED,
        b: Ipv4Address::UNSPECIFIED,
        peer: Ipv4Address::UNSPECIFIED,
        prefix: 24,
        serve_s: 0,
        pings: 0,
        tcp: 0,
        pcap: false,
    };
    for word in line.split_ascii_whitespace() {
        let (key, value) = word.split_once('=').ok_or(word)?;
        match key {
            "nic" => {
                nic = Some(match value {
                    "virtio-mmio" => NicKind::VirtioMmio,
                    "e1000" => NicKind::E1000,
                    _ => return Err(word),
                })
            }
            "a" => a = Some(value.parse().map_err(|_| word)?),
            "b" => b = Some(value.parse().map_err(|_| word)?),
            "peer" => peer = Some(value.parse().map_err(|_| word)?),
            "prefix" => args.prefix = value.parse().ok().filter(|p| *p <= 32).ok_or(word)?,
            "serve" => args.serve_s = value.parse().map_err(|_| word)?,
            "pings" => args.pings = value.parse().map_err(|_| word)?,
            "tcp" => args.tcp = value.parse().map_err(|_| word)?,
            "pcap" => args.pcap = value == "1",
            _ => return Err(word),
        }
    }
    args.nic = nic.ok_or("nic=")?;
    args.a = a.ok_or("a=")?;
    args.b = b.ok_or("b=")?;
    args.peer = peer.ok_or("peer=")?;
    Ok(args)
}
