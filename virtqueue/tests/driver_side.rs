//! The driver side against a malicious device: one test per validation rule of
//! `pop_used`. Each violation is a typed error and leaves that queue broken (sticky),
//! while another queue in the same memory keeps working.

use virtqueue::layout::QueueConfig;
use virtqueue::mock::{Loopback, MockDevice};
use virtqueue::{Buffer, DriverQueue, Error, Features, OwnedMemory, Token, UsedBuffer};

type Drv<'a> = DriverQueue<'a, OwnedMemory, 16>;

/// A driver with two chains posted: token A (1 readable + 2 writable of 100 bytes) and
/// token B (1 readable).
fn setup(lb: &Loopback) -> (Drv<'_>, MockDevice<'_>, Token, Token) {
    let mut drv: Drv<'_> = lb.driver(Features::VERSION_1).unwrap();
    let a = lb.data_addr(0);
    let ta = drv
        .add(
            &[Buffer::new(a, 10)],
            &[Buffer::new(a + 100, 100), Buffer::new(a + 200, 100)],
        )
        .unwrap();
    let tb = drv.add(&[Buffer::new(a + 300, 10)], &[]).unwrap();
    drv.publish();
    (drv, lb.mock_device(), ta, tb)
}

/// The violation must be `want`, fatal and sticky; a second queue must still work.
fn expect_fatal(lb: &Loopback, drv: &mut Drv<'_>, want: Error) {
    assert_eq!(drv.pop_used(), Err(want));
    assert!(want.is_fatal());
    assert!(drv.is_broken());
    assert_eq!(drv.pop_used(), Err(Error::Broken));
    assert_eq!(drv.add(&[Buffer::new(0, 1)], &[]), Err(Error::Broken));
    // Another queue in the same memory is unaffected.
    let cfg = QueueConfig::contiguous(lb.data_addr(4096), 16);
    let mut q2: Drv<'_> = DriverQueue::new(lb.memory(), cfg, Features::VERSION_1).unwrap();
    let t = q2.add(&[], &[Buffer::new(lb.data_addr(8000), 64)]).unwrap();
    q2.publish();
    let mut dev2 = MockDevice::new(lb.memory(), cfg).unwrap();
    dev2.push_used(u32::from(t.0), 64);
    dev2.publish();
    assert_eq!(q2.pop_used(), Ok(Some(UsedBuffer { token: t, len: 64 })));
}

#[test]
fn well_behaved_device_returns_in_any_order() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, ta, tb) = setup(&lb);
    assert_eq!(drv.free_descriptors(), 12);
    dev.push_used(u32::from(tb.0), 0);
    dev.push_used(u32::from(ta.0), 200);
    dev.publish();
    assert_eq!(drv.pop_used(), Ok(Some(UsedBuffer { token: tb, len: 0 })));
    assert_eq!(
        drv.pop_used(),
        Ok(Some(UsedBuffer {
            token: ta,
            len: 200
        }))
    );
    assert_eq!(drv.pop_used(), Ok(None));
    assert_eq!(drv.free_descriptors(), 16);
}

#[test]
fn used_id_out_of_range() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, _, _) = setup(&lb);
    dev.push_used(16, 0);
    dev.publish();
    expect_fatal(&lb, &mut drv, Error::UsedIdOutOfRange { id: 16, size: 16 });
}

#[test]
fn used_id_above_u16() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, ta, _) = setup(&lb);
    // 0x10000 + head would alias the head if truncated to 16 bits.
    dev.push_used(0x1_0000 + u32::from(ta.0), 0);
    dev.publish();
    expect_fatal(
        &lb,
        &mut drv,
        Error::UsedIdOutOfRange {
            id: 0x1_0000 + u32::from(ta.0),
            size: 16,
        },
    );
}

#[test]
fn used_id_mid_chain() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, ta, _) = setup(&lb);
    // Chain A occupies descriptors ta, ta+1, ta+2: ta+1 is in its middle.
    let mid = u32::from(ta.0) + 1;
    dev.push_used(mid, 0);
    dev.publish();
    expect_fatal(&lb, &mut drv, Error::UsedIdNotOutstanding { id: mid });
}

#[test]
fn used_id_free_descriptor() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, _, _) = setup(&lb);
    dev.push_used(9, 0);
    dev.publish();
    expect_fatal(&lb, &mut drv, Error::UsedIdNotOutstanding { id: 9 });
}

#[test]
fn used_id_returned_twice() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, _, tb) = setup(&lb);
    dev.push_used(u32::from(tb.0), 0);
    dev.push_used(u32::from(tb.0), 0);
    dev.publish();
    assert_eq!(drv.pop_used(), Ok(Some(UsedBuffer { token: tb, len: 0 })));
    expect_fatal(
        &lb,
        &mut drv,
        Error::UsedIdNotOutstanding {
            id: u32::from(tb.0),
        },
    );
}

#[test]
fn used_length_above_writable() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, ta, tb) = setup(&lb);
    dev.push_used(u32::from(tb.0), 1); // B has no writable byte
    dev.publish();
    expect_fatal(
        &lb,
        &mut drv,
        Error::UsedLengthTooLong {
            id: tb.0,
            len: 1,
            writable: 0,
        },
    );
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, _, _) = setup(&lb);
    dev.push_used(u32::from(ta.0), 201);
    dev.publish();
    expect_fatal(
        &lb,
        &mut drv,
        Error::UsedLengthTooLong {
            id: ta.0,
            len: 201,
            writable: 200,
        },
    );
}

