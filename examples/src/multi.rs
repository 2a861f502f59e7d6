//! The multi-process variant: the service partition, A and B as separate OS processes
//! over shared-memory files (one virtio region for A, two queuing-port channels for B).
//!
//! The service process creates and formats the regions, spawns A and B (the same binary
//! with `--role a` / `--role b`), runs the switch and the uplink host, and drives the
//! checks from the host. It then kills B (`SIGKILL`), restarts it on reformatted
//! channels, and has it write garbage into its region: each time A's traffic must keep
//! running and the service must report what happened as a typed [`PartitionFault`].
//! Children are killed by PID on every exit path ([`ChildGuard`]); a child whose parent
//! disappears (its stdin closes) exits on its own.

use std::fmt;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netstack_glue::QueuingLink;
use nic_drivers::net::VirtioNet;
use nic_drivers::transport::shm::{ShmHal, ShmTransport};
use queuing_port::shm::ShmFile;
use queuing_port::{QueuingPortReceiver, QueuingPortSender};
use virtqueue::shm;
use vnet_switch::adapters::queuing::{QueuingEndpointError, QueuingPortEndpoint};
use vnet_switch::adapters::shm::{DeviceState, ShmDeviceError};
use vnet_switch::NoTap;

use crate::checks::{fail, ping, tcp_echo, udp_echo, Failure, Net, Who};
use crate::hosted::{driver_config, IP_A, IP_B, IP_HOST, MAC_HOST, MAC_UPLINK};
use crate::node::{Node, Station};
use crate::service::{Plan, Service, ServicePort, CHANNEL, DEPTH, MSG, PORT_B, VIRTIO_REGION};
use crate::shm_file::volatile_view;
use crate::wire::{cable, WireEnd};

/// Deadline of each check (real time).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// UDP echoes from the host to A during each fault.
pub const A_ECHOES: usize = 10;

/// What the service partition saw go wrong with a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionFault {
    /// The partition's process ended.
    Exited {
        /// Which partition.
        partition: &'static str,
        /// How (`signal: 9 (SIGKILL)`, `exit status: 1`).
        status: String,
    },
    /// The partition's queuing-port channel was refused (a corrupt region).
    Channel {
        /// Which partition.
        partition: &'static str,
        /// The port's typed error.
        error: QueuingEndpointError,
    },
    /// The partition's virtio device refused its driver.
    Device {
        /// Which partition.
        partition: &'static str,
        /// The device's typed error.
        error: ShmDeviceError,
    },
}

impl fmt::Display for PartitionFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionFault::Exited { partition, status } => {
                write!(f, "partition {partition} exited ({status})")
            }
            PartitionFault::Channel { partition, error } => {
                write!(f, "partition {partition}: {error}")
            }
            PartitionFault::Device { partition, error } => {
                write!(f, "partition {partition}: {error}")
            }
        }
    }
}

/// A child partition process, killed by PID when dropped.
pub struct ChildGuard {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ChildGuard {
    /// Spawns `exe --role role --shm prefix`.
    pub fn spawn(
        exe: &Path,
        name: &'static str,
        role: &str,
        prefix: &str,
    ) -> std::io::Result<Self> {
        let mut child = Command::new(exe)
            .args(["--role", role, "--shm", prefix])
            .stdin(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(ChildGuard { name, child, stdin })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a command line to the child.
    pub fn command(&mut self, line: &str) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(s) => {
                writeln!(s, "{line}")?;
                s.flush()
            }
            None => Err(std::io::Error::other("stdin closed")),
        }
    }

    /// Kills the process (SIGKILL to its PID) and reaps it.
    pub fn kill(&mut self) -> std::io::Result<ExitStatus> {
        self.child.kill()?;
        self.child.wait()
    }

