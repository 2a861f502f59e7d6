//! Soak: one switch serves, for many cycles, a vhost-user port whose frontend keeps
//! changing — well-behaved guests that exchange checked frames and disconnect, and
//! hostile ones (garbage requests, bad ring addresses and sizes, overlapping memory
//! tables, features never offered, garbage rings under a running port, a memory file
//! truncated under running rings, a partial request left hanging) — while a well-behaved
//! VM and an in-memory partition exchange checked frames after every cycle. Asserts no lost or corrupted frame on the good
//! ports, a typed cut-off for every hostile frontend, and no growth in open file
//! descriptors, memory mappings or resident memory between the end of the warm-up and
//! the end of the run. Then the same for queuing-port peers: a partition's channel pair
//! is reformatted and its port re-attached again and again, the peer either exchanging
//! checked frames or scribbling its region, while a virtio-net partition and the uplink
//! exchange checked frames.
//!
//! The test command runs [`DEFAULT_CYCLES`]; `cargo xtask soak` runs thousands
//! (`PARTNET_SOAK_CYCLES`) and prints the figures. The test is alone in its binary so no
//! other test opens descriptors or maps memory while it counts.
#![cfg(all(feature = "vhost-user", target_os = "linux"))]
#![cfg_attr(miri, allow(unused))]

mod adapter_util;
mod common;
#[path = "vhost_user/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::io::Write;

use common::{frame, mac};
use harness::*;
use queuing_port::mock::HostilePeer;
use vhost::vhost_user::Frontend;
use vhost::VhostBackend;
use vnet_switch::adapters::vhost_user::VhostUserError;

/// Cycles of the test command's run.
const DEFAULT_CYCLES: usize = 24;
/// Kinds of frontend, taken in turn.
const KINDS: usize = 9;

/// Open descriptors, mappings (all, and those of guest memory files) and resident
/// kilobytes of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Usage {
    fds: usize,
    maps: usize,
    guest_maps: usize,
    rss_kib: u64,
}

fn usage() -> Usage {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let guest_maps = maps.lines().filter(|l| l.contains("partnet-guest")).count();
    let maps = maps.lines().count();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    Usage {
        fds,
        maps,
        guest_maps,
        rss_kib,
    }
}

/// Waits until VM B's frontend is gone and returns the reason it was cut off (taken out
/// of the backend's list, which would otherwise grow with the run).
fn b_gone(run: &Running) -> VhostUserError {
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    let cut = run.with(|b| std::mem::take(&mut b.cutoffs));
    let reasons: Vec<_> = cut.iter().map(|(p, c)| (*p, c.reason)).collect();
    assert!(
        matches!(reasons.as_slice(), [(VM_B, _)]),
        "one cut-off, of VM B: {reasons:?}"
    );
    reasons[0].1
}

