//! Feature `log`: a device violation is reported through the `log` facade with the typed
//! error, once per violation (the virtqueue below adds its broken-queue event).
#![cfg(feature = "log")]

mod harness;
use harness::*;
use nic_drivers::virtqueue;
use nic_drivers::virtqueue::mock::MockDevice;
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

#[test]
fn a_device_violation_is_logged_with_its_error() {
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
        *RECORDS.lock().unwrap(),
        [
            format!("WARN virtqueue: split driver queue broken by the device: {q}"),
            format!(
                "WARN nic-drivers: virtio-net device violation: {}",
                Error::Queue(q)
            ),
        ]
    );
}
