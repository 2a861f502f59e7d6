//! cargo-fuzz: the short run of the test command, campaigns with a kept corpus, and
//! coverage with the error variants a corpus never produced.
//!
//! Layout of `fuzz/`:
//! * `fuzz_targets/<t>.rs`, one `[[bin]]` per target in `fuzz/Cargo.toml`;
//! * `corpus/<t>/`: the committed, minimised corpus of each target (grown by
//!   `cargo xtask fuzz`, minimised with `cargo fuzz cmin`);
//! * `seeds/<t>/`: hand-made inputs that reach deep states (read only);
//! * `dicts/<t>.dict`: a libFuzzer dictionary, where one helps.
//!
//! The short run (`cargo xtask test fuzz`) replays the committed corpus and seeds (libFuzzer
//! runs every input before it mutates) and fuzzes each target for
//! [`SMOKE_SECONDS`]; what it finds goes to a scratch corpus under `target/`, so the
//! committed corpus only changes through a campaign.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::toolchain::{ensure_nightly, NIGHTLY};
use crate::{cargo, ensure_cargo_tool, Run};

/// Seconds each target runs in the test command's short run (override:
/// `PARTNET_FUZZ_SECONDS`).
pub(crate) const SMOKE_SECONDS: u32 = 20;
/// The cargo-fuzz release the steps install when it is missing.
const CARGO_FUZZ: (&str, &str) = ("cargo-fuzz", "0.13.2");

/// Fuzz target names, from the `[[bin]]` sections of fuzz/Cargo.toml.
pub(crate) fn targets() -> Vec<String> {
    let text = fs::read_to_string("fuzz/Cargo.toml").unwrap_or_default();
    let mut out = Vec::new();
    let mut in_bin = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_bin = l == "[[bin]]";
            continue;
        }
        if in_bin {
            if let Some(rest) = l.strip_prefix("name") {
                if let Some(v) = rest.trim_start().strip_prefix('=') {
                    out.push(v.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    out
}

/// Nightly, cargo-fuzz and the target list (all of them when `only` is empty); `None`
/// after a failed step.
fn prepare(run: &mut Run, only: &[String], components: &[&str]) -> Option<Vec<String>> {
    if !Path::new("fuzz/Cargo.toml").exists() {
        run.fail("fuzz", "fuzz/Cargo.toml is missing");
        return None;
    }
    if !ensure_nightly(run, components) {
        return None;
    }
    if !ensure_cargo_tool(run, "fuzz", CARGO_FUZZ.0, CARGO_FUZZ.1) {
        return None;
    }
    let all = targets();
    if all.is_empty() {
        run.fail("fuzz", "no fuzz targets found in fuzz/Cargo.toml");
        return None;
    }
    for t in only {
        if !all.contains(t) {
            run.fail(
                "fuzz",
                &format!("no fuzz target `{t}`; targets: {}", all.join(" ")),
            );
            return None;
        }
    }
    Some(if only.is_empty() { all } else { only.to_vec() })
}

fn nightly() -> String {
    format!("+{NIGHTLY}")
}

/// `cargo +nightly fuzz run -O t <dirs...> -- <flags...>` for target `t`.
fn run_cmd(t: &str, dirs: &[String], flags: &[String]) -> Command {
    let n = nightly();
    let mut args: Vec<&str> = vec![&n, "fuzz", "run", "--fuzz-dir", "fuzz", "-O", t];
    args.extend(dirs.iter().map(String::as_str));
    args.push("--");
    args.extend(flags.iter().map(String::as_str));
    let dict = format!("fuzz/dicts/{t}.dict");
    let dict_flag = format!("-dict={dict}");
    if Path::new(&dict).is_file() {
        args.push(&dict_flag);
    }
    cargo(&args)
}

/// The committed corpus and seed folders of `t` that exist.
fn input_dirs(t: &str) -> Vec<String> {
    [format!("fuzz/corpus/{t}"), format!("fuzz/seeds/{t}")]
        .into_iter()
        .filter(|d| Path::new(d).is_dir())
        .collect()
}

/// The test command's short run: build, then each target over a scratch corpus plus the
/// committed corpus and seeds, for `PARTNET_FUZZ_SECONDS` (default [`SMOKE_SECONDS`]).
pub(crate) fn smoke(run: &mut Run) {
    let Some(targets) = prepare(run, &[], &["rust-src"]) else {
        return;
    };
    let seconds = std::env::var("PARTNET_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(SMOKE_SECONDS);
    if !run.step(
        "fuzz build",
        cargo(&[&nightly(), "fuzz", "build", "--fuzz-dir", "fuzz", "-O"]),
    ) {
        return;
    }
    // Each target runs on one core: two at a time.
    let mut lanes: Vec<Vec<(String, Command)>> = vec![Vec::new(), Vec::new()];
    for (i, t) in targets.iter().enumerate() {
        let scratch = format!("target/fuzz-smoke/{t}");
        let _ = fs::remove_dir_all(&scratch);
        let _ = fs::create_dir_all(&scratch);
        let mut dirs = vec![scratch];
        dirs.extend(input_dirs(t));
        let flags = [
            format!("-max_total_time={seconds}"),
            "-rss_limit_mb=2048".into(),
            "-timeout=10".into(),
            "-print_final_stats=1".into(),
        ];
        let committed = count_files(Path::new(&format!("fuzz/corpus/{t}")));
        lanes[i % 2].push((
            format!("fuzz {t} (replay {committed} corpus inputs, then {seconds} s)"),
            run_cmd(t, &dirs, &flags),
        ));
    }
    run.lanes(lanes);
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |d| d.flatten().filter(|e| e.path().is_file()).count())
}

fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir).map_or(0, |d| {
        d.flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    })
}

/// Options of `cargo xtask fuzz`.
pub(crate) struct Campaign {
    /// Seconds per target.
    pub(crate) seconds: u32,
    /// Targets run at the same time.
    pub(crate) jobs: usize,
    /// Targets (empty: all).
    pub(crate) targets: Vec<String>,
}

impl Campaign {
    /// Parses `--seconds N --jobs J [TARGET...]`.
    pub(crate) fn parse(args: &[String]) -> Result<Campaign, String> {
        let mut c = Campaign {
            seconds: 600,
            jobs: 1,
            targets: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .and_then(|v| v.parse::<u32>().ok())
                    .filter(|v| *v > 0)
                    .ok_or(format!("{name} needs a positive number"))
            };
            match a.as_str() {
                "--seconds" => c.seconds = value("--seconds")?,
                "--jobs" => c.jobs = value("--jobs")? as usize,
                s if s.starts_with('-') => return Err(format!("unknown option {s}")),
                t => c.targets.push(t.to_string()),
            }
        }
        Ok(c)
    }
}

