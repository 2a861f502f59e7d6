//! The AFDX demo: two end systems back to back over two simulated networks A and B
//! (in-memory port pairs), each behind an I/O partition that bridges ARINC 653 ports
//! (queuing-port channels) onto AFDX ports.
//!
//! ```text
//!  end system 1 (10.1.1.1)                               end system 2 (10.1.2.1)
//!  P1 commands  (queuing)  ── VL 0x0101 BAG 2 ms ──▶  P3 commands  (queuing)
//!  P2 air data  (sampling) ── VL 0x0102 BAG 4 ms ──▶  P3 air data  (sampling)
//!  P1 status    (queuing)  ◀─ VL 0x0201 BAG 8 ms ──  P3 status    (queuing)
//!                     every frame on network A and on network B
//! ```
//!
//! Time is simulated (100 µs steps). Network A fails at [`Options::fail_a_at_ms`]: from
//! then on it loses every frame. The run checks that no queuing message is lost or
//! duplicated, that the sampling port always holds the freshest value (its age bounded
//! by the BAG and the write period, always valid), and writes every frame either end
//! system puts on either network to a pcap file.

use std::fmt::Write as _;
use std::path::PathBuf;

use afdx::{
    EndSystem, EsConfig, IoPartition, Network, PartitionId, PortKind, RxDrop, RxPortConfig,
    TxPortConfig, VlConfig,
};
use frame_link::{End, Faults, Odds, PortPair};
use queuing_port::{
    AtomicU32, Geometry, QueuingPortReceiver, QueuingPortSender, Region, SamplingPortDestination,
    SamplingPortSource, Validity,
};
use vnet_switch::pcap::{FileSink, PcapWriter};

/// VL of P1's commands.
pub const VL_COMMANDS: u16 = 0x0101;
/// VL of P2's air data.
pub const VL_AIR_DATA: u16 = 0x0102;
/// VL of P3's status.
pub const VL_STATUS: u16 = 0x0201;
/// Destination UDP ports of the three flows.
pub const UDP_COMMANDS: u16 = 6001;
/// Destination UDP port of the air data.
pub const UDP_AIR_DATA: u16 = 6002;
/// Destination UDP port of the status.
pub const UDP_STATUS: u16 = 6101;

const P1: PartitionId = PartitionId(1);
const P2: PartitionId = PartitionId(2);
const P3: PartitionId = PartitionId(3);

/// Bytes of every message (above the 17-byte AFDX minimum: no padding).
pub const MSG_LEN: usize = 32;
const MSG: usize = 64;
const DEPTH: usize = 32;
const STEP_US: u64 = 100;
/// Refresh period of the sampling ports (ns).
const REFRESH_NS: u64 = 20_000_000;
/// P2 writes its air data this often (µs).
const AIR_PERIOD_US: u64 = 1000;

const ES1_TX_VLS: [VlConfig; 2] = [
    VlConfig::new(VL_COMMANDS, 2, 128).queue(4),
    VlConfig::new(VL_AIR_DATA, 4, 128),
];
const ES2_TX_VLS: [VlConfig; 1] = [VlConfig::new(VL_STATUS, 8, 128).queue(4)];

const ES1_TX: [TxPortConfig; 2] = [
    TxPortConfig {
        partition: P1,
        vl: VL_COMMANDS,
        src_udp: 5001,
        dst_udp: UDP_COMMANDS,
        kind: PortKind::Queuing,
    },
    TxPortConfig {
        partition: P2,
        vl: VL_AIR_DATA,
        src_udp: 5002,
        dst_udp: UDP_AIR_DATA,
        kind: PortKind::Sampling,
    },
];
const ES1_RX: [RxPortConfig; 1] = [RxPortConfig {
    partition: P1,
    vl: VL_STATUS,
    dst_udp: UDP_STATUS,
    kind: PortKind::Queuing,
}];
const ES2_TX: [TxPortConfig; 1] = [TxPortConfig {
    partition: P3,
    vl: VL_STATUS,
    src_udp: 5101,
    dst_udp: UDP_STATUS,
    kind: PortKind::Queuing,
}];
const ES2_RX: [RxPortConfig; 2] = [
    RxPortConfig {
        partition: P3,
        vl: VL_COMMANDS,
        dst_udp: UDP_COMMANDS,
        kind: PortKind::Queuing,
    },
    RxPortConfig {
        partition: P3,
        vl: VL_AIR_DATA,
        dst_udp: UDP_AIR_DATA,
        kind: PortKind::Sampling,
    },
];

fn es1_config() -> EsConfig<'static> {
    EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 1, 1, 1],
        link_mbps: 100,
        tech_latency_us: 150,
        tx_vls: &ES1_TX_VLS,
        rx_vls: &ES2_TX_VLS,
        tx_ports: &ES1_TX,
        rx_ports: &ES1_RX,
    }
}

