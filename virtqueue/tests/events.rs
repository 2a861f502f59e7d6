//! Feature `log`: a queue that a malicious peer breaks says so once, with the typed error,
//! through the `log` facade.
#![cfg(feature = "log")]

use virtqueue::mock::Loopback;
use virtqueue::{Buffer, DriverQueue, Error, Features, OwnedMemory};

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
fn a_broken_driver_queue_is_logged_once_with_its_error() {
    testing_logger::setup();

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

    assert_eq!(
        take(),
        [format!(
            "WARN virtqueue: split driver queue broken by the device: {want}"
        )]
    );
}