/// One finished campaign run of a target.
struct Outcome {
    target: String,
    ok: bool,
    execs: u64,
    new_crashes: usize,
    corpus_before: usize,
    corpus_after: usize,
    bytes_after: u64,
}

/// `cargo xtask fuzz`: each target for `seconds` over its committed corpus (which grows),
/// `jobs` at a time; then `cargo fuzz cmin` minimises each corpus. Logs go to
/// `target/fuzz-campaign/<t>.log`; crashes to `fuzz/artifacts/<t>/`.
pub(crate) fn campaign(run: &mut Run, c: &Campaign) {
    let Some(targets) = prepare(run, &c.targets, &["rust-src"]) else {
        return;
    };
    if !run.step(
        "fuzz build",
        cargo(&[&nightly(), "fuzz", "build", "--fuzz-dir", "fuzz", "-O"]),
    ) {
        return;
    }
    let logs = PathBuf::from("target/fuzz-campaign");
    let _ = fs::create_dir_all(&logs);
    let t0 = Instant::now();
    let mut outcomes = Vec::new();
    let mut queue: Vec<&String> = targets.iter().collect();
    queue.reverse();
    let mut running: Vec<(String, Child, usize, usize)> = Vec::new();
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < c.jobs.max(1) {
            let Some(t) = queue.pop() else { break };
            let corpus = format!("fuzz/corpus/{t}");
            let _ = fs::create_dir_all(&corpus);
            let artifacts = format!("fuzz/artifacts/{t}");
            let crashes_before = count_files(Path::new(&artifacts));
            let corpus_before = count_files(Path::new(&corpus));
            let mut dirs = vec![corpus];
            dirs.extend(input_dirs(t).into_iter().filter(|d| d.contains("/seeds/")));
            let flags = [
                format!("-max_total_time={}", c.seconds),
                "-rss_limit_mb=2048".into(),
                "-timeout=10".into(),
                "-print_final_stats=1".into(),
            ];
            let log = logs.join(format!("{t}.log"));
            let Ok(file) = fs::File::create(&log) else {
                run.fail(
                    &format!("fuzz {t}"),
                    &format!("cannot create {}", log.display()),
                );
                continue;
            };
            let mut cmd = run_cmd(t, &dirs, &flags);
            cmd.stdout(Stdio::null())
                .stderr(file.try_clone().map_or(Stdio::null(), Stdio::from));
            println!(
                "xtask: fuzzing {t} for {} s (log {})",
                c.seconds,
                log.display()
            );
            match cmd.spawn() {
                Ok(child) => running.push((t.clone(), child, crashes_before, corpus_before)),
                Err(e) => run.fail(&format!("fuzz {t}"), &format!("cannot start: {e}")),
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let mut i = 0;
        while i < running.len() {
            let done = matches!(running[i].1.try_wait(), Ok(Some(_)) | Err(_));
            if !done {
                i += 1;
                continue;
            }
            let (t, mut child, crashes_before, corpus_before) = running.remove(i);
            let ok = child.wait().is_ok_and(|s| s.success());
            let log = fs::read_to_string(logs.join(format!("{t}.log"))).unwrap_or_default();
            outcomes.push(Outcome {
                execs: final_stat(&log, "stat::number_of_executed_units").unwrap_or(0),
                new_crashes: count_files(Path::new(&format!("fuzz/artifacts/{t}")))
                    .saturating_sub(crashes_before),
                corpus_before,
                corpus_after: 0,
                bytes_after: 0,
                ok,
                target: t,
            });
        }
    }
    for o in &mut outcomes {
        let corpus = format!("fuzz/corpus/{}", o.target);
        let n = nightly();
        run.step(
            &format!("fuzz cmin {}", o.target),
            cargo(&[
                &n,
                "fuzz",
                "cmin",
                "--fuzz-dir",
                "fuzz",
                "-O",
                &o.target,
                &corpus,
            ]),
        );
        o.corpus_after = count_files(Path::new(&corpus));
        o.bytes_after = dir_bytes(Path::new(&corpus));
    }
    outcomes.sort_by(|a, b| a.target.cmp(&b.target));
    println!(
        "\nfuzz campaign: {} s per target, {} at a time, {:.0} s in all",
        c.seconds,
        c.jobs,
        t0.elapsed().as_secs_f32()
    );
    println!(
        "| target | executions | crashes | corpus before | corpus after (minimised) | bytes |"
    );
    println!("|---|---|---|---|---|---|");
    for o in &outcomes {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            o.target, o.execs, o.new_crashes, o.corpus_before, o.corpus_after, o.bytes_after
        );
        let name = format!("fuzz campaign {}", o.target);
        if o.ok && o.new_crashes == 0 {
            run.passed.push(format!("{name} ({} executions)", o.execs));
        } else {
            run.fail(
                &name,
                &format!(
                    "{} crash inputs in fuzz/artifacts/{}, see target/fuzz-campaign/{}.log",
                    o.new_crashes, o.target, o.target
                ),
            );
        }
    }
}