    /// Whether it ended, and how.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stdin = None;
        if self.try_wait().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Names of the shared-memory files under `prefix`.
fn names(prefix: &str) -> [String; 3] {
    [
        format!("{prefix}-virtio-a"),
        format!("{prefix}-b-tx"),
        format!("{prefix}-b-rx"),
    ]
}

/// The shared-memory files, unlinked when dropped.
struct Files(Vec<ShmFile>);

impl Drop for Files {
    fn drop(&mut self) {
        for f in &self.0 {
            let _ = f.unlink();
        }
    }
}

/// What the multi-process run showed.
#[derive(Debug, Clone, Default)]
pub struct MultiReport {
    /// Checks that passed.
    pub checks: Vec<String>,
    /// Faults the service partition reported, in order.
    pub faults: Vec<PartitionFault>,
    /// A's echoes that came back after B was killed and after B wrote garbage.
    pub a_during_faults: (usize, usize),
    /// Every child process id (all killed and reaped when the run returns).
    pub pids: Vec<u32>,
    /// The shared-memory files used (all removed when the run returns).
    pub files: Vec<PathBuf>,
}

struct MultiNet<'a> {
    start: Instant,
    service: Service<'a, WireEnd>,
    host: Node<WireEnd>,
    a: ChildGuard,
    b: Option<ChildGuard>,
    b_error: Option<QueuingEndpointError>,
    faults: Vec<PartitionFault>,
}

impl Net for MultiNet<'_> {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn step(&mut self) {
        let now = self.now_ns();
        self.host.poll(now);
        self.service.step(now, &mut NoTap);
        self.watch();
        std::thread::sleep(Duration::from_micros(50));
    }
    fn station(&mut self, who: Who) -> Option<&mut dyn Station> {
        match who {
            Who::Host => Some(&mut self.host),
            _ => None,
        }
    }
}

impl MultiNet<'_> {
    /// The service partition's watch: process exits, channel and device errors.
    fn watch(&mut self) {
        if let Some(b) = self.b.as_mut() {
            if let Some(status) = b.try_wait() {
                let name = b.name;
                self.b = None;
                self.report(PartitionFault::Exited {
                    partition: name,
                    status: status.to_string(),
                });
            }
        }
        if let Some(status) = self.a.try_wait() {
            let f = PartitionFault::Exited {
                partition: self.a.name,
                status: status.to_string(),
            };
            if !self.faults.contains(&f) {
                self.report(f);
            }
        }
        let b_err = self.service.port_b().and_then(|q| q.stats().last_error);
        if b_err.is_some() && b_err != self.b_error {
            self.b_error = b_err;
            if let Some(error) = b_err {
                self.report(PartitionFault::Channel {
                    partition: "B",
                    error,
                });
            }
        }
        if let Some(DeviceState::Failed(error)) = self.service.device_a().map(|d| d.state()) {
            let f = PartitionFault::Device {
                partition: "A",
                error,
            };
            if self.faults.last() != Some(&f) {
                self.report(f);
            }
        }
    }

    fn report(&mut self, f: PartitionFault) {
        println!("service: {f}");
        self.faults.push(f);
    }

    fn wait_for(
        &mut self,
        what: &str,
        mut cond: impl FnMut(&mut Self) -> bool,
    ) -> Result<(), Failure> {
        let t = Instant::now();
        while !cond(self) {
            if t.elapsed() > TIMEOUT {
                return Err(fail(what, "timed out"));
            }
            self.step();
        }
        Ok(())
    }

    fn a_echoes(&mut self, tag: &str) -> usize {
        (0..A_ECHOES)
            .filter(|i| {
                let msg = format!("host to A, {tag} {i}");
                udp_echo(
                    self,
                    Who::Host,
                    IP_A,
                    msg.as_bytes(),
                    TIMEOUT.as_nanos() as u64,
                )
                .is_ok()
            })
            .count()
    }
}

