//! The Rust toolchains the steps need, installed when missing.
//!
//! * The pinned toolchain: its targets and components are read from `rust-toolchain.toml`
//!   (not repeated here) and added with `rustup target add` / `rustup component add`
//!   when the active toolchain lacks them. rustup does not do this by itself when a
//!   toolchain of that name already exists (for instance a link to the machine's stable)
//!   or when `RUSTUP_AUTO_INSTALL=0` is set, as it is on CI machines.
//! * The nightly toolchain (Miri, cargo-fuzz, coverage): its components are added to an
//!   existing `nightly` with `rustup component add`; only a machine without any nightly
//!   gets one installed with `rustup toolchain install`.
//!
//! Each install is a step of its own, so a failure says what could not be installed.

use std::fs;
use std::process::Command;

use crate::Run;

/// The toolchain used for Miri and cargo-fuzz.
pub(crate) const NIGHTLY: &str = "nightly";

/// What `rust-toolchain.toml` pins.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pinned {
    pub(crate) channel: String,
    pub(crate) components: Vec<String>,
    pub(crate) targets: Vec<String>,
}

/// Reads the `[toolchain]` table of a `rust-toolchain.toml` text: `channel` and the
/// string arrays `components` and `targets` (which may span several lines). Comments
/// and other keys are ignored.
pub(crate) fn parse_pinned(text: &str) -> Result<Pinned, String> {
    let mut p = Pinned::default();
    let mut in_table = false;
    // (key, collected text) of an array still open across lines.
    let mut open: Option<(String, String)> = None;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if let Some((key, mut acc)) = open.take() {
            acc.push_str(line);
            if line.contains(']') {
                set_array(&mut p, &key, &acc)?;
            } else {
                open = Some((key, acc));
            }
            continue;
        }
        if line.starts_with('[') {
            in_table = line == "[toolchain]";
            continue;
        }
        if !in_table || line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("rust-toolchain.toml: cannot read `{raw}`"));
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "channel" => p.channel = value.trim_matches('"').to_string(),
            "components" | "targets" if value.starts_with('[') && !value.contains(']') => {
                open = Some((key.to_string(), value.to_string()));
            }
            "components" | "targets" => set_array(&mut p, key, value)?,
            _ => {}
        }
    }
    if open.is_some() {
        return Err("rust-toolchain.toml: an array is not closed".into());
    }
    if p.channel.is_empty() {
        return Err("rust-toolchain.toml: no `channel` in [toolchain]".into());
    }
    Ok(p)
}

fn set_array(p: &mut Pinned, key: &str, text: &str) -> Result<(), String> {
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| format!("rust-toolchain.toml: `{key}` is not an array: {text}"))?;
    let items: Vec<String> = inner
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    match key {
        "components" => p.components = items,
        _ => p.targets = items,
    }
    Ok(())
}

/// Lines of `rustup +toolchain <what> list --installed`, or `None` when the toolchain is
/// not installed (or rustup is missing).
fn installed(toolchain: &str, what: &str) -> Option<Vec<String>> {
    let out = Command::new("rustup")
        .args([&format!("+{toolchain}"), what, "list", "--installed"])
        .env("RUSTUP_AUTO_INSTALL", "0")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// Whether `name` (a component such as `miri` or a target triple) is in the installed
/// list; component lines may carry the host triple (`miri-x86_64-unknown-linux-gnu`).
fn has(list: &[String], name: &str) -> bool {
    list.iter().any(|l| {
        l == name
            || l.strip_prefix(name)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|triple| triple.matches('-').count() >= 2)
    })
}

