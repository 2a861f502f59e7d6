//! The TCP sink the daemon runs on each of its smoltcp partitions, next to the node's
//! own services (ping replies, echo on port 7): it reports, per connection, the bytes
//! received, their FNV-1a 64 digest and the rate.

use std::time::Instant as StdInstant;

use netstack_glue::smoltcp;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;

/// Bytes of the sink socket's receive buffer (the window the guest may fill).
const RX_BUF: usize = 256 * 1024;

/// FNV-1a, 64 bits: the digest the sink reports (the test computes the same over the
/// bytes the guest sent).
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(pub u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    /// Adds `bytes`.
    pub fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// One finished transfer.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    /// Bytes received.
    pub bytes: u64,
    /// Their digest.
    pub fnv: u64,
    /// Seconds from the first to the last byte.
    pub seconds: f64,
    /// Frames the partition received meanwhile.
    pub frames: u64,
}

/// The sink: one listening TCP socket in a node's socket set.
pub struct TcpSink {
    tcp: SocketHandle,
    port: u16,
    current: Option<(u64, Fnv1a, StdInstant, StdInstant, u64)>,
    /// Transfers completed so far.
    pub transfers: Vec<Transfer>,
}

impl TcpSink {
    /// A sink listening on TCP `port`, its socket added to `sockets`.
    pub fn new(sockets: &mut SocketSet<'static>, port: u16) -> TcpSink {
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; RX_BUF]),
            tcp::SocketBuffer::new(vec![0; 4096]),
        );
        let tcp = sockets.add(sock);
        let mut s = TcpSink {
            tcp,
            port,
            current: None,
            transfers: Vec::new(),
        };
        s.listen(sockets);
        s
    }

    fn listen(&mut self, sockets: &mut SocketSet<'static>) {
        let sock = sockets.get_mut::<tcp::Socket>(self.tcp);
        if !sock.is_open() {
            // A fresh socket listens; the port is not in use by another socket.
            let _ = sock.listen(self.port);
        }
    }

    /// Reads what arrived (after the node's poll); `frames_now` is the node's received
    /// frame count. Returns a transfer that just finished.
    pub fn poll(&mut self, sockets: &mut SocketSet<'static>, frames_now: u64) -> Option<Transfer> {
        let sock = sockets.get_mut::<tcp::Socket>(self.tcp);
        let mut done = None;
        while sock.can_recv() {
            let cur = self.current.get_or_insert_with(|| {
                let t = StdInstant::now();
                (0, Fnv1a::default(), t, t, frames_now)
            });
            let got = sock.recv(|b| {
                cur.1.add(b);
                (b.len(), b.len())
            });
            match got {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    cur.0 += n as u64;
                    cur.3 = StdInstant::now();
                }
            }
        }
        let ended = !sock.can_recv()
            && matches!(
                sock.state(),
                tcp::State::CloseWait | tcp::State::Closed | tcp::State::TimeWait
            );
        if ended {
            // The peer closed (FIN) or the connection ended: report, close, listen again.
            sock.close();
        }
        if ended {
            if let Some((bytes, fnv, first, last, frames0)) = self.current.take() {
                let t = Transfer {
                    bytes,
                    fnv: fnv.0,
                    seconds: last.duration_since(first).as_secs_f64(),
                    frames: frames_now.wrapping_sub(frames0),
                };
                self.transfers.push(t);
                done = Some(t);
            }
        }
        self.listen(sockets);
        done
    }
}
