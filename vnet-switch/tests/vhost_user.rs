//! The vhost-user backend against test frontends over a socketpair, with memfd guest
//! memory in two regions: a well-behaved frontend (rust-vmm's `Frontend` for the
//! protocol, our `DriverQueue` as the guest driver) passes frames both ways through the
//! switch; hostile frontends (garbage messages, an incomplete request, bad ring
//! addresses, bad sizes and queues, overlapping regions, short region files, an unsealed
//! region file truncated under running rings,
//! garbage rings, a memory table changing under running rings, a disconnect) are cut off
//! with typed reasons while the other VM's port and the rest of the switch go on; a
//! spoofing guest is stopped by the switch. Packed rings: a packed-ring session (frames
//! both ways across a wrap, a stop and a resume from the reported state), and hostile
//! packed frontends (ring states with a bad wrap or offset, event suppression areas
//! outside memory, a state the ring size makes wrong). Resources: a silent, closed or
//! oversized frontend never blocks the port; memory tables map only their pages, within
//! the port's budget; kick fds are waited on only while the rings run and drained whole;
//! fds of the wrong kind (pipes, sockets, files, semaphore eventfds) are refused. The
//! `Server` event loop over real sockets: a hostile frontend is cut off while the other
//! VM goes on, and its socket accepts a new one.
#![cfg(all(feature = "vhost-user", target_os = "linux"))]
#![cfg_attr(miri, allow(unused))]

mod common;
#[path = "vhost_user/harness.rs"]
mod harness;
#[path = "vhost_user/packed.rs"]
mod packed;
#[path = "vhost_user/resources.rs"]
mod resources;
#[path = "vhost_user/server.rs"]
mod server;

use std::io::Write;
use std::os::fd::AsRawFd;

use common::{frame, mac};
use harness::*;
use vhost::vhost_user::Frontend;
use vhost::VhostBackend;
use virtqueue::Buffer;
use vnet_switch::adapters::vhost_user::VhostUserError;
use vnet_switch::PortId;