/// One frontend of kind `kind` on VM B, to its end; returns the cut-off reason and the
/// frames it exchanged with the partition.
fn frontend(run: &Running, kind: usize, cycle: usize) -> (VhostUserError, u64) {
    let seed = cycle as u8;
    match kind {
        // Well-behaved: frames both ways with the partition, checked; then it leaves.
        0 | 5 => {
            let guest = Guest::new();
            let vm = bring_up(run.connect(VM_B), &guest);
            let mut drv = Driver::new(&guest);
            drv.post_rx(8);
            run.wait_for("B running", |b| b.vm(VM_B).is_running());
            let out = frame(mac(2), mac(3), 0x0800, &payload(300 + cycle % 900, seed));
            drv.send(&vm, &out);
            let mut got = None;
            run.wait_for("B's frame at the partition", |b| {
                got = part_receive(b);
                got.is_some()
            });
            assert_eq!(got.unwrap(), out, "B's frame intact");
            let back = frame(mac(3), mac(2), 0x0800, &payload(60 + cycle % 1400, !seed));
            run.with(|b| b.part().inject(&back).unwrap());
            assert_eq!(drv.receive_wait(), back, "the partition's frame intact");
            drop(vm);
            (b_gone(run), 2)
        }
        // An unknown request code.
        1 => {
            let mut s = run.connect(VM_B);
            raw(&mut s, 9999, &[0; 8]);
            (b_gone(run), 0)
        }
        // A ring address outside the memory table.
        2 => {
            let guest = Guest::new();
            let front = Frontend::from_stream(run.connect(VM_B), 2);
            front.set_owner().unwrap();
            front.set_features(FEATURES).unwrap();
            front.set_mem_table(&guest.table()).unwrap();
            front.set_vring_num(0, QSIZE).unwrap();
            let bad = vring_data(QSIZE, 0xdead_0000, uva(0x1000), uva(0x2000));
            let _ = front.set_vring_addr(0, &bad);
            (b_gone(run), 0)
        }
        // A queue size that is not a power of two.
        3 => {
            let front = Frontend::from_stream(run.connect(VM_B), 2);
            front.set_owner().unwrap();
            let _ = front.set_vring_num(0, 100);
            (b_gone(run), 0)
        }
        // Overlapping regions.
        4 => {
            let guest = Guest::new();
            let front = Frontend::from_stream(run.connect(VM_B), 2);
            let mut table = guest.table();
            table[1].guest_phys_addr = 0x8_0000;
            let _ = front.set_mem_table(&table);
            (b_gone(run), 0)
        }
        // An unsealed memory file, served, then truncated under the running rings.
        8 => {
            let guest = Guest::with_file(memfd(2 * REGION, false));
            let _vm = bring_up(run.connect(VM_B), &guest);
            run.wait_for("B running", |b| b.vm(VM_B).is_running());
            guest.file.set_len(0).unwrap();
            (b_gone(run), 0)
        }
        // Features never offered.
        6 => {
            let front = Frontend::from_stream(run.connect(VM_B), 2);
            let _ = front.set_features(FEATURES | (1 << 22));
            (b_gone(run), 0)
        }
        // Running rings, then an avail index far ahead of the ring.
        7 => {
            let guest = Guest::new();
            let vm = bring_up(run.connect(VM_B), &guest);
            run.wait_for("B running", |b| b.vm(VM_B).is_running());
            let tx = Guest::ring(1);
            guest.write(tx.avail + 2, &(1000 + cycle as u16).to_le_bytes());
            vm.kick[1].write(1).unwrap();
            (b_gone(run), 0)
        }
        _ => unreachable!(),
    }
}

