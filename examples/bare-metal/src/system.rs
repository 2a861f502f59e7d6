//! The composition on one core: the switch with its four ports, the two partitions, the
//! poll loop, the self-checks and the serving phase.

use netstack_glue::frame_link::{End, PairEnd};
use nic_drivers::{LinkState, NicControl};
use smoltcp::socket::tcp;
use smoltcp::wire::Ipv4Address;
use vnet_switch::frame_link::link_enum;
use vnet_switch::{DropReason, MacAddress};
use vnet_switch::{Mirror, VlanSet};
use vnet_switch::{PortConfig, PortId, Switch, SwitchBuilder};

use crate::args::Args;
use crate::monitor::{MonitorPort, PcapTap, HOST_NAMES};
use crate::partition::{self, Buffers, Pair, Partition, Sockets, PORT_SLOTS};
use crate::{code, platform, println};

/// The partitions' own addresses (locally administered).
const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];
/// The access VLAN of both partitions = the uplink's native VLAN.
const VLAN: u16 = 1;
/// Ingress frames per switch poll.
const BUDGET: usize = 32;
/// Wait budget of each self-check step.
const STEP_MS: u64 = 5000;

link_enum! {
    /// One switch port of the image.
    ///
    /// The variants differ in size (a partition port holds its slot rings inline): no
    /// heap, and the switch keeps its four ports in one array anyway.
    #[allow(clippy::large_enum_variant)]
    pub enum Port['a, D] {
        /// The NIC.
        Uplink(D),
        /// The switch side of a partition's in-memory port.
        Partition(PairEnd<'a, PORT_SLOTS, 1536>),
        /// The monitor port.
        Monitor(MonitorPort),
    }
    /// Why a port of the image failed (each port's own typed error).
    pub enum PortError;
}

/// Switch, partitions and tap, polled round by round.
struct System<'a, D: NicControl> {
    switch: Switch<Port<'a, D>, 4, 64, 16>,
    uplink: PortId,
    ports: [PortId; 2],
    monitor: PortId,
    parts: [Partition<'a>; 2],
    tap: PcapTap,
}

impl<D: NicControl> System<'_, D> {
    /// One round: the switch forwards (and services every port: the uplink driver is
    /// kicked and polled), each partition takes its frames and sends its answers.
    fn round(&mut self) {
        let now = platform::now();
        self.switch
            .poll_tap(now.saturating_mul(100), BUDGET, &mut self.tap);
        for part in &mut self.parts {
            part.poll();
        }
    }

    /// Rounds until `done` says `Some`, or `ms` pass.
    fn until<T>(&mut self, ms: u64, mut done: impl FnMut(&mut Self) -> Option<T>) -> Option<T> {
        let end = platform::deadline_ms(ms);
        while platform::now() < end {
            self.round();
            if let Some(t) = done(self) {
                return Some(t);
            }
        }
        None
    }

    fn counts(&self) -> &crate::monitor::Counts {
        match self.switch.endpoint(self.monitor) {
            Some(Port::Monitor(m)) => &m.counts,
            _ => unreachable!("the monitor port is built as Port::Monitor"),
        }
    }

    /// Partition `from` pings `to` once (sequence `seq`).
    fn ping(&mut self, from: usize, to: Ipv4Address, seq: u16) -> Result<(), u16> {
        let name = self.parts[from].name;
        if !self.parts[from].ping_send(to, seq) {
            println!("partnet: FAIL {name} cannot queue an echo request");
            return Err(code::PING);
        }
        let start = platform::now();
        match self.until(STEP_MS, |s| s.parts[from].ping_recv(to, seq)) {
            Some(Ok(())) => {
                let us = (platform::now() - start) / (platform::TIMEBASE_HZ / 1_000_000);
                println!("partnet: ping {name} -> {to} ok ({us} us)");
                Ok(())
            }
            Some(Err(what)) => {
                println!("partnet: FAIL ping {name} -> {to}: {what}");
                Err(code::PING)
            }
            None => {
                println!("partnet: FAIL ping {name} -> {to}: no reply in {STEP_MS} ms");
                Err(code::PING)
            }
        }
    }

    /// Partition `from` opens a TCP connection to the echo server of `to`, sends a
    /// pattern, reads it back, compares, and closes.
    fn tcp_echo(&mut self, from: usize, to: Ipv4Address, local_port: u16) -> Result<(), u16> {
        const LEN: usize = 3000;
        let name = self.parts[from].name;
        let fail = |what: &str| {
            println!("partnet: FAIL tcp echo {name} -> {to}: {what}");
            code::TCP
        };
        let sessions_before = self.parts[1 - from].echo.sessions;
        if !self.parts[from].tcp_connect(to, local_port) {
            return Err(fail("connect refused by the stack"));
        }
        let pattern = |i: usize| (i * 7 + usize::from(local_port)) as u8;
        let (mut sent, mut got) = (0usize, 0usize);
        let mut wrong = None;
        let done = self.until(STEP_MS, |s| {
            let c = s.parts[from].tcp_client();
            if c.state() == tcp::State::Closed {
                return Some(false);
            }
            if c.can_send() && sent < LEN {
                let mut chunk = [0u8; 512];
                let n = chunk.len().min(LEN - sent);
                for (i, b) in chunk[..n].iter_mut().enumerate() {
                    *b = pattern(sent + i);
                }
                if let Ok(k) = c.send_slice(&chunk[..n]) {
                    sent += k;
                }
            }
            if c.can_recv() {
                let mut chunk = [0u8; 512];
                if let Ok(k) = c.recv_slice(&mut chunk) {
                    for (i, b) in chunk[..k].iter().enumerate() {
                        if *b != pattern(got + i) && wrong.is_none() {
                            wrong = Some(got + i);
                        }
                    }
                    got += k;
                }
            }
            (got >= LEN).then_some(true)
        });
        match done {
            Some(true) => {}
            Some(false) => return Err(fail("connection closed (refused or reset)")),
            None => return Err(fail("timed out")),
        }
        if let Some(at) = wrong {
            println!("partnet: FAIL tcp echo {name} -> {to}: byte {at} differs");
            return Err(code::TCP);
        }
        self.parts[from].tcp_client().close();
        let closed = self.until(STEP_MS, |s| {
            let st = s.parts[from].tcp_client().state();
            matches!(st, tcp::State::Closed | tcp::State::TimeWait).then_some(())
        });
        if closed.is_none() {
            return Err(fail("the server did not close"));
        }
        // The server counts the session once our ACK of its FIN arrived.
        let server = 1 - from;
        let counted = self.until(STEP_MS, |s| {
            (s.parts[server].echo.sessions > sessions_before).then_some(())
        });
        if counted.is_none() {
            return Err(fail("the server did not count the session"));
        }
        println!("partnet: tcp echo {name} -> {to}:7 ok ({LEN} bytes back and equal)");
        Ok(())
    }

    /// Partition A forges B's source address (a gratuitous ARP claiming B's address):
    /// the switch must drop it at A's port as spoofed, deliver it nowhere, and still
    /// mirror it to the monitor.
    fn spoof(&mut self, b_ip: Ipv4Address) -> Result<(), u16> {
        let spoofed = DropReason::Spoofed.index();
        let stats = |s: &Self, port| s.switch.stats(port).cloned().unwrap_or_default();
        let (a0, b0, up0) = (
            stats(self, self.ports[0]),
            stats(self, self.ports[1]),
            stats(self, self.uplink),
        );
        let mon0 = self.counts().hosts[1].arp;
        let mut frame = [0u8; 42];
        frame[0..6].copy_from_slice(&[0xff; 6]);
        frame[6..12].copy_from_slice(&MAC_B);
        frame[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        // ARP reply: Ethernet/IPv4, sender = (B's MAC, B's IP), target = broadcast.
        frame[14..22].copy_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 2]);
        frame[22..28].copy_from_slice(&MAC_B);
        frame[28..32].copy_from_slice(&b_ip.octets());
        frame[32..38].copy_from_slice(&[0xff; 6]);
        frame[38..42].copy_from_slice(&b_ip.octets());
        if !self.parts[0].send_raw(&frame) {
            println!("partnet: FAIL spoof: A's link refused the frame");
            return Err(code::SPOOF);
        }
        let dropped = self.until(STEP_MS, |s| {
            (stats(s, s.ports[0]).rx_drops[spoofed] > a0.rx_drops[spoofed]).then_some(())
        });
        // A few more rounds: anything wrongly forwarded would show up now.
        let _ = self.until(20, |_| None::<()>);
        let (a1, b1, up1) = (
            stats(self, self.ports[0]),
            stats(self, self.ports[1]),
            stats(self, self.uplink),
        );
        let mon1 = self.counts().hosts[1].arp;
        let problem = if dropped.is_none() {
            Some("the switch did not count it as spoofed")
        } else if a1.rx_forwarded != a0.rx_forwarded {
            Some("A's port forwarded a frame")
        } else if b1.tx_frames - b0.tx_frames > up1.rx_forwarded - up0.rx_forwarded
            || up1.tx_frames - up0.tx_frames > b1.rx_forwarded - b0.rx_forwarded
        {
            // (B and the uplink may talk to each other meanwhile; nothing else may arrive.)
            Some("B or the uplink received a frame")
        } else if mon1 != mon0 + 1 {
            Some("the monitor did not see it")
        } else {
            None
        };
        if let Some(what) = problem {
            println!("partnet: FAIL spoof from A with B's source address: {what}");
            return Err(code::SPOOF);
        }
        println!("partnet: spoof from A with B's source address: dropped (spoofed), delivered nowhere, seen by the monitor");
        Ok(())
    }

    fn print_tables(&self) {
        let c = self.counts();
        println!("partnet: monitor (frames as they entered the switch, by sender)");
        println!("partnet:   host   frames  arp  echo-req  echo-rep  tcp  syn  fin  other");
        for (name, h) in HOST_NAMES.iter().zip(c.hosts.iter()) {
            println!(
                "partnet:   {name:<5} {:>7} {:>4} {:>9} {:>9} {:>4} {:>4} {:>4} {:>6}",
                h.frames, h.arp, h.echo_requests, h.echo_replies, h.tcp, h.syn, h.fin, h.other
            );
        }
        println!("partnet: switch ports");
        println!("partnet:   port       rx  forwarded  dropped       tx  tx-full");
        let names = [
            (self.uplink, "uplink"),
            (self.ports[0], "A"),
            (self.ports[1], "B"),
            (self.monitor, "monitor"),
        ];
        for (id, name) in names {
            if let Some(s) = self.switch.stats(id) {
                let dropped: u64 = s.rx_drops.iter().sum();
                println!(
                    "partnet:   {name:<8} {:>5} {:>10} {:>8} {:>8} {:>8}",
                    s.rx_frames, s.rx_forwarded, dropped, s.tx_frames, s.tx_queue_full
                );
            }
        }
        for (id, name) in names {
            let Some(s) = self.switch.stats(id) else {
                continue;
            };
            for reason in DropReason::ALL {
                let n = s.rx_drops[reason.index()];
                if n > 0 {
                    println!("partnet: {name} drops: {n} x {reason}");
                }
            }
        }
        for p in &self.parts {
            let g = p.glue_stats();
            println!(
                "partnet: partition {} ({}) rx {} tx {} frames, glue drops {} (bad checksum {}), echo server: {} sessions ({} from the peer), {} bytes",
                p.name, p.ip, g.rx_frames, g.tx_frames, g.drops.rx_total(), g.drops.rx_bad_checksum,
                p.echo.sessions, p.echo.sessions_from_peer, p.echo.bytes
            );
        }
        if let Some(Port::Uplink(u)) = self.switch.endpoint(self.uplink) {
            let s = u.stats();
            println!(
                "partnet: nic rx {} frames, tx {} frames, device errors {}",
                s.rx_frames, s.tx_frames, s.device_errors
            );
        }
    }
}