// ---------------------------------------------------------------------------------------

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn well_behaved_frontend_passes_frames_both_ways() {
    let run = Running::start();
    let guest = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest);
    for seed in 0..20 {
        ping_pong(&run, &vm, &mut drv, seed);
    }
    // The backend signalled the receiveq call eventfd for the frames it delivered.
    assert!(vm.call[0].read().unwrap() >= 1);
    let s = run.with(|b| b.vm(VM_A).stats());
    assert_eq!((s.net.tx_frames, s.net.rx_frames), (20, 20));
    assert_eq!(s.starts, 1);
    assert!(run.cutoffs(VM_A).is_empty());

    // Stop (GET_VRING_BASE) returns the used index; the rings stop.
    let base = vm.front.get_vring_base(1).unwrap();
    assert_eq!(base, 20, "every transmit chain was returned");
    run.wait_for("VM A stopped", |b| !b.vm(VM_A).is_running());
    drop(vm);
    run.wait_for("the disconnect", |b| !b.vm(VM_A).is_connected());
    assert_eq!(run.cutoffs(VM_A), vec![VhostUserError::Disconnected]);
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn hostile_frontends_are_cut_off_and_vm_a_goes_on() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest_a);
    ping_pong(&run, &vm, &mut drv, 1);

    // 1. Garbage messages: an unknown request code, then a size above the limit.
    for (req, body) in [
        (9999u32, vec![0u8; 8]),
        (5 /* SET_MEM_TABLE */, vec![0xff; 64]),
    ] {
        let mut s = run.connect(VM_B);
        raw(&mut s, req, &body);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
        ping_pong(&run, &vm, &mut drv, 2);
    }
    // A partial header, then silence: cut off after the request timeout, the event loop
    // is not blocked meanwhile for longer than that.
    let mut s = run.connect(VM_B);
    let _ = s.write_all(&[1, 0, 0]);
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    ping_pong(&run, &vm, &mut drv, 4);
    drop(s);
    // 2. A ring address outside the memory table.
    let guest_b = Guest::new();
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    front.set_owner().unwrap();
    front.set_features(FEATURES).unwrap();
    front.set_mem_table(&guest_b.table()).unwrap();
    front.set_vring_num(0, QSIZE).unwrap();
    let bad = vring_data(QSIZE, 0xdead_0000, uva(0x1000), uva(0x2000));
    let _ = front.set_vring_addr(0, &bad);
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    // 3. A queue size that is not a power of two, and a queue that does not exist.
    for (q, num) in [(0usize, 100u16), (5, 256)] {
        let front = Frontend::from_stream(run.connect(VM_B), 8);
        front.set_owner().unwrap();
        let _ = front.set_vring_num(q, num);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    }
    // 4. Two regions that overlap in guest-physical addresses.
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    let mut table = guest_b.table();
    table[1].guest_phys_addr = 0x8_0000;
    let _ = front.set_mem_table(&table);
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    // 5. A region file shorter than the region: the backend would fault on a page that
    // is not there.
    let short = memfd(REGION, true);
    {
        let file = &short;
        let front = Frontend::from_stream(run.connect(VM_B), 2);
        let table: Vec<_> = guest_b
            .table()
            .into_iter()
            .map(|mut r| {
                r.mmap_handle = file.as_raw_fd();
                r
            })
            .collect();
        let _ = front.set_mem_table(&table);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    }
    // 6. Features not offered.
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    let _ = front.set_features(FEATURES | (1 << 22));
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    ping_pong(&run, &vm, &mut drv, 3);

    let reasons = run.cutoffs(VM_B);
    assert_eq!(reasons.len(), 9, "{reasons:?}");
    assert_eq!(reasons[0], VhostUserError::Protocol);
    assert_eq!(reasons[1], VhostUserError::Protocol);
    assert_eq!(reasons[2], VhostUserError::Stalled { bytes: 3 });
    assert!(matches!(
        reasons[3],
        VhostUserError::BadRingAddress {
            index: 0,
            user_addr: 0xdead_0000
        }
    ));
    assert_eq!(
        reasons[4],
        VhostUserError::BadQueueSize { index: 0, num: 100 }
    );
    assert_eq!(reasons[5], VhostUserError::BadQueue { index: 5 });
    assert!(matches!(
        reasons[6],
        VhostUserError::BadRegion {
            guest_phys_addr: 0x8_0000,
            ..
        }
    ));
    assert_eq!(
        reasons[7],
        VhostUserError::RegionFile {
            guest_phys_addr: GPA[1],
            file_size: REGION,
            needed: 2 * REGION,
            sealed: true
        }
    );
    assert_eq!(reasons[8], VhostUserError::Features { bits: 1 << 22 });
    // Every reason says what was wrong.
    for r in &reasons {
        assert!(!r.to_string().is_empty());
    }
    assert!(run.cutoffs(VM_A).is_empty());
}

