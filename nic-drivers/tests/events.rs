//! Feature `log`: a device violation is reported through the `log` facade with the typed
//! error, once per violation (the virtqueue below adds its broken-queue event); a link
//! state change once per change.
#![cfg(feature = "log")]

mod harness;
use harness::*;
use nic_drivers::virtqueue;
use nic_drivers::virtqueue::mock::MockDevice;
use nic_drivers::LinkState;

/// This test thread's log records so far, as `LEVEL message`, emptied.
fn take() -> Vec<String> {
    let out = std::cell::RefCell::new(Vec::new());
    testing_logger::validate(|l| {
        *out.borrow_mut() = l
            .iter()
            .map(|r| format!("{} {}", r.level, r.body))
            .collect()
    });
    out.into_inner()
}

#[test]
fn violations_and_link_changes_are_logged() {
    testing_logger::setup();

    setup!(hal, st, net; FakeDeviceState::net(modern_features(), MAC, 1500), NetConfig::default());
    let mem = hal.device_memory();
    let cfg = st.borrow().queue(0).unwrap();
    let mut dev = MockDevice::new(&mem, cfg).unwrap();
    dev.push_used(64, 100);
    dev.publish();
    let q = virtqueue::Error::UsedIdOutOfRange { id: 64, size: 64 };
    assert_eq!(net.rx_take(), Err(Error::Queue(q)));
    assert_eq!(net.rx_take(), Err(Error::Broken));

    assert_eq!(
        take(),
        [
            format!("WARN virtqueue: split driver queue broken by the device: {q}"),
            format!(
                "WARN nic-drivers: virtio-net device violation: {}",
                Error::Queue(q)
            ),
        ]
    );

    // Link changes: one event per change, none while the state stays.
    setup!(hal, st, net; FakeDeviceState::net(modern_features(), MAC, 1500), NetConfig::default());
    assert_eq!(net.link_state(), LinkState::Up);
    assert_eq!(net.link_state(), LinkState::Up);
    st.borrow_mut().write_config(6, &0u16.to_le_bytes());
    assert_eq!(net.link_state(), LinkState::Down);
    assert_eq!(
        take(),
        [
            "INFO nic-drivers: virtio-net link up",
            "INFO nic-drivers: virtio-net link down"
        ]
    );
}
