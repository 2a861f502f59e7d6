//! The echo clients the Linux peer runs inside a step's network namespace (this binary
//! re-executed there by `netns::peer_checks`): `xtask netns-tcp-echo ADDR` and
//! `xtask netns-udp-echo ADDR`. Each checks that exactly the bytes it sent come back.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

/// Bytes of each TCP echo.
const ECHO_BYTES: usize = 20_000;
/// Payload sizes of the UDP echo's datagrams, one after the other (1472: a full
/// 1500-byte IPv4 packet).
const UDP_SIZES: &[usize] = &[1, 64, 512, 1000, 1472, 1, 64, 512, 1000, 1472];

/// Runs `f(ADDR)`: prints its message and succeeds, or prints the problem and fails.
fn client(kind: &str, args: &[String], f: fn(&str) -> Result<String, String>) -> ExitCode {
    match f(args.first().map(String::as_str).unwrap_or("")) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{kind} echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `xtask netns-tcp-echo ADDR`: connects to the echo server at ADDR, sends
/// [`ECHO_BYTES`] bytes of a pattern, half-closes, reads until EOF and checks that
/// exactly the same bytes came back.
pub fn tcp_echo_client(args: &[String]) -> ExitCode {
    client("tcp", args, tcp_echo)
}

/// `xtask netns-udp-echo ADDR`: sends one datagram per [`UDP_SIZES`] entry to the echo
/// server at ADDR, each after the previous one came back, and checks each reply (same
/// bytes, from ADDR).
pub fn udp_echo_client(args: &[String]) -> ExitCode {
    client("udp", args, udp_echo)
}

fn parse(addr: &str) -> Result<SocketAddr, String> {
    addr.parse()
        .map_err(|e| format!("bad address {addr:?}: {e}"))
}

/// `n` bytes of a pattern that differs per `seed`.
fn pattern(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + seed) * 31 % 251) as u8).collect()
}

/// Where `got` first differs from `sent`, as a message.
fn compare(to: SocketAddr, got: &[u8], sent: &[u8]) -> Result<(), String> {
    if got.len() != sent.len() {
        return Err(format!(
            "{to} echoed {} bytes, {} were sent",
            got.len(),
            sent.len()
        ));
    }
    match got.iter().zip(sent).position(|(a, b)| a != b) {
        Some(i) => Err(format!(
            "{to} echoed byte {i} as {:#04x}, sent {:#04x}",
            got[i], sent[i]
        )),
        None => Ok(()),
    }
}

fn tcp_echo(addr: &str) -> Result<String, String> {
    let to = parse(addr)?;
    let t = Instant::now();
    let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))
        .map_err(|e| format!("connect {to}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let sent = pattern(ECHO_BYTES, 0);
    let mut reader = s.try_clone().map_err(|e| e.to_string())?;
    // Read concurrently: the echo server sends back while we still send.
    let rx = thread::spawn(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).map(|_| got)
    });
    s.write_all(&sent)
        .map_err(|e| format!("send to {to}: {e}"))?;
    s.shutdown(Shutdown::Write)
        .map_err(|e| format!("half-close {to}: {e}"))?;
    let got = rx
        .join()
        .map_err(|_| "reader thread panicked".to_string())?
        .map_err(|e| format!("receive from {to}: {e}"))?;
    compare(to, &got, &sent)?;
    Ok(format!(
        "tcp echo {to}: {} bytes sent, the same {} bytes back, then EOF ({:.0} ms)",
        sent.len(),
        got.len(),
        t.elapsed().as_secs_f64() * 1000.0
    ))
}

fn udp_echo(addr: &str) -> Result<String, String> {
    let to = parse(addr)?;
    let t = Instant::now();
    let s = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("bind: {e}"))?;
    // Connected: the kernel delivers only datagrams from `to`.
    s.connect(to).map_err(|e| format!("connect {to}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    let mut total = 0;
    for (i, &n) in UDP_SIZES.iter().enumerate() {
        let sent = pattern(n, i + 1);
        s.send(&sent)
            .map_err(|e| format!("datagram {i} ({n} bytes) to {to}: {e}"))?;
        let got = s
            .recv(&mut buf)
            .map_err(|e| format!("datagram {i} ({n} bytes): no echo from {to}: {e}"))?;
        compare(to, &buf[..got], &sent).map_err(|e| format!("datagram {i}: {e}"))?;
        total += n;
    }
    Ok(format!(
        "udp echo {to}: {} datagrams ({total} bytes, 1 to 1472 each) came back unchanged ({:.0} ms)",
        UDP_SIZES.len(),
        t.elapsed().as_secs_f64() * 1000.0
    ))
}
