//! `partnet-vswitchd` against hostile vhost-user frontends over its real sockets: a
//! frontend that connects and says nothing does not freeze the daemon for the other VMs,
//! and a kicked eventfd of rings that do not run does not keep it busy.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::sock_ctrl_msg::ScmSocket;
use vnet_switch::adapters::vhost_user::mock::{get_features, header};
use vnet_switch::adapters::vhost_user::OFFERED_FEATURES;

/// The daemon with `vms` VM sockets in a directory of its own; killed on drop.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn start(name: &str, vms: usize) -> Daemon {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("vswitchd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = File::create(dir.join("stderr")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_partnet-vswitchd"));
        for i in 0..vms {
            let sock = dir.join(format!("vm{i}.sock"));
            cmd.arg("--vm")
                .arg(format!("{},02:00:00:00:00:{:02x}", sock.display(), i + 1));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let d = Daemon { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(0..vms).all(|i| d.sock(i).exists()) {
            assert!(Instant::now() < deadline, "the daemon did not listen");
            thread::sleep(Duration::from_millis(5));
        }
        d
    }

    fn sock(&self, vm: usize) -> PathBuf {
        self.dir.join(format!("vm{vm}.sock"))
    }

    fn connect(&self, vm: usize) -> UnixStream {
        UnixStream::connect(self.sock(vm)).unwrap()
    }

    fn signal(&self, sig: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32).expect("a child's pid is not 0");
        kill_process(pid, sig).unwrap();
    }

    /// CPU time the daemon used so far (user + system), in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which may hold spaces): state is field 3,
        // utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_silent_frontend_does_not_freeze_the_daemon_for_the_other_vms() {
    let d = Daemon::start("silent", 3);
    for attempt in 0..3 {
        // Two frontends connect while the daemon is not looking (stopped), so both are
        // waiting at its next wake-up: VM 1's, then VM 0's, and neither says anything.
        d.signal(Signal::STOP);
        let vm1 = d.connect(1);
        let vm0 = d.connect(0);
        d.signal(Signal::CONT);
        // A third VM is still accepted and served.
        let mut vm2 = d.connect(2);
        let features = get_features(&mut vm2, Duration::from_secs(5));
        assert_eq!(
            features,
            Some(OFFERED_FEATURES),
            "attempt {attempt}: VM 2 was not served; daemon log:\n{}",
            d.log()
        );
        // And so are the silent ones, once they speak.
        for (vm, mut s) in [(0, vm0), (1, vm1)] {
            let f = get_features(&mut s, Duration::from_secs(5));
            assert_eq!(f, Some(OFFERED_FEATURES), "VM {vm}; log:\n{}", d.log());
        }
        drop(vm2);
        // Let the daemon see the hang-ups before the next attempt connects again.
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_kicked_eventfd_of_rings_not_running_does_not_keep_the_daemon_busy() {
    let d = Daemon::start("kick", 1);
    let mut s = d.connect(0);
    let kick = EventFd::new(vmm_sys_util::eventfd::EFD_CLOEXEC).unwrap();
    // SET_VRING_KICK (12) for queue 0 with the eventfd attached; nothing else set up.
    let mut m = header(12, 8);
    m.extend_from_slice(&0u64.to_le_bytes());
    s.send_with_fds(&[&m[..]], &[kick.as_raw_fd()]).unwrap();
    // Requests are handled in order: the reply means the kick fd was taken.
    assert_eq!(
        get_features(&mut s, Duration::from_secs(5)),
        Some(OFFERED_FEATURES),
        "log:\n{}",
        d.log()
    );
    kick.write(1).unwrap();

    // Over a second of otherwise idle time the daemon sleeps in its wait: its CPU time
    // is a small fraction of the wall time (a loop woken by the kick at every wait
    // would use all of one core).
    let hz = rustix::param::clock_ticks_per_second() as f64;
    let (t0, c0) = (Instant::now(), d.cpu_ticks());
    thread::sleep(Duration::from_secs(1));
    let (t1, c1) = (Instant::now(), d.cpu_ticks());
    let busy = (c1 - c0) as f64 / hz / (t1 - t0).as_secs_f64();
    assert!(
        busy < 0.3,
        "the daemon used {:.0} % of a core while idle",
        busy * 100.0
    );
    // The frontend was not cut off for it.
    assert_eq!(
        get_features(&mut s, Duration::from_secs(5)),
        Some(OFFERED_FEATURES)
    );
}
