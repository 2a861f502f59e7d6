//! virtio-net driver against the in-process device model (virtqueue device side).

mod harness;
use harness::*;
use nic_drivers::transport::{DeviceStatus, InterruptStatus};
use nic_drivers::{Checksum, LinkState};

fn state() -> FakeDeviceState {
    FakeDeviceState::net(modern_features(), MAC, 1500)
}

#[test]
fn bring_up_reads_the_mac_and_negotiates() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    assert_eq!(net.mac_address(), MacAddress(MAC));
    let f = net.features();
    assert!(f.contains(NetFeatures::VERSION_1 | NetFeatures::MRG_RXBUF | NetFeatures::CTRL_RX));
    assert!(!f.contains(NetFeatures::INDIRECT_DESC));
    let s = st.borrow();
    assert_eq!(
        s.status,
        (DeviceStatus::ACKNOWLEDGE
            | DeviceStatus::DRIVER
            | DeviceStatus::FEATURES_OK
            | DeviceStatus::DRIVER_OK)
            .bits()
    );
    assert_eq!(s.driver_features, f.bits());
    assert_eq!(s.queue(0).unwrap().size, 64, "capped by Q");
    assert!(s.queue(2).is_some(), "control queue");
    drop(s);
    assert_eq!(net.caps().mtu, 1500);
    assert!(net.filter_caps().promiscuous);
    assert_eq!(model.borrow().errors, vec![]);
}

#[test]
fn transmitted_frames_reach_the_device_unchanged() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    let frames: Vec<_> = (0..ROUNDS * 2)
        .map(|i| frame(14 + (i * 37) % 1505, i as u8))
        .collect();
    for f in &frames {
        assert!(send(&mut net, f).unwrap());
        net.service(8).unwrap();
    }
    let m = model.borrow();
    assert_eq!(m.sent, frames);
    assert!(m
        .sent_headers
        .iter()
        .all(|h| h.flags == 0 && h.gso_type == 0));
    drop(m);
    let stats = net.stats();
    assert_eq!(stats.tx_frames, frames.len() as u64);
    assert_eq!(
        stats.tx_bytes,
        frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );
    let _ = st;
}

#[test]
fn received_frames_are_copied_in_order_into_private_slots() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    let frames: Vec<_> = (0..ROUNDS * 5) // more frames than receive buffers
        .map(|i| frame(60 + (i * 13) % 1458, i as u8))
        .collect();
    let mut got = Vec::new();
    for f in &frames {
        model.borrow_mut().inject(f);
        model.borrow_mut().process();
        got.push(recv(&mut net).unwrap().expect("a frame"));
    }
    assert_eq!(got, frames);
    assert_eq!(recv(&mut net).unwrap(), None);
    assert_eq!(net.stats().rx_frames, frames.len() as u64);
    assert_eq!(net.stats().device_errors, 0);
    let _ = st;
}

#[test]
fn merged_receive_buffers_are_assembled() {
    // Split rings, then packed ones (RING_PACKED offered).
    for features in [modern_features(), packed_features()] {
        let st = FakeDeviceState::net(features, MAC, 1500);
        setup!(hal, st2, model, net; st, NetConfig::default());
        model.borrow_mut().merge_chunk = Some(700);
        for len in [60, 700, 701, 1400, 1514] {
            let f = frame(len, len as u8);
            model.borrow_mut().inject(&f);
            model.borrow_mut().process();
            assert_eq!(recv(&mut net).unwrap().unwrap(), f, "len {len}");
        }
        let _ = &st2;
    }
}

#[test]
fn private_slots_give_back_pressure() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    for i in 0..12 {
        model.borrow_mut().inject(&frame(100, i));
    }
    model.borrow_mut().process();
    let mut held = Vec::new();
    while let Some(s) = net.rx_take().unwrap() {
        held.push(s);
    }
    assert_eq!(held.len(), 8, "R private slots");
    assert_eq!(
        net.rx_take().unwrap(),
        None,
        "frames wait for a private slot"
    );
    net.service(4).unwrap();
    for (i, s) in held.iter().enumerate() {
        assert_eq!(net.rx_frame(s), &frame(100, i as u8)[..]);
    }
    for s in held {
        net.rx_release(s);
    }
    let mut rest = 0;
    while recv(&mut net).unwrap().is_some() {
        rest += 1;
    }
    assert_eq!(rest, 4);
    let _ = st;
}

