//! virtio-net driver over packed virtqueues (`RING_PACKED` offered, as QEMU's
//! `packed=on`), against the in-process device model serving packed rings.

mod harness;
use harness::*;

fn state() -> FakeDeviceState {
    FakeDeviceState::net(packed_features(), MAC, 1500)
}

#[test]
fn packed_is_negotiated_when_offered_and_split_otherwise() {
    {
        setup!(hal, st, model, net; state(), NetConfig::default());
        assert!(net.features().contains(NetFeatures::RING_PACKED));
        assert_ne!(
            st.borrow().driver_features & NetFeatures::RING_PACKED.bits(),
            0
        );
        let _ = &model;
    }
    {
        let st = FakeDeviceState::net(modern_features(), MAC, 1500);
        setup!(hal, st2, model, net; st, NetConfig::default());
        assert!(!net.features().contains(NetFeatures::RING_PACKED));
        let _ = (&model, &st2);
    }
}

#[test]
fn frames_both_ways_over_many_ring_laps() {
    // Rings of 8 (and 4 receive buffers): the wrap counters flip every few frames.
    let cfg = NetConfig {
        queue_size: 8,
        rx_buffers: 4,
        tx_buffers: 4,
        ..NetConfig::default()
    };
    setup!(hal, st, model, net; state(), cfg);
    let frames: Vec<_> = (0..ROUNDS * 3)
        .map(|i| frame(60 + (i * 53) % 1454, i as u8))
        .collect();
    for f in &frames {
        assert!(send(&mut net, f).unwrap());
        net.service(8).unwrap();
        model.borrow_mut().inject(f);
        model.borrow_mut().process();
        assert_eq!(recv(&mut net).unwrap().as_ref(), Some(f));
    }
    assert_eq!(model.borrow().sent, frames);
    assert_eq!(model.borrow().errors, vec![]);
    assert_eq!(net.stats().device_errors, 0);
    let _ = st;
}

#[test]
fn control_commands_over_a_packed_control_queue() {
    setup!(hal, st, model, net; state(), NetConfig::default());
    net.set_promiscuous(true).unwrap();
    assert!(model.borrow().promiscuous);
    net.set_promiscuous(false).unwrap();
    assert!(!model.borrow().promiscuous);
    let _ = st;
}
