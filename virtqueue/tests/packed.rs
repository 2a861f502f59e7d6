//! Packed rings end to end, and malicious peers on both sides of a packed ring.

use virtqueue::layout::packed::{off_wrap, EventFlags, PackedDescFlags, PackedDescriptor};
use virtqueue::mock::Loopback;
use virtqueue::{
    AnyDeviceQueue, AnyDriverQueue, Buffer, Error, Features, OwnedMemory, PackedDeviceQueue,
    PackedDriverQueue, Token, UsedEntry,
};

const F: Features = Features::VERSION_1.union(Features::RING_PACKED);
const FI: Features = F.union(Features::INDIRECT_DESC);

type Dev<'a> = PackedDeviceQueue<&'a OwnedMemory, 8, 4>;
type Drv<'a> = PackedDriverQueue<'a, OwnedMemory, 8>;

fn flags(w: bool, extra: PackedDescFlags) -> PackedDescFlags {
    PackedDescFlags::avail_bits(w) | extra
}

#[test]
fn roundtrip_across_many_laps() {
    let lb = Loopback::packed(4, 4096);
    let mut drv: Drv<'_> = lb.packed_driver(F).unwrap();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    for round in 0..50u32 {
        let r = lb.data_addr(0);
        let w = lb.data_addr(256);
        lb.write(r, &round.to_le_bytes());
        let t = drv
            .add(
                &[Buffer::new(r, 4)],
                &[Buffer::new(w, 8), Buffer::new(w + 8, 8)],
            )
            .unwrap();
        assert_eq!(
            dev.pop().unwrap().map(|c| c.head()),
            None,
            "not published yet"
        );
        drv.publish();
        let chain = dev.pop().unwrap().expect("published chain");
        assert_eq!(chain.head(), t.0);
        assert_eq!((chain.readable_len(), chain.writable_len()), (4, 16));
        let mut b = [0u8; 4];
        chain.reader(dev.memory()).read_exact(&mut b).unwrap();
        assert_eq!(u32::from_le_bytes(b), round);
        chain
            .writer(dev.memory())
            .write_all(&[round as u8; 10])
            .unwrap();
        dev.add_used(chain.head(), 10).unwrap();
        let u = drv.pop_used().unwrap().expect("used");
        assert_eq!((u.token, u.len), (t, 10));
        assert_eq!(drv.free_descriptors(), 4);
        assert_eq!(drv.pop_used().unwrap(), None);
    }
    // 150 positions on a ring of 4: many laps, both wrap counters flipped many times.
    assert_eq!(dev.next_avail(), (150 % 4, (150 / 4) % 2 == 0));
}

#[test]
fn batch_publish_and_out_of_order_completion() {
    let lb = Loopback::packed(8, 4096);
    let mut drv: Drv<'_> = lb.packed_driver(F).unwrap();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    let toks: Vec<Token> = (0..3)
        .map(|i| {
            drv.add(&[], &[Buffer::new(lb.data_addr(64 * i), 64)])
                .unwrap()
        })
        .collect();
    assert!(
        dev.pop().unwrap().is_none(),
        "first head held back until publish"
    );
    drv.publish();
    let heads: Vec<u16> = (0..3).map(|_| dev.pop().unwrap().unwrap().head()).collect();
    assert_eq!(heads, toks.iter().map(|t| t.0).collect::<Vec<_>>());
    dev.add_used_batch(&[
        UsedEntry {
            head: heads[2],
            len: 3,
        },
        UsedEntry {
            head: heads[0],
            len: 1,
        },
    ])
    .unwrap();
    let mut got = vec![];
    drv.pop_used_batch(8, |u| got.push((u.token, u.len)))
        .unwrap();
    assert_eq!(got, vec![(toks[2], 3), (toks[0], 1)]);
    dev.add_used(heads[1], 2).unwrap();
    assert_eq!(drv.pop_used().unwrap().unwrap().token, toks[1]);
    assert_eq!(drv.free_descriptors(), 8);
}

