//! Feature `log`: a device violation is reported through the `log` facade with the typed
//! error, once per violation (the virtqueue below adds its broken-queue event); a link
//! state change once per change. (One test: the logger is global to the binary.)
#![cfg(feature = "log")]

mod harness;
use harness::*;
use nic_drivers::virtqueue;
use nic_drivers::virtqueue::mock::MockDevice;
use nic_drivers::LinkState;
use std::sync::Mutex;

/// Every record logged in this test binary, as `LEVEL message`.
static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let line = format!("{} {}", r.level(), r.args());
        RECORDS.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

/// The records so far, emptied.
fn take() -> Vec<String> {
    std::mem::take(&mut *RECORDS.lock().unwrap())
}

#[test]
fn violations_and_link_changes_are_logged() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

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
