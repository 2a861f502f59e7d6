//! A switch with an uplink and two partitions: each partition sends a few ordinary frames
//! and a few it may not send (a spoofed source address, an oversized frame, an LLDP
//! frame); the program prints what the monitor tap saw and then every port's
//! statistics with its drop reasons.
//!
//! `cargo run -p vnet-switch --example partitions`
//!
//! The ports are in-memory links (`frame_link::PortPair`): the switch owns end A of each
//! pair, and the program plays the partitions and the network behind the uplink at end B.
//! In a real service partition the uplink is a NIC driver and the partitions' ports are
//! channel adapters (virtio-net device, queuing-port pair, vhost-user), all `FrameLink`s.
use std::process::ExitCode;

use vnet_switch::frame_link::{End, FrameLinkExt, PortPair};
use vnet_switch::{
    DropReason, MacAddress, Mirror, PortConfig, PortId, SwitchBuilder, Tap, TapEvent, Verdict,
    VlanSet,
};

const NAMES: [&str; 3] = ["uplink", "A", "B"];

/// A tap that prints every frame the switch dropped, with the reason.
struct PrintDrops;

impl Tap for PrintDrops {
    fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) {
        if let Verdict::Dropped(reason) = event.verdict {
            // The frame is `header` followed by `payload` (the split is the switch's).
            let mut src = MacAddress::ZERO;
            for (to, from) in src.0.iter_mut().zip(header.iter().chain(payload).skip(6)) {
                *to = *from;
            }
            println!(
                "  dropped: {} bytes from port {} (source {src}): {reason}",
                header.len() + payload.len(),
                NAMES[event.port.index()],
            );
        }
    }
}

/// An untagged Ethernet frame: destination, source, EtherType, payload padded to 60 bytes.
fn frame(dst: MacAddress, src: MacAddress, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = [&dst.0[..], &src.0, &ethertype.to_be_bytes(), payload].concat();
    f.resize(f.len().max(60), 0);
    f
}

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            println!("usage: partitions\n\n{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("partitions: unexpected argument `{other}` (it takes none; see --help)");
            return ExitCode::from(2);
        }
    }

    // One in-memory link per port: 16 slots of 1536 bytes each way.
    let links = [PortPair::<16>::new(), PortPair::new(), PortPair::new()];
    let mac_a = MacAddress([2, 0, 0, 0, 0, 0xa]);
    let mac_b = MacAddress([2, 0, 0, 0, 0, 0xb]);
    let host = MacAddress([2, 0, 0, 0, 0, 0x99]); // a machine behind the uplink

    // Port 0: the uplink, untagged frames in VLAN 1. Ports 1 and 2: partitions A and B,
    // each bound to its MAC in VLAN 1, their ingress mirrored to the tap.
    let mirrored = |mac| PortConfig {
        mirror: Mirror {
            ingress: true,
            egress: false,
        },
        ..PortConfig::partition(mac, 1)
    };
    let configs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        mirrored(mac_a),
        mirrored(mac_b),
    ];
    let mut builder = SwitchBuilder::<_, 3>::new();
    for (link, config) in links.iter().zip(configs) {
        builder
            .add_port(link.end(End::A), config)
            .expect("a valid port configuration");
    }
    // 64 MAC table buckets, egress queues of 16 frames.
    let mut switch = builder.build::<64, 16>().expect("a valid switch");

    let [mut uplink, mut a, mut b] = links.each_ref().map(|l| l.end(End::B));
    let broadcast = MacAddress([0xff; 6]);
    let lldp = MacAddress([1, 0x80, 0xc2, 0, 0, 0xe]); // a bridge's reserved group address
    let sent = [
        // Ordinary traffic.
        a.send_frame(&frame(mac_b, mac_a, 0x0800, b"A to B")),
        b.send_frame(&frame(mac_a, mac_b, 0x0800, b"B to A")),
        a.send_frame(&frame(broadcast, mac_a, 0x0806, b"A's ARP request")),
        a.send_frame(&frame(host, mac_a, 0x0800, b"A to a host on the uplink")),
        uplink.send_frame(&frame(mac_b, host, 0x0800, b"a host to B")),
        // What a partition may not send.
        b.send_frame(&frame(mac_a, mac_a, 0x0800, b"B pretending to be A")),
        a.send_frame(&frame(mac_b, mac_a, 0x0800, &[0; 1510])),
        b.send_frame(&frame(lldp, mac_b, 0x88cc, b"an LLDP announcement")),
    ];
    if sent.iter().any(|s| !matches!(s, Ok(true))) {
        eprintln!("a link refused a frame: {sent:?}");
        return ExitCode::FAILURE;
    }

    println!("monitor tap:");
    let mut time_ns = 0;
    while switch.poll_tap(time_ns, 64, &mut PrintDrops) > 0 {
        time_ns += 1_000_000;
    }

    let mut buf = [0u8; 1536];
    let mut received = |end: &mut vnet_switch::frame_link::PairEnd<'_, 16>| {
        let mut n = 0;
        while let Ok(Some(_)) = end.recv_frame(&mut buf) {
            n += 1;
        }
        n
    };
    let got = [received(&mut uplink), received(&mut a), received(&mut b)];

    println!("\nport     rx  forwarded  dropped  tx");
    for (i, name) in NAMES.iter().enumerate() {
        let s = switch.stats(PortId::new(i as u8)).expect("a port");
        println!(
            "{name:<6} {:>4} {:>10} {:>8} {:>3}",
            s.rx_frames,
            s.rx_forwarded,
            s.total_drops(),
            s.tx_frames
        );
        for reason in DropReason::ALL.into_iter().filter(|r| s.drops(*r) > 0) {
            println!("         {} dropped: {reason}", s.drops(reason));
        }
    }

    // The uplink got A's broadcast and A's frame to the host; A got B's frame; B got A's
    // frame, A's broadcast and the host's frame.
    let drops = |port: u8, reason| switch.stats(PortId::new(port)).map(|s| s.drops(reason));
    let expected = got == [2, 1, 3]
        && drops(1, DropReason::Oversized) == Some(1)
        && drops(2, DropReason::Spoofed) == Some(1)
        && drops(2, DropReason::LinkControl) == Some(1);
    if !expected {
        eprintln!("unexpected outcome: frames received per peer {got:?}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

const USAGE: &str = "Runs a switch with an uplink and two partitions over in-memory links, \
sends ordinary and forbidden frames, and prints the drops the monitor tap saw and each \
port's statistics. Exits 1 if the switch did not decide as expected.";