#[test]
fn any_queue_selects_the_layout_from_the_features() {
    for packed in [false, true] {
        let lb = Loopback::with_layout(packed, 8, 4096);
        let f = if packed { F } else { Features::VERSION_1 };
        let mut drv: AnyDriverQueue<'_, OwnedMemory, 8> =
            AnyDriverQueue::new(lb.memory(), lb.config(), f).unwrap();
        let mut dev: AnyDeviceQueue<&'_ OwnedMemory, 8, 4> =
            AnyDeviceQueue::attach(lb.memory(), lb.config(), f).unwrap();
        assert_eq!((drv.is_packed(), dev.is_packed()), (packed, packed));
        lb.write(lb.data_addr(0), b"hello");
        let t = drv
            .add(
                &[Buffer::new(lb.data_addr(0), 5)],
                &[Buffer::new(lb.data_addr(64), 5)],
            )
            .unwrap();
        drv.publish();
        assert!(drv.should_notify());
        assert_eq!(drv.notification_data(3) & 0xffff, 3);
        let c = dev.pop().unwrap().unwrap();
        let mut b = [0u8; 5];
        c.reader(dev.memory()).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hello");
        dev.add_used(c.head(), 5).unwrap();
        assert!(dev.needs_notification().unwrap());
        assert_eq!(drv.pop_used().unwrap().unwrap().token, t);
    }
}

#[test]
fn notification_data_carries_offset_and_wrap() {
    let lb = Loopback::packed(4, 4096);
    let mut drv: Drv<'_> = lb.packed_driver(F).unwrap();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    let b = [Buffer::new(lb.data_addr(0), 8)];
    for _ in 0..5 {
        drv.add(&[], &b).unwrap();
        drv.publish();
        let c = dev.pop().unwrap().unwrap();
        dev.add_used(c.head(), 0).unwrap();
        drv.pop_used().unwrap().unwrap();
    }
    // Next avail offset 1 in the second lap (wrap counter 0).
    assert_eq!(drv.notification_data(2), 2 | 1 << 16);
}

// ---- malicious driver against the device side ----

#[test]
fn wrong_wrap_bits_inside_a_chain_are_fatal() {
    let lb = Loopback::packed(8, 4096);
    let raw = lb.mock_packed();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    let a = lb.data_addr(0);
    // Second descriptor carries the previous lap's bits.
    raw.write_desc(
        1,
        PackedDescriptor::new(a, 8, 0, flags(false, PackedDescFlags::empty())),
    );
    raw.write_desc(
        0,
        PackedDescriptor::new(a, 8, 0, flags(true, PackedDescFlags::NEXT)),
    );
    let e = dev.pop().unwrap_err();
    assert_eq!(
        e,
        Error::WrapMismatch {
            offset: 1,
            flags: 0x8000
        }
    );
    assert!(e.is_fatal());
    assert_eq!(dev.pop().unwrap_err(), Error::Broken);
}

#[test]
fn head_with_other_lap_bits_is_not_available() {
    let lb = Loopback::packed(8, 4096);
    let raw = lb.mock_packed();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    for bits in [0u16, 0x8000, 0x8080] {
        raw.write_desc(
            0,
            PackedDescriptor::new(
                lb.data_addr(0),
                8,
                0,
                PackedDescFlags::from_bits_retain(bits),
            ),
        );
        assert!(dev.pop().unwrap().is_none(), "flags {bits:#x}");
    }
}

#[test]
fn unterminated_chain_is_fatal() {
    let lb = Loopback::packed(4, 4096);
    let raw = lb.mock_packed();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    for off in (0..4).rev() {
        raw.write_desc(
            off,
            PackedDescriptor::new(lb.data_addr(0), 8, 0, flags(true, PackedDescFlags::NEXT)),
        );
    }
    assert_eq!(
        dev.pop().unwrap_err(),
        Error::UnterminatedChain { offset: 0, size: 4 }
    );
    assert!(dev.is_broken());
}

