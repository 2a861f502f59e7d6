//! The event loop's wait list: every fd tagged with the port it belongs to and what it is
//! for, so a readiness can only ever be read as the fd that reported it.

use std::io;
use std::os::fd::RawFd;

use super::VhostUserPort;

/// What an fd of a [`WaitList`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdRole {
    /// A port's listening socket (readable: a frontend is connecting).
    Listener,
    /// A port's frontend connection (readable: a request, or a hang-up).
    Socket,
    /// A running ring's kick eventfd (readable: the guest kicked).
    Kick,
    /// Anything else the integrator waits on.
    Other,
}

/// The fds of an event loop's wait, each tagged with its owner (an integrator's index,
/// e.g. the port number) and its [`FdRole`]. Build it anew before each wait
/// ([`WaitList::clear`], [`WaitList::add`], [`WaitList::add_port`]), wait, then ask
/// [`WaitList::is_ready`] per owner and role.
///
/// ```no_run
/// # use vnet_switch::adapters::vhost_user::{FdRole, VhostUserPort, WaitList};
/// # use std::os::fd::AsRawFd;
/// # let mut ports: Vec<(std::os::unix::net::UnixListener, VhostUserPort)> = Vec::new();
/// let mut wait = WaitList::new();
/// wait.clear();
/// for (i, (listener, port)) in ports.iter().enumerate() {
///     wait.add(i, FdRole::Listener, listener.as_raw_fd());
///     wait.add_port(i, port);
/// }
/// wait.wait(10)?;
/// for (i, (_, port)) in ports.iter_mut().enumerate() {
///     if wait.is_ready(i, FdRole::Socket) {
///         let _ = port.handle_socket();
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct WaitList {
    fds: Vec<RawFd>,
    tags: Vec<(usize, FdRole)>,
    ready: Vec<bool>,
}

impl WaitList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty the list (and forget the last readiness).
    pub fn clear(&mut self) {
        self.fds.clear();
        self.tags.clear();
        self.ready.clear();
    }

    /// Add `fd`, owned by `owner`, for `role`.
    pub fn add(&mut self, owner: usize, role: FdRole, fd: RawFd) {
        self.fds.push(fd);
        self.tags.push((owner, role));
    }

    /// Add a vhost-user port's fds: its connection's socket (when a frontend is attached)
    /// and, while its rings run, their kick eventfds.
    pub fn add_port(&mut self, owner: usize, port: &VhostUserPort) {
        port.each_fd(|role, fd| self.add(owner, role, fd));
    }

    /// The fds, in the order added.
    pub fn fds(&self) -> &[RawFd] {
        &self.fds
    }

    /// How many fds.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// Wait until an fd is readable (or hung up) or `timeout_ms` passed (`-1`: no
    /// limit); a signal ends the wait early with nothing ready. Returns how many are
    /// ready.
    pub fn wait(&mut self, timeout_ms: i32) -> io::Result<usize> {
        super::sys::wait_readable(&self.fds, &mut self.ready, timeout_ms)
    }

    /// Whether an fd of `owner` for `role` was ready at the last wait. `false` for an
    /// fd added after it.
    pub fn is_ready(&self, owner: usize, role: FdRole) -> bool {
        self.tags
            .iter()
            .zip(&self.ready)
            .any(|(&t, &r)| r && t == (owner, role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::{UnixListener, UnixStream};

    #[test]
    #[cfg_attr(miri, ignore = "sockets")]
    fn readiness_is_told_by_owner_and_role() {
        let dir = std::env::temp_dir().join(format!("partnet-wait-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        // Three ports; port 0 has no frontend, port 1's listener has a connection
        // waiting: it must never be read as port 0's socket (the positions a list
        // without tags would mix up).
        let listeners: Vec<_> = (0..3)
            .map(|i| {
                let p = dir.join(format!("l{i}"));
                let _ = std::fs::remove_file(&p);
                (UnixListener::bind(&p).unwrap(), p)
            })
            .collect();
        let mut ports: Vec<VhostUserPort> = (0..3).map(|_| VhostUserPort::new(1514)).collect();
        let (mut front2, back2) = UnixStream::pair().unwrap();
        ports[2].attach(back2).unwrap();
        let _pending = UnixStream::connect(&listeners[1].1).unwrap();
        front2.write_all(&[1]).unwrap();

        let mut w = WaitList::new();
        for (i, (l, _)) in listeners.iter().enumerate() {
            w.add(i, FdRole::Listener, l.as_raw_fd());
            w.add_port(i, &ports[i]);
        }
        assert_eq!(w.len(), 4, "three listeners and port 2's socket");
        assert_eq!(w.wait(1000).unwrap(), 2);
        assert!(w.is_ready(1, FdRole::Listener));
        assert!(w.is_ready(2, FdRole::Socket));
        for (owner, role) in [
            (0, FdRole::Listener),
            (0, FdRole::Socket),
            (1, FdRole::Socket),
            (2, FdRole::Listener),
            (2, FdRole::Kick),
        ] {
            assert!(!w.is_ready(owner, role), "{owner} {role:?}");
        }
        w.clear();
        assert!(w.is_empty() && !w.is_ready(1, FdRole::Listener));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