/// A frontend whose memory file is not sealed (DPDK's virtio-user, a QEMU guest on a
/// file it could truncate) is served; when it shrinks the file under the running rings,
/// the backend's next access faults, is survived (zero pages mapped over the vanished
/// ones), and the frontend is cut off with the typed reason, while VM A goes on.
#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn an_unsealed_memory_file_is_served_and_truncating_it_cuts_only_that_frontend_off() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm_a, mut drv_a) = vm_a_up(&run, &guest_a);
    for round in 0..3u8 {
        let guest_b = Guest::with_file(memfd(2 * REGION, false));
        let vm_b = bring_up(run.connect(VM_B), &guest_b);
        let mut drv_b = Driver::new(&guest_b);
        drv_b.post_rx(8);
        run.wait_for("B running", |b| b.vm(VM_B).is_running());
        let out = frame(mac(2), mac(3), 0x0800, &payload(700, round));
        drv_b.send(&vm_b, &out);
        let mut got = None;
        run.wait_for("B's frame at the partition", |b| {
            got = part_receive(b);
            got.is_some()
        });
        assert_eq!(got.unwrap(), out);
        let back = frame(mac(3), mac(2), 0x0800, &payload(300, !round));
        run.with(|b| b.part().inject(&back).unwrap());
        assert_eq!(drv_b.receive_wait(), back);

        // The frontend truncates its memory (round 2: only the second region).
        let keep = if round == 2 { REGION } else { 0 };
        guest_b.file.set_len(keep).unwrap();
        if round == 2 {
            // The rings are in region 0, which is still there: B goes on until the
            // backend touches region 1 (a transmit buffer there).
            drv_b.send(&vm_b, &out);
        }
        vm_b.kick[1].write(1).unwrap();
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
        let want = if round == 2 { GPA[1] } else { GPA[0] };
        assert_eq!(
            run.cutoffs(VM_B).last(),
            Some(&VhostUserError::RegionTruncated {
                guest_phys_addr: want
            })
        );
        ping_pong(&run, &vm_a, &mut drv_a, round);
    }
    assert!(run.cutoffs(VM_A).is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn garbage_rings_and_a_changing_memory_table_cut_the_guest_off() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm_a, mut drv_a) = vm_a_up(&run, &guest_a);

    // VM B brings its rings up properly, then its guest writes garbage: an avail index
    // far ahead of what the ring holds (a fatal ring error).
    let guest_b = Guest::new();
    let vm_b = bring_up(run.connect(VM_B), &guest_b);
    run.wait_for("B running", |b| b.vm(VM_B).is_running());
    let tx = Guest::ring(1);
    // Random descriptors, then avail.idx = 1000 (more than the 256 entries).
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    guest_b.write(tx.desc, &junk);
    guest_b.write(tx.avail + 2, &1000u16.to_le_bytes());
    vm_b.kick[1].write(1).unwrap();
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    let r = run.cutoffs(VM_B);
    assert!(matches!(r.as_slice(), [VhostUserError::Ring(_)]), "{r:?}");
    ping_pong(&run, &vm_a, &mut drv_a, 7);

    // VM B again, with garbage descriptors behind a valid index: per-chain errors are
    // counted, the chains returned, the port stays up; frames from A still reach B's
    // good receive buffers.
    let guest_b = Guest::new();
    let vm_b = bring_up(run.connect(VM_B), &guest_b);
    run.wait_for("B running again", |b| b.vm(VM_B).is_running());
    let mut drv_b = Driver::new(&guest_b);
    drv_b.post_rx(8);
    // A transmit chain whose buffer points outside the guest memory.
    drv_b
        .txq
        .add(&[Buffer::new(0x7000_0000, 100)], &[])
        .unwrap();
    drv_b.txq.publish();
    vm_b.kick[1].write(1).unwrap();
    run.wait_for("the bad chain returned", |_| drv_b.reclaim_tx() == 1);
    let to_b = frame(mac(3), mac(1), 0x0800, &payload(500, 9));
    drv_a.send(&vm_a, &to_b);
    assert_eq!(drv_b.receive_wait(), to_b);
    let s = run.with(|b| b.vm(VM_B).stats());
    assert!(s.net.last_error.is_some(), "the bad chain was noted");

    // B's guest spoofs A's MAC towards the partition: dropped by the switch, counted;
    // B's own frame right after it arrives alone.
    let spoofed = frame(mac(2), mac(1), 0x0800, &payload(200, 10));
    let own = frame(mac(2), mac(3), 0x0800, &payload(200, 11));
    drv_b.send(&vm_b, &spoofed);
    drv_b.send(&vm_b, &own);
    let mut got = None;
    run.wait_for("B's own frame at the partition", |b| {
        got = part_receive(b);
        got.is_some()
    });
    assert_eq!(got.unwrap(), own);
    let spoof_drops = run.with(|b| {
        b.sw.stats(PortId::new(VM_B))
            .unwrap()
            .drops(vnet_switch::DropReason::Spoofed)
    });
    assert_eq!(spoof_drops, 1);
    assert!(run.with(part_receive).is_none());
    assert!(run.with(|b| b.vm(VM_B).is_running()));

    // The memory table changes under the running rings: cut off.
    let mut table = guest_b.table();
    table[1].guest_phys_addr += 0x100_0000;
    let _ = vm_b.front.set_mem_table(&table);
    run.wait_for("B cut off again", |b| !b.vm(VM_B).is_connected());
    assert_eq!(
        run.cutoffs(VM_B)[1],
        VhostUserError::MemTableChanged { regions: 2 }
    );
    // An identical table is accepted while running (QEMU re-sends it).
    vm_a.front.set_mem_table(&guest_a.table()).unwrap();
    ping_pong(&run, &vm_a, &mut drv_a, 8);
    assert!(run.cutoffs(VM_A).is_empty());
}
