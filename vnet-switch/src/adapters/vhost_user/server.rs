//! The serving loop of a switch whose ports include vhost-user VMs: one listening socket
//! per VM port, a frontend accepted on each, its requests handled, the switch forwarded,
//! cut-offs reported with their typed reasons, and a new frontend accepted after one.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use frame_link::FrameLink;

use super::{CutOff, FdRole, VhostUserPort, WaitList};
use crate::{PortId, Switch};

/// A switch endpoint type that may be a vhost-user port: how a [`Server`] finds the VM
/// ports in the switch. Implement it for the endpoint enum of a switch with ports of
/// several kinds (made with [`frame_link::link_enum!`]).
pub trait AsVhostUser: FrameLink {
    /// The vhost-user port, if this endpoint is one.
    fn as_vhost_user(&mut self) -> Option<&mut VhostUserPort>;
}

impl AsVhostUser for VhostUserPort {
    fn as_vhost_user(&mut self) -> Option<&mut VhostUserPort> {
        Some(self)
    }
}

/// What happened on a VM port during a [`Server::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A frontend connected and was attached.
    Connected,
    /// A second frontend connected while one is attached: its connection was closed.
    Refused,
    /// The rings started (`packed`: the frontend negotiated packed rings).
    Running {
        /// Packed (`true`) or split rings.
        packed: bool,
    },
    /// The frontend was cut off (a disconnect included); the socket accepts a new one.
    CutOff(CutOff),
}

impl fmt::Display for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerEvent::Connected => f.write_str("frontend connected"),
            ServerEvent::Refused => f.write_str("second frontend refused"),
            ServerEvent::Running { packed: true } => f.write_str("rings running (packed)"),
            ServerEvent::Running { packed: false } => f.write_str("rings running (split)"),
            ServerEvent::CutOff(c) => c.fmt(f),
        }
    }
}

/// One VM: its listening socket and its port in the switch.
#[derive(Debug)]
struct Vm {
    listener: UnixListener,
    port: PortId,
    /// The socket file this server created (removed on drop).
    path: Option<PathBuf>,
}

/// Serves the vhost-user ports of a [`Switch`]: owns one listening socket per VM port
/// and runs the event loop one wake-up at a time ([`Server::poll`]) or until told to stop
/// ([`Server::run_until`]).
///
/// Each wake-up: waits (bounded) on the listeners, the frontends' sockets and the
/// running rings' kick eventfds; accepts a frontend on each VM socket (one per port: a
/// second is refused); hands each readable socket's requests to its port; runs the
/// integrator's bounded forwarding; reports the cut-offs the ports found; and re-enables
/// the guests' notifications (poll again at once when frames raced in). A frontend that
/// misbehaves is cut off with its typed reason ([`ServerEvent::CutOff`]); every other
/// port goes on, and its socket accepts a new frontend.
///
/// The crate documentation (*Serving QEMU guests over vhost-user*) has an example.
#[derive(Debug, Default)]
pub struct Server {
    vms: Vec<Vm>,
    wait: WaitList,
    /// The last wake-up left work: do not sleep at the next.
    busy: bool,
}

/// The longest [`Server::run_until`] sleeps before it asks its stop condition again.
pub const IDLE_WAIT_MS: i32 = 10;
/// Switch polls per wake-up of [`Server::run_until`] (each of the budget it is given),
/// fewer when the switch goes quiet.
pub const ROUNDS: usize = 16;