fn es2_config() -> EsConfig<'static> {
    EsConfig {
        network_id: 1,
        equipment_id: 2,
        src_ip: [10, 1, 2, 1],
        link_mbps: 100,
        tech_latency_us: 150,
        tx_vls: &ES2_TX_VLS,
        rx_vls: &ES1_TX_VLS,
        tx_ports: &ES2_TX,
        rx_ports: &ES2_RX,
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to write the capture of both networks (classic pcap).
    pub pcap: Option<PathBuf>,
    /// Simulated run time in ms.
    pub duration_ms: u64,
    /// When network A fails (ms); `None`: never.
    pub fail_a_at_ms: Option<u64>,
    /// Commands P1 sends (one per 2 ms BAG at most).
    pub commands: u32,
    /// Status messages P3 sends (one per 8 ms BAG at most).
    pub statuses: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pcap: None,
            duration_ms: 2000,
            fail_a_at_ms: Some(1000),
            commands: 800,
            statuses: 200,
        }
    }
}

/// One queuing flow's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// Messages the source partition wrote into its port.
    pub sent: u32,
    /// Messages the destination partition read, in order, each once.
    pub delivered: u32,
    /// Of those, delivered from network A's copy.
    pub via_a: u64,
    /// Of those, delivered from network B's copy.
    pub via_b: u64,
    /// Network B copies discarded as redundant.
    pub redundant_b: u64,
    /// Network A copies discarded as redundant.
    pub redundant_a: u64,
}

/// What the run saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// P1 → P3 commands.
    pub commands: Flow,
    /// P3 → P1 status.
    pub status: Flow,
    /// Air data values P2 wrote.
    pub air_written: u64,
    /// Air data reads by P3 (one per step once the first value arrived).
    pub air_reads: u64,
    /// Reads that returned an invalid (stale) value.
    pub air_invalid: u64,
    /// The largest age of the value P3 read (µs since P2 wrote it).
    pub air_max_age_us: u64,
    /// The last air data value P3 read (P2's write time in µs).
    pub air_last: u64,
    /// Frames each end system put on network A and B (both directions).
    pub frames: [u64; 2],
    /// Frames network A delivered after it failed (must be 0).
    pub a_after_failure: u64,
    /// The largest eligibility-to-departure delay of any frame (ns).
    pub max_jitter_ns: u64,
    /// Integrity errors on either end system.
    pub integrity_errors: u64,
    /// Frames written to the pcap file.
    pub captured: u64,
}

/// A formatted queuing-port channel in private memory (the hosted stand-in for a
/// shared-memory region).
fn channel(g: &Geometry) -> Result<Vec<AtomicU32>, String> {
    let words: Vec<AtomicU32> = (0..g.total_words()).map(|_| AtomicU32::new(0)).collect();
    g.format(&Region::new(&words))
        .map_err(|e| format!("cannot format a channel: {e}"))?;
    Ok(words)
}

fn message(flow: u8, i: u32) -> [u8; MSG_LEN] {
    let mut m = [flow; MSG_LEN];
    m[..4].copy_from_slice(&i.to_le_bytes());
    m
}

type Es = EndSystem<4, 4, 4>;
type Net = PortPair<32, 1536>;