#[test]
fn forged_slot_handles_are_refused() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    let forged = nic_drivers::RxSlot::new(3, 60);
    assert!(net.rx_frame(&forged).is_empty());
    net.rx_release(forged); // no effect
    let tx = nic_drivers::TxSlot::new(5, 60);
    assert_eq!(
        net.tx_write(&tx, 0, &[1]),
        Err(Error::InvalidSlot { index: 5 })
    );
    assert_eq!(
        net.tx_commit(tx, FrameMeta::NONE),
        Err(Error::InvalidSlot { index: 5 })
    );
    let slot = net.tx_reserve(60).unwrap().unwrap();
    assert!(matches!(
        net.tx_write(&slot, 59, &[0, 0]),
        Err(Error::SlotBounds { .. })
    ));
    assert!(matches!(
        net.tx_write(&slot, usize::MAX, &[0]),
        Err(Error::SlotBounds { .. })
    ));
    net.tx_abort(slot);
    assert!(matches!(
        net.tx_reserve(13),
        Err(Error::FrameLength { len: 13, .. })
    ));
    assert!(matches!(
        net.tx_reserve(1519),
        Err(Error::FrameLength { .. })
    ));
    assert_eq!(model.borrow().tx_count, 0);
    let _ = st;
}

#[test]
fn transmit_ring_full_then_completions_free_it() {
    setup!(hal, st, net; state(), NetConfig { tx_buffers: 4, ..NetConfig::default() });
    for i in 0..4 {
        assert!(send(&mut net, &frame(64, i)).unwrap());
    }
    assert!(!send(&mut net, &frame(64, 9)).unwrap(), "no buffer left");
    assert_eq!(net.stats().tx_busy, 1);
    // A device consumes them now.
    let dev_mem = hal.device_memory();
    let mut model = NetDeviceModel::new(&dev_mem, &st);
    assert_eq!(model.process_tx(), 4);
    assert_eq!(net.tx_room(), Some(0));
    net.service(16).unwrap();
    assert_eq!(net.tx_room(), Some(4), "service took the 4 buffers back");
    assert!(send(&mut net, &frame(64, 10)).unwrap());
}

#[test]
fn control_queue_switches_promiscuous_all_multicast_and_mac() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    net.set_promiscuous(true).unwrap();
    net.set_all_multicast(true).unwrap();
    assert!(model.borrow().promiscuous && model.borrow().all_multicast);
    net.set_promiscuous(false).unwrap();
    assert!(!model.borrow().promiscuous);
    let new = MacAddress([0x02, 1, 2, 3, 4, 5]);
    net.set_mac_address(new).unwrap();
    assert_eq!(model.borrow().commanded_mac, Some(new.0));
    assert_eq!(net.mac_address(), new);
    assert!(matches!(
        net.set_mac_address(MacAddress([1, 0, 0, 0, 0, 0])),
        Err(Error::ConfigInvalid { .. })
    ));
    model.borrow_mut().ctrl_ack = 1;
    assert_eq!(
        net.set_all_multicast(false),
        Err(Error::CommandFailed {
            class: 0,
            command: 1,
            ack: 1
        })
    );
    let _ = st;
}

#[test]
fn a_silent_control_queue_times_out_and_recovers() {
    setup!(hal, st, model, net; state(), NetConfig { ctrl_spins: 10, ..NetConfig::default() });
    model.borrow_mut().ctrl_silent = true;
    assert_eq!(
        net.set_promiscuous(true),
        Err(Error::Timeout {
            what: "control command"
        })
    );
    assert!(matches!(
        net.set_promiscuous(true),
        Err(Error::Timeout { .. })
    ));
    model.borrow_mut().ctrl_silent = false;
    model.borrow_mut().process();
    net.set_promiscuous(true).unwrap();
    assert!(model.borrow().promiscuous);
    assert!(!net.is_broken());
    let _ = st;
}

#[test]
fn without_ctrl_features_commands_are_unsupported() {
    let features = modern_features() & !(NetFeatures::CTRL_VQ | NetFeatures::CTRL_RX).bits();
    setup!(hal, st, model, net; FakeDeviceState::net(features, MAC, 1500), NetConfig::default());
    assert!(matches!(
        net.set_promiscuous(true),
        Err(Error::Unsupported { .. })
    ));
    assert!(!net.filter_caps().promiscuous);
    assert!(st.borrow().queue(2).is_none());
    let _ = model;
}

fn legacy_state(any_layout: bool, merged: bool) -> FakeDeviceState {
    let mut f =
        NetFeatures::MAC | NetFeatures::STATUS | NetFeatures::CTRL_VQ | NetFeatures::CTRL_RX;
    if any_layout {
        f |= NetFeatures::ANY_LAYOUT;
    }
    if merged {
        f |= NetFeatures::MRG_RXBUF;
    }
    let mut s = FakeDeviceState::net(f.bits() | NetFeatures::RING_EVENT_IDX.bits(), MAC, 0);
    s.legacy = true;
    s
}

