//! Two OS processes over a real shared-memory file: the test binary re-executes itself
//! in a child role (`QP_CHILD_ROLE`), the parent checks results and reaps the child.
#![cfg(feature = "std")]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use queuing_port::mock::HostilePeer;
use queuing_port::shm::ShmFile;
use queuing_port::{Error, Geometry, QueueReceiver, QueueSender, RegionError};

const ROLE: &str = "QP_CHILD_ROLE";
const NAME: &str = "QP_SHM_NAME";
const MESSAGES: u32 = 20_000;

fn geometry() -> Geometry {
    Geometry::queuing(64, 8, false)
}

fn payload(n: u32) -> Vec<u8> {
    let len = 1 + (n % 64) as usize;
    (0..len).map(|i| (n as u8) ^ (i as u8)).collect()
}

fn spawn_child(role: &str, shm: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(NAME, shm)
        .spawn()
        .unwrap()
}

/// Kills the child if the parent's checks fail, so no process is left behind.
struct Reap(Child);

impl Reap {
    fn wait_ok(mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = self.0.try_wait().unwrap() {
                assert!(st.success(), "child failed: {st}");
                return;
            }
            assert!(Instant::now() < deadline, "child did not finish");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Reap {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The child side; a no-op unless started by one of the tests below.
#[test]
#[cfg_attr(miri, ignore = "processes and mmap")]
fn child_process_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let shm = ShmFile::open(&std::env::var(NAME).unwrap()).unwrap();
    let mut rx = QueueReceiver::attach(shm.region(), &geometry()).unwrap();
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(50);
    let wanted = if role == "scribbler" { 3 } else { MESSAGES };
    let mut n = 0;
    while n < wanted {
        match rx.try_receive(&mut buf) {
            Ok(m) => {
                if buf[..m.len] != payload(n)[..] {
                    std::process::exit(3);
                }
                n += 1;
            }
            Err(Error::NotAvailable) => std::thread::yield_now(),
            Err(_) => std::process::exit(4),
        }
        if Instant::now() > deadline {
            std::process::exit(5);
        }
    }
    if role == "scribbler" {
        HostilePeer::new(shm.region()).scribble(0xa5a5_a5a5);
    }
}

#[test]
#[cfg_attr(miri, ignore = "processes and mmap")]
fn messages_cross_processes() {
    let name = format!("partnet-qp-cross-{}", std::process::id());
    let shm = ShmFile::create(&name, geometry().region_bytes()).unwrap();
    geometry().format(&shm.region()).unwrap();
    let child = Reap(spawn_child("receiver", &name));
    let mut tx = QueueSender::attach(shm.region(), &geometry()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(50);
    let mut n = 0;
    while n < MESSAGES {
        match tx.try_send(&payload(n)) {
            Ok(()) => n += 1,
            Err(Error::NotAvailable) => std::thread::yield_now(),
            Err(e) => panic!("send {n}: {e}"),
        }
        assert!(Instant::now() < deadline, "receiver stalled at {n}");
    }
    child.wait_ok();
    assert_eq!(tx.nb_message().unwrap(), 0);
    shm.unlink().unwrap();
}

#[test]
#[cfg_attr(miri, ignore = "processes and mmap")]
fn scribbling_reader_cannot_crash_the_writer() {
    let name = format!("partnet-qp-scribble-{}", std::process::id());
    let shm = ShmFile::create(&name, geometry().region_bytes()).unwrap();
    geometry().format(&shm.region()).unwrap();
    let mut tx = QueueSender::attach(shm.region(), &geometry()).unwrap();
    for n in 0..8 {
        tx.try_send(&payload(n)).unwrap();
    }
    Reap(spawn_child("scribbler", &name)).wait_ok();
    // The reader took 3 messages and then overwrote everything: the writer detects it,
    // with a typed error, every time, and stays usable.
    for _ in 0..3 {
        let e = tx.try_send(&payload(9)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Corrupt(RegionError::IndexOutOfRange { field: "head", .. })
            ),
            "{e}"
        );
    }
    // A new attach refuses the region outright.
    let e = QueueSender::attach(shm.region(), &geometry()).unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::HeaderMismatch { field: "magic", .. })
    ));
    // Reformatted by the integrator, the channel works again.
    geometry().format(&shm.region()).unwrap();
    let mut tx = QueueSender::attach(shm.region(), &geometry()).unwrap();
    tx.try_send(&payload(0)).unwrap();
    shm.unlink().unwrap();
}
