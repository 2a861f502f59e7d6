//! The hosted demo: the four-partition system in one process.
//!
//! ```text
//!   host (smoltcp, 10.0.0.1)          or the Linux kernel on a TAP device (--tap)
//!        │ in-memory cable
//!   ┌────┴──────────────── service partition ───────────────────────┐
//!   │ Uplink ──── vnet-switch ── monitor tap → pcapng (--pcap)      │
//!   │               │        └── QueuingPortEndpoint                │
//!   │       ShmDevice + VirtioNetPort         │                     │
//!   └───────────────┼─────────────────────────┼─────────────────────┘
//!     shared region: registers + rings   two queuing-port channels
//!   partition A: VirtioNet driver       partition B: QueuingLink
//!     + smoltcp (10.0.0.10)               + smoltcp (10.0.0.11)
//! ```
//!
//! [`run`] builds it, runs every check ([`crate::checks`]) on a virtual clock (100 µs per
//! round, so results do not depend on the machine's speed), writes the pcapng file and
//! returns a [`Report`], or the first [`Failure`].

use std::path::PathBuf;

use netstack_glue::smoltcp::wire::Ipv4Address;
use netstack_glue::QueuingLink;
use nic_drivers::net::{NetConfig, VirtioNet, SUPPORTED_FEATURES};
use nic_drivers::transport::shm::{ShmHal, ShmTransport};
use nic_drivers::{MacAddress, NicControl};
use queuing_port::{AtomicU32, QueuingPortReceiver, QueuingPortSender, Region};
use virtqueue::{shm, OwnedMemory, VolatileSlice};
use vnet_switch::pcap::FileSink;
use vnet_switch::pcapng::{Packets, PcapngWriter};
use vnet_switch::{DropReason, PortStats};

use crate::checks::{fail, ping, tcp_echo, udp_echo, Failure, Net, Who};
use crate::node::{Node, Station, DISCARD_PORT};
use crate::service::{
    Plan, Service, CHANNEL, DEPTH, MSG, PORT_A, PORT_B, PORT_NAMES, UPLINK, VIRTIO_REGION,
};
use crate::wire::{cable, WireEnd};

/// Partition A's address.
pub const IP_A: Ipv4Address = Ipv4Address::new(10, 0, 0, 10);
/// Partition B's address.
pub const IP_B: Ipv4Address = Ipv4Address::new(10, 0, 0, 11);
/// The uplink host's address.
pub const IP_HOST: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
/// The host's MAC.
pub const MAC_HOST: [u8; 6] = [0x02, 0x50, 0x4e, 0, 0, 0x01];
/// The uplink NIC's own MAC (the cable end in the switch).
pub const MAC_UPLINK: [u8; 6] = [0x02, 0x50, 0x4e, 0, 0, 0xfe];
/// Virtual time per round.
pub const TICK_NS: u64 = 100_000;
/// Deadline of each check (virtual).
pub const TIMEOUT_NS: u64 = 2_000_000_000;
/// Spoofed frames A sends.
pub const SPOOFS: u64 = 3;
/// Rounds of B's flood and datagrams B offers per round.
pub const FLOOD_ROUNDS: u64 = 1000;
/// Datagrams per flood round.
pub const FLOOD_PER_ROUND: usize = 8;
/// UDP echoes A makes before and during the flood.
pub const A_ECHOES: usize = 20;

/// Options of [`run`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the pcapng file goes.
    pub pcap: PathBuf,
    /// Use this TAP device as the uplink (the Linux kernel is then the outside host).
    pub tap: Option<String>,
    /// The Linux side's address on the TAP device.
    pub peer: Ipv4Address,
    /// With a TAP uplink: seconds to keep serving after the checks (for `ping`/`nc`).
    pub serve_secs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pcap: PathBuf::from("monitor.pcapng"),
            tap: None,
            peer: IP_HOST,
            serve_secs: 30,
        }
    }
}

/// One completed check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// What was checked.
    pub name: String,
    /// How long it took (virtual ns).
    pub took_ns: u64,
}

