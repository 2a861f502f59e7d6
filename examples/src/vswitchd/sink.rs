//! A smoltcp partition of the daemon: its own MAC and IPv4 address on an in-process port
//! pair, answering pings (smoltcp's automatic echo reply) and running a TCP sink that
//! reports, per connection, the bytes received, their FNV-1a 64 digest and the rate.

use std::time::Instant as StdInstant;

use netstack_glue::smoltcp;
use netstack_glue::{build_interface, DeviceConfig, GlueDevice, InterfaceConfig, PartitionLink};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::Ipv4Cidr;

use super::ports::{PAIR_FRAME, PAIR_SLOTS};

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

/// The partition.
pub struct Sink {
    /// Its name in logs and the statistics table.
    pub name: String,
    dev: GlueDevice<PartitionLink<'static, PAIR_SLOTS, PAIR_FRAME>>,
    iface: Interface,
    sockets: SocketSet<'static>,
    tcp: SocketHandle,
    port: u16,
    current: Option<(u64, Fnv1a, StdInstant, StdInstant, u64)>,
    /// Transfers completed so far.
    pub transfers: Vec<Transfer>,
}

impl Sink {
    /// A partition with `mac` and `cidr`, listening on TCP `port`.
    pub fn new(
        name: String,
        link: PartitionLink<'static, PAIR_SLOTS, PAIR_FRAME>,
        mac: [u8; 6],
        cidr: Ipv4Cidr,
        port: u16,
        now: Instant,
    ) -> Sink {
        let mut dev = GlueDevice::new(link, DeviceConfig::default());
        let iface = build_interface(&InterfaceConfig::ipv4(mac, cidr), &mut dev, now)
            .expect("a unicast MAC and one address");
        let mut sockets = SocketSet::new(Vec::new());
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 256 * 1024]),
            tcp::SocketBuffer::new(vec![0; 4096]),
        );
        let tcp = sockets.add(sock);
        let mut s = Sink {
            name,
            dev,
            iface,
            sockets,
            tcp,
            port,
            current: None,
            transfers: Vec::new(),
        };
        s.listen();
        s
    }

    fn listen(&mut self) {
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        if !sock.is_open() {
            // A fresh socket listens; the port is not in use by another socket.
            let _ = sock.listen(self.port);
        }
    }

    /// Runs the stack once; returns a transfer that just finished.
    pub fn poll(&mut self, now: Instant) -> Option<Transfer> {
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        let mut done = None;
        let frames_now = self.dev.stats().rx_frames;
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
        self.listen();
        done
    }

    /// How long the stack may sleep.
    pub fn poll_delay(&mut self, now: Instant) -> Option<smoltcp::time::Duration> {
        self.iface.poll_delay(now, &self.sockets)
    }

    /// The glue's counters.
    pub fn stats(&self) -> netstack_glue::NetStats {
        self.dev.stats()
    }
}
