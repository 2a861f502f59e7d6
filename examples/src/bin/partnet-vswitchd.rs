//! `partnet-vswitchd`: the service partition of a Linux host whose partitions are QEMU
//! virtual machines. One switch; each VM's virtio-net device is a vhost-user port (one
//! Unix socket per VM; the event loop is `vnet_switch::adapters::vhost_user::Server`,
//! this program is its arguments and composition), next to the
//! hosted demo's two smoltcp partitions in this process and a monitor pcap:
//!
//! * A (`--partition-a`): smoltcp on the nic-drivers virtio-net driver over the
//!   shared-memory virtio transport; its switch port is vnet-switch's `ShmDevice`.
//! * B (`--partition-b`): smoltcp on a queuing-port channel pair; its switch port is a
//!   `QueuingPortEndpoint`.
//!
//! Both are the demo's `Node` (ping replies, UDP/TCP echo on port 7, UDP discard on 9)
//! with a TCP sink next to its services (default port 5000) that logs each connection's
//! byte count and FNV-1a 64 digest.
//!
//! ```text
//! partnet-vswitchd --vm SOCKET,MAC [--vm ...] [--partition-a MAC,IP/PREFIX[,TCP_PORT]]
//!                  [--partition-b MAC,IP/PREFIX[,TCP_PORT]] [--pcap FILE]
//!                  [--guest-memory MIB] [--hugetlbfs] [--exit-after-transfers N]
//! ```
//!
//! Each VM port is an access port bound to the MAC given on the QEMU command line
//! (anti-spoofing: the guest can only send with it), untagged VLAN 1, with a frame-rate
//! budget; the partitions' ports are bound to their MACs the same way, with the same
//! budget. A VM's memory table may map at most `--guest-memory` MiB (default 8192). A frontend that misbehaves is cut off with its typed reason on stderr; the
//! others go on, and the socket accepts a new connection. The statistics table is
//! printed on exit: SIGINT, SIGTERM, or after `N` TCP transfers.
//!
//! Start it before QEMU (QEMU is the socket client), e.g.
//! `qemu-system-x86_64 ... -chardev socket,id=c0,path=SOCKET -netdev
//! vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0,mac=MAC,vectors=0` with
//! the guest RAM on a shared memfd backend.

