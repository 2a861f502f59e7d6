//! A Linux peer in a private network namespace, shared by the steps that put the real
//! Linux kernel in front of partnet (`examples-qemu`, `examples-tap`).
//!
//! [`Sandbox`] creates a namespace with a TAP device in it (owned by the calling user,
//! an address in a private subnet that exists only inside the namespace, link up) and
//! holds the process under test; dropping it kills that process by its PID, deletes the
//! TAP device and the namespace, on every path (errors, panics). [`peer_checks`] is what
//! Linux does against each partition from inside the namespace: `ping -c 3` (all three
//! replies required), a TCP echo and optionally a UDP echo, run by this binary re-executed
//! inside the namespace (`xtask netns-tcp-echo ADDR`, `xtask netns-udp-echo ADDR`, see
//! `echo.rs`).

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A network namespace with a TAP device, and the process under test running in it.
pub(crate) struct Sandbox {
    /// The namespace's name.
    pub(crate) ns: String,
    /// The TAP device's name (inside the namespace).
    pub(crate) tap: &'static str,
    /// The process under test (started with [`Sandbox::spawn`]).
    pub(crate) child: Option<Child>,
    /// What the process is, for messages ("QEMU", "hosted-demo").
    what: &'static str,
}

impl Sandbox {
    /// Creates namespace `ns` with TAP device `tap` (owned by the calling user, so the
    /// process under test can open it), address `cidr` on it, `lo` and `tap` up.
    pub(crate) fn create(
        ns: String,
        tap: &'static str,
        cidr: &str,
        what: &'static str,
    ) -> Result<Self, String> {
        ip(&["netns", "add", &ns])?;
        let sb = Sandbox {
            ns,
            tap,
            child: None,
            what,
        };
        let uid = real_uid().ok_or("cannot read the real uid from /proc/self/status")?;
        sb.exec_ok(&["ip", "link", "set", "lo", "up"])?;
        sb.exec_ok(&[
            "ip", "tuntap", "add", "dev", tap, "mode", "tap", "user", &uid,
        ])?;
        sb.exec_ok(&["ip", "addr", "add", cidr, "dev", tap])?;
        sb.exec_ok(&["ip", "link", "set", tap, "up"])?;
        println!(
            "xtask: namespace {} with {tap} {cidr} (owner uid {uid})",
            sb.ns
        );
        Ok(sb)
    }

    /// `ip netns exec <ns> args...` as a command (`ip` execs `args[0]`: the child's PID
    /// is that program's).
    pub(crate) fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(args);
        c
    }

    /// Runs `args` inside the namespace; its stdout, or a message with its stderr.
    pub(crate) fn exec_ok(&self, args: &[&str]) -> Result<String, String> {
        output(self.exec(args), &args.join(" "))
    }

    /// Starts `cmd` (made with [`Sandbox::exec`]) as the process under test.
    pub(crate) fn spawn(&mut self, mut cmd: Command) -> Result<&mut Child, String> {
        println!("$ {cmd:?}");
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {} in the namespace: {e}", self.what))?;
        Ok(self.child.insert(child))
    }

    /// Waits until the file at `log` contains `line`. Fails when the process under test
    /// exits first or `limit` has passed since `start`.
    pub(crate) fn wait_for_line(
        &mut self,
        log: &Path,
        line: &str,
        start: Instant,
        limit: Duration,
    ) -> Result<(), String> {
        loop {
            if fs::read_to_string(log).is_ok_and(|t| t.contains(line)) {
                println!(
                    "xtask: {} ready after {:.1} s",
                    self.what,
                    start.elapsed().as_secs_f32()
                );
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(s) = exited {
                return Err(format!("{} exited ({s}) before it was ready", self.what));
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "{} did not print \"{line}\" within {} s",
                    self.what,
                    limit.as_secs()
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                println!("xtask: killing {} pid {}", self.what, child.id());
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        let _ = self.exec_ok(&["ip", "link", "del", self.tap]);
        match ip(&["netns", "del", &self.ns]) {
            Ok(_) => println!("xtask: removed namespace {} and {}", self.ns, self.tap),
            Err(e) => println!("xtask: WARNING could not remove namespace {}: {e}", self.ns),
        }
    }
}

/// The real uid (first field of `Uid:` in /proc/self/status), as text.
fn real_uid() -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?;
    Some(uid.to_string())
}

/// `ip args...`, outside any namespace.
pub(crate) fn ip(args: &[&str]) -> Result<String, String> {
    let mut c = Command::new("ip");
    c.args(args);
    output(c, &format!("ip {}", args.join(" ")))
}

/// Runs `c`; its stdout on success, a message with its stderr otherwise.
fn output(mut c: Command, what: &str) -> Result<String, String> {
    let o = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{what}`: {e}"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!(
            "`{what}` failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout).trim(),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// From Linux inside the namespace, against each `(name, address)` partition: `ping -c 3`
/// (3 of 3 replies), a TCP echo to port 7 and, with `udp`, a UDP echo to port 7. Returns
/// every problem (empty: all passed).
pub(crate) fn peer_checks(sb: &Sandbox, partitions: &[(&str, &str)], udp: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let exe = match std::env::current_exe() {
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(e) => return vec![format!("no xtask binary path: {e}")],
    };
    for &(name, addr) in partitions {
        match sb.exec_ok(&["ping", "-c", "3", "-i", "0.2", "-W", "2", addr]) {
            Ok(out) if out.contains(" 3 received") => {
                println!("xtask: ping -c 3 {addr} (partition {name}): 3 of 3 replies")
            }
            Ok(out) => problems.push(format!("ping {addr}: not 3 of 3 replies: {}", out.trim())),
            Err(e) => problems.push(e),
        }
        let target = format!("{addr}:7");
        let kinds: &[&str] = if udp {
            &["netns-tcp-echo", "netns-udp-echo"]
        } else {
            &["netns-tcp-echo"]
        };
        for kind in kinds {
            match sb.exec_ok(&[&exe, kind, &target]) {
                Ok(out) => println!("xtask: {}", out.trim()),
                Err(e) => problems.push(format!("partition {name}: {e}")),
            }
        }
    }
    problems
}