/// Runs the service partition: creates the regions under `prefix`, spawns A and B from
/// `exe`, runs every check and both faults. Children are killed and files unlinked on
/// every exit path.
pub fn run_service(exe: &Path, prefix: &str) -> Result<MultiReport, Failure> {
    let plan = Plan::default();
    let [nv, ntx, nrx] = names(prefix);
    let setup = |e: std::io::Error| fail("set-up", format!("shared memory: {e}"));
    let files = Files(vec![
        ShmFile::create(&nv, VIRTIO_REGION).map_err(setup)?,
        ShmFile::create(&ntx, CHANNEL.region_bytes()).map_err(setup)?,
        ShmFile::create(&nrx, CHANNEL.region_bytes()).map_err(setup)?,
    ]);
    let view = volatile_view(&files.0[0]);
    let (regs, dma) = shm::split(view).ok_or_else(|| fail("set-up", "virtio region"))?;
    let (b_tx, b_rx) = (files.0[1].region(), files.0[2].region());
    for r in [&b_tx, &b_rx] {
        CHANNEL
            .format(r)
            .map_err(|e| fail("set-up", format!("formatting B's channel: {e}")))?;
    }
    let (up, host_end) = cable(MAC_UPLINK, MAC_HOST);
    let service = Service::new(&plan, up, regs, &dma, b_tx, b_rx)
        .map_err(|e| fail("set-up", e.to_string()))?;
    let spawn = |name, role| {
        ChildGuard::spawn(exe, name, role, prefix)
            .map_err(|e| fail("set-up", format!("spawning partition {name}: {e}")))
    };
    let a = spawn("A", "a")?;
    let b = spawn("B", "b")?;
    println!(
        "service: partition A is pid {}, partition B is pid {}",
        a.pid(),
        b.pid()
    );
    let mut net = MultiNet {
        start: Instant::now(),
        service,
        host: Node::new("host", MAC_HOST, IP_HOST, host_end),
        a,
        b: Some(b),
        b_error: None,
        faults: Vec::new(),
    };
    let mut report = MultiReport {
        files: files.0.iter().map(|f| f.path().to_path_buf()).collect(),
        ..MultiReport::default()
    };
    report.pids.extend([net.a.pid()]);
    report.pids.extend(net.b.as_ref().map(|b| b.pid()));
    net.wait_for("A's driver attaches", |n| {
        n.service.device_a().map(|d| d.state()) == Some(DeviceState::Running)
    })?;
    let t = TIMEOUT.as_nanos() as u64;
    for (who, ip) in [("A", IP_A), ("B", IP_B)] {
        ping(&mut net, Who::Host, ip, 1, t)?;
        udp_echo(&mut net, Who::Host, ip, b"hello over shared memory", t)?;
        tcp_echo(&mut net, Who::Host, ip, 10_000, 50_100, t)?;
        report.checks.push(format!(
            "host -> {who}: ping, UDP echo, TCP echo (10000 bytes)"
        ));
    }

    // Fault 1: B is killed.
    let pid = net.b.as_ref().map_or(0, |b| b.pid());
    if let Some(b) = net.b.as_mut() {
        b.kill().map_err(|e| fail("killing B", e.to_string()))?;
    }
    println!("service: killed partition B (pid {pid})");
    net.wait_for("the service reports B's exit", |n| {
        n.faults
            .iter()
            .any(|f| matches!(f, PartitionFault::Exited { partition: "B", .. }))
    })?;
    let after_kill = net.a_echoes("B killed");

    // B restarts on reformatted channels.
    for r in [&b_tx, &b_rx] {
        CHANNEL
            .format(r)
            .map_err(|e| fail("restarting B", format!("reformatting: {e}")))?;
    }
    let receiver = QueuingPortReceiver::attach(b_tx, &CHANNEL)
        .map_err(|e| fail("restarting B", e.to_string()))?;
    let sender = QueuingPortSender::attach(b_rx, &CHANNEL)
        .map_err(|e| fail("restarting B", e.to_string()))?;
    if let Some(p) = net.service.switch.endpoint_mut(PORT_B) {
        *p = ServicePort::Queuing(Box::new(QueuingPortEndpoint::new(receiver, sender)));
    }
    net.b_error = None;
    net.b = Some(spawn("B", "b")?);
    report.pids.extend(net.b.as_ref().map(|b| b.pid()));
    udp_echo(&mut net, Who::Host, IP_B, b"B is back", t)?;
    report
        .checks
        .push("B restarted on reformatted channels: UDP echo".into());

    // Fault 2: B writes garbage into its region.
    if let Some(b) = net.b.as_mut() {
        b.command("garbage")
            .map_err(|e| fail("B writes garbage", e.to_string()))?;
    }
    net.wait_for("the service reports B's corrupt channel", |n| {
        n.faults
            .iter()
            .any(|f| matches!(f, PartitionFault::Channel { partition: "B", .. }))
    })?;
    let after_garbage = net.a_echoes("B corrupt");
    report.a_during_faults = (after_kill, after_garbage);
    report.faults = net.faults.clone();
    if report.a_during_faults != (A_ECHOES, A_ECHOES) {
        return Err(fail(
            "A unaffected by B's faults",
            format!(
                "{after_kill}/{A_ECHOES} echoes after B was killed, {after_garbage}/{A_ECHOES} after B wrote garbage"
            ),
        ));
    }
    if let Some(f) = net.faults.iter().find(|f| {
        matches!(
            f,
            PartitionFault::Exited { partition: "A", .. } | PartitionFault::Device { .. }
        )
    }) {
        return Err(fail("A unaffected by B's faults", f.to_string()));
    }
    drop(net);
    drop(files);
    Ok(report)
}

