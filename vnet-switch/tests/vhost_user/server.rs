//! The `Server` event loop over real listening sockets: a well-behaved frontend brought
//! up to running rings passes frames while a hostile one on the other VM socket is cut
//! off with its typed reason, and that socket then accepts a new frontend; a second
//! frontend on a socket in use is refused; `listen` replaces a stale socket and never
//! removes anything else.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::common::{frame, mac};
use super::harness::*;
use vhost::VhostBackend;
use vnet_switch::adapters::vhost_user::mock::{get_features, header};
use vnet_switch::adapters::vhost_user::{
    AsVhostUser, Server, ServerEvent, VhostUserError, VhostUserPort, OFFERED_FEATURES,
};
use vnet_switch::{PortConfig, PortId, SwitchBuilder};

impl AsVhostUser for Ep {
    fn as_vhost_user(&mut self) -> Option<&mut VhostUserPort> {
        match self {
            Ep::Vm(v) => Some(v),
            Ep::Other(_) => None,
        }
    }
}

type Events = Arc<Mutex<Vec<(u8, ServerEvent)>>>;

/// A switch (the in-memory partition, VM A, VM B) served by a [`Server`] in a thread,
/// listening on a socket per VM in a directory of its own.
struct Served {
    dir: PathBuf,
    events: Events,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<Sw>>,
}

