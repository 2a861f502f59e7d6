//! A driver and a device exchanging buffers over one split virtqueue in one memory buffer,
//! then a round where each side plays the malicious peer against the other.
//!
//! Run: `cargo run --release -p virtqueue --example loopback`. Exits non-zero with a
//! message when any expectation fails.

use std::process::ExitCode;

use virtqueue::layout::{DescFlags, Descriptor};
use virtqueue::mock::Loopback;
use virtqueue::{Buffer, Error, Features, Token};

const SIZE: u16 = 256;
const SLOT: usize = 2048;
const HALF: u32 = 1024;
const EXCHANGES: u32 = 5000;
const BATCH: u32 = 32;

type Check = Result<(), String>;
/// Recognises the typed error a case must produce.
type Expect = fn(&Error) -> bool;

fn ensure(cond: bool, what: impl FnOnce() -> String) -> Check {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

fn pattern(seq: u32, i: usize) -> u8 {
    (seq as usize).wrapping_mul(31).wrapping_add(i * 7) as u8
}

struct Stats {
    exchanged: u32,
    bytes: u64,
    driver_notifies: u32,
    device_notifies: u32,
}

/// Normal traffic: requests with a sequence number and a pattern; the device checks them
/// and answers with the bytes inverted; the driver checks the answers.
fn exchange(features: Features) -> Result<Stats, String> {
    let lb = Loopback::new(SIZE, usize::from(SIZE) * SLOT);
    let mut drv = lb.driver::<256>(features).map_err(|e| e.to_string())?;
    let mut dev = lb.device::<256, 16>(features).map_err(|e| e.to_string())?;
    // Each chain takes two descriptors, so at most SIZE / 2 chains are in flight.
    let mut free_slots: Vec<usize> = (0..usize::from(SIZE) / 2).collect();
    let mut slot_of: [Option<(usize, u32)>; 256] = [None; 256];
    let mut stats = Stats {
        exchanged: 0,
        bytes: 0,
        driver_notifies: 0,
        device_notifies: 0,
    };
    let mut seq = 0u32;
    while stats.exchanged < EXCHANGES {
        // Driver: post a batch.
        for _ in 0..BATCH {
            let Some(slot) = free_slots.pop() else { break };
            let base = lb.data_addr(slot * SLOT);
            let len = 64 + (seq % 900);
            let mut req = vec![0u8; len as usize];
            req[..4].copy_from_slice(&seq.to_le_bytes());
            for (i, b) in req.iter_mut().enumerate().skip(4) {
                *b = pattern(seq, i);
            }
            lb.write(base, &req);
            let t = drv
                .add(
                    &[Buffer::new(base, len)],
                    &[Buffer::new(base + u64::from(HALF), HALF)],
                )
                .map_err(|e| format!("driver add: {e}"))?;
            slot_of[usize::from(t.0)] = Some((slot, len));
            seq += 1;
        }
        drv.publish();
        if drv.should_notify() {
            stats.driver_notifies += 1;
        }
        // Device: serve everything available, with the notification loop.
        loop {
            dev.disable_notification();
            while let Some(chain) = dev.pop().map_err(|e| format!("device pop: {e}"))? {
                let mut req = vec![0u8; chain.readable_len() as usize];
                chain
                    .reader(dev.memory())
                    .read_exact(&mut req)
                    .map_err(|e| e.to_string())?;
                let s = u32::from_le_bytes([req[0], req[1], req[2], req[3]]);
                for (i, &b) in req.iter().enumerate().skip(4) {
                    ensure(b == pattern(s, i), || {
                        format!(
                            "device: request {s} byte {i} is {b}, expected {}",
                            pattern(s, i)
                        )
                    })?;
                }
                let resp: Vec<u8> = req.iter().map(|b| !b).collect();
                let mut w = chain.writer(dev.memory());
                w.write_all(&resp).map_err(|e| e.to_string())?;
                dev.add_used(chain.head(), w.written())
                    .map_err(|e| e.to_string())?;
            }
            if !dev.enable_notification().map_err(|e| e.to_string())? {
                break;
            }
        }
        if dev.needs_notification().map_err(|e| e.to_string())? {
            stats.device_notifies += 1;
        }
        // Driver: take the answers back and check them.
        while let Some(u) = drv
            .pop_used()
            .map_err(|e| format!("driver pop_used: {e}"))?
        {
            let Token(head) = u.token;
            let (slot, len) = slot_of[usize::from(head)]
                .take()
                .ok_or_else(|| format!("token {head} returned but not posted"))?;
            ensure(u.len == len, || {
                format!("used len {} for a request of {len}", u.len)
            })?;
            let base = lb.data_addr(slot * SLOT);
            let mut req = vec![0u8; len as usize];
            let mut resp = vec![0u8; len as usize];
            lb.read(base, &mut req);
            lb.read(base + u64::from(HALF), &mut resp);
            ensure(req.iter().zip(&resp).all(|(a, b)| *b == !*a), || {
                format!("response for token {head} does not match its request")
            })?;
            free_slots.push(slot);
            stats.exchanged += 1;
            stats.bytes += u64::from(len) * 2;
        }
        drv.enable_used_notifications();
    }
    ensure(
        drv.free_descriptors() == SIZE - 2 * (128 - free_slots.len() as u16),
        || "descriptor accounting is off".into(),
    )?;
    Ok(stats)
}

/// Each malicious-device case against a fresh driver: the typed error it must produce.
fn malicious_device(report: &mut Vec<String>) -> Check {
    type Attack = fn(&mut virtqueue::mock::MockDevice<'_>, Token);
    let cases: [(&str, Attack, Expect); 4] = [
        (
            "used id out of range",
            |d, _| {
                d.push_used(4096, 0);
                d.publish();
            },
            |e| matches!(e, Error::UsedIdOutOfRange { id: 4096, .. }),
        ),
        (
            "used id not an outstanding head",
            |d, t| {
                d.push_used(u32::from(t.0) + 1, 0);
                d.publish();
            },
            |e| matches!(e, Error::UsedIdNotOutstanding { .. }),
        ),
        (
            "used length above the writable bytes",
            |d, t| {
                d.push_used(u32::from(t.0), 5000);
                d.publish();
            },
            |e| {
                matches!(
                    e,
                    Error::UsedLengthTooLong {
                        len: 5000,
                        writable: 1024,
                        ..
                    }
                )
            },
        ),
        (
            "used index jump",
            |d, _| d.set_used_idx(1000),
            |e| {
                matches!(
                    e,
                    Error::UsedIndexJump {
                        published: 1000,
                        ..
                    }
                )
            },
        ),
    ];
    for (name, attack, expected) in cases {
        let lb = Loopback::new(16, 16 * SLOT);
        let mut drv = lb
            .driver::<16>(Features::VERSION_1)
            .map_err(|e| e.to_string())?;
        let base = lb.data_addr(0);
        let t = drv
            .add(&[Buffer::new(base, 64)], &[Buffer::new(base + 64, HALF)])
            .map_err(|e| e.to_string())?;
        drv.publish();
        let mut dev = lb.mock_device();
        attack(&mut dev, t);
        let err = match drv.pop_used() {
            Err(e) => e,
            Ok(v) => return Err(format!("{name}: driver accepted it: {v:?}")),
        };
        ensure(expected(&err), || format!("{name}: wrong error: {err}"))?;
        ensure(drv.pop_used() == Err(Error::Broken), || {
            format!("{name}: the driver queue is not broken afterwards")
        })?;
        report.push(format!("driver caught  {name:<38} -> {err}"));
    }
    Ok(())
}

/// Each malicious-driver case against the device: the typed error, then a good chain that
/// must still be served.
fn malicious_driver(report: &mut Vec<String>) -> Check {
    let lb = Loopback::new(16, 16 * SLOT);
    let mut drv = lb.mock_driver();
    let mut dev = lb
        .device::<16, 16>(Features::VERSION_1 | Features::INDIRECT_DESC)
        .map_err(|e| e.to_string())?;
    let data = lb.data_addr(0);
    let w = DescFlags::WRITE;
    let n = DescFlags::NEXT;
    // Descriptors 0..=1: a loop. 2: head out of range is pushed directly. 3: outside memory.
    // 4..=5: writable then readable. 6: indirect table with length 20. 7: a good one.
    drv.write_desc(0, Descriptor::new(data, 16, n, 1));
    drv.write_desc(1, Descriptor::new(data, 16, n, 0));
    drv.push_avail(0);
    drv.push_avail(99);
    drv.write_desc(
        3,
        Descriptor::new(0xdead_0000_0000, 64, DescFlags::empty(), 0),
    );
    drv.push_avail(3);
    drv.write_desc(4, Descriptor::new(data, 16, w | n, 5));
    drv.write_desc(5, Descriptor::new(data, 16, DescFlags::empty(), 0));
    drv.push_avail(4);
    drv.write_desc(6, Descriptor::new(data, 20, DescFlags::INDIRECT, 0));
    drv.push_avail(6);
    lb.write(data + 512, b"still served");
    drv.add_chain(7, &[(data + 512, 12, false)]);
    drv.publish();
    let expected: [(&str, Expect); 5] = [
        ("descriptor loop", |e| {
            matches!(e, Error::ChainLoop { head: 0, index: 0 })
        }),
        ("head out of range", |e| {
            matches!(e, Error::HeadOutOfRange { head: 99, .. })
        }),
        ("buffer outside memory", |e| {
            matches!(e, Error::BufferOutOfMemory { head: 3, .. })
        }),
        ("readable after writable", |e| {
            matches!(
                e,
                Error::ReadableAfterWritable {
                    head: 4,
                    position: 1
                }
            )
        }),
        ("indirect table length", |e| {
            matches!(e, Error::IndirectLength { head: 6, len: 20 })
        }),
    ];
    for (name, ok) in expected {
        match dev.pop() {
            Err(e) if ok(&e) => {
                if let Some(head) = e.chain_head() {
                    dev.add_used(head, 0).map_err(|e| e.to_string())?;
                }
                report.push(format!("device caught  {name:<38} -> {e}"));
            }
            Err(e) => return Err(format!("{name}: wrong error: {e}")),
            Ok(c) => return Err(format!("{name}: device accepted it: {c:?}")),
        }
    }
    let chain = dev
        .pop()
        .map_err(|e| format!("good chain after the attacks: {e}"))?
        .ok_or("good chain after the attacks is missing")?;
    let mut got = [0u8; 12];
    chain
        .reader(dev.memory())
        .read_exact(&mut got)
        .map_err(|e| e.to_string())?;
    ensure(&got == b"still served", || {
        "good chain payload differs".into()
    })?;
    report.push("device served  the next good chain afterwards".into());
    drv.set_avail_idx(1000);
    match dev.pop() {
        Err(e @ Error::AvailIndexJump { .. }) => {
            report.push(format!("device caught  {:<38} -> {e}", "avail index jump"));
        }
        other => return Err(format!("avail index jump: got {other:?}")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let features = match Features::negotiate(
        (Features::VERSION_1 | Features::RING_EVENT_IDX | Features::INDIRECT_DESC).bits(),
        u64::MAX,
    ) {
        Ok(n) => n.generic,
        Err(e) => {
            eprintln!("loopback: FAILED: feature negotiation: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut report = Vec::new();
    let result = exchange(features).and_then(|s| {
        println!(
            "exchanged {} buffers ({} bytes, payload checked both ways) over a {SIZE}-entry split ring",
            s.exchanged, s.bytes
        );
        println!(
            "notifications with EVENT_IDX: driver -> device {}, device -> driver {}",
            s.driver_notifies, s.device_notifies
        );
        malicious_device(&mut report)?;
        malicious_driver(&mut report)
    });
    for line in &report {
        println!("{line}");
    }
    match result {
        Ok(()) => {
            println!(
                "loopback: OK ({} malicious cases caught with typed errors)",
                report.len() - 1
            );
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("loopback: FAILED: {msg}");
            ExitCode::FAILURE
        }
    }
}
