//! Step `qemu`: the bare-metal riscv64 selftest image of nic-drivers under QEMU, once per
//! NIC configuration, and the root-only TAP test.
//!
//! 1. QEMU (`qemu-system-riscv64`) is installed when missing (`apt-get update`, then
//!    `apt-get install -y --no-install-recommends qemu-system-misc`, as root); without
//!    root the step fails and says what to install.
//! 2. `nic-drivers/selftest` is built in release (its own workspace and
//!    `.cargo/config.toml`: target `riscv64gc-unknown-none-elf`).
//! 3. The image boots on `virt` (TCG, OpenSBI `-bios default`, user networking) with
//!    virtio-mmio modern, virtio-mmio legacy, virtio-pci and e1000. Each run has a
//!    deadline (the QEMU process is killed by its PID), must exit with status 0 (the
//!    image's "pass" through the sifive test device), must print the expected UART lines
//!    and must take less than 60 s. The UART log is kept in `target/qemu/<name>.log`.
//! 4. The TAP driver's test (`#[ignore]`d in plain `cargo test`: it needs root for its
//!    network namespace) runs with `--ignored`.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{cargo, Run};

pub(crate) const QEMU: &str = "qemu-system-riscv64";
const SELFTEST_DIR: &str = "nic-drivers/selftest";
const IMAGE: &str = "nic-drivers/selftest/target/riscv64gc-unknown-none-elf/release/nic-selftest";
pub(crate) const LOG_DIR: &str = "target/qemu";
/// A run must finish within this (the bound); QEMU is killed at the deadline.
pub(crate) const LIMIT: Duration = Duration::from_secs(60);

/// The machine every bare-metal image runs on: riscv64 `virt`, TCG, OpenSBI, one core,
/// UART on stdio, no reboot (the sifive test device's exit ends QEMU).
pub(crate) const VIRT_ARGS: &[&str] = &[
    "-machine",
    "virt",
    "-accel",
    "tcg",
    "-nographic",
    "-bios",
    "default",
    "-m",
    "128M",
    "-smp",
    "1",
    "-no-reboot",
];

/// One NIC configuration: `-append` NIC name, MAC, QEMU device arguments, and the UART
/// line that proves the expected transport was found.
struct Config {
    name: &'static str,
    mac: &'static str,
    device: &'static [&'static str],
    transport_line: &'static str,
}

const CONFIGS: &[Config] = &[
    Config {
        name: "virtio-mmio-modern",
        mac: "52:54:00:00:00:01",
        device: &[
            "-global",
            "virtio-mmio.force-legacy=false",
            "-device",
            "virtio-net-device,netdev=n0",
        ],
        transport_line: "selftest: virtio-mmio modern (version 2) net at",
    },
    Config {
        name: "virtio-mmio-packed",
        mac: "52:54:00:00:00:05",
        device: &[
            "-global",
            "virtio-mmio.force-legacy=false",
            "-device",
            "virtio-net-device,netdev=n0,packed=on",
        ],
        transport_line: "selftest: ring layout packed",
    },
    Config {
        name: "virtio-mmio-legacy",
        mac: "52:54:00:00:00:02",
        device: &[
            "-global",
            "virtio-mmio.force-legacy=true",
            "-device",
            "virtio-net-device,netdev=n0",
        ],
        transport_line: "selftest: virtio-mmio legacy (version 1) net at",
    },
    Config {
        name: "virtio-pci",
        mac: "52:54:00:00:00:03",
        device: &["-device", "virtio-net-pci,netdev=n0,romfile="],
        transport_line: "selftest: virtio-pci net 1af4:",
    },
    Config {
        name: "e1000",
        mac: "52:54:00:00:00:04",
        device: &["-device", "e1000,netdev=n0,romfile="],
        transport_line: "selftest: e1000 at",
    },
];

/// Lines every passing run prints (after the transport line).
const EXPECTED: &[&str] = &[
    "selftest: mac ok",
    "selftest: arp reply ok",
    "selftest: echo reply ok",
    "selftest: PASS",
];

/// The whole step.
pub fn qemu(run: &mut Run) {
    if !ensure_qemu(run) {
        return;
    }
    if !build_image(run, "qemu: build selftest image", SELFTEST_DIR) {
        return;
    }
    for c in CONFIGS {
        boot(run, c);
    }
    if !is_root() {
        run.fail(
            "qemu: TAP test",
            "needs root (it creates a network namespace and a TAP interface inside it); \
             run `cargo xtask test qemu` as root",
        );
        return;
    }
    if !ensure_tool(run, "ip", "-V", "iproute2") {
        return;
    }
    run.step(
        "qemu: TAP test (private network namespace)",
        cargo(&[
            "test",
            "--package",
            "nic-drivers",
            "--features",
            "std",
            "--test",
            "tap",
            "--",
            "--ignored",
        ]),
    );
}