#[test]
fn used_index_jump() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, _, _) = setup(&lb);
    dev.set_used_idx(17);
    expect_fatal(
        &lb,
        &mut drv,
        Error::UsedIndexJump {
            last: 0,
            published: 17,
        },
    );
}

#[test]
fn used_index_backwards_is_a_jump() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, mut dev, _, _) = setup(&lb);
    dev.set_used_idx(65535);
    expect_fatal(
        &lb,
        &mut drv,
        Error::UsedIndexJump {
            last: 0,
            published: 65535,
        },
    );
}

#[test]
fn caller_errors_are_not_fatal() {
    let lb = Loopback::new(16, 16384);
    let mut drv: Drv<'_> = lb.driver(Features::VERSION_1).unwrap();
    assert_eq!(drv.add(&[], &[]), Err(Error::EmptyChain));
    let big = [Buffer::new(0, u32::MAX), Buffer::new(0, 1)];
    assert_eq!(
        drv.add(&[], &big),
        Err(Error::ChainTooLarge { total: 1 << 32 })
    );
    let many = [Buffer::new(lb.data_addr(0), 1); 17];
    assert_eq!(
        drv.add(&many, &[]),
        Err(Error::QueueFull {
            needed: 17,
            free: 16
        })
    );
    assert!(!drv.is_broken());
    assert!(drv.add(&many[..16], &[]).is_ok());
    assert_eq!(
        drv.add(&many[..1], &[]),
        Err(Error::QueueFull { needed: 1, free: 0 })
    );
}

#[test]
fn driver_writes_what_it_posted() {
    let lb = Loopback::new(16, 16384);
    let (drv, dev, ta, tb) = setup(&lb);
    assert_eq!(dev.avail_idx(), 2);
    assert_eq!((dev.avail_slot(0), dev.avail_slot(1)), (ta.0, tb.0));
    let d = dev.desc(ta.0);
    assert_eq!(
        (d.addr.get(), d.len.get(), d.flags.get()),
        (lb.data_addr(0), 10, 1)
    );
    assert_eq!(drv.writable_len(ta), Some(200));
    assert_eq!(drv.writable_len(Token(15)), None);
}

#[test]
fn should_notify_flags_and_event_idx() {
    let lb = Loopback::new(16, 16384);
    let (mut drv, dev, _, _) = setup(&lb);
    assert!(drv.should_notify());
    assert!(!drv.should_notify(), "nothing new published");
    drv.add(&[Buffer::new(lb.data_addr(0), 1)], &[]).unwrap();
    drv.publish();
    dev.set_used_flags(1); // NO_NOTIFY
    assert!(!drv.should_notify());

    // EVENT_IDX across the 16-bit wrap.
    let lb = Loopback::new(16, 16384);
    let cfg = lb.config();
    let f = Features::VERSION_1 | Features::RING_EVENT_IDX;
    let mut drv: Drv<'_> = DriverQueue::with_start_index(lb.memory(), cfg, f, 65534).unwrap();
    let dev = lb.mock_device();
    dev.set_avail_event(65535); // device wants a kick once entry 65535 is available
    let b = [Buffer::new(lb.data_addr(0), 1)];
    drv.add(&b, &[]).unwrap();
    drv.publish(); // avail 65535: entry 65534 only
    assert!(!drv.should_notify());
    drv.add(&b, &[]).unwrap();
    drv.add(&b, &[]).unwrap();
    drv.publish(); // avail 1 (wrapped): entries 65535 and 0
    assert!(drv.should_notify());
    assert!(!drv.should_notify());
}

#[test]
fn used_notification_enable_reports_races() {
    let lb = Loopback::new(16, 16384);
    let cfg = lb.config();
    let f = Features::VERSION_1 | Features::RING_EVENT_IDX;
    let mut drv: Drv<'_> = DriverQueue::new(lb.memory(), cfg, f).unwrap();
    let t = drv.add(&[Buffer::new(lb.data_addr(0), 1)], &[]).unwrap();
    drv.publish();
    let mut dev = lb.mock_device();
    drv.disable_used_notifications();
    assert_eq!(dev.used_event(), 65535);
    assert!(!drv.enable_used_notifications());
    assert_eq!(dev.used_event(), 0);
    dev.push_used(u32::from(t.0), 0);
    dev.publish();
    assert!(drv.enable_used_notifications(), "the used entry raced in");
    assert_eq!(drv.pop_used(), Ok(Some(UsedBuffer { token: t, len: 0 })));
    assert_eq!(dev.used_event(), 1);
    // Flag-based without EVENT_IDX.
    let lb = Loopback::new(16, 16384);
    let mut drv: Drv<'_> = lb.driver(Features::VERSION_1).unwrap();
    let dev = lb.mock_device();
    drv.disable_used_notifications();
    assert_eq!(dev.avail_flags(), 1);
    assert!(!drv.enable_used_notifications());
    assert_eq!(dev.avail_flags(), 0);
}