/// Runs the scenario: the counts, or what went wrong.
pub fn run(opts: &Options) -> Result<Report, String> {
    let qg = Geometry::queuing(MSG as u32, DEPTH as u32, false);
    let sg = Geometry::sampling(MSG as u32, REFRESH_NS);

    let mut es1: Box<Es> =
        Box::new(EndSystem::new(&es1_config()).map_err(|e| format!("end system 1: {e}"))?);
    let mut es2: Box<Es> =
        Box::new(EndSystem::new(&es2_config()).map_err(|e| format!("end system 2: {e}"))?);
    let net_a: Box<Net> = Box::default();
    let net_b: Box<Net> = Box::default();
    let (mut a1, mut a2) = net_a.split();
    let (mut b1, mut b2) = net_b.split();

    // Channels: partition side <-> I/O partition side.
    let cmd_out = channel(&qg)?; // P1 -> IO1
    let air_out = channel(&sg)?; // P2 -> IO1
    let status_in = channel(&qg)?; // IO1 -> P1
    let cmd_in = channel(&qg)?; // IO2 -> P3
    let air_in = channel(&sg)?; // IO2 -> P3
    let status_out = channel(&qg)?; // P3 -> IO2

    let r = Region::new;
    let mut p1_cmd: QueuingPortSender<MSG, DEPTH> =
        QueuingPortSender::attach(r(&cmd_out), &qg).map_err(err("P1 commands"))?;
    let mut p1_status: QueuingPortReceiver<MSG, DEPTH> =
        QueuingPortReceiver::attach(r(&status_in), &qg).map_err(err("P1 status"))?;
    let mut p2_air: SamplingPortSource<MSG> =
        SamplingPortSource::attach(r(&air_out), &sg).map_err(err("P2 air data"))?;
    let mut p3_cmd: QueuingPortReceiver<MSG, DEPTH> =
        QueuingPortReceiver::attach(r(&cmd_in), &qg).map_err(err("P3 commands"))?;
    let mut p3_air: SamplingPortDestination<MSG> =
        SamplingPortDestination::attach(r(&air_in), &sg).map_err(err("P3 air data"))?;
    let mut p3_status: QueuingPortSender<MSG, DEPTH> =
        QueuingPortSender::attach(r(&status_out), &qg).map_err(err("P3 status"))?;

    let mut io1_cmd: QueuingPortReceiver<MSG, DEPTH> =
        QueuingPortReceiver::attach(r(&cmd_out), &qg).map_err(err("IO1 commands"))?;
    let mut io1_air: SamplingPortDestination<MSG> =
        SamplingPortDestination::attach(r(&air_out), &sg).map_err(err("IO1 air data"))?;
    let mut io1_status: QueuingPortSender<MSG, DEPTH> =
        QueuingPortSender::attach(r(&status_in), &qg).map_err(err("IO1 status"))?;
    let mut io2_cmd: QueuingPortSender<MSG, DEPTH> =
        QueuingPortSender::attach(r(&cmd_in), &qg).map_err(err("IO2 commands"))?;
    let mut io2_air: SamplingPortSource<MSG> =
        SamplingPortSource::attach(r(&air_in), &sg).map_err(err("IO2 air data"))?;
    let mut io2_status: QueuingPortReceiver<MSG, DEPTH> =
        QueuingPortReceiver::attach(r(&status_out), &qg).map_err(err("IO2 status"))?;

    let bind = |e: afdx::EsConfigError| format!("binding: {e}");
    let mut io1: IoPartition<'_, 4, 4> = IoPartition::new();
    io1.bind_source(&es1, P1, 0, &mut io1_cmd).map_err(bind)?;
    io1.bind_source(&es1, P2, 1, &mut io1_air).map_err(bind)?;
    io1.bind_sink(&es1, P1, 0, &mut io1_status).map_err(bind)?;
    let mut io2: IoPartition<'_, 4, 4> = IoPartition::new();
    io2.bind_source(&es2, P3, 0, &mut io2_status)
        .map_err(bind)?;
    io2.bind_sink(&es2, P3, 0, &mut io2_cmd).map_err(bind)?;
    io2.bind_sink(&es2, P3, 1, &mut io2_air).map_err(bind)?;

    let mut pcap = match &opts.pcap {
        Some(p) => Some(
            PcapWriter::new(
                FileSink::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
                2048,
            )
            .map_err(|e| format!("pcap: {e}"))?,
        ),
        None => None,
    };

    let mut rep = Report::default();
    let mut buf = [0u8; MSG];
    let mut failed = false;
    let steps = opts.duration_ms * 1000 / STEP_US;
    let mut pcap_err: Option<String> = None;
    for step in 0..=steps {
        let now = step * STEP_US;
        if !failed && opts.fail_a_at_ms.is_some_and(|t| now >= t * 1000) {
            let all = Faults {
                drop: Odds::Every(1),
                ..Faults::default()
            };
            net_a.set_faults(End::A, all);
            net_a.set_faults(End::B, all);
            failed = true;
        }
        // The partitions: P1 and P3 queue what their ports take, P2 samples every ms.
        while rep.commands.sent < opts.commands
            && p1_cmd.try_send(&message(1, rep.commands.sent)).is_ok()
        {
            rep.commands.sent += 1;
        }
        while rep.status.sent < opts.statuses
            && p3_status.try_send(&message(3, rep.status.sent)).is_ok()
        {
            rep.status.sent += 1;
        }
        if now.is_multiple_of(AIR_PERIOD_US) {
            let mut m = [2u8; MSG_LEN];
            m[..8].copy_from_slice(&now.to_le_bytes());
            p2_air.write(&m, now * 1000).map_err(err("P2 write"))?;
            rep.air_written += 1;
        }

        // The I/O partitions: ports onto VLs, VLs onto both networks (captured), frames
        // from both networks through integrity checking and redundancy management.
        for (es, io, a, b) in [
            (&mut es1, &mut io1, &mut a1, &mut b1),
            (&mut es2, &mut io2, &mut a2, &mut b2),
        ] {
            io.pump_sources(es, now, 16);
            es.poll_tx_with(now, 16, |o| {
                if let Some(w) = pcap.as_mut() {
                    match w.write_frame(o.departure_ns, &[o.frame]) {
                        Ok(()) => rep.captured += 1,
                        Err(e) => pcap_err = Some(e.to_string()),
                    }
                }
                rep.frames[o.network.index()] += 1;
                match o.network {
                    Network::A => afdx::tx::send_on(&mut *a, o.frame),
                    Network::B => afdx::tx::send_on(&mut *b, o.frame),
                }
            });
            es.poll_rx(now, &mut *a, &mut *b, 32, |d| {
                if failed && d.network == Network::A {
                    rep.a_after_failure += 1;
                }
                io.deliver(d, now);
            });
        }

        // The destination partitions read.
        while let Ok(got) = p3_cmd.try_receive(&mut buf) {
            check_in_order(&buf, got.len, 1, rep.commands.delivered, "P3 commands")?;
            rep.commands.delivered += 1;
        }
        while let Ok(got) = p1_status.try_receive(&mut buf) {
            check_in_order(&buf, got.len, 3, rep.status.delivered, "P1 status")?;
            rep.status.delivered += 1;
        }
        if let Ok(m) = p3_air.read(&mut buf, now * 1000) {
            let written = u64::from_le_bytes(buf[..8].try_into().unwrap_or_default());
            if written < rep.air_last {
                return Err(format!(
                    "P3 air data went back in time: {written} µs after {} µs",
                    rep.air_last
                ));
            }
            rep.air_last = written;
            rep.air_reads += 1;
            rep.air_max_age_us = rep.air_max_age_us.max(now - written);
            if m.validity != Validity::Valid {
                rep.air_invalid += 1;
            }
        }
    }
    if let Some(e) = pcap_err {
        return Err(format!("pcap: {e}"));
    }
    if let Some(w) = pcap {
        w.into_sink().flush().map_err(|e| format!("pcap: {e}"))?;
    }

    for (flow, es, vl) in [
        (&mut rep.commands, &es2, VL_COMMANDS),
        (&mut rep.status, &es1, VL_STATUS),
    ] {
        let st = es
            .rx_stats(vl)
            .ok_or_else(|| format!("no statistics for VL {vl:#06x}"))?;
        flow.via_a = st.net[Network::A.index()].rx_delivered;
        flow.via_b = st.net[Network::B.index()].rx_delivered;
        flow.redundant_a = st.net[Network::A.index()].rx_dropped(RxDrop::Redundant);
        flow.redundant_b = st.net[Network::B.index()].rx_dropped(RxDrop::Redundant);
    }
    for es in [&es1, &es2] {
        for net in Network::BOTH {
            rep.integrity_errors += es.net_stats(net).rx_dropped(RxDrop::Integrity);
        }
        for vl in [VL_COMMANDS, VL_AIR_DATA, VL_STATUS] {
            if let Some(st) = es.tx_stats(vl) {
                rep.max_jitter_ns = rep.max_jitter_ns.max(st.max_jitter_ns);
            }
        }
    }
    Ok(rep)
}

