//! Every binary's command line, as a user meets it: `--help` (usage on stdout, exit 0),
//! an unknown flag (named on stderr with the usage, exit 2), and for the binaries that
//! write a capture, a `--pcap` path in a directory that does not exist and one in a
//! directory nobody may create files in (the path named on stderr, exit 1, no panic).

use std::path::PathBuf;
use std::process::{Command, Output};

const HOSTED: &str = env!("CARGO_BIN_EXE_hosted-demo");
const MULTI: &str = env!("CARGO_BIN_EXE_multi-process");
const VSWITCHD: &str = env!("CARGO_BIN_EXE_vswitchd");
const AFDX: &str = env!("CARGO_BIN_EXE_afdx-demo");

fn run(exe: &str, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The arguments a binary needs besides `--pcap` to get as far as opening it.
fn needed(exe: &str) -> Vec<String> {
    if exe == VSWITCHD {
        let sock = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-vswitchd.sock");
        vec![
            "--vm".into(),
            format!("{},52:54:00:12:34:56", sock.display()),
        ]
    } else {
        Vec::new()
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs processes")]
fn help_prints_the_usage_and_exits_0() {
    for exe in [HOSTED, MULTI, VSWITCHD, AFDX] {
        for flag in ["--help", "-h"] {
            let o = run(exe, &[flag]);
            assert_eq!(o.status.code(), Some(0), "{exe} {flag}: {}", stderr(&o));
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(out.starts_with("usage: "), "{exe} {flag}: {out}");
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs processes")]
fn an_unknown_flag_is_named_and_exits_2() {
    for exe in [HOSTED, MULTI, VSWITCHD, AFDX] {
        let o = run(exe, &["--no-such-flag"]);
        assert_eq!(o.status.code(), Some(2), "{exe}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("unknown argument"), "{exe}: {err}");
        assert!(err.contains("--no-such-flag"), "{exe}: {err}");
        assert!(err.contains("usage: "), "{exe}: {err}");
        assert!(o.stdout.is_empty() || !String::from_utf8_lossy(&o.stdout).contains("ok "));
    }
    // A flag without its value.
    for (exe, flag) in [
        (HOSTED, "--pcap"),
        (MULTI, "--role"),
        (VSWITCHD, "--pcap"),
        (AFDX, "--pcap"),
    ] {
        let o = run(exe, &[flag]);
        assert_eq!(o.status.code(), Some(2), "{exe} {flag}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{exe}: {}", stderr(&o));
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs processes")]
fn a_capture_path_that_cannot_be_written_is_named_and_exits_1() {
    let missing_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("no-such-dir")
        .join("capture.pcap");
    // procfs takes no new files, not even from root (a mode-0500 directory would not
    // stop root, who runs the namespace tests).
    let unwritable_dir = PathBuf::from("/proc/partnet-cli-capture.pcap");
    for exe in [HOSTED, VSWITCHD, AFDX] {
        for path in [&missing_dir, &unwritable_dir] {
            let path = path.to_str().unwrap();
            let mut args = needed(exe);
            args.extend(["--pcap".to_string(), path.to_string()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = run(exe, &args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{exe} --pcap {path}: {err}");
            assert!(err.contains(path), "{exe} --pcap {path}: {err}");
            assert!(!err.contains("panicked"), "{exe} --pcap {path}: {err}");
        }
    }
}
