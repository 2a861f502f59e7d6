//! Feature `log`: a queue that a malicious peer breaks says so once, with the typed error,
//! through the `log` facade.
#![cfg(feature = "log")]

use std::sync::Mutex;

use virtqueue::mock::Loopback;
use virtqueue::{Buffer, DriverQueue, Error, Features, OwnedMemory};

/// Every record logged in this test binary, as `LEVEL message`.
static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        RECORDS
            .lock()
            .unwrap()
            .push(format!("{} {}", r.level(), r.args()));
    }
    fn flush(&self) {}
}

#[test]
fn a_broken_driver_queue_is_logged_once_with_its_error() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let lb = Loopback::new(16, 16384);
    let mut drv: DriverQueue<'_, OwnedMemory, 16> = lb.driver(Features::VERSION_1).unwrap();
    drv.add(&[Buffer::new(lb.data_addr(0), 10)], &[]).unwrap();
    drv.publish();
    let mut dev = lb.mock_device();
    dev.push_used(16, 0);
    dev.publish();
    let want = Error::UsedIdOutOfRange { id: 16, size: 16 };
    assert_eq!(drv.pop_used(), Err(want));
    assert_eq!(drv.pop_used(), Err(Error::Broken));

    let records = RECORDS.lock().unwrap();
    assert_eq!(
        *records,
        [format!(
            "WARN virtqueue: split driver queue broken by the device: {want}"
        )]
    );
}