/// A `-print_final_stats` value from a libFuzzer log.
fn final_stat(log: &str, key: &str) -> Option<u64> {
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|r| r.trim_start_matches(':').trim().parse().ok())
}

/// What the coverage report looks at for one target: the peer-facing source files (path
/// prefixes) and the error enums whose variants a corpus should produce (`(enum, file
/// that defines it, folder its constructions are searched in)`).
pub(crate) struct Surface {
    pub(crate) target: &'static str,
    pub(crate) modules: &'static [&'static str],
    pub(crate) errors: &'static [(&'static str, &'static str, &'static str)],
}

/// The peer-facing surface of every target (see the fuzz README).
pub(crate) const SURFACES: &[Surface] = &[
    Surface {
        target: "virtqueue_device",
        modules: &[
            "virtqueue/src/device.rs",
            "virtqueue/src/chain.rs",
            "virtqueue/src/ring.rs",
        ],
        errors: &[("Error", "virtqueue/src/error.rs", "virtqueue/src")],
    },
    Surface {
        target: "virtqueue_driver",
        modules: &["virtqueue/src/driver.rs"],
        errors: &[("Error", "virtqueue/src/error.rs", "virtqueue/src")],
    },
    Surface {
        target: "virtqueue_packed_device",
        modules: &["virtqueue/src/packed/device.rs", "virtqueue/src/chain.rs"],
        errors: &[("Error", "virtqueue/src/error.rs", "virtqueue/src")],
    },
    Surface {
        target: "virtqueue_packed_driver",
        modules: &["virtqueue/src/packed/driver.rs"],
        errors: &[("Error", "virtqueue/src/error.rs", "virtqueue/src")],
    },
    Surface {
        target: "queuing_port_region",
        modules: &[
            "queuing-port/src/region.rs",
            "queuing-port/src/queuing.rs",
            "queuing-port/src/sampling.rs",
        ],
        errors: &[("Error", "queuing-port/src/error.rs", "queuing-port/src")],
    },
    Surface {
        target: "afdx_receive",
        modules: &["nic-drivers/afdx/src/wire.rs", "nic-drivers/afdx/src/rx.rs"],
        errors: &[
            (
                "FrameError",
                "nic-drivers/afdx/src/error.rs",
                "nic-drivers/afdx/src",
            ),
            (
                "RxError",
                "nic-drivers/afdx/src/error.rs",
                "nic-drivers/afdx/src",
            ),
        ],
    },
    Surface {
        target: "vhost_user_messages",
        modules: &[
            "vnet-switch/src/adapters/vhost_user/mod.rs",
            "vnet-switch/src/adapters/vhost_user/control.rs",
            "vnet-switch/src/adapters/vhost_user/request.rs",
            "vnet-switch/src/adapters/vhost_user/memory.rs",
            "vnet-switch/src/adapters/vhost_user/sys.rs",
        ],
        errors: &[(
            "VhostUserError",
            "vnet-switch/src/adapters/vhost_user/error.rs",
            "vnet-switch/src/adapters/vhost_user",
        )],
    },
    Surface {
        target: "vnet_switch_frames",
        modules: &[
            "vnet-switch/src/switch.rs",
            "vnet-switch/src/forward.rs",
            "vnet-switch/src/policy.rs",
            "vnet-switch/src/wire.rs",
            "vnet-switch/src/mac_table.rs",
            "vnet-switch/src/builder.rs",
        ],
        errors: &[
            ("DropReason", "vnet-switch/src/stats.rs", "vnet-switch/src"),
            ("ConfigError", "vnet-switch/src/error.rs", "vnet-switch/src"),
        ],
    },
    Surface {
        target: "vnet_switch_virtio_backend",
        modules: &[
            "vnet-switch/src/adapters/virtio_net/mod.rs",
            "vnet-switch/src/adapters/virtio_net/ingress.rs",
            "vnet-switch/src/adapters/virtio_net/egress.rs",
            "vnet-switch/src/adapters/virtio_net/header.rs",
            "virtqueue/src/device.rs",
            "virtqueue/src/chain.rs",
        ],
        errors: &[
            (
                "VirtioNetError",
                "vnet-switch/src/adapters/virtio_net/error.rs",
                "vnet-switch/src/adapters/virtio_net",
            ),
            ("Error", "virtqueue/src/error.rs", "virtqueue/src"),
        ],
    },
    Surface {
        target: "virtio_net_device_hostile",
        modules: &[
            "nic-drivers/src/net/driver.rs",
            "nic-drivers/src/net/datapath.rs",
            "nic-drivers/src/net/header.rs",
            "virtqueue/src/driver.rs",
            "virtqueue/src/packed/driver.rs",
        ],
        errors: &[("Error", "nic-drivers/src/error.rs", "nic-drivers/src/net")],
    },
    Surface {
        target: "e1000_device_hostile",
        modules: &[
            "nic-drivers/src/e1000/mod.rs",
            "nic-drivers/src/e1000/desc.rs",
        ],
        errors: &[("Error", "nic-drivers/src/error.rs", "nic-drivers/src/e1000")],
    },
    Surface {
        target: "shm_virtio_registers",
        modules: &[
            "vnet-switch/src/adapters/shm/mod.rs",
            "nic-drivers/src/transport/shm/mod.rs",
            "virtqueue/src/shm.rs",
        ],
        errors: &[
            (
                "ShmDeviceError",
                "vnet-switch/src/adapters/shm/error.rs",
                "vnet-switch/src/adapters/shm",
            ),
            (
                "Error",
                "nic-drivers/src/error.rs",
                "nic-drivers/src/transport",
            ),
        ],
    },
    Surface {
        target: "netstack_glue_rx",
        modules: &[
            "netstack-glue/src/device.rs",
            "netstack-glue/src/core.rs",
            "netstack-glue/src/checksum.rs",
            "nic-drivers/frame-link/src/pair.rs",
        ],
        errors: &[(
            "AdapterDrop",
            "netstack-glue/src/stats.rs",
            "netstack-glue/src",
        )],
    },
];

