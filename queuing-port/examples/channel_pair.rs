//! Two partitions (threads here) over one queuing-port channel pair: a client sends
//! numbered requests, a server answers each with the number doubled. Then the server's
//! partition turns hostile and overwrites the region; the client gets typed errors.
//!
//! Run: `cargo run -p queuing-port --example channel_pair`.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::thread;

use queuing_port::{AtomicU32, ChannelEnd, ChannelPair, Error, Region};

const MSG: usize = 64;
const PAIR: ChannelPair<MSG, 16> = ChannelPair::new(false);
const REQUESTS: u32 = 1000;

/// Answers `count` requests.
fn server(mut end: ChannelEnd<'_, MSG, 16>, count: u32) -> Result<(), Error> {
    let mut buf = [0u8; MSG];
    let mut answered = 0;
    while answered < count {
        match end.try_receive(&mut buf) {
            Ok(m) if m.len == 4 => {
                let n = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                loop {
                    match end.try_send(&(2 * n).to_le_bytes()) {
                        Err(Error::NotAvailable) => thread::yield_now(),
                        other => break other?,
                    }
                }
                answered += 1;
            }
            Ok(m) => eprintln!("server: ignoring a {}-byte message", m.len),
            Err(Error::NotAvailable) => thread::yield_now(),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn client(end: &mut ChannelEnd<'_, MSG, 16>) -> Result<(), String> {
    let mut buf = [0u8; MSG];
    for n in 0..REQUESTS {
        loop {
            match end.try_send(&n.to_le_bytes()) {
                Err(Error::NotAvailable) => thread::yield_now(),
                other => break other.map_err(|e| format!("client: {e}"))?,
            }
        }
        let m = loop {
            match end.try_receive(&mut buf) {
                Err(Error::NotAvailable) => thread::yield_now(),
                other => break other.map_err(|e| format!("client: {e}"))?,
            }
        };
        let got = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if m.len != 4 || got != 2 * n {
            return Err(format!("request {n} answered with {got} ({} bytes)", m.len));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let shm: Vec<AtomicU32> = (0..PAIR.region_words())
        .map(|_| AtomicU32::new(0))
        .collect();
    let result = thread::scope(|s| {
        let setup = |e: Error| format!("set-up: {e}");
        let mut a = PAIR.create(Region::new(&shm)).map_err(setup)?;
        let b = PAIR.attach(Region::new(&shm)).map_err(setup)?;
        let server = s.spawn(|| server(b, REQUESTS));
        client(&mut a)?;
        match server.join() {
            Ok(r) => r.map_err(|e| format!("server: {e}"))?,
            Err(_) => return Err("the server thread panicked".to_string()),
        }
        println!("channel_pair: {REQUESTS} requests answered");
        // The server's partition turns hostile: it overwrites every word of both
        // channels, headers and indices included. The client's next calls fail, typed.
        for w in &shm {
            w.store(0xffff_ffff, Ordering::Relaxed);
        }
        let mut buf = [0u8; MSG];
        let rx = a.try_receive(&mut buf);
        println!("after the hostile peer: receive -> {rx:?}");
        if !matches!(rx, Err(Error::Corrupt(_))) {
            return Err(format!("receive from a scribbled channel gave {rx:?}"));
        }
        match PAIR.attach(Region::new(&shm)) {
            Err(Error::Corrupt(e)) => {
                println!("a new attach is refused: {e}");
                Ok(())
            }
            other => Err(format!("attach to a scribbled region gave {other:?}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("channel_pair: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