/// Brings the system up on `dev` and runs it.
pub fn run<D: NicControl>(mut dev: D, args: &Args) -> Result<(), u16> {
    println!("partnet: nic mac {}", dev.mac_address());
    let end = platform::deadline_ms(STEP_MS);
    while dev.link_state() == LinkState::Down {
        if platform::now() > end {
            println!("partnet: FAIL link stays down");
            return Err(code::DRIVER);
        }
        platform::delay_us(1000);
    }
    // The uplink carries frames for the partitions' addresses, not the NIC's own.
    if let Err(e) = dev.set_promiscuous(true) {
        println!("partnet: nic cannot be made promiscuous ({e}); relying on its default");
    }

    let mirror = Mirror {
        ingress: true,
        egress: false,
    };
    // Declared before the switch, which holds the pairs' ends (dropped after it).
    let (mut buf_a, mut buf_b) = (Buffers::new(), Buffers::new());
    let mut sock_a: Sockets<'_> = Default::default();
    let mut sock_b: Sockets<'_> = Default::default();
    let pairs = [Pair::new(), Pair::new()];
    let mut b = SwitchBuilder::<Port<'_, D>, 4>::new();
    let switch_error = |e| {
        println!("partnet: FAIL switch configuration: {e}");
        code::SWITCH
    };
    let mut uplink_cfg = PortConfig::uplink(Some(VLAN), VlanSet::new());
    uplink_cfg.mirror = mirror;
    let uplink = b
        .add_port(Port::Uplink(dev), uplink_cfg)
        .map_err(switch_error)?;
    let mut ports = [uplink; 2];
    for (i, mac) in [MAC_A, MAC_B].into_iter().enumerate() {
        let mut cfg = PortConfig::partition(MacAddress(mac), VLAN);
        cfg.mirror = mirror;
        ports[i] = b
            .add_port(Port::Partition(pairs[i].end(End::A)), cfg)
            .map_err(switch_error)?;
    }
    let monitor = b
        .add_port(
            Port::Monitor(MonitorPort::new(args.a, args.b, args.peer)),
            PortConfig::monitor(),
        )
        .map_err(switch_error)?;
    let switch = b.build::<64, 16>().map_err(switch_error)?;

    let now = partition::instant(platform::now());
    let setup_error = |e| {
        println!("partnet: FAIL interface set-up: {e}");
        code::SWITCH
    };
    let (ip, prefix, peer) = (args.a, args.prefix, args.peer);
    let a = Partition::new(
        "A",
        MAC_A,
        ip,
        prefix,
        peer,
        &pairs[0],
        &mut buf_a,
        &mut sock_a,
        now,
    )
    .map_err(setup_error)?;
    let ip = args.b;
    let b = Partition::new(
        "B",
        MAC_B,
        ip,
        prefix,
        peer,
        &pairs[1],
        &mut buf_b,
        &mut sock_b,
        now,
    )
    .map_err(setup_error)?;
    println!(
        "partnet: switch up: uplink, A {} {}/{}, B {} {}/{}, monitor; peer {}",
        MacAddress(MAC_A),
        args.a,
        args.prefix,
        MacAddress(MAC_B),
        args.b,
        args.prefix,
        args.peer
    );
    let mut sys = System {
        switch,
        uplink,
        ports,
        monitor,
        parts: [a, b],
        tap: PcapTap::new(args.pcap),
    };
    let result = checks(&mut sys, args);
    sys.print_tables();
    result
}