/// What B's flood did and how A fared.
#[derive(Debug, Clone, Default)]
pub struct FloodReport {
    /// Datagrams B's stack handed to its link.
    pub offered: u64,
    /// B's frames the switch forwarded during the flood.
    pub forwarded: u64,
    /// B's frames dropped over budget.
    pub rate_drops: u64,
    /// The most B's budget allows in the flood's duration (burst + rate × time + queue).
    pub allowed: u64,
    /// Flood duration (virtual ns).
    pub duration_ns: u64,
    /// A's UDP echoes that came back, before and during the flood.
    pub a_ok: (usize, usize),
    /// A's mean echo round trip before and during the flood (virtual ns).
    pub a_rtt_ns: (u64, u64),
    /// A's frames the switch dropped during the flood.
    pub a_drops: u64,
}

/// What the demo showed.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every check that passed, in order.
    pub checks: Vec<CheckResult>,
    /// Spoofed frames A sent and the switch dropped as spoofed.
    pub spoofed: (u64, u64),
    /// The flood (not run with a TAP uplink: the kernel runs no echo service).
    pub flood: Option<FloodReport>,
    /// Per-port switch statistics.
    pub stats: Vec<PortStats>,
    /// The pcapng file and its record count.
    pub pcap: (PathBuf, u64),
    /// ARP frames seen by the monitor from A, B and the host.
    pub arp_frames: [u64; 3],
}

/// Partition A's virtio-net driver over the shared region.
pub type DriverA<'a> = VirtioNet<'a, ShmHal<'a>, ShmTransport<'a>, 64, 16>;

/// The in-process system: a virtual clock with the in-memory uplink, real time with a
/// TAP uplink.
pub struct World<'a, U: NicControl> {
    now_ns: u64,
    real: Option<std::time::Instant>,
    /// The service partition.
    pub service: Service<'a, U>,
    /// Partition A.
    pub a: Node<DriverA<'a>>,
    /// Partition B.
    pub b: Node<QueuingLink<'a, MSG, DEPTH>>,
    /// The host on the in-memory uplink.
    pub host: Option<Node<WireEnd>>,
    /// The monitor tap.
    pub tap: PcapngWriter<'static, FileSink>,
}

impl<U: NicControl> Net for World<'_, U> {
    fn now_ns(&self) -> u64 {
        self.now_ns
    }
    fn step(&mut self) {
        match self.real {
            Some(t) => {
                std::thread::sleep(std::time::Duration::from_micros(50));
                self.now_ns = t.elapsed().as_nanos() as u64;
            }
            None => self.now_ns += TICK_NS,
        }
        let now = self.now_ns;
        self.a.poll(now);
        self.b.poll(now);
        if let Some(h) = self.host.as_mut() {
            h.poll(now);
        }
        self.service.step(now, &mut self.tap);
    }
    fn station(&mut self, who: Who) -> Option<&mut dyn Station> {
        match who {
            Who::A => Some(&mut self.a),
            Who::B => Some(&mut self.b),
            Who::Host => self.host.as_mut().map(|h| h as &mut dyn Station),
        }
    }
}

/// The driver configuration of partition A.
pub fn driver_config() -> NetConfig {
    NetConfig {
        features: SUPPORTED_FEATURES,
        queue_size: 64,
        rx_buffers: 32,
        tx_buffers: 32,
        fallback_mac: MacAddress([0x02, 0, 0, 0, 0, 1]),
        ctrl_spins: 1000,
    }
}

/// The zeroed words of one of B's channels (format them with [`CHANNEL`]).
pub fn words() -> Vec<AtomicU32> {
    (0..CHANNEL.total_words())
        .map(|_| AtomicU32::new(0))
        .collect()
}

/// Partition A's driver over the register view `regs`, its buffers from `hal`, set up
/// with `config`; fails unless it reads `mac` from the device's config space.
pub fn driver_a<'a>(
    hal: &'a ShmHal<'a>,
    regs: VolatileSlice<'a>,
    config: NetConfig,
    mac: [u8; 6],
) -> Result<DriverA<'a>, Failure> {
    let transport = ShmTransport::new(regs).ok_or_else(|| fail("set-up", "register page"))?;
    let drv: DriverA<'_> = VirtioNet::new(hal, transport, config)
        .map_err(|e| fail("partition A", format!("virtio-net driver: {e}")))?;
    if drv.mac_address() != MacAddress(mac) {
        return Err(fail(
            "partition A",
            "the driver read a wrong MAC from config space",
        ));
    }
    Ok(drv)
}