#[test]
fn bad_ids_consume_the_chain_and_the_queue_goes_on() {
    let lb = Loopback::packed(8, 4096);
    let raw = lb.mock_packed();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    let a = lb.data_addr(0);
    raw.add_chain(0, true, 9, &[(a, 8, false)]);
    assert_eq!(
        dev.pop().unwrap_err(),
        Error::BufferIdOutOfRange { id: 9, size: 8 }
    );
    raw.add_chain(1, true, 3, &[(a, 8, false), (a, 8, true)]);
    assert_eq!(dev.pop().unwrap().unwrap().head(), 3);
    // Id 3 again while the device holds it: reused id.
    raw.add_chain(3, true, 3, &[(a, 8, false)]);
    assert_eq!(dev.pop().unwrap_err(), Error::BufferIdInUse { id: 3 });
    assert!(!dev.is_broken());
    // Returning: more than posted, not held.
    assert_eq!(
        dev.add_used(3, 9),
        Err(Error::LengthAboveWritable {
            id: 3,
            len: 9,
            writable: 8
        })
    );
    assert_eq!(dev.add_used(5, 0), Err(Error::NotHeld { id: 5 }));
    dev.add_used(3, 8).unwrap();
    assert_eq!(dev.add_used(3, 0), Err(Error::NotHeld { id: 3 }));
    raw.add_chain(4, true, 1, &[(a, 8, false)]);
    assert_eq!(dev.pop().unwrap().unwrap().head(), 1);
}

#[test]
fn buffers_outside_memory_name_the_id_to_return() {
    let lb = Loopback::packed(8, 4096);
    let raw = lb.mock_packed();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    raw.add_chain(
        0,
        true,
        5,
        &[(lb.data_addr(0), 8, false), (0xdead_0000_0000, 8, true)],
    );
    let e = dev.pop().unwrap_err();
    assert_eq!(
        e,
        Error::BufferOutOfMemory {
            head: 5,
            addr: 0xdead_0000_0000,
            len: 8
        }
    );
    assert_eq!(e.chain_head(), Some(5));
    dev.add_used(5, 0).unwrap();
    assert_eq!(raw.desc(0).id.get(), 5);
    assert_eq!(
        raw.desc(0).flags.get(),
        PackedDescFlags::used_bits(true).bits()
    );
    // Readable after writable.
    let a = lb.data_addr(0);
    raw.add_chain(2, true, 6, &[(a, 8, true), (a, 8, false)]);
    assert_eq!(
        dev.pop().unwrap_err(),
        Error::ReadableAfterWritable {
            head: 6,
            position: 1
        }
    );
    // Too many segments (S = 4): the chain is consumed whole.
    raw.add_chain(4, true, 7, &[(a, 1, false); 5][..4]);
    assert_eq!(dev.pop().unwrap().unwrap().segments().len(), 4);
}