#[cfg(target_os = "linux")]
#[path = "../vswitchd/ports.rs"]
mod ports;
#[cfg(target_os = "linux")]
#[path = "../vswitchd/sink.rs"]
mod sink;

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    daemon::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("partnet-vswitchd needs Linux (vhost-user)");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod daemon {
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant as StdInstant;

    use netstack_glue::smoltcp;
    use smoltcp::wire::Ipv4Cidr;
    use vmm_sys_util::signal::register_signal_handler;
    use vnet_switch::adapters::vhost_user::{
        AsVhostUser, Server, ServerEvent, VhostUserPort, DEFAULT_MEMORY_BUDGET,
    };
    use vnet_switch::monitor::{Tap, TapEvent};
    use vnet_switch::pcap::{FileSink, PcapWriter};
    use vnet_switch::{
        DropReason, MacAddress, Mirror, PortConfig, PortId, RateLimit, Switch, SwitchBuilder,
    };

    use partnet_examples::cli;

    use super::ports::{partition, InProcess, Kind, PartArg, Port};
    use super::sink::Transfer;

    /// Most ports of the switch.
    const PORTS: usize = 16;

    /// Frames the switch forwards per round: no more than a partition takes between two
    /// of its polls (A's 32 receive buffers, B's channel depth), so a burst from one guest
    /// to a partition is not dropped as "queue full".
    const ROUND_BUDGET: usize = partnet_examples::service::DEPTH;
    /// Rounds per wake-up.
    const ROUNDS: usize = 16;

    /// Every port's ingress budget (VMs and partitions alike).
    const BUDGET: RateLimit = RateLimit {
        bytes_per_sec: 200_000_000,
        byte_burst: 1_000_000,
        frames_per_sec: 200_000,
        frame_burst: 2_000,
        queue: 64,
    };

    type Sw = Switch<Port, PORTS, 1024, 64>;

    static STOP: AtomicBool = AtomicBool::new(false);

    /// SIGINT and SIGTERM: stop at the next wake-up. Only stores to an atomic
    /// (async-signal-safe).
    extern "C" fn on_signal(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
        STOP.store(true, Ordering::Relaxed);
    }

    fn install_signals() -> Result<(), String> {
        for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
            register_signal_handler(sig, on_signal)
                .map_err(|e| format!("cannot handle {name}: {e}"))?;
        }
        Ok(())
    }

    struct VmArg {
        socket: std::path::PathBuf,
        mac: MacAddress,
    }

    struct Args {
        vms: Vec<VmArg>,
        parts: Vec<PartArg>,
        pcap: Option<std::path::PathBuf>,
        exit_after: Option<usize>,
        guest_memory: u64,
        hugetlbfs: bool,
    }

    const USAGE: &str = "\
usage: partnet-vswitchd --vm SOCKET,MAC [--vm ...] [options]

  --vm SOCKET,MAC        a QEMU guest: the vhost-user socket to listen on and the MAC of
                         its NIC on the QEMU command line (the only source MAC allowed)
  --partition-a MAC,IP/PREFIX[,TCP_PORT]
                         in-process partition A: smoltcp on virtio-net over shared
                         memory (TCP sink on TCP_PORT, default 5000)
  --partition-b MAC,IP/PREFIX[,TCP_PORT]
                         in-process partition B: smoltcp on a queuing-port pair
  --pcap FILE            mirror every frame entering the switch into FILE
  --guest-memory MIB     the most guest memory one VM's memory table may map
                         (default 8192); a larger table cuts the VM off
  --hugetlbfs            accept guest memory on hugetlbfs (refused by default: a
                         guest's QEMU can punch a hole in it that this process then
                         faults on when the huge page pool is empty)
  --exit-after-transfers N
                         print the statistics and exit after N TCP transfers
  -h, --help             this text";

    fn parse_mac(s: &str) -> Result<MacAddress, String> {
        let bytes: Vec<u8> = s
            .split(':')
            .map(|b| u8::from_str_radix(b, 16))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("bad MAC {s}"))?;
        let mac: [u8; 6] = bytes.try_into().map_err(|_| format!("bad MAC {s}"))?;
        Ok(MacAddress(mac))
    }

    fn parse_cidr(s: &str) -> Result<Ipv4Cidr, String> {
        let (ip, len) = s.split_once('/').ok_or(format!("bad IP/PREFIX {s}"))?;
        let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| format!("bad IP {ip}"))?;
        let len: u8 = len.parse().map_err(|_| format!("bad prefix {len}"))?;
        Ok(Ipv4Cidr::new(ip, len))
    }

    fn parse_vm(s: &str) -> Result<VmArg, String> {
        let (socket, mac) = s.split_once(',').ok_or("expected SOCKET,MAC")?;
        if socket.is_empty() {
            return Err("no socket path".into());
        }
        Ok(VmArg {
            socket: socket.into(),
            mac: parse_mac(mac)?,
        })
    }

    fn parse_part(kind: Kind, s: &str) -> Result<PartArg, String> {
        let mut f = s.split(',');
        let mac = parse_mac(f.next().unwrap_or(""))?;
        let cidr = parse_cidr(f.next().ok_or("expected MAC,IP/PREFIX[,TCP_PORT]")?)?;
        let tcp_port = match f.next() {
            Some(p) => p.parse().map_err(|_| format!("bad TCP port {p}"))?,
            None => 5000,
        };
        if f.next().is_some() {
            return Err("expected MAC,IP/PREFIX[,TCP_PORT]".into());
        }
        Ok(PartArg {
            kind,
            mac: mac.0,
            cidr,
            tcp_port,
        })
    }

    fn parse_mib(s: &str) -> Result<u64, String> {
        let mib: u64 = s.parse().map_err(|_| "not a number of MiB")?;
        mib.checked_mul(1 << 20)
            .filter(|&b| b > 0)
            .ok_or_else(|| "from 1 MiB to 2^44 MiB".into())
    }

    /// The arguments; `Err`: exit with that code (help shown, or a usage error told).
    fn parse_args() -> Result<Args, ExitCode> {
        let args = Args {
            vms: Vec::new(),
            parts: Vec::new(),
            pcap: None,
            exit_after: None,
            guest_memory: DEFAULT_MEMORY_BUDGET,
            hugetlbfs: false,
        };
        cli::parse(
            "partnet-vswitchd",
            USAGE,
            args,
            |a, flag, p| {
                match flag {
                    "vm" => a.vms.push(cli::value(p, "--vm", parse_vm)?),
                    flag @ ("partition-a" | "partition-b") => {
                        let (flag, kind) = if flag == "partition-a" {
                            ("--partition-a", Kind::Virtio)
                        } else {
                            ("--partition-b", Kind::Queuing)
                        };
                        if a.parts.iter().any(|p| p.kind == kind) {
                            return Err(format!("{flag} given twice").into());
                        }
                        a.parts.push(cli::value(p, flag, |s| parse_part(kind, s))?);
                    }
                    "pcap" => a.pcap = Some(cli::path(p)?),
                    "guest-memory" => a.guest_memory = cli::value(p, "--guest-memory", parse_mib)?,
                    "hugetlbfs" => a.hugetlbfs = true,
                    "exit-after-transfers" => {
                        a.exit_after = Some(cli::parsed(p, "--exit-after-transfers")?)
                    }
                    f => return Err(cli::unknown(f)),
                }
                Ok(())
            },
            |a| {
                if a.vms.len() + a.parts.len() > PORTS {
                    Err(format!("at most {PORTS} ports (--vm and --partition-*)"))
                } else {
                    Ok(())
                }
            },
        )
    }

    /// The monitor: every mirrored frame into a pcap file.
    struct PcapTap(Option<PcapWriter<FileSink>>, u64);

    impl Tap for PcapTap {
        fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) {
            if let Some(w) = &mut self.0 {
                if w.write_frame(event.time_ns, &[header, payload]).is_ok() {
                    self.1 += 1;
                }
            }
        }
    }

    struct Names {
        names: Vec<String>,
        macs: Vec<MacAddress>,
    }

    fn vm_port(sw: &mut Sw, i: usize) -> &mut VhostUserPort {
        sw.endpoint_mut(PortId::new(i as u8))
            .and_then(Port::as_vhost_user)
            .expect("VM ports come first")
    }

    fn report_transfer(name: &str, x: &Transfer) {
        let secs = x.seconds.max(1e-9);
        eprintln!(
            "{name}: tcp transfer: {} bytes fnv1a64 {:#018x} in {:.3} s ({:.1} Mbit/s, {} frames, {:.0} frames/s)",
            x.bytes,
            x.fnv,
            x.seconds,
            x.bytes as f64 * 8.0 / secs / 1e6,
            x.frames,
            x.frames as f64 / secs
        );
    }

    pub fn main() -> ExitCode {
        let args = match parse_args() {
            Ok(a) => a,
            Err(code) => return code,
        };
        // The capture file first: a path that cannot be written is a usage error, told
        // before any socket is bound.
        let writer = match args.pcap.as_deref().map(|p| {
            let sink =
                FileSink::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            PcapWriter::new(sink, 1600).map_err(|e| format!("cannot write {}: {e:?}", p.display()))
        }) {
            None => None,
            Some(Ok(w)) => Some(w),
            Some(Err(e)) => {
                eprintln!("partnet-vswitchd: --pcap: {e}");
                return ExitCode::FAILURE;
            }
        };
        match &args.pcap {
            Some(p) => eprintln!(
                "monitor: every frame entering the switch into {}",
                p.display()
            ),
            None => eprintln!("monitor: no capture (--pcap FILE to write one)"),
        }
        if let Err(e) = install_signals() {
            eprintln!("partnet-vswitchd: {e}");
            return ExitCode::FAILURE;
        }
        let start = StdInstant::now();
        let now_ns = || start.elapsed().as_nanos() as u64;

        let mut b = SwitchBuilder::<Port, PORTS>::new();
        let mirror = Mirror {
            ingress: true,
            egress: false,
        };
        let mut names = Names {
            names: Vec::new(),
            macs: Vec::new(),
        };
        let mut server = Server::new();
        for (i, vm) in args.vms.iter().enumerate() {
            let mut cfg = PortConfig::partition(vm.mac, 1);
            cfg.max_frame = 1518;
            cfg.mirror = mirror;
            cfg.rate = Some(BUDGET);
            let vm_port = VhostUserPort::new(1514)
                .with_memory_budget(args.guest_memory)
                .with_hugetlbfs(args.hugetlbfs);
            let id = b
                .add_port(Port::Vm(Box::new(vm_port)), cfg)
                .expect("a valid VM port");
            if let Err(e) = server.listen(id, &vm.socket) {
                eprintln!(
                    "partnet-vswitchd: cannot listen on {}: {e}",
                    vm.socket.display()
                );
                return ExitCode::FAILURE;
            }
            names.names.push(format!("vm{i}"));
            names.macs.push(vm.mac);
            eprintln!(
                "vm{i}: listening on {} for MAC {}",
                vm.socket.display(),
                vm.mac
            );
        }
        let mut parts: Vec<Box<dyn InProcess>> = Vec::new();
        for p in &args.parts {
            let (port, stack) = match partition(p) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("partnet-vswitchd: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let mac = MacAddress(p.mac);
            let mut cfg = PortConfig::partition(mac, 1);
            cfg.mirror = mirror;
            cfg.rate = Some(BUDGET);
            b.add_port(Port::Other(port), cfg)
                .expect("a valid partition port");
            let what = match p.kind {
                Kind::Virtio => "virtio-net over shared memory",
                Kind::Queuing => "a queuing-port pair",
            };
            eprintln!(
                "{}: smoltcp on {what} at {} MAC {mac}, echo on port 7, TCP sink on port {}",
                stack.name(),
                p.cidr,
                p.tcp_port
            );
            names.names.push(stack.name().to_string());
            names.macs.push(mac);
            parts.push(stack);
        }
        let mut sw: Sw = match b.build() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("partnet-vswitchd: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut tap = PcapTap(writer, 0);
        let vms = args.vms.len();
        let mut transfers = 0usize;
        while !STOP.load(Ordering::Relaxed) {
            // Sleep no longer than the partitions' stacks may wait.
            let delay = parts
                .iter_mut()
                .filter_map(|s| s.poll_delay(now_ns()))
                .map(|d| d.total_millis() as i32)
                .min()
                .unwrap_or(10)
                .min(10);
            // Forward until quiet (bounded: ROUNDS rounds of ROUND_BUDGET frames per
            // wake-up). Each round: the partitions' stacks, then the switch (whose poll
            // calls each port's housekeeping: a VM's calls and kicks, A's registers,
            // B's channel).
            let forward = |sw: &mut Sw| {
                let mut moved = 0;
                for _ in 0..ROUNDS {
                    let t = now_ns();
                    for s in &mut parts {
                        if let Some(x) = s.poll(t) {
                            transfers += 1;
                            report_transfer(s.name(), &x);
                        }
                    }
                    let n = sw.poll_tap(now_ns(), ROUND_BUDGET, &mut tap);
                    moved += n;
                    if n == 0 {
                        break;
                    }
                }
                moved
            };
            let said = |port: PortId, event: ServerEvent| {
                eprintln!("{}: {event}", names.names[port.index()]);
            };
            if let Err(e) = server.poll(&mut sw, delay, forward, said) {
                eprintln!("partnet-vswitchd: wait failed: {e}");
                return ExitCode::FAILURE;
            }
            if args.exit_after.is_some_and(|n| transfers >= n) {
                break;
            }
        }
        if let Some(w) = &mut tap.0 {
            let _ = w.sink_mut().flush();
        }
        print_table(
            &mut sw,
            &names,
            vms,
            &parts,
            tap.1,
            start.elapsed().as_secs_f64(),
        );
        ExitCode::SUCCESS
    }

    fn print_table(
        sw: &mut Sw,
        names: &Names,
        vms: usize,
        parts: &[Box<dyn InProcess>],
        mirrored: u64,
        secs: f64,
    ) {
        println!("partnet-vswitchd statistics after {secs:.1} s ({mirrored} frames to the pcap)");
        println!(
            "{:<6} {:<17} {:>9} {:>11} {:>9} {:>11} {:>7} {:>7} {:>7}",
            "port", "mac", "rx frm", "rx bytes", "tx frm", "tx bytes", "drops", "spoof", "txfull"
        );
        for (i, name) in names.names.iter().enumerate() {
            let Some(s) = sw.stats(PortId::new(i as u8)) else {
                continue;
            };
            println!(
                "{:<6} {:<17} {:>9} {:>11} {:>9} {:>11} {:>7} {:>7} {:>7}",
                name,
                names.macs[i].to_string(),
                s.rx_frames,
                s.rx_bytes,
                s.tx_frames,
                s.tx_bytes,
                s.total_drops(),
                s.drops(DropReason::Spoofed),
                s.tx_queue_full
            );
        }
        // Every drop by reason (link control, VLAN, ...), for ports that dropped any.
        for (i, name) in names.names.iter().enumerate() {
            let Some(s) = sw.stats(PortId::new(i as u8)) else {
                continue;
            };
            for reason in DropReason::ALL {
                let n = s.drops(reason);
                if n > 0 {
                    println!("{name}: {n} dropped: {reason}");
                }
            }
        }
        for i in 0..vms {
            let v = vm_port(sw, i).stats();
            println!(
                "{}: vhost-user connections {} starts {} cut-offs {} (last: {}) kicks {} calls {} mapped {} bytes bad chains last: {}",
                names.names[i],
                v.connections,
                v.starts,
                v.cutoffs,
                v.last_cutoff.map_or("none".into(), |r| r.to_string()),
                v.kicks,
                v.calls,
                v.mapped_bytes,
                v.net.last_error.map_or("none".into(), |e| e.to_string()),
            );
        }
        for s in parts {
            let n = s.stats();
            println!(
                "{}: smoltcp rx {} frames, tx {} frames, drops {}, transfers {}",
                s.name(),
                n.rx_frames,
                n.tx_frames,
                n.drops.rx_total(),
                s.transfers()
            );
        }
    }
}