fn expected(kind: usize, reason: VhostUserError) -> bool {
    use VhostUserError as E;
    match kind {
        0 | 5 => reason == E::Disconnected,
        1 => reason == E::Protocol,
        2 => matches!(reason, E::BadRingAddress { index: 0, .. }),
        3 => reason == E::BadQueueSize { index: 0, num: 100 },
        4 => matches!(reason, E::BadRegion { .. }),
        6 => reason == E::Features { bits: 1 << 22 },
        7 => matches!(reason, E::Ring(_)),
        8 => matches!(reason, E::RegionTruncated { guest_phys_addr: 0 }),
        _ => false,
    }
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn frontends_come_and_go_while_good_ports_lose_nothing() {
    let cycles: usize = std::env::var("PARTNET_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CYCLES)
        .max(2 * KINDS);
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm_a, mut drv_a) = vm_a_up(&run, &guest_a);

    let mut start = None;
    let mut good_frames = 0u64;
    let mut b_frames = 0u64;
    let mut reasons = [0usize; KINDS];
    for cycle in 0..cycles {
        // After one warm-up round of every kind: the allocator, the thread's stacks and
        // the switch's tables are at their working size.
        if cycle == KINDS {
            start = Some(usage());
        }
        let kind = cycle % KINDS;
        let (reason, frames) = frontend(&run, kind, cycle);
        assert!(
            expected(kind, reason),
            "cycle {cycle}: kind {kind} cut off with {reason:?}"
        );
        reasons[kind] += 1;
        b_frames += frames;
        ping_pong(&run, &vm_a, &mut drv_a, cycle as u8);
        good_frames += 2;
    }
    // A half-sent request left hanging: cut off after the request timeout (once; it
    // takes that long).
    let mut s = run.connect(VM_B);
    let _ = s.write_all(&[1, 0, 0]);
    assert_eq!(b_gone(&run), VhostUserError::Stalled { bytes: 3 });
    drop(s);
    ping_pong(&run, &vm_a, &mut drv_a, 0);
    good_frames += 2;

    let (peers, peer_frames, qp_good, corrupt) = queuing_peers(cycles);
    eprintln!(
        "soak: {peers} queuing-port peers re-attached ({} well-behaved), {peer_frames} frames \
         checked with them, {qp_good} frames checked between the virtio-net partition and \
         the uplink, {corrupt} corrupt receives typed",
        peers.div_ceil(3)
    );

    let end = usage();
    let start = start.unwrap();
    let stats = run.with(|b| b.vm(VM_A).stats());
    eprintln!(
        "soak: {} frontends on VM B ({} well-behaved, {} hostile kinds), {} frames checked \
         on the good ports, {} with well-behaved B frontends; fds {} -> {}, guest memory \
         mappings {} -> {}, all mappings {} -> {}, RSS {} -> {} KiB",
        cycles + 1,
        reasons[0] + reasons[5],
        KINDS - 2 + 1,
        good_frames,
        b_frames,
        start.fds,
        end.fds,
        start.guest_maps,
        end.guest_maps,
        start.maps,
        end.maps,
        start.rss_kib,
        end.rss_kib
    );
    // The good VM saw every frame and was never cut off.
    assert_eq!(stats.net.tx_frames + stats.net.rx_frames, good_frames);
    assert_eq!(stats.starts, 1, "VM A never restarted");
    // Nothing leaked: each frontend's socket, eventfds and mappings went with it.
    assert_eq!(end.fds, start.fds, "open descriptors");
    assert_eq!(end.guest_maps, start.guest_maps, "guest memory mappings");
    // The allocator may add an arena or a large block of its own.
    assert!(
        end.maps <= start.maps + 4,
        "mappings grew: {start:?} -> {end:?}"
    );
    assert!(
        end.rss_kib <= start.rss_kib + 4096,
        "resident memory grew from {} to {} KiB",
        start.rss_kib,
        end.rss_kib
    );
}

/// Queuing-port peers: each cycle the integrator reformats the partition's channel pair
/// and re-attaches its port (a restarted partition); the peer then behaves, or writes a
/// tail far out of range, or scribbles every word of its region. The virtio-net partition
/// and the uplink exchange checked frames after every cycle. Returns (peers, frames
/// checked with well-behaved peers, good frames checked, typed corrupt receives).
fn queuing_peers(cycles: usize) -> (usize, u64, u64, u64) {
    use adapter_util::*;
    let net = NetMemory::new();
    let mut drv = net.driver(V1);
    let (up, down) = (channel(), channel());
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    let (mut peer_frames, mut good, mut corrupt) = (0u64, 0u64, 0u64);
    for cycle in 0..cycles {
        let now = cycle as u64;
        for c in [&up, &down] {
            geometry().format(&c.region()).unwrap();
        }
        *sw.endpoint_mut(port(2)).unwrap() = AnyPort::Queuing(Box::new(queuing_port(&up, &down)));
        let (mut q_tx, mut q_rx) = partition_side(&up, &down);
        let seed = cycle as u8;
        match cycle % 3 {
            0 => {
                let out = frame(mac(77), mac(2), 0x0800, &payload(100 + cycle % 1300, seed));
                q_tx.try_send(&out).unwrap();
                sw.poll(now, 16);
                assert_eq!(uplink_next(&mut sw), Some(out), "the peer's frame intact");
                let back = frame(mac(2), mac(77), 0x0800, &payload(60 + cycle % 1400, !seed));
                sw.endpoint_mut(port(0))
                    .unwrap()
                    .mem()
                    .inject(&back)
                    .unwrap();
                sw.poll(now, 16);
                assert_eq!(
                    queuing_receive_all(&mut q_rx),
                    vec![back],
                    "the frame for the peer"
                );
                peer_frames += 2;
            }
            1 => {
                HostilePeer::new(up.region()).poke(HostilePeer::TAIL, 0x8000_0000 | cycle as u32);
                sw.poll(now, 16);
                let q = sw.endpoint_mut(port(2)).unwrap().queuing();
                assert!(
                    q.stats().rx_corrupt >= 1,
                    "typed: {:?}",
                    q.stats().last_error
                );
                corrupt += q.stats().rx_corrupt;
            }
            _ => {
                for c in [&up, &down] {
                    HostilePeer::new(c.region())
                        .scribble(0x9e37_79b9u32.wrapping_mul(cycle as u32));
                }
                sw.poll(now, 16);
                corrupt += sw
                    .endpoint_mut(port(2))
                    .unwrap()
                    .queuing()
                    .stats()
                    .rx_corrupt;
            }
        }
        // The virtio-net partition (mac 1) and the uplink: one frame each way, intact.
        let to_v = frame(mac(1), mac(77), 0x0800, &payload(64 + cycle % 1000, seed));
        let to_up = frame(mac(77), mac(1), 0x0800, &payload(64 + cycle % 1200, !seed));
        exchange_with_virtio(&mut sw, &mut drv, now, &to_v, &to_up);
        good += 2;
    }
    (cycles, peer_frames, good, corrupt)
}