#[test]
fn legacy_devices_work_with_and_without_any_layout() {
    for (any_layout, merged) in [(true, false), (false, false), (true, true), (false, true)] {
        setup!(hal, st, model, net; legacy_state(any_layout, merged), NetConfig::default());
        let s = st.borrow();
        assert_eq!(
            s.status & DeviceStatus::FEATURES_OK.bits(),
            0,
            "no FEATURES_OK"
        );
        let q = s.queue(0).unwrap();
        assert_eq!(q.desc % 4096, 0);
        assert_eq!(q.used % 4096, 0, "used ring on its own page");
        drop(s);
        for i in 0..ROUNDS as u8 / 2 {
            let f = frame(60 + usize::from(i) * 70, i);
            assert!(send(&mut net, &f).unwrap());
            model.borrow_mut().inject(&f);
            model.borrow_mut().process();
            assert_eq!(recv(&mut net).unwrap().as_ref(), Some(&f));
        }
        net.set_promiscuous(true).unwrap();
        let m = model.borrow();
        let n = ROUNDS / 2;
        assert_eq!(m.sent.len(), n, "{any_layout} {merged}");
        assert_eq!(m.sent[n - 1], frame(60 + (n - 1) * 70, n as u8 - 1));
        assert!(m.errors.is_empty());
    }
}

#[test]
fn an_iommu_hal_translates_every_device_address() {
    let hal = FakeHal::with_iova_offset(DMA_BASE, DMA_LEN, 0x10_0000_0000);
    let dev_mem = hal.device_memory();
    let st = RefCell::new(state());
    let model = RefCell::new(NetDeviceModel::new(&dev_mem, &st));
    let hook = |q: u16| model.borrow_mut().on_notify(q);
    {
        let transport = FakeTransport::new(&st, Some(&hook));
        let mut net: Net<'_, '_> = VirtioNet::new(&hal, transport, NetConfig::default()).unwrap();
        assert!(st.borrow().queue(0).unwrap().desc >= 0x10_0000_0000);
        for i in 0..ROUNDS as u8 {
            let f = frame(200, i);
            assert!(send(&mut net, &f).unwrap());
            model.borrow_mut().inject(&f);
            model.borrow_mut().process();
            assert_eq!(recv(&mut net).unwrap(), Some(f));
            net.service(64).unwrap();
        }
        net.set_promiscuous(true).unwrap();
        assert_eq!(model.borrow().sent.len(), ROUNDS);
        // Rings (rx, tx, ctrl) and the posted receive buffers stay shared; transmit and
        // control buffers were taken back.
        let rx_posted = 64;
        assert_eq!(hal.outstanding_shares(), 3 + rx_posted);
    }
    assert_eq!(hal.live_allocations(), 0, "everything freed on drop");
    assert_eq!(st.borrow().status, 0, "device reset on drop");
}

#[test]
fn checksum_offload_in_both_directions() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    let caps = net.caps();
    assert!(caps.checksum.tx_partial && caps.checksum.rx_offload);
    let f = frame(100, 1);
    let slot = net.tx_reserve(100).unwrap().unwrap();
    net.tx_write(&slot, 0, &f).unwrap();
    let c = FrameMeta::partial(34, 16);
    net.tx_commit(slot, c).unwrap();
    net.service(0).unwrap();
    let h = model.borrow().sent_headers[0];
    assert_eq!(
        (h.flags, h.csum_start.get(), h.csum_offset.get()),
        (1, 34, 16)
    );
    let slot = net.tx_reserve(40).unwrap().unwrap();
    assert!(matches!(
        net.tx_commit(slot, c),
        Err(Error::Unsupported { .. })
    ));
    model.borrow_mut().rx_flags = 2; // DATA_VALID
    model.borrow_mut().inject(&f);
    model.borrow_mut().process();
    let slot = net.rx_take().unwrap().unwrap();
    assert_eq!(net.rx_meta(&slot).checksum, Checksum::Verified);
    net.rx_release(slot);
    let _ = st;
}

#[test]
fn interrupts_and_link_state() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    assert_eq!(net.link_state(), LinkState::Up);
    st.borrow_mut().write_config(6, &0u16.to_le_bytes());
    assert_eq!(net.link_state(), LinkState::Down);
    assert!(net.ack_interrupt().contains(InterruptStatus::CONFIG));
    assert!(!net.enable_interrupts(), "nothing pending");
    model.borrow_mut().inject(&frame(64, 0));
    model.borrow_mut().process();
    assert!(net.ack_interrupt().contains(InterruptStatus::QUEUE));
    assert!(net.enable_interrupts(), "a frame raced in");
    assert!(recv(&mut net).unwrap().is_some());
    net.disable_interrupts();
    model.borrow_mut().inject(&frame(64, 1));
    model.borrow_mut().process();
    assert!(
        !net.ack_interrupt().contains(InterruptStatus::QUEUE),
        "suppressed"
    );
    assert!(recv(&mut net).unwrap().is_some());
}

