//! Step `vhost`: real Linux guests under QEMU (TCG) on the vhost-user backend of
//! `partnet-vswitchd` (examples/src/bin/partnet-vswitchd.rs).
//!
//! 1. QEMU (`qemu-system-x86_64`) is installed when missing (`apt-get update`, then
//!    `apt-get install -y --no-install-recommends qemu-system-x86`, as root).
//! 2. The guest: Debian's `linux-image-amd64` (the versioned package it depends on) and
//!    `busybox-static`, fetched with `apt-get download` (no root needed) and unpacked with
//!    `dpkg-deb -x` into `target/vhost-guest/` (kept: later runs skip this). An initramfs
//!    (cpio newc, written here) holds busybox, the virtio modules (loaded in the order
//!    virtio_ring, virtio, virtio_pci_legacy_dev, virtio_pci_modern_dev, virtio_pci,
//!    failover, net_failover, virtio_net) and `/init`, which brings `eth0` up with the
//!    address from the kernel command line and runs the checks, printing `PARTNET ...`
//!    lines on the serial console.
//! 3. `partnet-vswitchd` starts first (QEMU is the socket client) with two VM sockets and
//!    the hosted demo's two in-process partitions, each with a TCP sink on port 5000:
//!    partition A (10.0.0.2, smoltcp on virtio-net over shared memory) and partition B
//!    (10.0.0.3, smoltcp on a queuing-port pair). Then two guests: each pings partition A
//!    and partition B, sends `seq 1 170000` (1 078 895 bytes) over TCP to its partition
//!    (guest A to partition A, guest B to partition B) and pings the other guest. Each
//!    sink's byte count and FNV-1a digest must equal those of the bytes sent. A's device
//!    has `packed=on`
//!    (packed virtqueues), B's `packed=off` (split): one boot covers both ring layouts
//!    and the forwarding between them; the daemon logs the negotiated layout at each
//!    start of a port's rings and the step checks it (A packed, B split).
//! 4. QEMU and the daemon are killed by their PIDs on every exit path (a guard's `Drop`);
//!    the daemon gets SIGTERM first and prints its statistics table. Logs stay in
//!    `target/vhost-guest/run/`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{cargo, Run};

const QEMU: &str = "qemu-system-x86_64";
const DIR: &str = "target/vhost-guest";
/// The whole scenario must finish within this (QEMU and the daemon are killed then).
const LIMIT: Duration = Duration::from_secs(240);
/// What guest A sends: `seq 1 SEQ_END`.
const SEQ_END: u32 = 170_000;
const MODULES: &[&str] = &[
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "failover",
    "net_failover",
    "virtio_net",
];

pub fn vhost(run: &mut Run) {
    let t0 = Instant::now();
    if !ensure_qemu(run) {
        return;
    }
    let guest = match prepare_guest() {
        Ok(g) => g,
        Err(e) => return run.fail("vhost: guest", &e),
    };
    println!(
        "xtask: guest kernel and initramfs ready in {:.1} s",
        t0.elapsed().as_secs_f32()
    );
    if !run.step(
        "vhost: build partnet-vswitchd",
        cargo(&[
            "build",
            "-p",
            "partnet-examples",
            "--bin",
            "partnet-vswitchd",
        ]),
    ) {
        return;
    }
    let t = Instant::now();
    match scenario(&guest) {
        Ok(summary) => {
            let secs = t.elapsed().as_secs_f32();
            println!("{summary}");
            println!("===== xtask: vhost guests: ok ({secs:.1} s) =====");
            run.passed.push(format!(
                "vhost guests ({secs:.1} s; whole step {:.1} s)",
                t0.elapsed().as_secs_f32()
            ));
        }
        Err(e) => run.fail("vhost guests", &e),
    }
}

fn ensure_qemu(run: &mut Run) -> bool {
    crate::qemu::ensure_tool(run, QEMU, "--version", "qemu-system-x86")
}

struct Guest {
    kernel: PathBuf,
    initrd: PathBuf,
}

