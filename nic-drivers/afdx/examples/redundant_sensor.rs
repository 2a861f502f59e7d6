//! A sensor partition sends one reading per BAG on a virtual link carried by networks A
//! and B; halfway through, network A's cable is cut. The receiving end system delivers
//! every reading exactly once (the first valid copy), from A while it works and from B
//! after, and its counters say what happened.
//!
//! `cargo run -p afdx --example redundant_sensor`

use afdx::tx::send_on;
use afdx::{
    Emit, EndSystem, EsConfig, Network, PartitionId, PortKind, RxDrop, RxPortConfig, TxPortConfig,
    VlConfig,
};
use frame_link::PortPair;

/// VL 0x0102: BAG 4 ms, Lmax 100 bytes.
const VLS: [VlConfig; 1] = [VlConfig::new(0x0102, 4, 100)];
const TX: [TxPortConfig; 1] = [TxPortConfig {
    partition: PartitionId(1),
    vl: 0x0102,
    src_udp: 5000,
    dst_udp: 6000,
    kind: PortKind::Sampling,
}];
const RX: [RxPortConfig; 1] = [RxPortConfig {
    partition: PartitionId(4),
    vl: 0x0102,
    dst_udp: 6000,
    kind: PortKind::Sampling,
}];
const READINGS: u64 = 20;
const CUT_AT: u64 = 10;

fn main() {
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 3,
        src_ip: [10, 1, 3, 1],
        link_mbps: 100,
        tech_latency_us: 100,
        tx_vls: &VLS,
        rx_vls: &VLS,
        tx_ports: &TX,
        rx_ports: &RX,
    };
    let mut sensor: EndSystem<2, 2, 2> = EndSystem::new(&cfg).expect("a valid configuration");
    let mut display: EndSystem<2, 2, 2> = EndSystem::new(&cfg).expect("a valid configuration");
    let (net_a, net_b) = (PortPair::<8, 1536>::new(), PortPair::<8, 1536>::new());
    let ((mut sa, mut da), (mut sb, mut db)) = (net_a.split(), net_b.split());

    let mut received = Vec::new();
    for i in 0..READINGS {
        let now_us = i * 4_000; // one BAG apart
        let reading = format!("airspeed {} kt", 250 + i);
        sensor
            .send(PartitionId(1), 0, reading.as_bytes(), now_us)
            .expect("the sensor owns port 0");
        let cut = i >= CUT_AT;
        sensor.poll_tx_with(now_us, 8, |out| match out.network {
            Network::A if cut => Emit::Sent, // on the wire, lost at the cut
            Network::A => send_on(&mut sa, out.frame),
            Network::B => send_on(&mut sb, out.frame),
        });
        display.poll_rx(now_us + 100, &mut da, &mut db, 8, |d| {
            // A payload under the minimum (17 bytes) arrives zero-padded.
            let text = String::from_utf8_lossy(d.payload);
            received.push((d.network, text.trim_end_matches('\0').to_string()));
        });
    }

    for (network, reading) in &received {
        println!("{network:?}: {reading}");
    }
    let (a, b) = (display.net_stats(Network::A), display.net_stats(Network::B));
    println!(
        "received on A: {} frames, on B: {} ({} redundant copies discarded)",
        a.rx_frames,
        b.rx_frames,
        a.rx_dropped(RxDrop::Redundant) + b.rx_dropped(RxDrop::Redundant)
    );
    // Every reading once, in order; A until the cut, B after it.
    assert_eq!(received.len() as u64, READINGS);
    for (i, (network, reading)) in received.iter().enumerate() {
        assert_eq!(*reading, format!("airspeed {} kt", 250 + i));
        let want = if (i as u64) < CUT_AT {
            Network::A
        } else {
            Network::B
        };
        assert_eq!(*network, want, "reading {i}");
    }
}