#[test]
fn bad_indirect_tables() {
    let lb = Loopback::packed(8, 8192);
    let raw = lb.mock_packed();
    let a = lb.data_addr(0);
    let table = lb.data_addr(4096);
    let entry = |addr: u64, len: u32, f: PackedDescFlags| PackedDescriptor::new(addr, len, 0, f);
    let put = |entries: &[PackedDescriptor]| {
        let bytes: Vec<u8> = entries
            .iter()
            .flat_map(|e| zerocopy::IntoBytes::as_bytes(e).to_vec())
            .collect();
        lb.write(table, &bytes);
    };
    let ind = PackedDescFlags::INDIRECT;
    // Not negotiated.
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    raw.add_chain(0, true, 0, &[(table, 16, false)]);
    raw.write_desc(0, PackedDescriptor::new(table, 16, 0, flags(true, ind)));
    assert_eq!(
        dev.pop().unwrap_err(),
        Error::IndirectNotNegotiated { head: 0 }
    );
    dev.add_used(0, 0).unwrap();
    let mut dev: Dev<'_> = lb.packed_device(FI).unwrap();
    let mut off = 0u16;
    let mut id = 0u16;
    let mut try_one = |len: u32, extra: PackedDescFlags| {
        raw.write_desc(
            off,
            PackedDescriptor::new(table, len, id, flags(true, ind | extra)),
        );
        let r = dev
            .pop()
            .map(|c| c.map(|c| (c.readable_len(), c.writable_len())));
        if let Err(e) = r {
            if let Some(h) = e.chain_head() {
                dev.add_used(h, 0).unwrap();
            }
        } else if r.as_ref().unwrap().is_some() {
            dev.add_used(id, 0).unwrap();
        }
        off += 1;
        id += 1;
        r
    };
    put(&[
        entry(a, 8, PackedDescFlags::empty()),
        entry(a, 4, PackedDescFlags::WRITE),
    ]);
    assert_eq!(try_one(32, PackedDescFlags::empty()), Ok(Some((8, 4))));
    assert_eq!(
        try_one(24, PackedDescFlags::empty()),
        Err(Error::IndirectLength { head: 1, len: 24 })
    );
    assert_eq!(
        try_one(0, PackedDescFlags::empty()),
        Err(Error::IndirectLength { head: 2, len: 0 })
    );
    assert_eq!(
        try_one(16 * 9, PackedDescFlags::empty()),
        Err(Error::ChainTooLong {
            head: 3,
            len: 9,
            size: 8
        })
    );
    put(&[
        entry(a, 8, PackedDescFlags::NEXT),
        entry(a, 4, PackedDescFlags::WRITE),
    ]);
    assert_eq!(
        try_one(32, PackedDescFlags::empty()),
        Err(Error::NextInIndirect { head: 4 })
    );
    put(&[entry(a, 8, ind)]);
    assert_eq!(
        try_one(16, PackedDescFlags::empty()),
        Err(Error::NestedIndirect { head: 5 })
    );
    let _ = try_one;
    // An indirect descriptor with NEXT (followed by a plain one carrying id 6).
    raw.write_desc(
        7,
        PackedDescriptor::new(a, 8, 6, flags(true, PackedDescFlags::empty())),
    );
    raw.write_desc(
        6,
        PackedDescriptor::new(table, 16, 6, flags(true, ind | PackedDescFlags::NEXT)),
    );
    assert_eq!(dev.pop().unwrap_err(), Error::IndirectInChain { head: 6 });
    assert!(!dev.is_broken());
}

// ---- malicious device against the driver side ----

fn driver_with_one_chain(lb: &Loopback) -> (Drv<'_>, Token) {
    let mut drv: Drv<'_> = lb.packed_driver(F).unwrap();
    let t = drv
        .add(
            &[Buffer::new(lb.data_addr(0), 8)],
            &[Buffer::new(lb.data_addr(64), 16)],
        )
        .unwrap();
    drv.publish();
    (drv, t)
}

#[test]
fn used_id_out_of_range_is_fatal() {
    let lb = Loopback::packed(8, 4096);
    let (mut drv, _) = driver_with_one_chain(&lb);
    lb.mock_packed().push_used(0, true, 8, 0);
    assert_eq!(
        drv.pop_used(),
        Err(Error::UsedIdOutOfRange { id: 8, size: 8 })
    );
    assert_eq!(drv.pop_used(), Err(Error::Broken));
    assert_eq!(drv.add(&[Buffer::new(0, 1)], &[]), Err(Error::Broken));
}

#[test]
fn used_id_not_outstanding_and_reuse_are_fatal() {
    let lb = Loopback::packed(8, 4096);
    let (mut drv, t) = driver_with_one_chain(&lb);
    let raw = lb.mock_packed();
    raw.push_used(0, true, t.0 + 1, 0);
    assert_eq!(
        drv.pop_used(),
        Err(Error::UsedIdNotOutstanding {
            id: u32::from(t.0) + 1
        })
    );
    let lb = Loopback::packed(8, 4096);
    let (mut drv, t) = driver_with_one_chain(&lb);
    let raw = lb.mock_packed();
    raw.push_used(0, true, t.0, 4);
    assert_eq!(drv.pop_used().unwrap().unwrap().token, t);
    // The same id again at the next used position: returned twice.
    raw.push_used(2, true, t.0, 4);
    assert_eq!(
        drv.pop_used(),
        Err(Error::UsedIdNotOutstanding { id: u32::from(t.0) })
    );
}

#[test]
fn used_length_above_posted_is_fatal() {
    let lb = Loopback::packed(8, 4096);
    let (mut drv, t) = driver_with_one_chain(&lb);
    lb.mock_packed().push_used(0, true, t.0, 17);
    assert_eq!(
        drv.pop_used(),
        Err(Error::UsedLengthTooLong {
            id: t.0,
            len: 17,
            writable: 16
        })
    );
    assert!(drv.is_broken());
}

