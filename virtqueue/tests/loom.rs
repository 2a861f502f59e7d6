//! loom models of the ring ordering protocol, running the crate's own
//! `virtqueue::ordering` functions (their fences go through loom under `--cfg loom`).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p virtqueue --all-features --release --test loom`
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU16, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;
use virtqueue::layout::need_event;
use virtqueue::ordering::{self, Barriers, IndexCell};

struct Cell(AtomicU16);

impl IndexCell for Cell {
    fn load(&self) -> u16 {
        self.0.load(Relaxed)
    }
    fn store(&self, value: u16) {
        self.0.store(value, Relaxed)
    }
}

fn cell(v: u16) -> Cell {
    Cell(AtomicU16::new(v))
}

/// The driver writes a descriptor (plain memory) then publishes `avail.idx`; a device
/// that observes the new index must see the descriptor (loom flags a data race or a stale
/// read otherwise).
#[test]
fn publish_then_consume() {
    loom::model(|| {
        let desc = Arc::new(UnsafeCell::new(0u64));
        let idx = Arc::new(cell(0));
        let (d2, i2) = (desc.clone(), idx.clone());
        let producer = thread::spawn(move || {
            d2.with_mut(|p| unsafe { *p = 0xfeed });
            ordering::publish(Barriers::Smp, &*i2, 1);
        });
        if ordering::observe(Barriers::Smp, &*idx) == 1 {
            let v = desc.with(|p| unsafe { *p });
            assert_eq!(v, 0xfeed);
        }
        producer.join().unwrap();
    });
}

/// The same for the used ring, with platform barriers (ORDER_PLATFORM).
#[test]
fn publish_then_consume_platform() {
    loom::model(|| {
        let elem = Arc::new(UnsafeCell::new(0u32));
        let idx = Arc::new(cell(7));
        let (e2, i2) = (elem.clone(), idx.clone());
        let producer = thread::spawn(move || {
            e2.with_mut(|p| unsafe { *p = 42 });
            ordering::publish(Barriers::Platform, &*i2, 8);
        });
        if ordering::observe(Barriers::Platform, &*idx) == 8 {
            assert_eq!(elem.with(|p| unsafe { *p }), 42);
        }
        producer.join().unwrap();
    });
}

/// EVENT_IDX no-lost-wake-up: the driver publishes avail entry 0 and then checks
/// `avail_event`; concurrently the device, which had notifications off (stale
/// `avail_event`), re-enables them at index 0 and re-checks `avail.idx`. In every
/// interleaving, either the driver notifies or the device sees the new entry.
#[test]
fn event_idx_no_lost_wakeup() {
    loom::model(|| {
        let avail_idx = Arc::new(cell(0));
        let avail_event = Arc::new(cell(u16::MAX));
        let (ai, ae) = (avail_idx.clone(), avail_event.clone());
        let driver = thread::spawn(move || {
            ordering::publish(Barriers::Smp, &*ai, 1);
            let event = ordering::load_after_publish(Barriers::Smp, &*ae);
            need_event(event, 1, 0)
        });
        let seen = ordering::store_then_load(Barriers::Smp, &*avail_event, 0, &*avail_idx);
        let device_sees_work = seen != 0;
        let driver_notifies = driver.join().unwrap();
        assert!(driver_notifies || device_sees_work, "lost wake-up");
    });
}

/// The same race on the used side with flags instead of event indices: the device
/// publishes a used entry and reads `avail.flags`; the driver clears `NO_INTERRUPT` and
/// re-reads `used.idx`.
#[test]
fn flags_no_lost_wakeup() {
    loom::model(|| {
        let used_idx = Arc::new(cell(0));
        let avail_flags = Arc::new(cell(1));
        let (ui, af) = (used_idx.clone(), avail_flags.clone());
        let device = thread::spawn(move || {
            ordering::publish(Barriers::Smp, &*ui, 1);
            ordering::load_after_publish(Barriers::Smp, &*af) & 1 == 0
        });
        let seen = ordering::store_then_load(Barriers::Smp, &*avail_flags, 0, &*used_idx);
        let device_notifies = device.join().unwrap();
        assert!(device_notifies || seen != 0, "lost wake-up");
    });
}