/// Adds what `toolchain` lacks of `components` and `targets` (one step each kind).
fn add_missing(run: &mut Run, toolchain: &str, components: &[&str], targets: &[&str]) -> bool {
    let (Some(have_c), Some(have_t)) = (
        installed(toolchain, "component"),
        installed(toolchain, "target"),
    ) else {
        run.fail(
            &format!("toolchain {toolchain}"),
            &format!(
                "the toolchain `{toolchain}` is not installed and rustup did not install it; \
                 run `rustup toolchain install {toolchain}`"
            ),
        );
        return false;
    };
    let mut ok = true;
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| !has(&have_c, c))
        .collect();
    if !missing.is_empty() {
        println!("xtask: toolchain {toolchain} lacks the components {missing:?}: adding them");
        let mut c = Command::new("rustup");
        c.args(["component", "add", "--toolchain", toolchain])
            .args(&missing);
        ok &= run.step(&format!("rustup component add ({toolchain})"), c);
    }
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| !has(&have_t, t))
        .collect();
    if !missing.is_empty() {
        println!("xtask: toolchain {toolchain} lacks the targets {missing:?}: adding them");
        let mut c = Command::new("rustup");
        c.args(["target", "add", "--toolchain", toolchain])
            .args(&missing);
        ok &= run.step(&format!("rustup target add ({toolchain})"), c);
    }
    ok
}

/// Makes sure the toolchain `rust-toolchain.toml` pins has every component and target
/// it lists. Called once, before the first step that compiles anything.
pub(crate) fn ensure_pinned(run: &mut Run) -> bool {
    let pinned = match fs::read_to_string("rust-toolchain.toml")
        .map_err(|e| format!("cannot read rust-toolchain.toml: {e}"))
        .and_then(|t| parse_pinned(&t))
    {
        Ok(p) => p,
        Err(e) => {
            run.fail("toolchain", &e);
            return false;
        }
    };
    let components: Vec<&str> = pinned.components.iter().map(String::as_str).collect();
    let targets: Vec<&str> = pinned.targets.iter().map(String::as_str).collect();
    add_missing(run, &pinned.channel, &components, &targets)
}

/// Makes sure the nightly toolchain exists with `components`: added to an existing
/// nightly, or a minimal nightly installed with them when there is none.
pub(crate) fn ensure_nightly(run: &mut Run, components: &[&str]) -> bool {
    if installed(NIGHTLY, "component").is_some() {
        return add_missing(run, NIGHTLY, components, &[]);
    }
    println!("xtask: no {NIGHTLY} toolchain: installing it with {components:?}");
    let mut c = Command::new("rustup");
    c.args(["toolchain", "install", NIGHTLY, "--profile", "minimal"]);
    for comp in components {
        c.args(["--component", comp]);
    }
    run.step(&format!("install {NIGHTLY} toolchain"), c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pinned_file_of_this_repository() {
        let text = fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../rust-toolchain.toml"
        ))
        .unwrap();
        let p = parse_pinned(&text).unwrap();
        assert!(!p.channel.is_empty());
        assert!(p.targets.iter().any(|t| t == "riscv64gc-unknown-none-elf"));
        assert!(p.components.iter().any(|c| c == "clippy"));
    }

    #[test]
    fn reads_arrays_over_several_lines_and_ignores_comments() {
        let p = parse_pinned(
            "# top\n[toolchain]\nchannel = \"1.2.3\" # pinned\ncomponents = [\n  \"rustfmt\", # fmt\n  \"clippy\",\n]\ntargets = [\"a-b-c\"]\nprofile = \"minimal\"\n[other]\nchannel = \"x\"\n",
        )
        .unwrap();
        assert_eq!(
            p,
            Pinned {
                channel: "1.2.3".into(),
                components: vec!["rustfmt".into(), "clippy".into()],
                targets: vec!["a-b-c".into()],
            }
        );
    }

    #[test]
    fn refuses_a_file_without_channel_or_with_an_open_array() {
        assert!(parse_pinned("[toolchain]\ntargets = [\"x\"]\n").is_err());
        assert!(parse_pinned("[toolchain]\nchannel = \"s\"\ntargets = [\"x\",\n").is_err());
    }

    #[test]
    fn matches_component_lines_with_their_host_suffix() {
        let list = vec![
            "miri-x86_64-unknown-linux-gnu".to_string(),
            "rust-src".to_string(),
            "riscv64gc-unknown-none-elf".to_string(),
        ];
        assert!(has(&list, "miri") && has(&list, "rust-src"));
        assert!(has(&list, "riscv64gc-unknown-none-elf"));
        assert!(!has(&list, "rust") && !has(&list, "clippy"));
    }
}