/// Partition B's link over its channels: it sends on `b_tx` and receives on `b_rx`.
pub fn link_b<'a>(
    b_tx: Region<'a>,
    b_rx: Region<'a>,
) -> Result<QueuingLink<'a, MSG, DEPTH>, Failure> {
    let b_send = QueuingPortSender::attach(b_tx, &CHANNEL)
        .map_err(|e| fail("partition B", format!("{e}")))?;
    let b_recv = QueuingPortReceiver::attach(b_rx, &CHANNEL)
        .map_err(|e| fail("partition B", format!("{e}")))?;
    Ok(QueuingLink::new(b_send, b_recv))
}

/// Builds the system and runs every check.
pub fn run(opts: &Options) -> Result<Report, Failure> {
    match &opts.tap {
        None => {
            let (up, host_end) = cable(MAC_UPLINK, MAC_HOST);
            run_with(opts, up, Some(host_end))
        }
        #[cfg(target_os = "linux")]
        Some(name) => {
            let tap: nic_drivers::tap::TapDevice = nic_drivers::tap::TapDevice::open(name, MacAddress(MAC_UPLINK))
                .map_err(|e| fail("set-up", format!("opening TAP device `{name}`: {e} (create it first: see examples/README.md)")))?;
            run_with(opts, tap, None)
        }
        #[cfg(not(target_os = "linux"))]
        Some(_) => Err(fail("set-up", "TAP devices need Linux")),
    }
}

fn run_with<U: NicControl>(
    opts: &Options,
    up: U,
    host_end: Option<WireEnd>,
) -> Result<Report, Failure> {
    let plan = Plan::default();
    let owned = OwnedMemory::new(0, VIRTIO_REGION);
    let view = owned
        .region()
        .get(0, VIRTIO_REGION)
        .map_err(|e| fail("set-up", format!("virtio region: {e}")))?;
    let (regs, dma) = shm::split(view).ok_or_else(|| fail("set-up", "virtio region too small"))?;
    let (w_tx, w_rx) = (words(), words());
    let (b_tx, b_rx) = (Region::new(&w_tx), Region::new(&w_rx));
    for r in [&b_tx, &b_rx] {
        CHANNEL
            .format(r)
            .map_err(|e| fail("set-up", format!("formatting B's channel: {e}")))?;
    }
    let service = Service::new(&plan, up, regs, &dma, b_tx, b_rx)
        .map_err(|e| fail("set-up", e.to_string()))?;

    let hal = ShmHal::new(dma);
    let drv = driver_a(&hal, regs, driver_config(), plan.mac_a)?;
    let link_b = link_b(b_tx, b_rx)?;
    let file = FileSink::create(&opts.pcap)
        .map_err(|e| fail("set-up", format!("creating {}: {e}", opts.pcap.display())))?;
    let tap = PcapngWriter::new(file, &PORT_NAMES)
        .map_err(|e| fail("set-up", format!("writing {}: {e}", opts.pcap.display())))?;
    let mut world = World {
        now_ns: 0,
        real: opts.tap.as_ref().map(|_| std::time::Instant::now()),
        service,
        a: Node::new("A", plan.mac_a, IP_A, drv),
        b: Node::new("B", plan.mac_b, IP_B, link_b),
        host: host_end.map(|h| Node::new("host", MAC_HOST, IP_HOST, h)),
        tap,
    };
    let mut report = scenario(&mut world, &plan, opts)?;
    world
        .tap
        .sink_mut()
        .flush()
        .map_err(|e| fail("pcap", format!("flushing {}: {e}", opts.pcap.display())))?;
    report.pcap = (opts.pcap.clone(), world.tap.records);
    verify_pcap(&mut report, &plan)?;
    Ok(report)
}

/// Every station's address.
fn ip_of(who: Who) -> Ipv4Address {
    match who {
        Who::A => IP_A,
        Who::B => IP_B,
        Who::Host => IP_HOST,
    }
}