/// `cargo xtask fuzz-coverage`: a coverage build of each target run over its committed
/// corpus and seeds, then per target the line coverage of its peer-facing modules and
/// the error variants no input produced (no construction site of the variant ran).
pub(crate) fn coverage(run: &mut Run, only: &[String]) {
    let Some(targets) = prepare(run, only, &["rust-src", "llvm-tools"]) else {
        return;
    };
    let llvm_cov = match llvm_tool("llvm-cov") {
        Ok(p) => p,
        Err(e) => return run.fail("fuzz coverage", &e),
    };
    let host = host_triple();
    let mut report = String::new();
    for t in &targets {
        let corpus = format!("fuzz/corpus/{t}");
        let _ = fs::create_dir_all(&corpus);
        let n = nightly();
        let mut args = vec![
            n.as_str(),
            "fuzz",
            "coverage",
            "--fuzz-dir",
            "fuzz",
            t.as_str(),
        ];
        let dirs = input_dirs(t);
        args.extend(dirs.iter().map(String::as_str));
        if !run.step(&format!("fuzz coverage {t}"), cargo(&args)) {
            continue;
        }
        let profdata = format!("fuzz/coverage/{t}/coverage.profdata");
        let binary = format!("fuzz/target/{host}/coverage/{host}/release/{t}");
        let out = Command::new(&llvm_cov)
            .args([
                "export",
                "-format=lcov",
                &format!("-instr-profile={profdata}"),
                &binary,
            ])
            .output();
        let lcov = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            Ok(o) => {
                run.fail(
                    &format!("llvm-cov {t}"),
                    String::from_utf8_lossy(&o.stderr).trim(),
                );
                continue;
            }
            Err(e) => {
                run.fail(&format!("llvm-cov {t}"), &e.to_string());
                continue;
            }
        };
        let hits = parse_lcov(&lcov);
        report.push_str(&target_report(t, &hits));
    }
    println!("\n{report}");
    let _ = fs::create_dir_all("target/fuzz-coverage");
    let _ = fs::write("target/fuzz-coverage/report.md", &report);
    println!("xtask: report written to target/fuzz-coverage/report.md");
}