/// A queuing-port error, said with what it was about.
fn err(what: &'static str) -> impl Fn(queuing_port::Error) -> String {
    move |e| format!("{what}: {e}")
}

fn check_in_order(buf: &[u8], len: usize, flow: u8, want: u32, what: &str) -> Result<(), String> {
    let got = u32::from_le_bytes(buf[..4].try_into().unwrap_or_default());
    if len != MSG_LEN || buf[4] != flow || got != want {
        return Err(format!(
            "{what}: expected message {want} of {MSG_LEN} bytes, got message {got} of {len} bytes"
        ));
    }
    Ok(())
}

/// The report as a table.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "flow                         sent  delivered  via A  via B  redundant A  redundant B"
    );
    for (name, f) in [
        ("P1 -> P3 commands (queuing)", &r.commands),
        ("P3 -> P1 status   (queuing)", &r.status),
    ] {
        let _ = writeln!(
            s,
            "{name:<28} {:>5}  {:>9}  {:>5}  {:>5}  {:>11}  {:>11}",
            f.sent, f.delivered, f.via_a, f.via_b, f.redundant_a, f.redundant_b
        );
    }
    let _ = writeln!(
        s,
        "P2 -> P3 air data (sampling): {} written, {} reads, {} invalid, max age {} µs, last {} µs",
        r.air_written, r.air_reads, r.air_invalid, r.air_max_age_us, r.air_last
    );
    let _ = writeln!(
        s,
        "frames sent: network A {}, network B {}; delivered by A after its failure: {}; integrity errors: {}; max jitter {} µs; captured {}",
        r.frames[0],
        r.frames[1],
        r.a_after_failure,
        r.integrity_errors,
        r.max_jitter_ns / 1000,
        r.captured
    );
    s
}