impl Server {
    /// A server without VM sockets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listen on a new Unix socket at `path` for the frontend of the VM port `port` (a
    /// [`VhostUserPort`] of the switch this server will serve). A socket file left at
    /// `path` by an earlier run is replaced; any other file there is an error
    /// ([`io::ErrorKind::AlreadyExists`]), never removed. The socket file is removed
    /// when the server is dropped.
    pub fn listen(&mut self, port: PortId, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file that is not a socket is in the way",
                ))
            }
            Err(_) => {}
        }
        let listener = UnixListener::bind(path)?;
        self.add_listener(port, listener)?;
        if let Some(vm) = self.vms.last_mut() {
            vm.path = Some(path.to_path_buf());
        }
        Ok(())
    }

    /// Serve the VM port `port` with an integrator's listening socket (made
    /// non-blocking here; not removed on drop).
    pub fn add_listener(&mut self, port: PortId, listener: UnixListener) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        self.vms.push(Vm {
            listener,
            port,
            path: None,
        });
        Ok(())
    }

    /// The VM ports served, in the order added.
    pub fn ports(&self) -> impl Iterator<Item = PortId> + '_ {
        self.vms.iter().map(|v| v.port)
    }

    /// One wake-up of the event loop over `sw`: wait up to `timeout_ms` (`-1`: no limit;
    /// not at all when the last wake-up left work) for a connection, a request or a
    /// kick; accept and handle them; run `forward` (the integrator's bounded forwarding:
    /// switch polls, its own partitions' stacks; it returns the frames it moved); report
    /// cut-offs; re-enable notifications. `on_event` is told what happened, per VM port.
    /// A signal ends the wait early (`Ok`). Returns what `forward` returned.
    ///
    /// A port id that is not a vhost-user port of `sw` is skipped.
    pub fn poll<E: AsVhostUser, const P: usize, const M: usize, const Q: usize>(
        &mut self,
        sw: &mut Switch<E, P, M, Q>,
        timeout_ms: i32,
        forward: impl FnOnce(&mut Switch<E, P, M, Q>) -> usize,
        mut on_event: impl FnMut(PortId, ServerEvent),
    ) -> io::Result<usize> {
        // Wait for a connection, a request or a kick. Each fd is tagged with its VM and
        // role: a readiness is read as the fd that had it.
        self.wait.clear();
        for (i, vm) in self.vms.iter().enumerate() {
            self.wait.add(i, FdRole::Listener, vm.listener.as_raw_fd());
            if let Some(p) = vm_port(sw, vm.port) {
                self.wait.add_port(i, p);
            }
        }
        self.wait.wait(if self.busy { 0 } else { timeout_ms })?;
        for (i, vm) in self.vms.iter().enumerate() {
            let Some(p) = vm_port(sw, vm.port) else {
                continue;
            };
            if self.wait.is_ready(i, FdRole::Listener) {
                if let Ok((s, _)) = vm.listener.accept() {
                    match p.attach(s) {
                        Ok(()) => on_event(vm.port, ServerEvent::Connected),
                        Err(_) => on_event(vm.port, ServerEvent::Refused),
                    }
                }
            }
            // The socket that was waited on (a frontend accepted just now has not been:
            // its requests are handled at the next wake-up). The port drains the
            // requests that are there whole and returns.
            if self.wait.is_ready(i, FdRole::Socket) && p.is_connected() {
                let was_running = p.is_running();
                match p.handle_socket() {
                    Err(c) => on_event(vm.port, ServerEvent::CutOff(c)),
                    Ok(()) if !was_running && p.is_running() => on_event(
                        vm.port,
                        ServerEvent::Running {
                            packed: p.packed_rings() == Some(true),
                        },
                    ),
                    Ok(()) => {}
                }
            }
        }
        // Each port's housekeeping (a VM's calls and kicks) is its `service`, called by
        // the switch's poll inside `forward`.
        let moved = forward(sw);
        self.busy = moved > 0;
        for vm in &self.vms {
            let Some(p) = vm_port(sw, vm.port) else {
                continue;
            };
            if let Some(c) = p.take_cut_off() {
                on_event(vm.port, ServerEvent::CutOff(c));
            }
            self.busy |= p.enable_notifications();
        }
        Ok(moved)
    }

    /// Run the event loop until `stop` returns `true` (asked at least every
    /// [`IDLE_WAIT_MS`]): each wake-up forwards up to [`ROUNDS`] switch polls of
    /// `budget` frames at `now_ns()`. For a loop that also runs stacks of its own, call
    /// [`Server::poll`] with a forwarding of its own.
    pub fn run_until<E: AsVhostUser, const P: usize, const M: usize, const Q: usize>(
        &mut self,
        sw: &mut Switch<E, P, M, Q>,
        mut now_ns: impl FnMut() -> u64,
        budget: usize,
        mut stop: impl FnMut() -> bool,
        mut on_event: impl FnMut(PortId, ServerEvent),
    ) -> io::Result<()> {
        while !stop() {
            let forward = |sw: &mut Switch<E, P, M, Q>| {
                let mut moved = 0;
                for _ in 0..ROUNDS {
                    let n = sw.poll(now_ns(), budget);
                    moved += n;
                    if n == 0 {
                        break;
                    }
                }
                moved
            };
            self.poll(sw, IDLE_WAIT_MS, forward, &mut on_event)?;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for vm in &self.vms {
            if let Some(p) = &vm.path {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

fn vm_port<E: AsVhostUser, const P: usize, const M: usize, const Q: usize>(
    sw: &mut Switch<E, P, M, Q>,
    port: PortId,
) -> Option<&mut VhostUserPort> {
    sw.endpoint_mut(port).and_then(E::as_vhost_user)
}