/// An LLVM tool of the nightly toolchain (component `llvm-tools`).
fn llvm_tool(name: &str) -> Result<PathBuf, String> {
    let out = Command::new("rustc")
        .args([&nightly(), "--print", "sysroot"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let p = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(host_triple())
        .join("bin")
        .join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{} is missing: rustup component add --toolchain {NIGHTLY} llvm-tools",
            p.display()
        ))
    }
}

fn host_triple() -> String {
    let out = Command::new("rustc").arg("-vV").output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        })
        .unwrap_or_else(|| "x86_64-unknown-linux-gnu".into())
}

/// Executed counts per (source file relative to the workspace, line).
type Hits = BTreeMap<String, BTreeMap<u32, u64>>;

fn parse_lcov(lcov: &str) -> Hits {
    let root = std::env::current_dir().unwrap_or_default();
    let root = format!("{}/", root.display());
    let mut hits = Hits::new();
    let mut file: Option<String> = None;
    for line in lcov.lines() {
        if let Some(f) = line.strip_prefix("SF:") {
            file = Some(f.strip_prefix(root.as_str()).unwrap_or(f).to_string());
        } else if let Some(da) = line.strip_prefix("DA:") {
            let mut parts = da.split(',');
            let (Some(l), Some(c)) = (parts.next(), parts.next()) else {
                continue;
            };
            if let (Some(f), Ok(l), Ok(c)) = (&file, l.parse::<u32>(), c.parse::<u64>()) {
                *hits.entry(f.clone()).or_default().entry(l).or_default() += c;
            }
        } else if line == "end_of_record" {
            file = None;
        }
    }
    hits
}

