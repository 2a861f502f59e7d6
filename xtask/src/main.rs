//! `cargo xtask test` — the single command that runs every check of the workspace.
//!
//! Steps (each prints a banner and its duration; the run goes on after a failure so one
//! run reports every problem, and exits non-zero if any step failed):
//!
//! 1. `cargo fmt --check` (workspace and the separate `fuzz/` workspace)
//! 2. `cargo clippy --workspace --all-targets -- -D warnings` (default and all features)
//! 3. `cargo doc` with `RUSTDOCFLAGS=-D warnings`
//! 4. `cargo test --workspace --all-features`
//! 5. `cargo build --no-default-features` of every library crate for each embedded target
//! 6. Miri (`cargo +nightly miri test`) over every crate with `unsafe` code, vnet-switch
//!    (its adapters drive the `unsafe` memory layers below it) and the example crate's
//!    shared-memory tests
//! 7. loom models (`--cfg loom`) of every crate that has `tests/loom.rs`
//! 8. a short smoke run of every cargo-fuzz target (installs cargo-fuzz when missing)
//! 9. `qemu`: nic-drivers' bare-metal selftest image under QEMU with each NIC, and the
//!    root-only TAP test (see `qemu.rs`)
//! 10. `examples-qemu`: the bare-metal four-partition image under QEMU with a Linux peer
//!     in a network namespace, with virtio-net and e1000; needs root (see
//!     `examples_qemu.rs`)
//! 11. `examples-tap`: the hosted demo with `--tap`, the Linux kernel's own stack as the
//!     full-OS partition, in a network namespace; needs root (see `examples_tap.rs`;
//!     the namespace helpers shared with `examples-qemu` are in `netns.rs`)
//! 12. `vhost`: two Debian Linux guests under QEMU (TCG) on partnet-vswitchd's vhost-user
//!     backend: pings and a checked 1 MiB TCP transfer (see `vhost.rs`)
//!
//! Missing tools are installed, or the step fails with a message that says what is
//! missing; nothing is skipped silently. Before any step, the targets and components
//! `rust-toolchain.toml` lists are added to the pinned toolchain (see `toolchain.rs`);
//! the nightly toolchain's components (Miri, rust-src), cargo-fuzz, QEMU, `ip`, `ping`
//! and the Debian guest packages are installed by the steps that need them.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

mod echo;
mod examples_qemu;
mod examples_tap;
mod fuzz;
mod kit;
mod mutants;
mod netns;
mod qemu;
mod toolchain;
mod vhost;
mod worst_case;

use toolchain::{ensure_nightly, NIGHTLY};

/// Library crates of the workspace, in dependency order. Folders that do not exist yet are
/// reported and left out (each crate is created when its issue starts).
const LIB_CRATES: &[(&str, &str)] = &[
    ("frame-link", "nic-drivers/frame-link"),
    ("virtqueue", "virtqueue"),
    ("queuing-port", "queuing-port"),
    ("vnet-switch", "vnet-switch"),
    ("nic-drivers", "nic-drivers"),
    ("netstack-glue", "netstack-glue"),
    ("afdx", "nic-drivers/afdx"),
];

/// The embedded targets every library crate must build for without default features.
const EMBEDDED_TARGETS: &[&str] = &[
    "riscv64gc-unknown-none-elf",
    "thumbv7em-none-eabihf",
    "aarch64-unknown-none",
];

