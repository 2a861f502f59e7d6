//! Packed rings (`VIRTIO_F_RING_PACKED`) on the vhost-user backend: a packed session and
//! hostile packed frontends.

use vhost::vhost_user::Frontend;
use vhost::VhostBackend;
use virtqueue::QueueConfig;
use vmm_sys_util::eventfd::EventFd;
use vnet_switch::adapters::vhost_user::VhostUserError;

use super::harness::*;

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn packed_rings_pass_frames_both_ways_and_resume_from_their_state() {
    let run = Running::start();
    let guest = Guest::new();
    let mut vm = bring_up_with(run.connect(VM_A), &guest, PACKED);
    let mut drv = Driver::with(&guest, PACKED);
    assert!(drv.rxq.is_packed() && drv.txq.is_packed());
    drv.post_rx(32);
    run.wait_for("VM A running", |b| b.vm(VM_A).is_running());
    assert_eq!(run.with(|b| b.vm(VM_A).packed_rings()), Some(true));
    // 270 frames each way: both rings (256 positions, one per chain) wrap once.
    for seed in 0..270u32 {
        ping_pong(&run, &vm, &mut drv, seed as u8);
    }
    let s = run.with(|b| b.vm(VM_A).stats());
    assert_eq!((s.net.tx_frames, s.net.rx_frames), (270, 270));

    // GET_VRING_BASE: vhost-user's packed state, next position 270 = offset 14 of the
    // second lap (wrap counter 0) for avail (bits 0..=15) and used (bits 16..=31).
    let lap2_14 = 14 | 14 << 16;
    assert_eq!(vm.front.get_vring_base(1).unwrap(), lap2_14);
    assert_eq!(vm.front.get_vring_base(0).unwrap(), lap2_14);
    run.wait_for("VM A stopped", |b| !b.vm(VM_A).is_running());

    // Restart from that state, as QEMU does after a stop: the rings go on where they were.
    for q in 0..2 {
        set_vring_base_raw(&mut vm.sock, q as u32, lap2_14);
        vm.front.set_vring_kick(q, &vm.kick[q]).unwrap();
    }
    run.wait_for("VM A running again", |b| b.vm(VM_A).is_running());
    for seed in 0..20 {
        ping_pong(&run, &vm, &mut drv, seed);
    }
    let s = run.with(|b| b.vm(VM_A).stats());
    assert_eq!(s.starts, 2);
    assert_eq!(s.net.tx_frames, 20, "counters of the second data path");
    assert!(run.cutoffs(VM_A).is_empty());

    // A split-ring frontend on the other port, next to it.
    let guest_b = Guest::new();
    let _vm_b = bring_up(run.connect(VM_B), &guest_b);
    run.wait_for("VM B running", |b| b.vm(VM_B).is_running());
    assert_eq!(run.with(|b| b.vm(VM_B).packed_rings()), Some(false));
    ping_pong(&run, &vm, &mut drv, 99);
}

/// DPDK's virtio-user frontend sends a packed ring's base as the avail half only
/// (`0x8000`: offset 0, wrap counter 1; the used half zero). The backend takes used =
/// avail, so frames flow past the first lap of the ring.
#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn a_packed_base_without_its_used_half_runs_past_the_first_lap() {
    let run = Running::start();
    let guest = Guest::new();
    let vm = bring_up_at(run.connect(VM_A), &guest, PACKED, 0x8000);
    let mut drv = Driver::with(&guest, PACKED);
    drv.post_rx(32);
    run.wait_for("VM A running", |b| b.vm(VM_A).is_running());
    for seed in 0..300u32 {
        ping_pong(&run, &vm, &mut drv, seed as u8);
    }
    let s = run.with(|b| b.vm(VM_A).stats());
    assert_eq!((s.net.tx_frames, s.net.rx_frames), (300, 300));
    assert!(run.cutoffs(VM_A).is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn hostile_packed_frontends_are_cut_off_and_vm_a_goes_on() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest_a);
    let guest_b = Guest::new();
    // A packed frontend up to its memory table; its raw socket too.
    let connect = || {
        let stream = run.connect(VM_B);
        let sock = stream.try_clone().unwrap();
        let front = Frontend::from_stream(stream, 2);
        front.set_owner().unwrap();
        front.set_features(PACKED).unwrap();
        front.set_mem_table(&guest_b.table()).unwrap();
        (front, sock)
    };
    // 1. Ring states the ring cannot have: the used position ahead of the avail one
    // (a wrong wrap state), an avail offset outside the ring.
    for (q, state) in [(1u32, 0x8001_8000u32), (0, 0x8000_ffff)] {
        let (front, mut sock) = connect();
        front.set_vring_num(q as usize, QSIZE).unwrap();
        set_vring_base_raw(&mut sock, q, state);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
        ping_pong(&run, &vm, &mut drv, 1);
    }
    // 2. Event suppression areas outside the guest memory: the driver's (in the avail
    // field) across the end of region 0, the device's (in the used field) nowhere.
    let ring = QueueConfig::contiguous_packed(RING[1], QSIZE);
    for (avail, used) in [
        (uva(REGION - 2), uva(ring.used)),
        (uva(ring.avail), 0xdead_0000),
    ] {
        let (front, _sock) = connect();
        front.set_vring_num(1, QSIZE).unwrap();
        let cfg = vring_data(QSIZE, uva(ring.desc), avail, used);
        let _ = front.set_vring_addr(1, &cfg);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
        ping_pong(&run, &vm, &mut drv, 2);
    }
    // 3. A state set before the size, that the size then makes wrong (offset 100 of a
    // ring of 64): refused when the rings start.
    let (front, mut sock) = connect();
    let kick = [0, 1].map(|_| EventFd::new(0).unwrap());
    for q in 0..2 {
        set_vring_base_raw(&mut sock, q as u32, 0x8064_8064);
        front.set_vring_num(q, 64).unwrap();
        let r = QueueConfig::contiguous_packed(RING[q], 64);
        let cfg = vring_data(64, uva(r.desc), uva(r.avail), uva(r.used));
        front.set_vring_addr(q, &cfg).unwrap();
        front.set_vring_kick(q, &kick[q]).unwrap();
    }
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    ping_pong(&run, &vm, &mut drv, 3);

    let reasons = run.cutoffs(VM_B);
    let bad_base = |index, base| VhostUserError::BadRingBase {
        index,
        base,
        packed: true,
    };
    assert_eq!(
        reasons,
        vec![
            bad_base(1, 0x8001_8000),
            bad_base(0, 0x8000_ffff),
            VhostUserError::BadRingAddress {
                index: 1,
                user_addr: uva(REGION - 2)
            },
            VhostUserError::BadRingAddress {
                index: 1,
                user_addr: 0xdead_0000
            },
            bad_base(0, 0x8064_8064),
        ]
    );
    assert!(reasons[0].to_string().contains("used offset 1"));
    assert!(run.cutoffs(VM_A).is_empty());
}