fn sh(cmd: &str, dir: &Path) -> Result<String, String> {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Downloads and unpacks the kernel and busybox once, builds the initramfs when missing.
fn prepare_guest() -> Result<Guest, String> {
    let dir = Path::new(DIR);
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let kdir = dir.join("kernel");
    let bdir = dir.join("busybox");
    if !kdir.join("boot").exists() {
        // The meta package names the versioned image package.
        let mut deps = sh("apt-cache depends linux-image-amd64", dir).unwrap_or_default();
        if !deps.contains("Depends: linux-image-") && crate::qemu::is_root() {
            sh("apt-get update -qq", dir)?;
            deps = sh("apt-cache depends linux-image-amd64", dir)?;
        }
        let pkg = deps
            .lines()
            .find_map(|l| l.trim().strip_prefix("Depends: "))
            .filter(|p| p.starts_with("linux-image-"))
            .ok_or("cannot resolve linux-image-amd64 (run apt-get update)")?
            .to_string();
        sh(&format!("apt-get download {pkg}"), dir)?;
        sh(&format!("dpkg-deb -x {pkg}_*.deb kernel"), dir)?;
    }
    if !bdir.join("bin/busybox").exists() {
        sh("apt-get download busybox-static", dir)?;
        sh("dpkg-deb -x busybox-static_*.deb busybox", dir)?;
    }
    let kernel = fs::read_dir(kdir.join("boot"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz"))
        })
        .ok_or("no vmlinuz in the kernel package")?;
    let initrd = dir.join("initrd.cpio");
    let init = init_script();
    let stamp = dir.join("initrd.stamp");
    if !initrd.exists() || fs::read_to_string(&stamp).ok().as_deref() != Some(init.as_str()) {
        build_initrd(&kdir, &bdir, &initrd, &init)?;
        fs::write(&stamp, &init).map_err(|e| e.to_string())?;
    }
    Ok(Guest { kernel, initrd })
}

fn init_script() -> String {
    let mods = MODULES.join(" ");
    format!(
        r#"#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in {mods}; do insmod /lib/modules/$m.ko || echo "PARTNET FAIL insmod $m"; done
for x in $(cat /proc/cmdline); do
  case "$x" in partnet.*=*) k=${{x%%=*}}; k=${{k#partnet.}}; eval "P_$k=${{x#*=}}";; esac
done
ip link set lo up
ip link set eth0 up || echo "PARTNET FAIL no eth0"
ip addr add "$P_ip/24" dev eth0
echo "PARTNET up $P_ip"
retry() {{ i=0; while [ $i -lt 90 ]; do "$@" >/dev/null 2>&1 && return 0; i=$((i+1)); sleep 1; done; return 1; }}
for p in "$P_pa" "$P_pb"; do
  if retry ping -c 1 -W 1 "$p" && ping -c 3 -W 2 "$p"; then echo "PARTNET ping-partition $p ok"; else echo "PARTNET FAIL ping-partition $p"; fi
done
seq 1 {SEQ_END} > /tmp/blob
s=$(date +%s)
if nc "$P_sink" 5000 < /tmp/blob; then echo "PARTNET tcp-sent $(wc -c < /tmp/blob) bytes to $P_sink in $(( $(date +%s) - s )) s"; else echo "PARTNET FAIL tcp to $P_sink"; fi
if retry ping -c 1 -W 1 "$P_peer" && ping -c 3 -W 2 "$P_peer"; then echo "PARTNET ping-peer ok"; else echo "PARTNET FAIL ping-peer"; fi
echo "PARTNET done"
while true; do sleep 60; done
"#
    )
}

/// A cpio "newc" archive writer.
struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }
}

fn build_initrd(kdir: &Path, bdir: &Path, out: &Path, init: &str) -> Result<(), String> {
    let mut c = Cpio {
        out: Vec::new(),
        ino: 0,
    };
    for d in ["bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules"] {
        c.entry(d, 0o040755, (0, 0), &[]);
    }
    c.entry("dev/console", 0o020600, (5, 1), &[]);
    let busybox = fs::read(bdir.join("bin/busybox")).map_err(|e| format!("busybox: {e}"))?;
    c.entry("bin/busybox", 0o100755, (0, 0), &busybox);
    c.entry("init", 0o100755, (0, 0), init.as_bytes());
    let find = sh("find lib/modules -name '*.ko*'", kdir)?;
    for m in MODULES {
        let path = find
            .lines()
            .find(|l| {
                let f = l.rsplit('/').next().unwrap_or("");
                f == format!("{m}.ko") || f.starts_with(&format!("{m}.ko."))
            })
            .ok_or(format!("module {m} not in the kernel package"))?;
        let bytes = if path.ends_with(".xz") {
            sh_bytes(&format!("xz -dc {path}"), kdir)?
        } else if path.ends_with(".zst") {
            sh_bytes(&format!("zstd -dc {path}"), kdir)?
        } else {
            fs::read(kdir.join(path)).map_err(|e| e.to_string())?
        };
        c.entry(&format!("lib/modules/{m}.ko"), 0o100644, (0, 0), &bytes);
    }
    c.entry("TRAILER!!!", 0, (0, 0), &[]);
    fs::write(out, &c.out).map_err(|e| e.to_string())
}