const USAGE: &str = "\
usage: cargo xtask test [STEP ...]   every check (what .ci/run calls), or only the STEPs
         steps: fmt clippy doc test nostd features package newest-deps miri loom fuzz
                qemu examples-qemu examples-tap vhost afdx
       cargo xtask fuzz [--seconds N] [--jobs J] [TARGET ...]
                                     a fuzz campaign: each target N seconds (default 600)
                                     over its kept corpus, J at a time, then corpus minimised
       cargo xtask fuzz-coverage [TARGET ...]
                                     line coverage of the peer-facing modules over each
                                     corpus, and the error variants no input produced
       cargo xtask mutants [--timeout S] [CRATE | FILE ...]
                                     mutation testing of the validation modules
                                     (cargo-mutants); fails when a mutant is missed
       cargo xtask worst-case [CRATE ...]
                                     instructions per bounded call on its worst input
                                     and a typical one (callgrind; virtqueue,
                                     queuing-port, vnet-switch), with the work units
       cargo xtask soak [--cycles N]  vhost-user frontends and queuing-port peers attached,
                                     fed and dropped N times each (default 10000) against
                                     one switch beside checked traffic; prints connections,
                                     frames, fds, mappings and RSS at start and end
       cargo xtask miri | loom       one step alone";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    env::set_current_dir(&root).expect("cannot enter the workspace root");

    let mut run = Run::default();
    match args.first().map(String::as_str) {
        Some("test") => {
            let only: Vec<&str> = args[1..].iter().map(String::as_str).collect();
            test_all(&mut run, &only);
        }
        Some("fuzz") => match fuzz::Campaign::parse(&args[1..]) {
            Ok(c) => fuzz::campaign(&mut run, &c),
            Err(e) => {
                eprintln!("cargo xtask fuzz: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        Some("fuzz-coverage") => fuzz::coverage(&mut run, &args[1..]),
        Some("mutants") => match mutants::Request::parse(&args[1..]) {
            Ok(r) => mutants::mutants(&mut run, &r),
            Err(e) => {
                eprintln!("cargo xtask mutants: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        Some("worst-case") => worst_case::worst_case(&mut run, &args[1..]),
        Some("soak") => match soak_cycles(&args[1..]) {
            Ok(n) => soak(&mut run, n),
            Err(e) => {
                eprintln!("cargo xtask soak: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        Some("miri") => miri(&mut run),
        Some("loom") => loom(&mut run),
        // Internal: the echo clients `examples-qemu` and `examples-tap` run inside their
        // namespace.
        Some("netns-tcp-echo") => return echo::tcp_echo_client(&args[1..]),
        Some("netns-udp-echo") => return echo::udp_echo_client(&args[1..]),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    run.finish()
}

/// `--cycles N` (default 10000).
fn soak_cycles(args: &[String]) -> Result<u32, String> {
    match args {
        [] => Ok(10_000),
        [flag, n] if flag == "--cycles" => n
            .parse()
            .map_err(|_| format!("--cycles takes a number, not {n:?}")),
        _ => Err(format!("unexpected arguments {args:?}")),
    }
}

/// `cargo xtask soak`: the soak test of vnet-switch (`tests/soak.rs`), optimised, with
/// `cycles` frontends and peers; its figures go to the output.
fn soak(run: &mut Run, cycles: u32) {
    let mut c = cargo(&[
        "test",
        "--release",
        "-p",
        "vnet-switch",
        "--all-features",
        "--test",
        "soak",
        "--",
        "--nocapture",
    ]);
    c.env("PARTNET_SOAK_CYCLES", cycles.to_string());
    run.step(&format!("soak ({cycles} cycles)"), c);
}

fn test_all(run: &mut Run, only: &[&str]) {
    let want = |s: &str| only.is_empty() || only.contains(&s);
    // Every step compiles with the pinned toolchain (the bare-metal images too): its
    // components and targets first, whatever the step list.
    toolchain::ensure_pinned(run);
    if want("fmt") {
        run.step("fmt", cargo(&["fmt", "--all", "--", "--check"]));
        // The workspaces of their own: fuzz targets, the bare-metal image and selftest.
        for dir in ["fuzz", "examples/bare-metal", "nic-drivers/selftest"] {
            let manifest = format!("{dir}/Cargo.toml");
            if Path::new(&manifest).exists() {
                run.step(
                    &format!("fmt ({dir})"),
                    cargo(&[
                        "fmt",
                        "--manifest-path",
                        &manifest,
                        "--all",
                        "--",
                        "--check",
                    ]),
                );
            }
        }
    }
    if want("clippy") {
        run.step(
            "clippy",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        );
        run.step(
            "clippy (all features)",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ]),
        );
    }
    if want("doc") {
        let mut c = cargo(&["doc", "--workspace", "--no-deps", "--all-features"]);
        c.env("RUSTDOCFLAGS", "-D warnings");
        run.step("doc", c);
    }
    if want("test") {
        // The AFDX demo's test reads its capture with tshark (and fails without it).
        qemu::ensure_tool(run, "tshark", "--version", "tshark");
        run.step("test", cargo(&["test", "--workspace", "--all-features"]));
        // Each library crate's example programs run (they check what they print).
        for (krate, dir) in existing_lib_crates(run) {
            let Ok(entries) = fs::read_dir(Path::new(dir).join("examples")) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_suffix(".rs").map(str::to_string)
                })
                .collect();
            names.sort();
            for name in names {
                run.step(
                    &format!("example {krate} {name}"),
                    cargo(&[
                        "run",
                        "-q",
                        "-p",
                        krate,
                        "--all-features",
                        "--example",
                        &name,
                    ]),
                );
            }
        }
    }
    if want("nostd") {
        for (krate, dir) in existing_lib_crates(run) {
            let build = |target: &str, features: &str| {
                let mut c = cargo(&[
                    "build",
                    "--package",
                    krate,
                    "--lib",
                    "--no-default-features",
                ]);
                c.args(["--target", target]);
                if !features.is_empty() {
                    c.args(["--features", features]);
                }
                c
            };
            // The `defmt` feature only acts on bare-metal targets: build it there (with
            // `log` beside it), as a firmware that logs through defmt would.
            let manifest =
                fs::read_to_string(Path::new(dir).join("Cargo.toml")).unwrap_or_default();
            if manifest.contains("\ndefmt = [") {
                let target = EMBEDDED_TARGETS[1];
                run.step(
                    &format!("no_std build {krate} with defmt and log ({target})"),
                    build(target, "defmt,log"),
                );
            }
            for target in EMBEDDED_TARGETS {
                run.step(
                    &format!("no_std build {krate} ({target})"),
                    build(target, ""),
                );
            }
        }
    }
    if want("features") {
        kit::features(run);
    }
    if want("package") {
        kit::package(run);
    }
    if want("newest-deps") {
        kit::newest_deps(run);
    }
    if want("miri") {
        miri(run);
    }
    if want("loom") {
        loom(run);
    }
    if want("fuzz") {
        fuzz::smoke(run);
    }
    if want("qemu") {
        qemu::qemu(run);
    }
    if want("examples-qemu") {
        examples_qemu::examples_qemu(run);
    }
    if want("examples-tap") {
        examples_tap::examples_tap(run);
    }
    if want("vhost") {
        vhost::vhost(run);
    }
    if want("afdx") && qemu::ensure_tool(run, "tshark", "--version", "tshark") {
        run.step(
            "afdx demo (tshark)",
            cargo(&["test", "-p", "partnet-examples", "--test", "afdx_demo"]),
        );
    }
}

/// Crates Miri runs although their own sources have no `unsafe`: their tests drive the
/// `unsafe` memory layers of the crates below them with hostile input.
const MIRI_ALSO: &[&str] = &["vnet-switch"];

/// The example crate's `unsafe` (shared-memory files) runs under Miri through these test
/// targets (the shared-memory virtio transport's own tests run with nic-drivers and
/// vnet-switch); the demo scenarios (seconds of smoltcp traffic, real processes, mmap)
/// are not Miri material.
const MIRI_EXAMPLES: (&str, &str, &[&str]) = (
    "examples",
    "partnet-examples",
    &["--lib", "--test", "shm_virtio"],
);

/// Miri over every library crate with `unsafe` code (a module that allows it: the crates
/// deny `unsafe_code` at their root), the crates in [`MIRI_ALSO`], and the example
/// crate's `unsafe` ([`MIRI_EXAMPLES`]).
fn miri(run: &mut Run) {
    if !ensure_nightly(run, &["miri", "rust-src"]) {
        return;
    }
    let mut jobs: Vec<(String, Vec<&str>)> = Vec::new();
    for (krate, dir) in existing_lib_crates(run) {
        if !dir_contains(Path::new(dir).join("src").as_path(), "allow(unsafe_code)")
            && !MIRI_ALSO.contains(&krate)
        {
            println!("xtask: {krate} has no `unsafe`: no Miri run needed");
            continue;
        }
        jobs.push((krate.to_string(), vec!["--lib", "--tests"]));
    }
    let (dir, package, targets) = MIRI_EXAMPLES;
    if Path::new(dir).join("Cargo.toml").exists() {
        jobs.push((package.to_string(), targets.to_vec()));
    }
    // Miri runs each test binary on one core: two lanes, each with its own target
    // directory (a shared one would make the second wait for the first's lock), the
    // jobs dealt out in turn (the list is in dependency order, heaviest first).
    // Miri's sysroot first, once: two lanes must not both build it.
    if !run.step(
        "miri setup",
        cargo(&[&format!("+{NIGHTLY}"), "miri", "setup"]),
    ) {
        return;
    }
    let mut lanes: Vec<Vec<(String, Command)>> = vec![Vec::new(), Vec::new()];
    for (i, (krate, targets)) in jobs.into_iter().enumerate() {
        let mut args = vec![
            format!("+{NIGHTLY}"),
            "miri".into(),
            "test".into(),
            "--package".into(),
            krate.clone(),
            "--all-features".into(),
        ];
        args.extend(targets.iter().map(|t| t.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut c = cargo(&args);
        // Property tests run a few cases under Miri (it is ~1000x slower than native); the
        // native `cargo test` step runs the full counts.
        c.env("PROPTEST_CASES", "4");
        c.env(
            "MIRIFLAGS",
            "-Zmiri-disable-isolation -Zmiri-strict-provenance",
        );
        c.env("CARGO_TARGET_DIR", format!("target/miri/lane{}", i % 2));
        lanes[i % 2].push((format!("miri {krate}"), c));
    }
    run.lanes(lanes);
}

/// loom models: every crate with a `tests/loom.rs`, built with `--cfg loom` in its own
/// target directory so the normal build is not invalidated.
fn loom(run: &mut Run) {
    for (krate, dir) in existing_lib_crates(run) {
        if !Path::new(dir).join("tests/loom.rs").exists() {
            continue;
        }
        let mut c = cargo(&[
            "test",
            "--package",
            krate,
            "--all-features",
            "--release",
            "--test",
            "loom",
        ]);
        c.env("RUSTFLAGS", "--cfg loom");
        c.env("CARGO_TARGET_DIR", "target/loom");
        c.env("LOOM_MAX_PREEMPTIONS", "3");
        run.step(&format!("loom {krate}"), c);
    }
}

/// Makes sure `cargo <sub>` runs; installs crate `krate` at `version` from crates.io
/// (`cargo install --locked`) when it is missing or reports another version.
pub(crate) fn ensure_cargo_tool(run: &mut Run, sub: &str, krate: &str, version: &str) -> bool {
    let have = Command::new("cargo")
        .args([sub, "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    match have {
        Some(v) if v.contains(version) => return true,
        Some(v) => println!(
            "xtask: {krate} {} found, the steps want {version}: installing it",
            v.trim()
        ),
        None => println!("xtask: {krate} is missing: installing {version} from crates.io"),
    }
    run.step(
        &format!("install {krate} {version}"),
        cargo(&["install", krate, "--version", version, "--locked"]),
    )
}

/// The library crates whose folders exist: `(package, folder)`.
pub(crate) fn existing_lib_crates(run: &mut Run) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for &(package, dir) in LIB_CRATES {
        if Path::new(dir).join("Cargo.toml").exists() {
            out.push((package, dir));
        } else if run.noted_missing.iter().all(|m| m != package) {
            println!("xtask: crate {dir}/ does not exist; not checked");
            run.noted_missing.push(package.to_string());
        }
    }
    out
}

fn dir_contains(dir: &Path, needle: &str) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            dir_contains(&p, needle)
        } else {
            p.extension().is_some_and(|x| x == "rs")
                && fs::read_to_string(&p).is_ok_and(|t| t.contains(needle))
        }
    })
}

fn cargo(args: &[&str]) -> Command {
    // Always through the rustup proxy on PATH: it honours rust-toolchain.toml, finds the
    // fmt/clippy/miri/fuzz subcommands, and understands a leading `+toolchain`.
    let mut c = Command::new("cargo");
    if args.first().is_some_and(|a| a.starts_with('+')) {
        // The outer `cargo xtask` may pin RUSTUP_TOOLCHAIN; let `+nightly` win.
        c.env_remove("RUSTUP_TOOLCHAIN");
        c.env_remove("RUSTC");
        c.env_remove("RUSTDOC");
        c.env_remove("CARGO");
    }
    c.args(args);
    c
}

fn workspace_root() -> PathBuf {
    let manifest = env::var("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| env::current_dir().expect("no current directory"));
    manifest
        .ancestors()
        .find(|p| p.join("rust-toolchain.toml").exists())
        .map(Path::to_path_buf)
        .unwrap_or(manifest)
}

#[derive(Default)]
struct Run {
    passed: Vec<String>,
    failed: Vec<String>,
    noted_missing: Vec<String>,
    start: Option<Instant>,
}

impl Run {
    fn step(&mut self, name: &str, mut cmd: Command) -> bool {
        self.start.get_or_insert_with(Instant::now);
        println!("\n===== xtask: {name} =====");
        println!("$ {cmd:?}");
        let t = Instant::now();
        let ok = match cmd.status() {
            Ok(s) => s.success(),
            Err(e) => {
                println!("xtask: could not start the command: {e}");
                false
            }
        };
        let secs = t.elapsed().as_secs_f32();
        if ok {
            println!("===== xtask: {name}: ok ({secs:.1} s) =====");
            self.passed.push(format!("{name} ({secs:.1} s)"));
        } else {
            println!("===== xtask: {name}: FAILED ({secs:.1} s) =====");
            self.failed.push(name.to_string());
        }
        ok
    }

    /// Runs `lanes` side by side (each lane's steps one after the other; a step that
    /// fails does not stop its lane), for single-threaded work such as Miri or a fuzz
    /// target on a machine with more cores than one. A step's output is collected and
    /// printed whole when it ends (a failed one's in full, a passed one's `test result`
    /// lines and last lines), so the lanes' output does not interleave.
    fn lanes(&mut self, lanes: Vec<Vec<(String, Command)>>) -> bool {
        self.start.get_or_insert_with(Instant::now);
        let (tx, rx) = mpsc::channel();
        let mut handles = Vec::new();
        for lane in lanes {
            let tx = tx.clone();
            handles.push(thread::spawn(move || {
                for (name, mut cmd) in lane {
                    let t = Instant::now();
                    let out = cmd.output();
                    let _ = tx.send((name, format!("{cmd:?}"), out, t.elapsed()));
                }
            }));
        }
        drop(tx);
        let mut all_ok = true;
        for (name, cmd, out, took) in rx {
            let secs = took.as_secs_f32();
            println!("\n===== xtask: {name} =====\n$ {cmd}");
            let ok = match out {
                Ok(o) => {
                    let text = String::from_utf8_lossy(&o.stdout).into_owned()
                        + &String::from_utf8_lossy(&o.stderr);
                    if o.status.success() {
                        let lines: Vec<&str> = text.lines().collect();
                        for l in lines.iter().filter(|l| l.starts_with("test result")) {
                            println!("{l}");
                        }
                        println!("[...]");
                        for l in &lines[lines.len().saturating_sub(5)..] {
                            println!("{l}");
                        }
                    } else {
                        println!("{text}");
                    }
                    o.status.success()
                }
                Err(e) => {
                    println!("xtask: could not start the command: {e}");
                    false
                }
            };
            if ok {
                println!("===== xtask: {name}: ok ({secs:.1} s) =====");
                self.passed.push(format!("{name} ({secs:.1} s)"));
            } else {
                println!("===== xtask: {name}: FAILED ({secs:.1} s) =====");
                self.failed.push(name);
                all_ok = false;
            }
        }
        for h in handles {
            let _ = h.join();
        }
        all_ok
    }

    fn fail(&mut self, name: &str, why: &str) {
        println!("===== xtask: {name}: FAILED: {why} =====");
        self.failed.push(format!("{name}: {why}"));
    }

    fn finish(self) -> ExitCode {
        let total = self.start.map(|s| s.elapsed().as_secs_f32()).unwrap_or(0.0);
        println!("\n===== xtask summary ({total:.0} s) =====");
        for p in &self.passed {
            println!("  ok      {p}");
        }
        for f in &self.failed {
            println!("  FAILED  {f}");
        }
        println!(
            "steps: {} passed, {} failed",
            self.passed.len(),
            self.failed.len()
        );
        if self.failed.is_empty() && !self.passed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
