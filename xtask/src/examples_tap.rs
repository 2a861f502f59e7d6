//! Step `examples-tap`: the hosted demo (`examples/`, `hosted-demo --tap`) with the Linux
//! kernel's own stack as the full-OS partition, on a TAP device in a private network
//! namespace. Needs root; without it the step fails and says so.
//!
//! 1. `hosted-demo` is built in release (`cargo build --release -p partnet-examples`);
//! 2. a network namespace `partnet-tap-<pid>` with a TAP device `partnet0` inside it,
//!    owned by the calling user, address 10.0.0.1/24 (the demo's fixed subnet, which
//!    exists only inside the namespace), link up;
//! 3. the demo started inside the namespace (`ip netns exec`, which execs it: the child's
//!    PID is the demo's) with `--tap partnet0 --peer 10.0.0.1 --serve 10 --pcap …`: it
//!    runs its own checks (A↔B ping, UDP and TCP echo, A and B ping the kernel, the
//!    spoofing attempt), then prints `serving for …` and serves in real time;
//! 4. from Linux inside the namespace (`netns::peer_checks`): `ping -c 3` to A
//!    (10.0.0.10) and B (10.0.0.11), all three replies required, a TCP echo to port 7 of
//!    each (20 000 bytes, the same bytes back, then EOF) and a UDP echo to port 7 of each
//!    (10 datagrams of 1 to 1472 bytes, each back unchanged);
//! 5. the demo must exit with status 0 once its serving time is over, and its output must
//!    show its checks against the kernel and `all checks passed`.
//!
//! The namespace (with its TAP device) and the demo (by its PID) are removed on every
//! path, including failures and panics (`netns::Sandbox`'s `Drop`). Log:
//! `target/qemu/examples-tap.log`, monitor file `target/qemu/examples-tap.pcap`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::netns::{self, Sandbox};
use crate::qemu::{self, LOG_DIR};
use crate::{cargo, Run};

const STEP: &str = "examples-tap";
/// The namespace's side of the link (the demo's `--peer`) and the two partitions (the
/// demo's fixed addresses, `hosted::IP_A`, `hosted::IP_B`).
const PEER: &str = "10.0.0.1";
const PREFIX: &str = "24";
const PARTITIONS: [(&str, &str); 2] = [("A", "10.0.0.10"), ("B", "10.0.0.11")];
const TAP: &str = "partnet0";
/// Seconds the demo serves Linux after its own checks (the peer's checks take ~2 s).
const SERVE_S: u64 = 10;
/// The demo's own checks must be done (it prints [`READY`]) within this of its start.
const READY_LIMIT: Duration = Duration::from_secs(60);
/// The demo prints this when it starts serving.
const READY: &str = "serving for";

/// Lines every passing run of the demo prints.
const EXPECTED: &[&str] = &[
    "ok  ping A -> Linux (10.0.0.1)",
    "ok  ping B -> Linux (10.0.0.1)",
    "ok  TCP echo A -> B (20000 bytes)",
    "ok  spoofing from A: 3 forged ARP replies (source = B's MAC), 3 dropped as spoofed",
    "all checks passed",
];

/// The whole step.
pub fn examples_tap(run: &mut Run) {
    if !qemu::is_root() {
        run.fail(
            STEP,
            "needs root: it creates a network namespace with a TAP device and runs the \
             hosted demo inside it; run `cargo xtask test examples-tap` as root \
             (`cargo test --workspace` runs everything else unprivileged)",
        );
        return;
    }
    if !qemu::ensure_tool(run, "ip", "-V", "iproute2")
        || !qemu::ensure_tool(run, "ping", "-V", "iputils-ping")
    {
        return;
    }
    let build = cargo(&[
        "build",
        "--release",
        "--package",
        "partnet-examples",
        "--bin",
        "hosted-demo",
    ]);
    if !run.step("examples-tap: build hosted-demo (release)", build) {
        return;
    }
    let _ = fs::create_dir_all(LOG_DIR);
    let name = "examples-tap: hosted demo with the Linux kernel on a TAP device in a namespace";
    println!("\n===== xtask: {name} =====");
    let log_path = Path::new(LOG_DIR).join("examples-tap.log");
    let result = serve_linux(&log_path);
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    for l in text.lines() {
        println!("    {l}");
    }
    match result {
        Ok(secs) => {
            println!("===== xtask: {name}: ok (demo {secs:.1} s) =====");
            run.passed.push(format!("{name} (demo {secs:.1} s)"));
        }
        Err(why) => {
            println!("xtask: the demo's output is in {}", log_path.display());
            run.fail(name, &why);
        }
    }
}

/// The release binary of the demo (`$CARGO_TARGET_DIR` or `target`).
fn demo_binary() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from);
    dir.join("release/hosted-demo")
}

/// Namespace, demo, the peer's checks, the demo's verdict. Returns the seconds the demo
/// ran.
fn serve_linux(log_path: &Path) -> Result<f32, String> {
    let log =
        File::create(log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let demo = demo_binary();
    let demo = fs::canonicalize(&demo).map_err(|e| format!("{}: {e}", demo.display()))?;
    let pcap = Path::new(LOG_DIR).join("examples-tap.pcap");
    let mut sb = Sandbox::create(
        format!("partnet-tap-{}", std::process::id()),
        TAP,
        &format!("{PEER}/{PREFIX}"),
        "hosted-demo",
    )?;
    let serve = SERVE_S.to_string();
    let mut cmd = sb.exec(&[
        &demo.to_string_lossy(),
        "--tap",
        TAP,
        "--peer",
        PEER,
        "--serve",
        &serve,
        "--pcap",
        &pcap.to_string_lossy(),
    ]);
    cmd.stdin(Stdio::null())
        .stderr(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
        .stdout(Stdio::from(log));
    let start = Instant::now();
    sb.spawn(cmd)?;
    sb.wait_for_line(log_path, READY, start, READY_LIMIT)?;
    let served_from = Instant::now();

    // Linux against A and B, from inside the namespace, while the demo serves.
    let mut problems = netns::peer_checks(&sb, &PARTITIONS, true);
    let peer_secs = served_from.elapsed().as_secs();
    if peer_secs >= SERVE_S {
        problems.push(format!(
            "the peer's checks took {peer_secs} s, the demo served only {SERVE_S} s"
        ));
    }

    let limit = start.elapsed() + Duration::from_secs(SERVE_S + 30);
    let child = sb.child.as_mut().expect("spawned above");
    let status = qemu::wait_or_kill(child, "hosted-demo", start, limit);
    let secs = start.elapsed().as_secs_f32();
    drop(sb);
    let text = fs::read_to_string(log_path).unwrap_or_default();
    match status {
        None => problems.push(format!("the demo did not exit within {secs:.1} s")),
        Some(s) if !s.success() => problems.push(format!("the demo's exit status is {s}")),
        Some(_) => {
            if let Some(l) = EXPECTED.iter().find(|l| !text.contains(*l)) {
                problems.push(format!("the demo's output lacks \"{l}\""));
            }
        }
    }
    if problems.is_empty() {
        Ok(secs)
    } else {
        Err(problems.join("; "))
    }
}