/// Ping, UDP echo and TCP echo for every ordered pair.
pub fn connectivity(net: &mut dyn Net, pairs: &[(Who, Who)]) -> Result<Vec<CheckResult>, Failure> {
    let mut out = Vec::new();
    for (i, &(from, to)) in pairs.iter().enumerate() {
        let ip = ip_of(to);
        let t = ping(net, from, ip, i as u16, TIMEOUT_NS)?;
        out.push(CheckResult {
            name: format!("ping {from:?} -> {to:?} ({ip})"),
            took_ns: t,
        });
        let msg = format!("hello from {from:?} to {to:?}");
        let t = udp_echo(net, from, ip, msg.as_bytes(), TIMEOUT_NS)?;
        out.push(CheckResult {
            name: format!("UDP echo {from:?} -> {to:?}"),
            took_ns: t,
        });
        let t = tcp_echo(net, from, ip, 20_000, 50_000 + i as u16, TIMEOUT_NS)?;
        out.push(CheckResult {
            name: format!("TCP echo {from:?} -> {to:?} (20000 bytes)"),
            took_ns: t,
        });
    }
    Ok(out)
}

/// A forged ARP reply: "`IP_HOST` is at B's MAC", sent with B's MAC as source.
pub fn spoofed_frame(plan: &Plan) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&plan.mac_b);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&plan.mac_b);
    f.extend_from_slice(&IP_HOST.octets());
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&IP_HOST.octets());
    f.resize(60, 0);
    f
}

/// Keeps the system running for `opts.serve_secs` so the Linux side can `ping` and `nc`.
fn serve<U: NicControl>(w: &mut World<'_, U>, opts: &Options) {
    println!(
        "serving for {} s: from Linux, `ping {IP_A}`, `ping {IP_B}`, `nc -u {IP_A} 7`, `nc {IP_B} 7` (echo)",
        opts.serve_secs
    );
    let until = w.now_ns + opts.serve_secs * 1_000_000_000;
    while w.now_ns < until {
        w.step();
    }
}

fn a_echoes(net: &mut dyn Net) -> Result<(usize, u64), Failure> {
    let mut ok = 0;
    let mut total = 0;
    for i in 0..A_ECHOES {
        let msg = format!("A baseline {i}");
        if let Ok(t) = udp_echo(net, Who::A, IP_HOST, msg.as_bytes(), 200_000_000) {
            ok += 1;
            total += t;
        }
    }
    Ok((ok, total / ok.max(1) as u64))
}

fn stats<U: NicControl>(w: &World<'_, U>, port: vnet_switch::PortId) -> PortStats {
    w.service.switch.stats(port).cloned().unwrap_or_default()
}

fn scenario<U: NicControl>(
    w: &mut World<'_, U>,
    plan: &Plan,
    opts: &Options,
) -> Result<Report, Failure> {
    // A's device attaches at the first rounds.
    for _ in 0..3 {
        w.step();
    }
    use Who::*;
    let mut checks = if w.host.is_some() {
        connectivity(
            w,
            &[(A, B), (B, A), (A, Host), (Host, A), (B, Host), (Host, B)],
        )?
    } else {
        // The kernel on the TAP device: A and B ping it; it has no echo services.
        let mut c = connectivity(w, &[(A, B), (B, A)])?;
        for (i, who) in [A, B].into_iter().enumerate() {
            let t = ping(w, who, opts.peer, 100 + i as u16, TIMEOUT_NS)?;
            c.push(CheckResult {
                name: format!("ping {who:?} -> Linux ({})", opts.peer),
                took_ns: t,
            });
        }
        c
    };

    // The spoofing attempt.
    let before = stats(w, PORT_A).drops(DropReason::Spoofed);
    let frame = spoofed_frame(plan);
    for _ in 0..SPOOFS {
        let now = w.now_ns;
        if !w.a.send_raw(&frame, now) {
            return Err(fail("spoofing attempt", "A's link refused the raw frame"));
        }
        w.step();
    }
    for _ in 0..10 {
        w.step();
    }
    let spoofed = stats(w, PORT_A).drops(DropReason::Spoofed) - before;
    if spoofed != SPOOFS {
        return Err(fail(
            "spoofing attempt",
            format!("{SPOOFS} forged frames sent, {spoofed} dropped as spoofed"),
        ));
    }
    // Nobody learned the forgery: A still reaches B.
    let t = udp_echo(w, A, IP_B, b"after the forgery", TIMEOUT_NS)?;
    checks.push(CheckResult {
        name: "UDP echo A -> B after the forgery".into(),
        took_ns: t,
    });

    let flood = if w.host.is_some() {
        // A's latency to the host, then B floods the host while A measures again.
        let (ok0, rtt0) = a_echoes(w)?;
        Some(flood(w, plan, ok0, rtt0)?)
    } else {
        serve(w, opts);
        None
    };

    Ok(Report {
        checks,
        spoofed: (SPOOFS, spoofed),
        flood,
        stats: w.service.stats(),
        pcap: (PathBuf::new(), 0),
        arp_frames: [0; 3],
    })
}

