//! `cargo xtask worst-case`: the instructions of every call that promises bounded work,
//! on the input that maximises its work and on a typical one, under callgrind; not part
//! of `cargo xtask test` (callgrind is slow; instruction counts are reported, never
//! asserted).
//!
//! Each crate's harness (a `harness = false` bench target named `worst_case`, its rows
//! in the crate's bench code) is built in the bench profile (release). Its `list`
//! prints one row per call and input; `run ROW REPS` builds a fresh input `REPS` times
//! and makes the call once on each, inside `virtqueue_bench::kit::measured`, and prints
//! the work units one call did. The command runs every row under
//! `valgrind --tool=callgrind --toggle-collect='*kit::measured*'`, divides the collected
//! instructions by `REPS`, and prints a table per crate: call, documented bound,
//! input, adversarial instructions, typical instructions, ratio, and the units each did.
//! The units are asserted against the bounds by each harness's `tests/worst_case.rs`
//! (part of the default test command).

use std::process::Command;
use std::time::Instant;

use crate::{cargo, Run};

/// The harnesses: crate (for the table) and the package that holds the bench target.
const HARNESSES: &[(&str, &str)] = &[
    ("virtqueue", "virtqueue-bench"),
    ("queuing-port", "queuing-port-bench"),
    ("vnet-switch", "vnet-switch"),
];

/// Calls per row under callgrind (callgrind is deterministic: a few suffice to average
/// out first-call effects).
const REPS: u32 = 10;

/// One row as the harness lists it, with what callgrind measured.
struct Measured {
    call: String,
    input: String,
    bound: String,
    unit: String,
    instructions: u64,
    units: String,
}

pub(crate) fn worst_case(run: &mut Run, only: &[String]) {
    run.start.get_or_insert_with(Instant::now);
    if Command::new("valgrind").arg("--version").output().is_err() {
        run.fail(
            "worst-case",
            "valgrind is not installed (apt-get install valgrind)",
        );
        return;
    }
    if let Some(unknown) = only.iter().find(|o| !HARNESSES.iter().any(|(k, _)| k == o)) {
        run.fail(
            "worst-case",
            &format!("no harness for {unknown:?} (virtqueue, queuing-port, vnet-switch)"),
        );
        return;
    }
    for &(krate, package) in HARNESSES {
        if !only.is_empty() && !only.iter().any(|o| o == krate) {
            continue;
        }
        let name = format!("worst-case {krate}");
        match measure(package) {
            Ok(rows) => {
                println!("\n===== xtask: {name} =====");
                print_table(&rows);
                run.passed.push(name);
            }
            Err(e) => run.fail(&name, &e),
        }
    }
}

/// Builds `package`'s `worst_case` bench target and runs each of its rows.
fn measure(package: &str) -> Result<Vec<Measured>, String> {
    let out = cargo(&["bench", "-p", package, "--bench", "worst_case", "--no-run"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("build failed:\n{stderr}"));
    }
    // `Executable benches/worst_case.rs (target/release/deps/worst_case-<hash>)`
    let bin = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Executable benches/worst_case.rs (")?
                .strip_suffix(')')
        })
        .ok_or("cargo printed no executable for the worst_case bench")?
        .to_string();
    let list = output(Command::new(&bin).arg("list"))?;
    let mut rows = Vec::new();
    for line in list.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let [index, call, input, bound, unit] = f[..] else {
            return Err(format!("unexpected row {line:?}"));
        };
        let mut cg = Command::new("valgrind");
        cg.args([
            "--tool=callgrind",
            "--toggle-collect=*kit::measured*",
            "--callgrind-out-file=/dev/null",
        ])
        .args([&bin, "run", index, &REPS.to_string()]);
        let o = cg
            .output()
            .map_err(|e| format!("cannot run valgrind: {e}"))?;
        let err = String::from_utf8_lossy(&o.stderr);
        if !o.status.success() {
            return Err(format!("row {line}: the harness failed:\n{err}"));
        }
        let collected: u64 = err
            .lines()
            .find_map(|l| l.split("Collected : ").nth(1))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("row {line}: no `Collected` line from callgrind"))?;
        rows.push(Measured {
            call: call.into(),
            input: input.into(),
            bound: bound.into(),
            unit: unit.into(),
            instructions: collected / u64::from(REPS),
            units: String::from_utf8_lossy(&o.stdout).trim().into(),
        });
    }
    Ok(rows)
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let o = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// A markdown table: each adversarial input beside its call's typical one.
fn print_table(rows: &[Measured]) {
    println!("| call | documented bound | input | instructions | typical | ratio | work done (typical) |");
    println!("|---|---|---|---:|---:|---:|---|");
    for r in rows.iter().filter(|r| r.input != "typical") {
        let typical = rows
            .iter()
            .find(|t| t.call == r.call && t.input == "typical");
        let (t_ir, ratio, t_units) = match typical {
            Some(t) => (
                t.instructions.to_string(),
                format!(
                    "{:.1}x",
                    r.instructions as f64 / t.instructions.max(1) as f64
                ),
                t.units.clone(),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        println!(
            "| `{}` | {} | {} | {} | {} | {} | {} {} ({}) |",
            r.call, r.bound, r.input, r.instructions, t_ir, ratio, r.units, r.unit, t_units
        );
    }
}