#[test]
fn used_bits_of_the_wrong_lap_are_not_used() {
    let lb = Loopback::packed(8, 4096);
    let (mut drv, t) = driver_with_one_chain(&lb);
    let raw = lb.mock_packed();
    raw.push_used(0, false, t.0, 0);
    assert_eq!(drv.pop_used(), Ok(None));
    raw.push_used(0, true, t.0, 0);
    assert_eq!(drv.pop_used().unwrap().unwrap().token, t);
}

// ---- event suppression ----

#[test]
fn device_event_suppression_drives_should_notify() {
    let lb = Loopback::packed(8, 4096);
    let fe = F | Features::RING_EVENT_IDX;
    let mut drv: Drv<'_> = lb.packed_driver(fe).unwrap();
    let raw = lb.mock_packed();
    let b = [Buffer::new(lb.data_addr(0), 8)];
    raw.set_device_event(0, EventFlags::Disable.bits());
    drv.add(&[], &b).unwrap();
    drv.publish();
    assert!(!drv.should_notify());
    // Event at offset 2 of lap 1: not crossed by moving 1 -> 2, crossed by 2 -> 3.
    raw.set_device_event(off_wrap(2, true), EventFlags::Desc.bits());
    drv.add(&[], &b).unwrap();
    drv.publish();
    assert!(!drv.should_notify());
    drv.add(&[], &b).unwrap();
    drv.publish();
    assert!(drv.should_notify());
    assert!(!drv.should_notify(), "nothing new published");
}

#[test]
fn driver_event_suppression_drives_needs_notification() {
    let lb = Loopback::packed(4, 4096);
    let fe = F | Features::RING_EVENT_IDX;
    let mut drv: Drv<'_> = lb.packed_driver(fe).unwrap();
    let mut dev: Dev<'_> = lb.packed_device(fe).unwrap();
    let b = [Buffer::new(lb.data_addr(0), 8)];
    drv.disable_used_notifications();
    assert_eq!(
        lb.mock_packed().driver_event().1,
        EventFlags::Disable.bits()
    );
    for _ in 0..2 {
        drv.add(&[], &b).unwrap();
    }
    drv.publish();
    let c0 = dev.pop().unwrap().unwrap();
    let c1 = dev.pop().unwrap().unwrap();
    dev.add_used(c0.head(), 0).unwrap();
    assert!(!dev.needs_notification().unwrap());
    // Re-enable at the next used position (offset 0): the used descriptor there raced in.
    assert!(drv.enable_used_notifications());
    assert_eq!(
        lb.mock_packed().driver_event(),
        (off_wrap(0, true), EventFlags::Desc.bits())
    );
    drv.pop_used().unwrap().unwrap();
    assert_eq!(lb.mock_packed().driver_event().0, off_wrap(1, true));
    dev.add_used(c1.head(), 0).unwrap();
    assert!(dev.needs_notification().unwrap());
    assert!(!dev.needs_notification().unwrap(), "nothing new used");
}

#[test]
fn device_enable_notification_reports_raced_work() {
    let lb = Loopback::packed(4, 4096);
    let mut drv: Drv<'_> = lb.packed_driver(F).unwrap();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    dev.disable_notification();
    assert_eq!(
        lb.mock_packed().device_event().1,
        EventFlags::Disable.bits()
    );
    assert!(!dev.enable_notification().unwrap());
    drv.add(&[], &[Buffer::new(lb.data_addr(0), 8)]).unwrap();
    drv.publish();
    assert!(dev.enable_notification().unwrap());
}

// ---- IN_ORDER, RING_RESET ----