fn sh_bytes(cmd: &str, dir: &Path) -> Result<Vec<u8>, String> {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .current_dir(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!("`{cmd}` failed"))
    }
}

/// Child processes killed by PID when dropped (every exit path).
#[derive(Default)]
struct Procs(Vec<(&'static str, Child)>);

impl Procs {
    fn signal(&self, name: &str, sig: &str) {
        for (n, c) in &self.0 {
            if *n == name {
                let _ = Command::new("kill")
                    .args([sig, &c.id().to_string()])
                    .status();
            }
        }
    }

    fn wait_exit(&mut self, name: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let done = self
                .0
                .iter_mut()
                .filter(|(n, _)| *n == name)
                .all(|(_, c)| matches!(c.try_wait(), Ok(Some(_))));
            if done {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct Vm {
    name: &'static str,
    mac: &'static str,
    ip: &'static str,
    peer: &'static str,
    /// The partition its TCP transfer goes to (its name in the daemon's log, its IP).
    sink: (&'static str, &'static str),
    /// `packed=on` on its virtio-net-pci device (VIRTIO_F_RING_PACKED).
    packed: bool,
}

const VMS: [Vm; 2] = [
    Vm {
        name: "a",
        mac: "52:54:00:00:00:0a",
        ip: "10.0.0.11",
        peer: "10.0.0.12",
        sink: ("A", PARTITION_A_IP),
        packed: true,
    },
    Vm {
        name: "b",
        mac: "52:54:00:00:00:0b",
        ip: "10.0.0.12",
        peer: "10.0.0.11",
        sink: ("B", PARTITION_B_IP),
        packed: false,
    },
];
/// Partition A (virtio-net over shared memory).
const PARTITION_A_IP: &str = "10.0.0.2";
/// Partition B (queuing-port pair).
const PARTITION_B_IP: &str = "10.0.0.3";

fn scenario(guest: &Guest) -> Result<String, String> {
    let rundir = Path::new(DIR).join("run");
    let _ = fs::remove_dir_all(&rundir);
    fs::create_dir_all(&rundir).map_err(|e| e.to_string())?;
    let abs = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let rundir = abs(&rundir);
    let mut procs = Procs::default();

    // The backend first: QEMU is the socket client.
    let mut cmd = Command::new("target/debug/partnet-vswitchd");
    for vm in &VMS {
        cmd.arg("--vm")
            .arg(format!("{}/{}.sock,{}", rundir.display(), vm.name, vm.mac));
    }
    cmd.args([
        "--partition-a",
        &format!("02:00:00:00:00:02,{PARTITION_A_IP}/24,5000"),
        "--partition-b",
        &format!("02:00:00:00:00:03,{PARTITION_B_IP}/24,5000"),
        "--pcap",
    ])
    .arg(rundir.join("monitor.pcap"))
    .stdout(File::create(rundir.join("vswitchd.out")).map_err(|e| e.to_string())?)
    .stderr(File::create(rundir.join("vswitchd.log")).map_err(|e| e.to_string())?);
    procs.0.push((
        "vswitchd",
        cmd.spawn().map_err(|e| format!("vswitchd: {e}"))?,
    ));
    let t = Instant::now();
    while !VMS
        .iter()
        .all(|vm| rundir.join(format!("{}.sock", vm.name)).exists())
    {
        if t.elapsed() > Duration::from_secs(10) {
            return Err("vswitchd did not create its sockets".into());
        }
        thread::sleep(Duration::from_millis(20));
    }

    let start = Instant::now();
    for vm in &VMS {
        let append = format!(
            "console=ttyS0 quiet panic=-1 partnet.role={} partnet.ip={} partnet.pa={PARTITION_A_IP} partnet.pb={PARTITION_B_IP} partnet.sink={} partnet.peer={}",
            vm.name, vm.ip, vm.sink.1, vm.peer
        );
        let mut q = Command::new(QEMU);
        q.args([
            "-accel",
            "tcg",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
        ])
        .args(["-no-reboot", "-m", "256M", "-smp", "1"])
        .args(["-object", "memory-backend-memfd,id=mem,size=256M,share=on"])
        .args(["-numa", "node,memdev=mem"])
        .arg("-kernel")
        .arg(&guest.kernel)
        .arg("-initrd")
        .arg(&guest.initrd)
        .args(["-append", &append])
        .arg("-serial")
        .arg(format!("file:{}/guest-{}.log", rundir.display(), vm.name))
        .arg("-chardev")
        .arg(format!(
            "socket,id=c0,path={}/{}.sock",
            rundir.display(),
            vm.name
        ))
        .args(["-netdev", "vhost-user,id=n0,chardev=c0"])
        .args([
            "-device",
            &format!(
                "virtio-net-pci,netdev=n0,mac={},vectors=0,packed={}",
                vm.mac,
                if vm.packed { "on" } else { "off" }
            ),
        ])
        .stdout(Stdio::null())
        .stderr(
            File::create(rundir.join(format!("qemu-{}.err", vm.name)))
                .map_err(|e| e.to_string())?,
        );
        procs
            .0
            .push(("qemu", q.spawn().map_err(|e| format!("{QEMU}: {e}"))?));
    }

    let blob: Vec<u8> = (1..=SEQ_END)
        .flat_map(|n| format!("{n}\n").into_bytes())
        .collect();
    let sent = format!("{} bytes fnv1a64 {:#018x}", blob.len(), fnv1a64(&blob));
    // Each guest's transfer, as its partition logs it.
    let wants: Vec<String> = VMS
        .iter()
        .map(|vm| format!("{}: tcp transfer: {sent}", vm.sink.0))
        .collect();
    let read = |f: &str| fs::read_to_string(rundir.join(f)).unwrap_or_default();
    let outcome = loop {
        let (a, b, d) = (
            read("guest-a.log"),
            read("guest-b.log"),
            read("vswitchd.log"),
        );
        if let Some(l) = a
            .lines()
            .chain(b.lines())
            .find(|l| l.contains("PARTNET FAIL"))
        {
            break Err(format!("a guest failed: {l}"));
        }
        if let Some(l) = d
            .lines()
            .find(|l| l.contains("tcp transfer:") && !wants.iter().any(|w| l.starts_with(w)))
        {
            break Err(format!(
                "a partition got other bytes than sent (want one of {wants:?}): {l}"
            ));
        }
        if a.contains("PARTNET done")
            && b.contains("PARTNET done")
            && wants.iter().all(|w| d.contains(w))
        {
            break Ok(());
        }
        if start.elapsed() > LIMIT {
            break Err(format!("not done within {} s", LIMIT.as_secs()));
        }
        if procs
            .0
            .iter_mut()
            .any(|(_, c)| matches!(c.try_wait(), Ok(Some(_))))
        {
            break Err("QEMU or vswitchd exited early".into());
        }
        thread::sleep(Duration::from_millis(200));
    };
    let guests_secs = start.elapsed().as_secs_f32();
    // QEMU first (by PID), then the daemon gets SIGTERM and prints its table.
    for (n, c) in &mut procs.0 {
        if *n == "qemu" {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    procs.signal("vswitchd", "-TERM");
    let exited = procs.wait_exit("vswitchd", Duration::from_secs(5));
    drop(procs);

    let (a, b, d, table) = (
        read("guest-a.log"),
        read("guest-b.log"),
        read("vswitchd.log"),
        read("vswitchd.out"),
    );
    let partnet_lines = |s: &str| {
        s.lines()
            .filter(|l| l.contains("PARTNET"))
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let report = format!(
        "guest A:\n{}\nguest B:\n{}\nvswitchd log:\n{}\nvswitchd statistics:\n{}",
        partnet_lines(&a),
        partnet_lines(&b),
        d.lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
        table
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    println!("{report}");
    outcome?;
    if !exited || !table.contains("partnet-vswitchd statistics") {
        return Err("vswitchd did not print its statistics on SIGTERM".into());
    }
    // The monitor saw the traffic: a pcap header (24 bytes) and frames behind it.
    let pcap = fs::metadata(rundir.join("monitor.pcap")).map_or(0, |m| m.len());
    if pcap < 24 + 1_000_000 {
        return Err(format!("the monitor pcap holds only {pcap} bytes"));
    }
    // Each guest's rings ran in the layout its device asked for (the daemon logs the
    // negotiated layout at every start): A packed, B split.
    for (i, vm) in VMS.iter().enumerate() {
        let prefix = format!("vm{i}: rings running (");
        let layouts: Vec<&str> = d.lines().filter_map(|l| l.strip_prefix(&prefix)).collect();
        let want = if vm.packed { "packed)" } else { "split)" };
        if layouts.is_empty() || layouts.iter().any(|l| *l != want) {
            return Err(format!(
                "guest {} should run {want} rings; the daemon logged {layouts:?}",
                vm.name
            ));
        }
    }
    // Killing QEMU disconnects its frontend; any other cut-off is a failure.
    if let Some(l) = d
        .lines()
        .find(|l| l.contains("cut off") && !l.contains("frontend disconnected"))
    {
        return Err(format!("a well-behaved guest was cut off: {l}"));
    }
    Ok(format!(
        "xtask: two guests booted and passed in {guests_secs:.1} s (logs in {})",
        rundir.display()
    ))
}