/// Command of the service to a child, read from its stdin.
const CMD_NONE: u8 = 0;
const CMD_GARBAGE: u8 = 1;
const CMD_EXIT: u8 = 2;

/// Reads commands from stdin on a thread; EOF (the service went away) means exit.
fn commands() -> Arc<AtomicU8> {
    let cmd = Arc::new(AtomicU8::new(CMD_NONE));
    let c = cmd.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line.as_deref() {
                Ok("garbage") => c.store(CMD_GARBAGE, Ordering::Relaxed),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        c.store(CMD_EXIT, Ordering::Relaxed);
    });
    cmd
}

/// Runs partition A (virtio-net over the shared region) until the service goes away.
pub fn run_a(prefix: &str) -> Result<(), String> {
    let plan = Plan::default();
    let [nv, _, _] = names(prefix);
    let shm = ShmFile::open(&nv).map_err(|e| format!("opening {nv}: {e}"))?;
    let (regs, dma) = shm::split(volatile_view(&shm)).ok_or("virtio region too small")?;
    let hal = ShmHal::new(dma);
    let transport = ShmTransport::new(regs).ok_or("register page")?;
    let drv: VirtioNet<'_, _, _, 64, 16> = VirtioNet::new(&hal, transport, driver_config())
        .map_err(|e| format!("virtio-net driver: {e}"))?;
    let mut node = Node::new("A", plan.mac_a, IP_A, drv);
    serve(&mut node, |_| {})
}

/// Runs partition B (queuing-port pair) until the service goes away; after `garbage` it
/// scribbles over its transmit region after every poll.
pub fn run_b(prefix: &str) -> Result<(), String> {
    let plan = Plan::default();
    let [_, ntx, nrx] = names(prefix);
    let tx = ShmFile::open(&ntx).map_err(|e| format!("opening {ntx}: {e}"))?;
    let rx = ShmFile::open(&nrx).map_err(|e| format!("opening {nrx}: {e}"))?;
    let (tx_region, rx_region) = (tx.region(), rx.region());
    let sender: QueuingPortSender<'_, MSG, DEPTH> =
        QueuingPortSender::attach(tx_region, &CHANNEL).map_err(|e| e.to_string())?;
    let receiver = QueuingPortReceiver::attach(rx_region, &CHANNEL).map_err(|e| e.to_string())?;
    let mut node = Node::new("B", plan.mac_b, IP_B, QueuingLink::new(sender, receiver));
    let mut garbage = false;
    serve(&mut node, |cmd| {
        if cmd == CMD_GARBAGE && !garbage {
            garbage = true;
            eprintln!("partition B: writing garbage into its transmit region from now on");
        }
        // A hostile partition keeps at it (its own stack would otherwise publish valid
        // indices again).
        if garbage {
            for (i, w) in tx_region.words().iter().enumerate() {
                w.store(0xdead_0000 | i as u32, Ordering::Relaxed);
            }
        }
    })
}

/// Polls `node` until the service goes away; `after_poll` gets the command received (or
/// `CMD_NONE`).
fn serve(node: &mut dyn Station, mut on_command: impl FnMut(u8)) -> Result<(), String> {
    let cmd = commands();
    let start = Instant::now();
    loop {
        let c = cmd.swap(CMD_NONE, Ordering::Relaxed);
        if c == CMD_EXIT {
            return Ok(());
        }
        node.poll(start.elapsed().as_nanos() as u64);
        on_command(c);
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// A fresh prefix for this process's shared-memory files.
pub fn default_prefix() -> String {
    format!("partnet-{}", std::process::id())
}

/// The path of the running executable (children are spawned from it).
pub fn current_exe() -> Result<PathBuf, Failure> {
    std::env::current_exe().map_err(|e| fail("set-up", format!("own executable: {e}")))
}