fn flood<U: NicControl>(
    w: &mut World<'_, U>,
    plan: &Plan,
    ok0: usize,
    rtt0: u64,
) -> Result<FloodReport, Failure> {
    let b0 = stats(w, PORT_B);
    let a0 = stats(w, PORT_A);
    let start = w.now_ns;
    let sent0 = w.b.net_stats().tx_frames;
    let payload = [0x5a; 200];
    // The flood runs for FLOOD_ROUNDS rounds; A's echoes run inside it.
    let mut rounds = 0;
    let mut a_ok = 0;
    let mut a_total = 0;
    let mut i = 0;
    while rounds < FLOOD_ROUNDS {
        for _ in 0..FLOOD_PER_ROUND {
            w.b.udp_send(IP_HOST, DISCARD_PORT, &payload);
        }
        if i < A_ECHOES && rounds % 40 == 0 {
            let msg = format!("A during the flood {i}");
            i += 1;
            w.a.udp_send(IP_HOST, crate::node::ECHO_PORT, msg.as_bytes());
            let t0 = w.now_ns;
            // Wait for the echo while B keeps flooding.
            let mut got = false;
            for _ in 0..2000 {
                for _ in 0..FLOOD_PER_ROUND {
                    w.b.udp_send(IP_HOST, DISCARD_PORT, &payload);
                }
                w.step();
                rounds += 1;
                if let Some(back) = w.a.udp_recv() {
                    if back == msg.as_bytes() {
                        got = true;
                        break;
                    }
                }
            }
            if got {
                a_ok += 1;
                a_total += w.now_ns - t0;
            }
            continue;
        }
        w.step();
        rounds += 1;
    }
    let duration = w.now_ns - start;
    // Let the last queued frames drain.
    for _ in 0..50 {
        w.step();
    }
    let b1 = stats(w, PORT_B);
    let a1 = stats(w, PORT_A);
    let budget = plan.b_budget;
    let allowed = budget.frame_burst
        + budget.frames_per_sec * (duration + 50 * TICK_NS) / 1_000_000_000
        + u64::from(budget.queue);
    let r = FloodReport {
        offered: w.b.net_stats().tx_frames - sent0,
        forwarded: b1.rx_forwarded - b0.rx_forwarded,
        rate_drops: b1.drops(DropReason::Rate) - b0.drops(DropReason::Rate),
        allowed,
        duration_ns: duration,
        a_ok: (ok0, a_ok),
        a_rtt_ns: (rtt0, a_total / a_ok.max(1) as u64),
        a_drops: a1.total_drops() - a0.total_drops(),
    };
    if r.forwarded > r.allowed {
        return Err(fail(
            "flood from B",
            format!(
                "{} frames forwarded, the budget allows {}",
                r.forwarded, r.allowed
            ),
        ));
    }
    if r.rate_drops == 0 {
        return Err(fail("flood from B", "no frame was held back by B's budget"));
    }
    if r.a_ok != (A_ECHOES, A_ECHOES) || r.a_drops != 0 {
        return Err(fail(
            "A during the flood",
            format!(
                "A's echoes: {}/{A_ECHOES} before, {}/{A_ECHOES} during; A's frames dropped: {}",
                r.a_ok.0, r.a_ok.1, r.a_drops
            ),
        ));
    }
    Ok(r)
}

