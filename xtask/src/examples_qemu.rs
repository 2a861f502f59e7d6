//! Step `examples-qemu`: the bare-metal four-partition image (`examples/bare-metal`)
//! under QEMU with a real Linux peer, once with virtio-net (virtio-mmio) and once with
//! e1000. Needs root; without it the step fails and says so.
//!
//! Per NIC:
//!
//! 1. a network namespace `partnet-<pid>-<nic>` with a TAP device `tap0` inside it,
//!    address 10.77.0.1/24 (a private subnet that exists only inside the namespace);
//! 2. QEMU started inside the namespace (`ip netns exec`, which execs QEMU: the child's
//!    PID is QEMU's) on that TAP (`-netdev tap,ifname=tap0,script=no,downscript=no`),
//!    kernel command line `a=10.77.0.10 b=10.77.0.11 peer=10.77.0.1 serve=… pings=3
//!    tcp=1`;
//! 3. once the image prints `partnet: ready`, from the namespace: Linux takes partition
//!    A's MAC and pings B (no reply allowed: the switch drops the spoofed frames at the
//!    uplink; the image's final table must count them), gets its own MAC back, then
//!    `ping -c 3` to both
//!    partitions (all three replies required) and a TCP echo to port 7 of each (this
//!    binary re-run inside the namespace as `xtask netns-tcp-echo ADDR`: 20 000 bytes
//!    sent, the same bytes back, then EOF);
//! 4. QEMU must exit with status 0 (the image's own checks, ending with the sifive test
//!    device) within 60 s of its start, and the UART log must say so.
//!
//! The namespace (with its TAP device) and QEMU (by its PID) are removed on every path,
//! including failures and panics (`netns::Sandbox`'s `Drop`; the pings and echoes are
//! `netns::peer_checks`, shared with `examples-tap`). Logs: `target/qemu/examples-*.log`.

use std::fs::{self, File};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use crate::netns::{self, Sandbox};
use crate::qemu::{self, LIMIT, LOG_DIR, QEMU, VIRT_ARGS};
use crate::Run;

const IMAGE_DIR: &str = "examples/bare-metal";
const IMAGE: &str =
    "examples/bare-metal/target/riscv64gc-unknown-none-elf/release/partnet-bare-metal";
/// The namespace's side of the link, and the two partitions.
const PEER: &str = "10.77.0.1";
const PREFIX: &str = "24";
const PARTITIONS: [(&str, &str); 2] = [("A", "10.77.0.10"), ("B", "10.77.0.11")];
/// Seconds the image serves the peer before it gives up (inside [`LIMIT`]).
const SERVE_S: u32 = 40;
const TAP: &str = "tap0";
/// Partition A's MAC (the image's `MAC_A`), which the hostile Linux peer borrows.
const PARTITION_A_MAC: &str = "02:00:00:00:00:0a";

/// A NIC configuration: the image's `nic=` word and QEMU's device arguments.
struct Nic {
    name: &'static str,
    device: &'static [&'static str],
}

const NICS: &[Nic] = &[
    Nic {
        name: "virtio-mmio",
        device: &[
            "-global",
            "virtio-mmio.force-legacy=false",
            "-device",
            "virtio-net-device,netdev=n0,mac=52:54:00:77:00:01",
        ],
    },
    Nic {
        name: "e1000",
        device: &["-device", "e1000,netdev=n0,romfile=,mac=52:54:00:77:00:02"],
    },
];

/// Lines every passing run prints.
const EXPECTED: &[&str] = &[
    "partnet: monitor saw every echo reply of the self-checks",
    "partnet: spoof from A with B's source address: dropped (spoofed)",
    "partnet: served the peer",
    "partnet: PASS",
];

/// The whole step.
pub fn examples_qemu(run: &mut Run) {
    if !qemu::is_root() {
        run.fail(
            "examples-qemu",
            "needs root: it creates a network namespace with a TAP device and runs QEMU \
             inside it; run `cargo xtask test examples-qemu` as root \
             (`cargo test --workspace` runs everything else unprivileged)",
        );
        return;
    }
    if !qemu::ensure_qemu(run)
        || !qemu::ensure_tool(run, "ip", "-V", "iproute2")
        || !qemu::ensure_tool(run, "ping", "-V", "iputils-ping")
    {
        return;
    }
    if !qemu::build_image(run, "examples-qemu: build the bare-metal image", IMAGE_DIR) {
        return;
    }
    for nic in NICS {
        let name = format!(
            "examples-qemu: {} with a Linux peer in a namespace",
            nic.name
        );
        println!("\n===== xtask: {name} =====");
        match boot(nic) {
            Ok(secs) => {
                println!(
                    "===== xtask: {name}: ok (QEMU {secs:.1} s, limit {} s) =====",
                    LIMIT.as_secs()
                );
                run.passed.push(format!("{name} (QEMU {secs:.1} s)"));
            }
            Err(why) => run.fail(&name, &why),
        }
    }
}