/// The self-checks, the cross-check of the monitor's counters, and the serving phase.
fn checks<D: NicControl>(sys: &mut System<'_, D>, args: &Args) -> Result<(), u16> {
    sys.ping(0, args.peer, 1)?;
    sys.ping(1, args.peer, 1)?;
    sys.ping(0, args.b, 2)?;
    sys.ping(1, args.a, 2)?;
    sys.tcp_echo(0, args.b, 40001)?;
    sys.tcp_echo(1, args.a, 40002)?;

    // Every answered ping went through the switch, so the monitor saw each reply.
    let r = sys.counts().replies;
    let (a, b, peer) = (0, 1, 2);
    let seen = [(peer, a), (peer, b), (b, a), (a, b)];
    if let Some((from, to)) = seen.into_iter().find(|(f, t)| r[*f][*t] == 0) {
        println!(
            "partnet: FAIL the monitor saw no echo reply from {} to {}",
            HOST_NAMES[from], HOST_NAMES[to]
        );
        return Err(code::COUNTERS);
    }
    println!("partnet: monitor saw every echo reply of the self-checks");
    sys.spoof(args.b)?;
    if args.serve_s == 0 {
        return Ok(());
    }

    let base = [r[a][peer], r[b][peer]];
    println!(
        "partnet: ready: serving {} for up to {} s (until each partition answered {} pings and {} tcp echo sessions)",
        args.peer, args.serve_s, args.pings, args.tcp
    );
    let served = |s: &mut System<'_, D>| {
        let r = s.counts().replies;
        let pings = [
            r[a][peer].saturating_sub(base[0]),
            r[b][peer].saturating_sub(base[1]),
        ];
        let sessions = [
            s.parts[0].echo.sessions_from_peer,
            s.parts[1].echo.sessions_from_peer,
        ];
        (pings, sessions)
    };
    let ok = sys.until(args.serve_s.saturating_mul(1000), |s| {
        let (pings, sessions) = served(s);
        (pings.iter().all(|p| *p >= args.pings) && sessions.iter().all(|t| *t >= args.tcp))
            .then_some(())
    });
    let (pings, sessions) = served(sys);
    for (i, p) in sys.parts.iter().enumerate() {
        println!(
            "partnet: partition {} answered {} pings and {} tcp echo sessions from {}",
            p.name, pings[i], sessions[i], args.peer
        );
    }
    if ok.is_none() {
        println!(
            "partnet: FAIL the peer's pings and tcp echo sessions did not all arrive in {} s",
            args.serve_s
        );
        return Err(code::SERVE);
    }
    println!("partnet: served the peer");
    Ok(())
}