impl Served {
    fn start(name: &str) -> Served {
        let dir =
            std::env::temp_dir().join(format!("partnet-server-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut sb = SwitchBuilder::<Ep, 4>::new();
        sb.add_port(Ep::Other(Box::default()), PortConfig::partition(mac(2), 1))
            .unwrap();
        let mut server = Server::new();
        for (m, vm) in [(1, VM_A), (3, VM_B)] {
            let id = sb
                .add_port(
                    Ep::Vm(Box::new(VhostUserPort::new(1514))),
                    PortConfig::partition(mac(m), 1),
                )
                .unwrap();
            assert_eq!(id, PortId::new(vm));
            server.listen(id, dir.join(format!("vm{vm}.sock"))).unwrap();
        }
        let mut sw: Sw = sb.build().unwrap();
        let events = Events::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (e, s) = (events.clone(), stop.clone());
        let thread = thread::spawn(move || {
            server
                .run_until(
                    &mut sw,
                    || 0,
                    32,
                    || s.load(Ordering::Relaxed),
                    |port, event| e.lock().unwrap().push((port.index() as u8, event)),
                )
                .unwrap();
            drop(server);
            sw
        });
        Served {
            dir,
            events,
            stop,
            thread: Some(thread),
        }
    }

    fn sock(&self, vm: u8) -> PathBuf {
        self.dir.join(format!("vm{vm}.sock"))
    }

    fn connect(&self, vm: u8) -> UnixStream {
        UnixStream::connect(self.sock(vm)).unwrap()
    }

    fn events(&self, vm: u8) -> Vec<ServerEvent> {
        let e = self.events.lock().unwrap();
        e.iter()
            .filter(|(p, _)| *p == vm)
            .map(|(_, e)| *e)
            .collect()
    }

    /// Waits (bounded) until VM `vm` has had an event `want` says yes to.
    fn wait_for(&self, vm: u8, what: &str, want: impl Fn(&ServerEvent) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.events(vm).iter().any(&want) {
            assert!(
                Instant::now() < deadline,
                "VM {vm}: no {what}; events: {:?}",
                self.events(vm)
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Stops the loop and hands the switch back.
    fn stop(mut self) -> Sw {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the peer closed `s` within a few seconds: a read returns end of file, or
/// a reset when the peer closed without reading what was sent.
fn closed(s: &mut UnixStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    match s.read(&mut [0u8; 1]) {
        Ok(n) => n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

const SECOND: Duration = Duration::from_secs(5);

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn a_hostile_frontend_is_cut_off_the_others_go_on_and_its_socket_takes_a_new_one() {
    let served = Served::start("hostile");
    // VM A: a well-behaved frontend up to running rings.
    let guest = Guest::new();
    let vm = bring_up(served.connect(VM_A), &guest);
    served.wait_for(VM_A, "start", |e| {
        *e == ServerEvent::Running { packed: false }
    });
    let mut drv = Driver::new(&guest);

    // VM B: a header announcing a body larger than any request.
    let mut hostile = served.connect(VM_B);
    hostile.write_all(&header(1, 0x10_0000)).unwrap();
    served.wait_for(VM_B, "cut-off", |e| matches!(e, ServerEvent::CutOff(_)));
    assert!(
        closed(&mut hostile),
        "the hostile frontend's socket was closed"
    );
    let cut: Vec<_> = served
        .events(VM_B)
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::CutOff(c) => Some(c.reason),
            _ => None,
        })
        .collect();
    assert_eq!(cut, [VhostUserError::Oversized { size: 0x10_0000 }]);

    // VM A goes on: its frames reach the partition, its requests are answered.
    for seed in 0..4 {
        drv.send(&vm, &frame(mac(2), mac(1), 0x88b5, &payload(60, seed)));
    }
    assert_eq!(vm.front.get_features().unwrap(), OFFERED_FEATURES);
    assert!(!served
        .events(VM_A)
        .iter()
        .any(|e| matches!(e, ServerEvent::CutOff(_))));

    // VM B's socket accepts a new frontend, which is served.
    let mut again = served.connect(VM_B);
    assert_eq!(get_features(&mut again, SECOND), Some(OFFERED_FEATURES));
    let connects = served
        .events(VM_B)
        .iter()
        .filter(|e| **e == ServerEvent::Connected)
        .count();
    assert_eq!(connects, 2);

    let deadline = Instant::now() + Duration::from_secs(10);
    while drv.reclaim_tx() == 0 {
        assert!(Instant::now() < deadline, "VM A's frames were not taken");
        thread::sleep(Duration::from_millis(1));
    }
    let mut sw = served.stop();
    assert!(sw.stats(PortId::new(VM_A)).unwrap().rx_frames >= 1);
    let Some(Ep::Vm(b)) = sw.endpoint_mut(PortId::new(VM_B)) else {
        panic!("VM B's port")
    };
    let s = b.stats();
    assert_eq!((s.connections, s.cutoffs), (2, 1));
    assert_eq!(
        s.last_cutoff,
        Some(VhostUserError::Oversized { size: 0x10_0000 })
    );
}

#[test]
#[cfg_attr(miri, ignore = "sockets")]
fn a_second_frontend_on_a_socket_in_use_is_refused() {
    let served = Served::start("second");
    let mut first = served.connect(VM_A);
    assert_eq!(get_features(&mut first, SECOND), Some(OFFERED_FEATURES));
    let mut second = served.connect(VM_A);
    served.wait_for(VM_A, "refusal", |e| *e == ServerEvent::Refused);
    assert!(closed(&mut second));
    // The first one is still served, and nothing was cut off.
    assert_eq!(get_features(&mut first, SECOND), Some(OFFERED_FEATURES));
    assert_eq!(
        served.events(VM_A),
        [ServerEvent::Connected, ServerEvent::Refused]
    );
    // A hang-up is a cut-off, told as one; the socket then takes a new frontend.
    drop(first);
    served.wait_for(VM_A, "hang-up", |e| {
        *e == ServerEvent::CutOff(vnet_switch::adapters::vhost_user::CutOff {
            reason: VhostUserError::Disconnected,
        })
    });
    let mut third = served.connect(VM_A);
    assert_eq!(get_features(&mut third, SECOND), Some(OFFERED_FEATURES));
}

#[test]
#[cfg_attr(miri, ignore = "sockets")]
fn listen_replaces_a_stale_socket_and_never_removes_anything_else() {
    let dir = std::env::temp_dir().join(format!("partnet-listen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (stale, file) = (dir.join("stale.sock"), dir.join("file"));
    // A socket file left behind by a process that is gone.
    drop(UnixListener::bind(&stale).unwrap());
    std::fs::write(&file, b"keep me").unwrap();

    let mut server = Server::new();
    server.listen(PortId::new(0), &stale).unwrap();
    let e = server.listen(PortId::new(1), &file).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    let missing = dir.join("no-such-dir").join("x.sock");
    assert!(server.listen(PortId::new(1), &missing).is_err());
    assert_eq!(server.ports().collect::<Vec<_>>(), [PortId::new(0)]);
    // Its own socket files go with the server.
    assert!(UnixStream::connect(&stale).is_ok());
    drop(server);
    assert!(!stale.exists());
    assert!(file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
