//! The checks of the demo, over any set of partitions that can be stepped ([`Net`]):
//! ping, UDP echo and TCP echo between two stations, each with a deadline in the net's
//! clock. A check that does not complete is a [`Failure`] saying what and why.

use core::fmt;

use netstack_glue::smoltcp::wire::Ipv4Address;

use crate::node::{Station, ECHO_PORT};

/// The partitions of the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Partition A (virtio-net).
    A,
    /// Partition B (queuing-port).
    B,
    /// The host on the uplink (in-memory cable).
    Host,
}

/// Something the checks can step: a clock, partitions, a switch.
pub trait Net {
    /// The clock, in nanoseconds.
    fn now_ns(&self) -> u64;
    /// One round: every local partition and the service partition poll once.
    fn step(&mut self);
    /// A local station, if `who` runs here.
    fn station(&mut self, who: Who) -> Option<&mut dyn Station>;
}

/// An expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check.
    pub check: String,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "check `{}` failed: {}", self.check, self.reason)
    }
}

impl std::error::Error for Failure {}

/// A failure of `check`.
pub fn fail(check: impl Into<String>, reason: impl Into<String>) -> Failure {
    Failure {
        check: check.into(),
        reason: reason.into(),
    }
}

fn station<'n>(
    net: &'n mut dyn Net,
    who: Who,
    check: &str,
) -> Result<&'n mut dyn Station, Failure> {
    net.station(who)
        .ok_or_else(|| fail(check, format!("{who:?} does not run in this process")))
}

/// Steps `net` until `done` says yes or `timeout_ns` passed; returns the time taken.
pub fn wait(
    net: &mut dyn Net,
    check: &str,
    timeout_ns: u64,
    mut done: impl FnMut(&mut dyn Net) -> Result<bool, Failure>,
) -> Result<u64, Failure> {
    let start = net.now_ns();
    loop {
        if done(net)? {
            return Ok(net.now_ns() - start);
        }
        if net.now_ns() - start > timeout_ns {
            return Err(fail(
                check,
                format!("no answer within {} ms", timeout_ns / 1_000_000),
            ));
        }
        net.step();
    }
}

/// Pings `to` from `from`; returns the round trip.
pub fn ping(
    net: &mut dyn Net,
    from: Who,
    to: Ipv4Address,
    seq: u16,
    timeout_ns: u64,
) -> Result<u64, Failure> {
    let check = format!("ping {from:?} -> {to}");
    let sent = station(net, from, &check)?.ping_send(to, seq);
    if !sent {
        return Err(fail(&check, "the ICMP socket refused the request"));
    }
    wait(net, &check, timeout_ns, |n| {
        Ok(station(n, from, "ping")?.ping_done(seq))
    })
}

/// Sends `data` to `to`'s UDP echo port from `from` and waits for the same bytes back.
pub fn udp_echo(
    net: &mut dyn Net,
    from: Who,
    to: Ipv4Address,
    data: &[u8],
    timeout_ns: u64,
) -> Result<u64, Failure> {
    let check = format!("UDP echo {from:?} -> {to}");
    if !station(net, from, &check)?.udp_send(to, ECHO_PORT, data) {
        return Err(fail(&check, "the UDP socket refused the datagram"));
    }
    let c = check.clone();
    wait(net, &check, timeout_ns, |n| {
        match station(n, from, &c)?.udp_recv() {
            None => Ok(false),
            Some(got) if got == data => Ok(true),
            Some(got) => Err(fail(
                &c,
                format!(
                    "echo of {} bytes came back as {} different bytes",
                    data.len(),
                    got.len()
                ),
            )),
        }
    })
}

/// Connects `from` to `to`'s TCP echo port, sends `len` bytes of a pattern and checks
/// they come back; returns the time taken.
pub fn tcp_echo(
    net: &mut dyn Net,
    from: Who,
    to: Ipv4Address,
    len: usize,
    local_port: u16,
    timeout_ns: u64,
) -> Result<u64, Failure> {
    let check = format!("TCP echo {from:?} -> {to} ({len} bytes)");
    let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    if !station(net, from, &check)?.tcp_connect(to, local_port) {
        return Err(fail(&check, "connect refused by the socket"));
    }
    let mut sent = 0;
    let mut got = Vec::with_capacity(len);
    let c = check.clone();
    let r = wait(net, &check, timeout_ns, |n| {
        let s = station(n, from, &c)?;
        if !s.tcp_established() && sent == 0 {
            return Ok(false);
        }
        sent += s.tcp_send(&data[sent..]);
        let mut buf = [0u8; 2048];
        let k = s.tcp_recv(&mut buf);
        got.extend_from_slice(&buf[..k]);
        if got.len() > len || data[..got.len()] != got[..] {
            return Err(fail(
                &c,
                format!("echoed bytes differ at offset {}", got.len().min(len)),
            ));
        }
        Ok(got.len() == len)
    });
    if let Some(s) = net.station(from) {
        s.tcp_abort();
    }
    r
}