/// One NIC: namespace, QEMU, the peer's pings and echoes, QEMU's verdict. Returns the
/// seconds QEMU ran.
fn boot(nic: &Nic) -> Result<f32, String> {
    let log_path = Path::new(LOG_DIR).join(format!("examples-{}.log", nic.name));
    let result = boot_logged(nic, &log_path);
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    for l in text.lines().filter(|l| l.starts_with("partnet:")) {
        println!("    {l}");
    }
    if result.is_err() {
        println!("xtask: full UART log in {}", log_path.display());
    }
    result
}

fn boot_logged(nic: &Nic, log_path: &Path) -> Result<f32, String> {
    let log =
        File::create(log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let mut sb = Sandbox::create(
        format!("partnet-{}-{}", std::process::id(), nic.name),
        TAP,
        &format!("{PEER}/{PREFIX}"),
        "QEMU",
    )?;
    let append = format!(
        "nic={} a={} b={} peer={PEER} prefix={PREFIX} serve={SERVE_S} pings=3 tcp=1",
        nic.name, PARTITIONS[0].1, PARTITIONS[1].1
    );
    let netdev = format!("tap,id=n0,ifname={TAP},script=no,downscript=no,vnet_hdr=off");
    let mut args: Vec<&str> = vec![QEMU];
    args.extend_from_slice(VIRT_ARGS);
    args.extend_from_slice(&["-netdev", &netdev]);
    args.extend_from_slice(nic.device);
    args.extend_from_slice(&["-kernel", IMAGE, "-append", &append]);
    let mut cmd = sb.exec(&args);
    cmd.stdin(Stdio::null())
        .stderr(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
        .stdout(Stdio::from(log));
    let start = Instant::now();
    sb.spawn(cmd)?;

    // Wait for the image to finish its self-checks and start serving.
    sb.wait_for_line(log_path, "partnet: ready", start, LIMIT)?;

    // The Linux peer turns hostile first: with partition A's MAC as its own source
    // address nothing it sends may get through (the switch drops it as spoofed at the
    // uplink), so a ping to B gets no reply.
    let mut problems = Vec::new();
    if let Err(e) = spoof_from_linux(&sb) {
        problems.push(e);
    }

    // The Linux peer: ping and TCP echo to both partitions, from inside the namespace.
    problems.extend(netns::peer_checks(&sb, &PARTITIONS, false));

    let status = qemu::wait_or_kill(
        sb.child.as_mut().expect("spawned above"),
        "QEMU",
        start,
        LIMIT,
    );
    let secs = start.elapsed().as_secs_f32();
    let text = fs::read_to_string(log_path).unwrap_or_default();
    match status {
        None => problems.push(format!("QEMU timed out after {secs:.1} s")),
        Some(s) if !s.success() => {
            problems.push(format!("QEMU exit status {s} (the image's failure code)"))
        }
        Some(_) => {
            if let Some(l) = EXPECTED.iter().find(|l| !text.contains(*l)) {
                problems.push(format!("the UART log lacks \"{l}\""));
            }
        }
    }
    drop(sb);
    let spoofed = text
        .lines()
        .find_map(|l| l.strip_prefix("partnet: uplink drops: "))
        .and_then(|l| l.strip_suffix(" x spoofed source address"))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if spoofed == 0 {
        problems.push("the image counted no spoofed frame from the uplink".to_string());
    } else {
        println!("xtask: the switch dropped {spoofed} spoofed frames from Linux at the uplink");
    }
    if problems.is_empty() {
        Ok(secs)
    } else {
        Err(problems.join("; "))
    }
}

/// Linux takes partition A's MAC for a moment and pings B: no reply may come back (the
/// switch drops every frame from the uplink whose source is a partition's address). The
/// TAP device gets its own address back and forgets the failed neighbour entries.
fn spoof_from_linux(sb: &Sandbox) -> Result<(), String> {
    let path = format!("/sys/class/net/{TAP}/address");
    let own = sb.exec_ok(&["cat", &path])?.trim().to_string();
    sb.exec_ok(&["ip", "link", "set", "dev", TAP, "address", PARTITION_A_MAC])?;
    let attempt = sb
        .exec(&["ping", "-c", "2", "-i", "0.2", "-W", "1", PARTITIONS[1].1])
        .stdin(Stdio::null())
        .output();
    let restored = sb
        .exec_ok(&["ip", "link", "set", "dev", TAP, "address", &own])
        .and_then(|_| sb.exec_ok(&["ip", "neigh", "flush", "dev", TAP]));
    let out = attempt.map_err(|e| format!("cannot run ping: {e}"))?;
    restored?;
    let text = String::from_utf8_lossy(&out.stdout);
    if out.status.success() || !text.contains(" 0 received") {
        return Err(format!(
            "ping from Linux with partition A's MAC got through: {}",
            text.trim()
        ));
    }
    println!(
        "xtask: Linux with partition A's MAC ({PARTITION_A_MAC}): ping {} got no reply, as it must",
        PARTITIONS[1].1
    );
    Ok(())
}