/// Reads the pcapng file back: ARP from every station, the spoofed frames with their
/// verdict, B's over-budget frames.
fn verify_pcap(report: &mut Report, plan: &Plan) -> Result<(), Failure> {
    let path = &report.pcap.0;
    let bytes = std::fs::read(path)
        .map_err(|e| fail("pcap", format!("reading {}: {e}", path.display())))?;
    let packets = Packets::new(&bytes)
        .and_then(|p| p.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail("pcap", format!("{}: {e}", path.display())))?;
    if packets.len() as u64 != report.pcap.1 {
        return Err(fail(
            "pcap",
            format!(
                "{} records written, {} read back",
                report.pcap.1,
                packets.len()
            ),
        ));
    }
    let macs = [plan.mac_a, plan.mac_b];
    let spoof = spoofed_frame(plan);
    let mut spoofed_seen = 0;
    let mut rate_seen = 0;
    for p in &packets {
        let comment = p.comment.unwrap_or("");
        let src = p.data.get(6..12).unwrap_or(&[]);
        let ethertype = p.data.get(12..14).unwrap_or(&[]);
        if ethertype == [0x08, 0x06] && comment.contains("forwarded") {
            // A and B by their MAC; the outside (host or kernel) by its port.
            let i = macs[..2]
                .iter()
                .position(|m| m[..] == *src)
                .or(comment.starts_with("from port 0 ").then_some(2));
            if let Some(i) = i {
                report.arp_frames[i] += 1;
            }
        }
        if p.data == spoof {
            if !comment.contains(&format!("{}", DropReason::Spoofed)) {
                return Err(fail(
                    "pcap",
                    format!("spoofed frame recorded as `{}`", comment),
                ));
            }
            spoofed_seen += 1;
        }
        if comment.contains(&format!("dropped: {}", DropReason::Rate)) {
            rate_seen += 1;
        }
    }
    if spoofed_seen != SPOOFS {
        return Err(fail(
            "pcap",
            format!("{spoofed_seen} of {SPOOFS} spoofed frames recorded"),
        ));
    }
    let rate_drops = report.flood.as_ref().map_or(0, |f| f.rate_drops);
    if rate_seen != rate_drops {
        return Err(fail(
            "pcap",
            format!("{rate_seen} over-budget drops recorded, the switch counted {rate_drops}",),
        ));
    }
    if let Some(i) = report.arp_frames.iter().position(|&n| n == 0) {
        return Err(fail(
            "pcap",
            format!("no ARP frame from {}", ["A", "B", "the uplink"][i]),
        ));
    }
    let _ = (UPLINK, PORT_NAMES);
    Ok(())
}

/// The report as text: checks, spoofing, flood, statistics table, pcap.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for c in &r.checks {
        let _ = writeln!(s, "  ok  {:<44} {:>8.2} ms", c.name, c.took_ns as f64 / 1e6);
    }
    let _ = writeln!(
        s,
        "  ok  spoofing from A: {} forged ARP replies (source = B's MAC), {} dropped as spoofed",
        r.spoofed.0, r.spoofed.1
    );
    if let Some(f) = &r.flood {
        let _ = writeln!(
            s,
            "  ok  flood from B: {} datagrams offered in {:.0} ms, {} forwarded (budget allows {}), {} dropped over budget",
            f.offered,
            f.duration_ns as f64 / 1e6,
            f.forwarded,
            f.allowed,
            f.rate_drops
        );
        let _ = writeln!(
            s,
            "  ok  A during the flood: {}/{} echoes (before: {}/{}), mean round trip {:.2} ms (before: {:.2} ms), {} of A's frames dropped",
            f.a_ok.1,
            A_ECHOES,
            f.a_ok.0,
            A_ECHOES,
            f.a_rtt_ns.1 as f64 / 1e6,
            f.a_rtt_ns.0 as f64 / 1e6,
            f.a_drops
        );
    }
    let _ = writeln!(
        s,
        "  ok  ARP in the monitor: {} from A, {} from B, {} from the uplink",
        r.arp_frames[0], r.arp_frames[1], r.arp_frames[2]
    );
    let _ = writeln!(s, "\nper-port statistics (switch):");
    s.push_str(&crate::service::stats_table(&r.stats));
    let _ = writeln!(
        s,
        "\nmonitor: {} frames with verdicts in {} (open with `wireshark {}` or `tshark -r {} -V`)",
        r.pcap.1,
        r.pcap.0.display(),
        r.pcap.0.display(),
        r.pcap.0.display()
    );
    s
}