pub(crate) fn is_root() -> bool {
    // The effective uid is the second field of `Uid:` in /proc/self/status.
    fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Builds a bare-metal image crate (its own workspace, release) and makes the log folder.
pub(crate) fn build_image(run: &mut Run, step: &str, dir: &str) -> bool {
    let mut build = cargo(&["build", "--release"]);
    build.current_dir(dir);
    let ok = run.step(step, build);
    let _ = fs::create_dir_all(LOG_DIR);
    ok
}

/// Whether `tool arg` starts and succeeds (e.g. `qemu-system-riscv64 --version`).
fn have_tool(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure QEMU is installed (apt-get as root), or fails the step saying what to do.
pub(crate) fn ensure_qemu(run: &mut Run) -> bool {
    ensure_tool(run, QEMU, "--version", "qemu-system-misc")
}

/// Makes sure `tool` runs (`tool arg` succeeds); installs Debian `package` with apt-get
/// when it is missing and we are root, else fails the step saying what to install.
pub(crate) fn ensure_tool(run: &mut Run, tool: &str, arg: &str, package: &str) -> bool {
    if have_tool(tool, arg) {
        return true;
    }
    if !is_root() {
        run.fail(
            &format!("install {package}"),
            &format!(
                "{tool} is missing; install it as root with \
                 `apt-get update && apt-get install -y --no-install-recommends {package}`"
            ),
        );
        return false;
    }
    println!("xtask: {tool} is missing; installing {package} with apt-get");
    let mut update = Command::new("apt-get");
    update.arg("update");
    if !run.step("apt-get update", update) {
        return false;
    }
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "--no-install-recommends", package]);
    install.env("DEBIAN_FRONTEND", "noninteractive");
    run.step(&format!("apt-get install {package}"), install) && have_tool(tool, arg)
}

/// Waits for `child` (`what`: its name in messages) until `limit` has passed since
/// `start`; at the deadline kills it by its PID and reaps it. `None` means it was killed.
pub(crate) fn wait_or_kill(
    child: &mut Child,
    what: &str,
    start: Instant,
    limit: Duration,
) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if start.elapsed() < limit => thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => {
                println!(
                    "xtask: no exit after {} s, killing {what} pid {}",
                    limit.as_secs(),
                    child.id()
                );
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Boots the image with one NIC configuration and checks the result.
fn boot(run: &mut Run, c: &Config) {
    let name = format!("qemu: selftest {}", c.name);
    println!("\n===== xtask: {name} =====");
    let log_path = Path::new(LOG_DIR).join(format!("{}.log", c.name));
    let log = match File::create(&log_path) {
        Ok(f) => f,
        Err(e) => return run.fail(&name, &format!("cannot create {}: {e}", log_path.display())),
    };
    let netdev_device: Vec<String> = c
        .device
        .iter()
        .map(|a| {
            if a.contains("netdev=n0") {
                format!("{a},mac={}", c.mac)
            } else {
                (*a).to_string()
            }
        })
        .collect();
    let mut cmd = Command::new(QEMU);
    cmd.args(VIRT_ARGS)
        .args(["-netdev", "user,id=n0"])
        .args(&netdev_device)
        .args(["-kernel", IMAGE])
        .args(["-append", &format!("nic={} mac={}", c.name, c.mac)])
        .stdin(Stdio::null())
        .stderr(Stdio::from(log.try_clone().expect("log file handle")))
        .stdout(Stdio::from(log));
    println!("$ {cmd:?}");
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(ch) => ch,
        Err(e) => return run.fail(&name, &format!("cannot start {QEMU}: {e}")),
    };
    let status = wait_or_kill(&mut child, QEMU, start, LIMIT);
    let secs = start.elapsed().as_secs_f32();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let problem = match status {
        None => Some(format!("timed out after {secs:.1} s")),
        Some(s) if !s.success() => Some(format!("QEMU exit status {s} (the image's failure code)")),
        Some(_) => std::iter::once(c.transport_line)
            .chain(EXPECTED.iter().copied())
            .find(|l| !text.contains(l))
            .map(|l| format!("the UART log lacks \"{l}\"")),
    };
    for l in text.lines().filter(|l| l.starts_with("selftest:")) {
        println!("    {l}");
    }
    match problem {
        None => {
            println!(
                "===== xtask: {name}: ok ({secs:.1} s, limit {} s) =====",
                LIMIT.as_secs()
            );
            run.passed.push(format!("{name} ({secs:.1} s)"));
        }
        Some(why) => {
            println!("xtask: {name}: full log in {}", log_path.display());
            run.fail(&name, &why);
        }
    }
}