#[test]
fn in_order_batches_are_inferred_split_and_packed() {
    for packed in [false, true] {
        let lb = Loopback::with_layout(packed, 8, 4096);
        let mut f = Features::VERSION_1 | Features::IN_ORDER;
        if packed {
            f |= Features::RING_PACKED;
        }
        let mut drv: AnyDriverQueue<'_, OwnedMemory, 8> =
            AnyDriverQueue::new(lb.memory(), lb.config(), f).unwrap();
        let mut dev: AnyDeviceQueue<&'_ OwnedMemory, 8, 4> =
            AnyDeviceQueue::attach(lb.memory(), lb.config(), f).unwrap();
        for round in 0..6 {
            let toks: Vec<Token> = (0..3)
                .map(|i| {
                    drv.add(&[], &[Buffer::new(lb.data_addr(64 * i), 32)])
                        .unwrap()
                })
                .collect();
            drv.publish();
            let heads: Vec<u16> = (0..3).map(|_| dev.pop().unwrap().unwrap().head()).collect();
            dev.add_used_in_order(heads[2], 7).unwrap();
            let mut got = vec![];
            drv.pop_used_batch(8, |u| got.push((u.token, u.len)))
                .unwrap();
            assert_eq!(
                got,
                vec![(toks[0], 0), (toks[1], 0), (toks[2], 7)],
                "round {round}"
            );
            assert_eq!(drv.free_descriptors(), 8);
        }
    }
}

#[test]
fn ring_reset_restarts_both_sides() {
    for packed in [false, true] {
        let lb = Loopback::with_layout(packed, 4, 4096);
        let f = if packed { F } else { Features::VERSION_1 };
        let mut drv: AnyDriverQueue<'_, OwnedMemory, 4> =
            AnyDriverQueue::new(lb.memory(), lb.config(), f).unwrap();
        let mut dev: AnyDeviceQueue<&'_ OwnedMemory, 4, 4> =
            AnyDeviceQueue::attach(lb.memory(), lb.config(), f).unwrap();
        let b = [Buffer::new(lb.data_addr(0), 8)];
        for _ in 0..3 {
            drv.add(&[], &b).unwrap();
        }
        drv.publish();
        dev.pop().unwrap().unwrap();
        // Reset mid-flight: the driver's tokens are gone, the device starts over.
        drv.reset();
        dev.reset();
        assert_eq!(drv.free_descriptors(), 4);
        assert!(dev.pop().unwrap().is_none());
        let t = drv.add(&[], &b).unwrap();
        drv.publish();
        let c = dev.pop().unwrap().unwrap();
        assert_eq!(c.head(), t.0);
        dev.add_used(c.head(), 8).unwrap();
        assert_eq!(drv.pop_used().unwrap().unwrap().len, 8);
    }
}

#[test]
fn pending_counts_whole_chains() {
    let lb = Loopback::packed(8, 4096);
    let mut drv: Drv<'_> = lb.packed_driver(F).unwrap();
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    let b = Buffer::new(lb.data_addr(0), 8);
    assert_eq!(dev.pending(), Ok(0));
    drv.add(&[b], &[b]).unwrap();
    drv.add(&[b], &[]).unwrap();
    assert_eq!(dev.pending(), Ok(0), "unpublished");
    drv.publish();
    assert_eq!(dev.pending(), Ok(2));
    dev.pop().unwrap().unwrap();
    assert_eq!(dev.pending(), Ok(1));
}

#[test]
fn notification_data_values_split_and_packed() {
    for packed in [false, true] {
        let lb = Loopback::with_layout(packed, 4, 4096);
        let f = if packed { F } else { Features::VERSION_1 };
        let mut drv: AnyDriverQueue<'_, OwnedMemory, 4> =
            AnyDriverQueue::new(lb.memory(), lb.config(), f).unwrap();
        let b = [Buffer::new(lb.data_addr(0), 8)];
        drv.add(&[], &b).unwrap();
        // Nothing published yet: split avail.idx 0; packed offset 0 in lap 1 (wrap bit set).
        let before = if packed { 7 | (0x8000 << 16) } else { 7 };
        assert_eq!(drv.notification_data(7), before);
        drv.publish();
        // Split: avail.idx 1. Packed: offset 1, wrap counter 1 (bit 31).
        let want = if packed {
            7 | (0x8001 << 16)
        } else {
            7 | (1 << 16)
        };
        assert_eq!(drv.notification_data(7), want, "packed {packed}");
    }
}