/// Packed ring, driver → device: the driver writes chain A's descriptor body and the whole
/// of chain B (its flags relaxed), then publishes A's first flags word. A device that sees
/// A available sees A's body and B available too (one release fence per batch).
#[test]
fn packed_publish_then_consume() {
    use virtqueue::layout::packed::PackedDescFlags;
    loom::model(|| {
        let body_a = Arc::new(UnsafeCell::new(0u64));
        let flags_a = Arc::new(cell(0));
        let flags_b = Arc::new(cell(0));
        let avail = PackedDescFlags::avail_bits(true).bits();
        let (b2, fa, fb) = (body_a.clone(), flags_a.clone(), flags_b.clone());
        let driver = thread::spawn(move || {
            b2.with_mut(|p| unsafe { *p = 0xa11 });
            fb.store(avail);
            ordering::publish(Barriers::Smp, &*fa, avail);
        });
        if ordering::observe(Barriers::Smp, &*flags_a) == avail {
            assert_eq!(body_a.with(|p| unsafe { *p }), 0xa11);
            assert_eq!(flags_b.load(), avail, "later chain of the batch visible");
        }
        driver.join().unwrap();
    });
}

/// Packed ring, device → driver: id and length written before the used flags; a driver
/// that sees the used bits reads the id and length written for them.
#[test]
fn packed_used_then_reclaim() {
    use virtqueue::layout::packed::PackedDescFlags;
    loom::model(|| {
        let id_len = Arc::new(UnsafeCell::new((0u16, 0u32)));
        let flags = Arc::new(cell(PackedDescFlags::avail_bits(true).bits()));
        let used = PackedDescFlags::used_bits(true).bits();
        let (il, f2) = (id_len.clone(), flags.clone());
        let device = thread::spawn(move || {
            il.with_mut(|p| unsafe { *p = (3, 64) });
            ordering::publish(Barriers::Platform, &*f2, used);
        });
        if ordering::observe(Barriers::Platform, &*flags) == used {
            assert_eq!(id_len.with(|p| unsafe { *p }), (3, 64));
        }
        device.join().unwrap();
    });
}

/// Packed event suppression, no lost wake-up: the driver publishes the descriptor at
/// offset 0 and reads the device's event suppression structure; the device, which had
/// notifications disabled, asks for an event at offset 0 (`off_wrap`, then `flags` =
/// DESC), and re-reads the descriptor's flags. Either the driver notifies or the device
/// sees the descriptor.
#[test]
fn packed_event_suppression_no_lost_wakeup() {
    use virtqueue::layout::packed::{off_wrap, packed_need_event, EventFlags, PackedDescFlags};
    loom::model(|| {
        let desc_flags = Arc::new(cell(0));
        let dev_off_wrap = Arc::new(cell(0));
        let dev_flags = Arc::new(cell(EventFlags::Disable.bits()));
        let avail = PackedDescFlags::avail_bits(true).bits();
        let (df, ow, fl) = (desc_flags.clone(), dev_off_wrap.clone(), dev_flags.clone());
        let driver = thread::spawn(move || {
            ordering::publish(Barriers::Smp, &*df, avail);
            let mode = ordering::load_after_publish(Barriers::Smp, &*fl);
            match EventFlags::from_bits(mode) {
                EventFlags::Disable => false,
                EventFlags::Desc => packed_need_event(ow.load(), 1, 0, true, 4),
                EventFlags::Enable => true,
            }
        });
        dev_off_wrap.store(off_wrap(0, true));
        let seen = ordering::store_then_load(
            Barriers::Smp,
            &*dev_flags,
            EventFlags::Desc.bits(),
            &*desc_flags,
        );
        let device_sees_work = seen == avail;
        let driver_notifies = driver.join().unwrap();
        assert!(driver_notifies || device_sees_work, "lost wake-up");
    });
}
