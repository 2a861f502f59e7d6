//! Publish readiness of the library crates: every feature alone builds and documents
//! without warnings, the crates package (and the packaged crates build), and the
//! workspace builds against the newest compatible dependency versions, as an out-of-tree
//! user resolves them, besides the lock file.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::{cargo, ensure_cargo_tool, existing_lib_crates, Run};

/// The cargo-hack release the step installs when it is missing.
const CARGO_HACK: (&str, &str) = ("cargo-hack", "0.6.37");

/// `features`: `cargo hack check` and `cargo hack doc` with each feature alone (and none,
/// and all) for every library crate, warnings and broken doc links denied.
pub(crate) fn features(run: &mut Run) {
    if !ensure_cargo_tool(run, "hack", CARGO_HACK.0, CARGO_HACK.1) {
        return;
    }
    let crates = existing_lib_crates(run);
    let mut check = cargo(&["hack", "check", "--each-feature", "--no-dev-deps"]);
    let mut doc = cargo(&["hack", "doc", "--each-feature", "--no-deps"]);
    for (package, _) in &crates {
        check.args(["-p", package]);
        doc.args(["-p", package]);
    }
    check.env("RUSTFLAGS", "-D warnings");
    check.env("CARGO_TARGET_DIR", "target/features");
    doc.env("RUSTDOCFLAGS", "-D warnings");
    doc.env("CARGO_TARGET_DIR", "target/features");
    run.step("features: check each feature alone", check);
    run.step("features: doc each feature alone", doc);
}

/// `package`: `cargo package` of every library crate; the packaged crates are built
/// from their `.crate` files, the unpublished path dependencies among them resolved to
/// each other's packages.
pub(crate) fn package(run: &mut Run) {
    let crates = existing_lib_crates(run);
    let names: Vec<&str> = crates.iter().map(|(p, _)| *p).collect();
    forget_unpacked(&names);
    // And last run's packages, temporary registry and build: cargo takes a registry
    // crate of the same version as unchanged and would link last run's build of it.
    let _ = fs::remove_dir_all("target/package");
    let mut c = cargo(&["package", "--allow-dirty"]);
    for (package, _) in &crates {
        c.args(["-p", package]);
    }
    c.env("CARGO_TARGET_DIR", "target/package");
    run.step("package: every library crate", c);
}

/// Removes the copies cargo unpacked from an earlier `cargo package` run's temporary
/// registry (`$CARGO_HOME/registry/{src,cache}/-<hash>/<crate>-<version>`): cargo
/// reuses an unpacked copy of the same name and version without looking at the new
/// `.crate`, so the verification would build last run's sources.
fn forget_unpacked(crates: &[&str]) {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(home) = home else { return };
    for sub in ["registry/src", "registry/cache"] {
        let Ok(registries) = fs::read_dir(home.join(sub)) else {
            continue;
        };
        // Local (temporary) registries are the ones without a host name: `-<hash>`.
        for reg in registries
            .flatten()
            .filter(|r| r.file_name().to_string_lossy().starts_with('-'))
        {
            let Ok(entries) = fs::read_dir(reg.path()) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let ours = crates.iter().any(|c| {
                    name.strip_prefix(c)
                        .and_then(|rest| rest.strip_prefix('-'))
                        .is_some_and(|v| v.starts_with(|ch: char| ch.is_ascii_digit()))
                });
                if ours {
                    let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
                }
            }
        }
    }
}

/// `newest-deps`: a copy of the tracked files with its lock file updated to the newest
/// compatible versions (`cargo update`), then `cargo check` of every target with all
/// features, warnings denied.
pub(crate) fn newest_deps(run: &mut Run) {
    let dir = Path::new("target/newest-deps");
    let src = dir.join("tree");
    let _ = fs::remove_dir_all(&src);
    if let Err(e) = copy_tracked(&src) {
        run.fail("newest-deps", &e);
        return;
    }
    let mut update = cargo(&["update"]);
    update.current_dir(&src);
    if !run.step("newest-deps: cargo update (in a copy)", update) {
        return;
    }
    let changed = Command::new("diff")
        .args(["-q", "Cargo.lock"])
        .arg(src.join("Cargo.lock"))
        .status()
        .is_ok_and(|s| !s.success());
    println!(
        "xtask: the newest compatible versions {} the lock file",
        if changed { "differ from" } else { "equal" }
    );
    let mut check = cargo(&["check", "--workspace", "--all-targets", "--all-features"]);
    check.current_dir(&src);
    check.env("RUSTFLAGS", "-D warnings");
    check.env(
        "CARGO_TARGET_DIR",
        fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .join("target"),
    );
    run.step(
        "newest-deps: check with the newest compatible versions",
        check,
    );
}

/// Copies the files git tracks (as they are in the working tree) to `to`.
fn copy_tracked(to: &Path) -> Result<(), String> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .output()
        .map_err(|e| format!("git ls-files: {e}"))?;
    if !out.status.success() {
        return Err("git ls-files failed (not a git checkout?)".into());
    }
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let rel = String::from_utf8_lossy(name).into_owned();
        let from = Path::new(&rel);
        if !from.is_file() {
            continue;
        }
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::copy(from, &dest).map_err(|e| format!("{rel}: {e}"))?;
    }
    Ok(())
}