#[test]
fn in_order_device_side_caller_errors() {
    let lb = Loopback::packed(8, 4096);
    let f = F | Features::IN_ORDER;
    let mut drv: Drv<'_> = lb.packed_driver(f).unwrap();
    let mut dev: Dev<'_> = lb.packed_device(f).unwrap();
    let b = [Buffer::new(lb.data_addr(0), 8)];
    for _ in 0..2 {
        drv.add(&[], &b).unwrap();
    }
    drv.publish();
    let c0 = dev.pop().unwrap().unwrap().head();
    let c1 = dev.pop().unwrap().unwrap().head();
    assert_eq!(
        dev.add_used(c1, 0),
        Err(Error::NotOldest {
            id: c1,
            oldest: Some(c0)
        })
    );
    assert_eq!(dev.add_used_in_order(5, 0), Err(Error::NotHeld { id: 5 }));
    assert_eq!(
        dev.add_used_in_order(c1, 9),
        Err(Error::LengthAboveWritable {
            id: c1,
            len: 9,
            writable: 8
        })
    );
    dev.add_used(c0, 1).unwrap();
    dev.add_used(c1, 2).unwrap();
    assert_eq!(
        dev.add_used(c1, 0),
        Err(Error::NotOldest {
            id: c1,
            oldest: None
        })
    );
    let mut got = vec![];
    drv.pop_used_batch(4, |u| got.push(u.len)).unwrap();
    assert_eq!(got, vec![1, 2]);
    // Without IN_ORDER negotiated the batch call is refused.
    let mut plain: Dev<'_> = lb.packed_device(F).unwrap();
    assert_eq!(
        plain.add_used_in_order(0, 0),
        Err(Error::FeatureMissing {
            bits: Features::IN_ORDER.bits()
        })
    );
}

#[test]
fn a_new_device_queue_resumes_from_a_saved_position() {
    // Ring of 4; 2-descriptor chains, so the saved state lands in every (offset, lap).
    for rounds in 0..9u32 {
        let lb = Loopback::packed(4, 4096);
        let mut drv: Drv<'_> = lb.packed_driver(F).unwrap();
        let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
        let b = [
            Buffer::new(lb.data_addr(0), 8),
            Buffer::new(lb.data_addr(8), 8),
        ];
        let serve = |drv: &mut Drv<'_>, dev: &mut Dev<'_>, n: u32| {
            for i in 0..n {
                let t = drv.add(&[], &b).unwrap();
                drv.publish();
                let c = dev.pop().unwrap().expect("published");
                assert_eq!(c.head(), t.0);
                dev.add_used(c.head(), i).unwrap();
                let u = drv.pop_used().unwrap().expect("used");
                assert_eq!((u.token, u.len), (t, i));
            }
        };
        serve(&mut drv, &mut dev, rounds);
        let saved = (dev.next_avail(), dev.next_used());
        // 2 positions per chain: offset 2 * rounds mod 4, lap flips every 2 rounds.
        let off = (2 * rounds % 4) as u16;
        let wrap = (2 * rounds / 4) % 2 == 0;
        assert_eq!(saved, ((off, wrap), (off, wrap)));
        // A new device side (a restarted backend) resumes from the saved state.
        let mut resumed: Dev<'_> = lb.packed_device(F).unwrap();
        resumed.set_position(saved.0, saved.1).unwrap();
        assert_eq!((resumed.next_avail(), resumed.next_used()), saved);
        serve(&mut drv, &mut resumed, 5);
    }
}

#[test]
fn set_position_refuses_offsets_outside_the_ring() {
    let lb = Loopback::packed(4, 4096);
    let mut dev: Dev<'_> = lb.packed_device(F).unwrap();
    assert_eq!(
        dev.set_position((4, true), (0, true)),
        Err(Error::HeadOutOfRange { head: 4, size: 4 })
    );
    assert_eq!(
        dev.set_position((1, false), (0x7fff, true)),
        Err(Error::HeadOutOfRange {
            head: 0x7fff,
            size: 4
        })
    );
    assert_eq!(
        dev.next_avail(),
        (0, true),
        "a refused state changes nothing"
    );
    dev.set_position((3, false), (2, false)).unwrap();
    assert_eq!(
        (dev.next_avail(), dev.next_used()),
        ((3, false), (2, false))
    );
}