/// The report section of one target.
fn target_report(t: &str, hits: &Hits) -> String {
    let mut s = format!("## {t}\n\n");
    let Some(surface) = SURFACES.iter().find(|x| x.target == t) else {
        s.push_str("(no peer-facing surface configured in xtask/src/fuzz.rs)\n\n");
        return s;
    };
    s.push_str("| module | lines run | lines | coverage |\n|---|---|---|---|\n");
    for m in surface.modules {
        let (run, all) = hits.get(*m).map_or((0, 0), |h| {
            (h.values().filter(|c| **c > 0).count(), h.len())
        });
        let pct = if all == 0 {
            0.0
        } else {
            100.0 * run as f64 / all as f64
        };
        s.push_str(&format!("| {m} | {run} | {all} | {pct:.1}% |\n"));
    }
    for (name, def, dir) in surface.errors {
        let variants = enum_variants(def, name);
        let sites = construction_sites(dir, name, &variants);
        let never: Vec<&String> = variants
            .iter()
            .filter(|v| {
                sites.get(*v).is_none_or(|places| {
                    places
                        .iter()
                        .all(|(f, l)| hits.get(f).and_then(|h| h.get(l)).copied().unwrap_or(0) == 0)
                })
            })
            .collect();
        s.push_str(&format!(
            "\n`{name}` ({def}): {} variants, never produced: {}\n",
            variants.len(),
            if never.is_empty() {
                "none".to_string()
            } else {
                never
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    s.push('\n');
    s
}

/// The variant names of `pub enum name` in file `def`.
pub(crate) fn enum_variants(def: &str, name: &str) -> Vec<String> {
    let text = fs::read_to_string(def).unwrap_or_default();
    let Some(start) = text.find(&format!("pub enum {name} {{")) else {
        return Vec::new();
    };
    let body = &text[start..];
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut started = false;
    for line in body.lines() {
        let t = line.trim();
        if depth == 1 && !t.starts_with("//") && !t.starts_with('#') {
            let ident: String = t
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if ident.chars().next().is_some_and(char::is_uppercase) {
                out.push(ident);
            }
        }
        for c in t.chars() {
            match c {
                '{' | '(' => {
                    depth += 1;
                    started = true;
                }
                '}' | ')' => depth -= 1,
                _ => {}
            }
        }
        if started && depth <= 0 {
            break;
        }
    }
    out
}

/// Where each variant of `name` is constructed in the `.rs` files under `dir` (tests and
/// match patterns left out): `(file, line)` per site.
pub(crate) fn construction_sites(
    dir: &str,
    name: &str,
    variants: &[String],
) -> BTreeMap<String, Vec<(String, u32)>> {
    let wanted: BTreeSet<&str> = variants.iter().map(String::as_str).collect();
    let mut out: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    let mut files = Vec::new();
    collect_rs(Path::new(dir), &mut files);
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        // Unit tests sit at the end of a file behind `#[cfg(test)]`.
        let text = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let needle = format!("{name}::");
        let mut from = 0;
        while let Some(i) = text[from..].find(&needle) {
            let at = from + i;
            from = at + needle.len();
            // Not a longer path such as `OtherError::` ending in `name`.
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &text[from..];
            let variant: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !wanted.contains(variant.as_str()) || is_pattern(text, at, from + variant.len()) {
                continue;
            }
            let line = text[..at].matches('\n').count() as u32 + 1;
            out.entry(variant)
                .or_default()
                .push((f.display().to_string(), line));
        }
    }
    out
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        // Unit tests in their own file or folder are not peer-facing code.
        if p.file_name()
            .is_some_and(|n| n == "tests" || n == "tests.rs")
        {
            continue;
        }
        if p.is_dir() {
            collect_rs(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Whether the path at `start..end` of `text` is (part of) a pattern rather than a
/// construction: followed, after its `{...}` / `(...)` group, by `=>` or `|`, or inside
/// `matches!(` or a `let` pattern on its line.
fn is_pattern(text: &str, start: usize, end: usize) -> bool {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..start];
    if before.contains("matches!(") {
        return true;
    }
    let bytes = text.as_bytes();
    let mut i = end;
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    if i < bytes.len() && (bytes[i] == b'{' || bytes[i] == b'(') {
        let mut depth = 0i32;
        while i < bytes.len() {
            match bytes[i] {
                b'{' | b'(' | b'[' => depth += 1,
                b'}' | b')' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    // Closing parens of an enclosing `Err(...)` / `Some(...)` pattern.
    while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b')') {
        i += 1;
    }
    let after = &text[i.min(text.len())..];
    if after.starts_with("=>") || (after.starts_with('|') && !after.starts_with("||")) {
        return true;
    }
    let is_let = before.contains("let ");
    is_let && after.starts_with('=') && !after.starts_with("==")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_constructions_are_told_apart() {
        let text = "fn f() -> R {\n    match e {\n        Error::A { x, .. } => 1,\n        Error::B(_) | Error::C => 2,\n    };\n    if let Err(Error::D) = g() {}\n    let _ = matches!(e, Error::E);\n    return Err(Error::F { at: 1 });\n    Err(Error::G {\n        at: 2,\n    })\n}\n";
        let find = |v: &str| {
            let s = text.find(&format!("Error::{v}")).unwrap();
            (s, s + "Error::".len() + v.len())
        };
        for v in ["A", "B", "C", "D", "E"] {
            let (s, e) = find(v);
            assert!(is_pattern(text, s, e), "{v} is a pattern");
        }
        for v in ["F", "G"] {
            let (s, e) = find(v);
            assert!(!is_pattern(text, s, e), "{v} is a construction");
        }
    }

    #[test]
    fn every_target_has_a_surface_whose_files_and_enums_exist() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        std::env::set_current_dir(root).unwrap();
        let targets = targets();
        assert!(targets.len() >= 13, "{targets:?}");
        for t in &targets {
            let s = SURFACES
                .iter()
                .find(|s| s.target == t)
                .unwrap_or_else(|| panic!("no surface for {t}"));
            for m in s.modules {
                assert!(Path::new(m).is_file(), "{t}: {m} is missing");
            }
            for (name, def, dir) in s.errors {
                let variants = enum_variants(def, name);
                assert!(variants.len() >= 2, "{t}: no variants of {name} in {def}");
                let sites = construction_sites(dir, name, &variants);
                assert!(
                    !sites.is_empty(),
                    "{t}: no construction of {name} under {dir}"
                );
            }
        }
    }

    #[test]
    fn lcov_lines_are_summed_per_file() {
        let root = std::env::current_dir().unwrap();
        let lcov = format!(
            "SF:{}/a/b.rs\nDA:3,0\nDA:4,2\nend_of_record\nSF:{}/a/b.rs\nDA:3,5\nend_of_record\n",
            root.display(),
            root.display()
        );
        let h = parse_lcov(&lcov);
        assert_eq!(h["a/b.rs"][&3], 5);
        assert_eq!(h["a/b.rs"][&4], 2);
    }

    #[test]
    fn final_stats_are_read_from_the_log() {
        let log = "#1 INITED\nstat::number_of_executed_units: 12345\nstat::peak_rss_mb: 40\n";
        assert_eq!(
            final_stat(log, "stat::number_of_executed_units"),
            Some(12345)
        );
        assert_eq!(final_stat(log, "stat::missing"), None);
    }

    #[test]
    fn campaign_options() {
        let a: Vec<String> = ["--seconds", "30", "--jobs", "2", "t1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let c = Campaign::parse(&a).unwrap();
        assert_eq!(
            (c.seconds, c.jobs, c.targets),
            (30, 2, vec!["t1".to_string()])
        );
        assert!(Campaign::parse(&["--seconds".into()]).is_err());
        assert!(Campaign::parse(&["--bogus".into()]).is_err());
    }
}