#[test]
fn drop_resets_the_device_and_frees_dma() {
    let hal = FakeHal::new(DMA_BASE, DMA_LEN);
    let st = RefCell::new(state());
    {
        let t = FakeTransport::new(&st, None);
        let _net: Net<'_, '_> = VirtioNet::new(&hal, t, NetConfig::default()).unwrap();
        assert!(hal.live_allocations() >= 6);
    }
    assert_eq!(hal.live_allocations(), 0);
    assert_eq!(st.borrow().status, 0);
}

#[test]
fn the_model_delivers_a_batch_up_to_the_posted_buffers() {
    let cfg = NetConfig {
        rx_buffers: 8,
        ..NetConfig::default()
    };
    for merge_chunk in [None, Some(500)] {
        setup!(hal, st, model, net; state(), cfg);
        model.borrow_mut().merge_chunk = merge_chunk;
        let per_frame = if merge_chunk.is_some() { 2 } else { 1 };
        let f = frame(900, 7);
        let interrupts_before = st.borrow().interrupt;
        let got = model.borrow_mut().deliver_batch(&f, 20);
        assert_eq!(got, 8 / per_frame, "as many as the 8 posted buffers hold");
        assert_ne!(
            st.borrow().interrupt,
            interrupts_before,
            "one interrupt decision"
        );
        for _ in 0..got {
            assert_eq!(recv(&mut net).unwrap().as_deref(), Some(&f[..]));
        }
        assert_eq!(recv(&mut net).unwrap(), None);
        net.service(8).unwrap();
        assert_eq!(
            model.borrow_mut().deliver_batch(&f, 1),
            1,
            "reposted buffers"
        );
        assert_eq!(recv(&mut net).unwrap().as_deref(), Some(&f[..]));
        assert!(model.borrow().errors.is_empty());
    }
}

#[test]
fn commits_reach_the_device_with_one_kick_per_service() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    let kicks = || st.borrow().notifications[1];
    let before = kicks();
    for i in 0..4 {
        let f = frame(60 + i, i as u8);
        let slot = net.tx_reserve(f.len()).unwrap().unwrap();
        net.tx_write(&slot, 0, &f).unwrap();
        net.tx_commit(slot, FrameMeta::NONE).unwrap();
    }
    assert_eq!(kicks(), before, "no kick per frame");
    assert!(
        model.borrow().sent.is_empty(),
        "nothing published before service"
    );
    net.service(8).unwrap();
    assert_eq!(kicks(), before + 1, "one kick for the batch");
    let sent: Vec<_> = (0..4).map(|i| frame(60 + i, i as u8)).collect();
    assert_eq!(model.borrow().sent, sent);
    net.service(8).unwrap();
    assert_eq!(kicks(), before + 1, "nothing new: no kick");
}

#[test]
fn a_reservation_commits_shorter_never_longer() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    let f = frame(100, 3);
    let slot = net.tx_reserve(1514).unwrap().unwrap();
    let longer = nic_drivers::TxSlot::new(slot.index(), 1515);
    assert_eq!(
        net.tx_write(&longer, 0, &f),
        Err(Error::InvalidSlot {
            index: slot.index()
        })
    );
    let slot = slot.shrink(f.len());
    assert!(matches!(
        net.tx_write(&slot, 1, &f),
        Err(Error::SlotBounds { slot_len: 100, .. })
    ));
    net.tx_write(&slot, 0, &f).unwrap();
    net.tx_commit(slot, FrameMeta::NONE).unwrap();
    net.service(8).unwrap();
    assert_eq!(model.borrow().sent, vec![f]);
    assert_eq!(net.stats().tx_bytes, 100);
    let _ = st;
}

#[test]
fn device_errors_keep_their_type_and_say_peer() {
    use nic_drivers::{ErrorKind, LinkFault};
    let e = Error::DeviceViolation {
        field: "x",
        value: 1,
    };
    assert_eq!(e.kind(), ErrorKind::Peer);
    assert_eq!(Error::Broken.kind(), ErrorKind::Down);
    assert_eq!(Error::InvalidSlot { index: 1 }.kind(), ErrorKind::BadSlot);
    assert_eq!(
        Error::FrameLength {
            len: 1,
            min: 14,
            max: 1518
        }
        .kind(),
        ErrorKind::FrameLength
    );
}
