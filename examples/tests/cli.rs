//! Every binary's command line, as a user meets it: `--help` (usage on stdout, every
//! option explained, exit 0), an unknown flag or a bad value (named on stderr with the
//! usage, exit 2), and what a binary has to create: a `--pcap` path in a directory that
//! does not exist and one in a directory nobody may create files in, vswitchd's sockets
//! likewise, multi-process's shared-memory names (the path or name on stderr, exit 1).
//! Nothing panics.

use std::path::PathBuf;
use std::process::{Command, Output};

const HOSTED: &str = env!("CARGO_BIN_EXE_hosted-demo");
const MULTI: &str = env!("CARGO_BIN_EXE_multi-process");
const VSWITCHD: &str = env!("CARGO_BIN_EXE_partnet-vswitchd");
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

/// A capture in a directory that does not exist.
fn missing_dir() -> String {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("no-such-dir")
        .join("capture.pcap");
    p.to_str().unwrap().to_string()
}

/// A file in a directory nobody may create files in: procfs takes no new files, not
/// even from root (a mode-0500 directory would not stop root, who runs the namespace
/// tests).
const UNWRITABLE: &str = "/proc/partnet-cli-capture.pcap";

/// `--help` and `-h`: the usage on stdout, exit 0, every option of `options` in it at
/// the start of a line.
fn help(exe: &str, options: &[&str]) {
    for flag in ["--help", "-h"] {
        let o = run(exe, &[flag]);
        assert_eq!(o.status.code(), Some(0), "{exe} {flag}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.starts_with("usage: "), "{exe} {flag}: {out}");
        for opt in options.iter().chain(&["-h, --help"]) {
            assert!(
                out.lines().any(|l| l.trim_start().starts_with(opt)),
                "{exe} {flag}: `{opt}` is not explained:\n{out}"
            );
        }
    }
}

/// `args` is a usage error: exit 2, stderr names `named` and shows the usage, nothing
/// on stdout, no panic.
fn usage_error(exe: &str, args: &[&str], named: &str) {
    let o = run(exe, args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{exe} {args:?}: {err}");
    assert!(
        err.contains(named),
        "{exe} {args:?}: `{named}` not named: {err}"
    );
    assert!(err.contains("usage: "), "{exe} {args:?}: {err}");
    assert!(!err.contains("panicked"), "{exe} {args:?}: {err}");
    assert!(
        o.stdout.is_empty(),
        "{exe} {args:?}: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// An unknown flag, a stray argument, an unknown short flag and `flag` without its
/// value are usage errors.
fn unknown_and_missing(exe: &str, flag: &str) {
    usage_error(
        exe,
        &["--no-such-flag"],
        "unknown argument `--no-such-flag`",
    );
    usage_error(exe, &["stray"], "unknown argument `stray`");
    usage_error(exe, &["-q"], "unknown argument `-q`");
    usage_error(exe, &[flag], flag);
}

/// `args` cannot create what it names: exit 1, `named` on stderr, no panic.
fn cannot_create(exe: &str, args: &[&str], named: &str) {
    let o = run(exe, args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{exe} {args:?}: {err}");
    assert!(
        err.contains(named),
        "{exe} {args:?}: `{named}` not named: {err}"
    );
    assert!(!err.contains("panicked"), "{exe} {args:?}: {err}");
}

#[test]
#[cfg_attr(miri, ignore = "runs processes")]
fn hosted_demo() {
    help(
        HOSTED,
        &[
            "--pcap PATH",
            "--tap NAME",
            "--peer IPV4",
            "--serve SECONDS",
        ],
    );
    unknown_and_missing(HOSTED, "--pcap");
    usage_error(HOSTED, &["--peer", "10.0.0"], "--peer: `10.0.0`");
    usage_error(HOSTED, &["--serve", "soon"], "--serve: `soon`");
    for path in [missing_dir(), UNWRITABLE.into()] {
        cannot_create(HOSTED, &["--pcap", &path], &path);
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs processes")]
fn multi_process() {
    help(MULTI, &["--role a|b", "--shm PREFIX"]);
    unknown_and_missing(MULTI, "--role");
    usage_error(MULTI, &["--shm"], "--shm");
    usage_error(MULTI, &["--role", "c"], "--role: `c`");
    // A prefix that is no shared-memory name (a path into directories) cannot be
    // created: the service partition says which name, exit 1.
    cannot_create(MULTI, &["--shm", "no-such-dir/x"], "no-such-dir/x");
}

#[test]
#[cfg_attr(miri, ignore = "runs processes")]
fn partnet_vswitchd() {
    help(
        VSWITCHD,
        &[
            "--vm SOCKET,MAC",
            "--partition-a MAC,IP/PREFIX",
            "--partition-b MAC,IP/PREFIX",
            "--pcap FILE",
            "--guest-memory MIB",
            "--hugetlbfs",
            "--exit-after-transfers N",
        ],
    );
    unknown_and_missing(VSWITCHD, "--pcap");
    usage_error(VSWITCHD, &["--vm", "/tmp/x.sock"], "--vm: `/tmp/x.sock`");
    usage_error(VSWITCHD, &["--vm", "/tmp/x.sock,52:54:00"], "bad MAC");
    usage_error(VSWITCHD, &["--vm", ",52:54:00:12:34:56"], "no socket path");
    usage_error(VSWITCHD, &["--guest-memory", "0"], "--guest-memory: `0`");
    usage_error(
        VSWITCHD,
        &["--partition-a", "02:00:00:00:00:01"],
        "--partition-a",
    );
    usage_error(
        VSWITCHD,
        &["--partition-b", "02:00:00:00:00:01,10.0.0.300/24"],
        "bad IP",
    );
    usage_error(
        VSWITCHD,
        &[
            "--partition-a",
            "02:00:00:00:00:01,10.0.0.1/24",
            "--partition-a",
            "02:00:00:00:00:02,10.0.0.2/24",
        ],
        "--partition-a given twice",
    );
    usage_error(
        VSWITCHD,
        &["--exit-after-transfers", "-1"],
        "--exit-after-transfers",
    );
    let sock = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-vswitchd.sock");
    let vm = format!("{},52:54:00:12:34:56", sock.display());
    for path in [missing_dir(), UNWRITABLE.into()] {
        cannot_create(VSWITCHD, &["--vm", &vm, "--pcap", &path], &path);
        // A socket where none can be created.
        let sock = path.replace(".pcap", ".sock");
        let vm = format!("{sock},52:54:00:12:34:56");
        cannot_create(VSWITCHD, &["--vm", &vm], &sock);
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs processes")]
fn afdx_demo() {
    help(
        AFDX,
        &[
            "--pcap PATH",
            "--duration-ms MS",
            "--fail-a-at-ms MS",
            "--no-failure",
            "--commands N",
            "--statuses N",
        ],
    );
    unknown_and_missing(AFDX, "--pcap");
    usage_error(AFDX, &["--duration-ms", "4000000"], "at most one hour");
    usage_error(AFDX, &["--commands", "-1"], "--commands: `-1`");
    usage_error(
        AFDX,
        &["--statuses", "5000000000"],
        "--statuses: `5000000000`",
    );
    for path in [missing_dir(), UNWRITABLE.into()] {
        cannot_create(AFDX, &["--pcap", &path], &path);
    }
}
