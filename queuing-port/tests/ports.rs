//! Behaviour of the typed handles, the start context, and a hostile peer against them.

mod common;

use common::*;
use queuing_port::mock::{HostilePeer, OwnedRegion};
use queuing_port::{
    Error, Geometry, MessageAge, Partition, PortDirection, QueuingDiscipline, QueuingPortReceiver,
    QueuingPortSender, Region, RegionError, ReturnCode, SamplingPortDestination,
    SamplingPortSource, Validity,
};

#[test]
fn typed_queuing_round_trip_in_order() {
    let rs = regions();
    let regions: Vec<Region<'_>> = rs.iter().map(|r| r.region()).collect();
    let mut p1: Partition<'_, '_, 4> = Partition::new(P1, &TABLE, &regions);
    let mut p2: Partition<'_, '_, 4> = Partition::new(P2, &TABLE, &regions);
    let mut tx: QueuingPortSender<'_, 16, 4> = p1
        .start_context()
        .unwrap()
        .create_queuing_sender("q_out", QueuingDiscipline::Fifo)
        .unwrap();
    let mut rx: QueuingPortReceiver<'_, 16, 4> = p2
        .start_context()
        .unwrap()
        .create_queuing_receiver("q_in", QueuingDiscipline::Fifo)
        .unwrap();
    let mut buf = [0u8; 16];
    for round in 0..5u32 {
        for i in 0..4 {
            tx.try_send(&message(round * 4 + i, 1 + i as usize))
                .unwrap();
        }
        assert_eq!(tx.try_send(&[1]), Err(Error::NotAvailable));
        assert_eq!(rx.status().unwrap().nb_message, 4);
        for i in 0..4 {
            let r = rx.try_receive(&mut buf).unwrap();
            assert!(!r.overflowed);
            assert_eq!(&buf[..r.len], &message(round * 4 + i, 1 + i as usize)[..]);
        }
        assert_eq!(rx.try_receive(&mut buf), Err(Error::NotAvailable));
    }
}

#[test]
fn creation_rules_typed() {
    let rs = regions();
    let regions: Vec<Region<'_>> = rs.iter().map(|r| r.region()).collect();
    let mut p1: Partition<'_, '_, 4> = Partition::new(P1, &TABLE, &regions);
    {
        let mut ctx = p1.start_context().unwrap();
        // Wrong size, wrong depth, unknown name, wrong direction: INVALID_CONFIG.
        let e = ctx.create_queuing_sender::<8, 4>("q_out", QueuingDiscipline::Fifo);
        assert_eq!(e.unwrap_err().code(), ReturnCode::InvalidConfig);
        let e = ctx.create_queuing_sender::<16, 3>("q_out", QueuingDiscipline::Fifo);
        assert_eq!(e.unwrap_err().code(), ReturnCode::InvalidConfig);
        let e = ctx.create_queuing_sender::<16, 4>("nope", QueuingDiscipline::Fifo);
        assert_eq!(e.unwrap_err().code(), ReturnCode::InvalidConfig);
        let e = ctx.create_queuing_receiver::<16, 4>("q_out", QueuingDiscipline::Fifo);
        assert_eq!(e.unwrap_err().code(), ReturnCode::InvalidConfig);
        // P2's port is not P1's: names are scoped per partition.
        let e = ctx.create_queuing_receiver::<16, 4>("q_in", QueuingDiscipline::Fifo);
        assert_eq!(e.unwrap_err().code(), ReturnCode::InvalidConfig);
        ctx.create_queuing_sender::<16, 4>("q_out", QueuingDiscipline::Fifo)
            .unwrap();
        let e = ctx.create_queuing_sender::<16, 4>("q_out", QueuingDiscipline::Fifo);
        assert_eq!(e.unwrap_err(), Error::NoAction);
    }
    p1.set_normal();
    assert_eq!(
        p1.start_context().unwrap_err().code(),
        ReturnCode::InvalidMode
    );
    let e = p1.create_sampling_port("s_out", 12, PortDirection::Source, 100);
    assert_eq!(e.unwrap_err().code(), ReturnCode::InvalidMode);
}

#[test]
fn sampling_latest_wins_validity_and_part2_reads() {
    let g = Geometry::sampling(12, 100);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let mut w = SamplingPortSource::<12>::attach(r.region(), &g).unwrap();
    let mut a = SamplingPortDestination::<12>::attach(r.region(), &g).unwrap();
    let mut b = SamplingPortDestination::<12>::attach(r.region(), &g).unwrap();
    let mut buf = [0u8; 12];
    assert_eq!(a.read(&mut buf, 0), Err(Error::NoAction));
    assert_eq!(a.read_updated(&mut buf, 0), Err(Error::NoAction));
    for n in 0..10u32 {
        w.write(&message(n, 12), 1000 + u64::from(n)).unwrap();
    }
    let m = a.read(&mut buf, 1050).unwrap();
    assert_eq!(&buf[..m.len], &message(9, 12)[..]);
    assert_eq!(
        (m.validity, m.age, m.timestamp, m.updated),
        (Validity::Valid, MessageAge::Fresh, 1009, true)
    );
    assert_eq!(a.status().last_msg_validity, Validity::Valid);
    // The same message again: not updated, and stale 200 ns later.
    let m = a.read(&mut buf, 1209).unwrap();
    assert_eq!((m.validity, m.updated), (Validity::Invalid, false));
    assert_eq!(a.read_updated(&mut buf, 1209), Err(Error::NoAction));
    // Another reader is independent.
    assert!(b.read_updated(&mut buf, 1010).unwrap().updated);
    // Conditional: written at 1009, asked for >= 1010.
    assert_eq!(
        a.read_conditional(&mut buf, 1010, 1010),
        Err(Error::NotAvailable)
    );
    w.write(&message(42, 3), 2000).unwrap();
    let m = a.read_conditional(&mut buf, 1010, 2001).unwrap();
    assert_eq!(&buf[..m.len], &message(42, 3)[..]);
    // Precedence on write: too long, then empty.
    assert_eq!(
        w.write(&[0; 13], 0).unwrap_err().code(),
        ReturnCode::InvalidConfig
    );
    assert_eq!(
        w.write(&[], 0).unwrap_err().code(),
        ReturnCode::InvalidParam
    );
}

#[test]
fn attach_rejects_bad_headers() {
    let g = Geometry::queuing(16, 4, false);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let peer = HostilePeer::new(r.region());
    // Other geometry: mismatch.
    let e = QueuingPortSender::<16, 2>::attach(r.region(), &Geometry::queuing(16, 2, false));
    assert!(matches!(
        e.unwrap_err(),
        Error::Corrupt(RegionError::HeaderMismatch {
            field: "capacity",
            ..
        })
    ));
    // Too small a region.
    let small = OwnedRegion::<8>::zeroed();
    let e = QueuingPortSender::<16, 4>::attach(small.region(), &g);
    assert!(matches!(
        e.unwrap_err(),
        Error::Corrupt(RegionError::TooSmall { .. })
    ));
    // Magic scribbled.
    peer.poke(0, 0xdead_beef);
    let e = QueuingPortReceiver::<16, 4>::attach(r.region(), &g).unwrap_err();
    assert_eq!(
        e,
        Error::Corrupt(RegionError::HeaderMismatch {
            field: "magic",
            expected: queuing_port::layout::MAGIC,
            found: 0xdead_beef
        })
    );
    assert!(e.to_string().contains("magic"));
}

#[test]
fn hostile_receiver_head_is_detected_and_sender_recovers() {
    let g = Geometry::queuing(16, 4, false);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let peer = HostilePeer::new(r.region());
    let mut tx = QueuingPortSender::<16, 4>::attach(r.region(), &g).unwrap();
    for i in 0..4 {
        tx.try_send(&message(i, 4)).unwrap();
    }
    // The receiver claims to have read more than was ever sent.
    peer.poke(HostilePeer::HEAD, 1000);
    let e = tx.try_send(&[1]).unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::IndexOutOfRange { field: "head", .. })
    ));
    assert_eq!(e.code(), ReturnCode::NotAvailable);
    assert!(tx.status().is_err());
    // A sane head again: the sender goes on.
    peer.poke(HostilePeer::HEAD, 2);
    tx.try_send(&[7]).unwrap();
    tx.try_send(&[8]).unwrap();
    assert_eq!(tx.try_send(&[9]), Err(Error::NotAvailable));
}

#[test]
fn hostile_sender_tail_and_lengths_are_rejected() {
    let g = Geometry::queuing(16, 4, false);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let peer = HostilePeer::new(r.region());
    let mut rx = QueuingPortReceiver::<16, 4>::attach(r.region(), &g).unwrap();
    let mut buf = [0u8; 16];
    peer.poke(HostilePeer::TAIL, 5);
    let e = rx.try_receive(&mut buf).unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::IndexOutOfRange {
            field: "tail",
            used: 5,
            capacity: 4
        })
    ));
    // Two messages claimed; first slot length too big, second is 0.
    peer.poke(HostilePeer::TAIL, 2);
    let len = |i: usize| g.length_word(i);
    peer.poke(len(0), 0xffff_ffff);
    peer.poke(len(1), 0);
    assert_eq!(
        rx.try_receive(&mut buf),
        Err(Error::Corrupt(RegionError::LengthOutOfRange {
            len: 0xffff_ffff,
            max: 16
        }))
    );
    assert_eq!(
        rx.try_receive(&mut buf),
        Err(Error::Corrupt(RegionError::LengthOutOfRange {
            len: 0,
            max: 16
        }))
    );
    // Both consumed; an honest message after that is delivered.
    assert_eq!(rx.try_receive(&mut buf), Err(Error::NotAvailable));
    peer.poke(len(2), 3);
    peer.poke_data(g.slot_word(2), u64::from_ne_bytes([1, 2, 3, 0, 0, 0, 0, 0]));
    peer.poke(HostilePeer::TAIL, 3);
    let m = rx.try_receive(&mut buf).unwrap();
    assert_eq!(&buf[..m.len], &[1, 2, 3]);
}

#[test]
fn hostile_sampling_writer_cannot_tear_or_overflow() {
    let g = Geometry::sampling(12, 100);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let peer = HostilePeer::new(r.region());
    let mut rd = SamplingPortDestination::<12>::attach(r.region(), &g).unwrap();
    let mut buf = [0u8; 12];
    // latest names a slot whose stamp does not match: bounded retries, NOT_AVAILABLE.
    peer.poke(HostilePeer::TAIL, 7);
    assert_eq!(rd.read(&mut buf, 0), Err(Error::NotAvailable));
    // Stamp right but a length above the maximum.
    let slot = HostilePeer::SLOTS + 3 * (4 + 3);
    peer.poke(slot, 7);
    peer.poke(slot + 1, 1 << 30);
    assert_eq!(
        rd.read(&mut buf, 0),
        Err(Error::Corrupt(RegionError::LengthOutOfRange {
            len: 1 << 30,
            max: 12
        }))
    );
}

#[test]
fn drop_on_full_tells_the_receiver_not_the_sender() {
    let g = Geometry::queuing(8, 2, true);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let mut tx = QueuingPortSender::<8, 2>::attach(r.region(), &g).unwrap();
    let mut rx = QueuingPortReceiver::<8, 2>::attach(r.region(), &g).unwrap();
    let mut buf = [0u8; 8];
    for i in 0..5 {
        tx.try_send(&message(i, 8)).unwrap();
    }
    let m = rx.try_receive(&mut buf).unwrap();
    assert_eq!((m.overflowed, m.code()), (true, ReturnCode::InvalidConfig));
    assert_eq!(&buf[..], &message(0, 8)[..]);
    let m = rx.try_receive(&mut buf).unwrap();
    assert_eq!((m.overflowed, m.code()), (false, ReturnCode::NoError));
    assert_eq!(&buf[..], &message(1, 8)[..]);
    tx.try_send(&[1]).unwrap();
    tx.try_send(&[2]).unwrap();
    tx.try_send(&[3]).unwrap();
    rx.clear().unwrap();
    assert_eq!(rx.try_receive(&mut buf), Err(Error::NotAvailable));
    tx.try_send(&[4]).unwrap();
    assert!(!rx.try_receive(&mut buf).unwrap().overflowed);
}

#[test]
fn batched_publication_flushes_on_empty() {
    let g = Geometry::queuing(4, 8, false);
    let r = OwnedRegion::<256>::formatted(&g);
    let mut tx = QueuingPortSender::<4, 8>::attach(r.region(), &g).unwrap();
    let mut rx = QueuingPortReceiver::<4, 8>::attach(r.region(), &g).unwrap();
    rx.set_publish_batch(4);
    let mut buf = [0u8; 4];
    for i in 0..8 {
        tx.try_send(&message(i, 4)).unwrap();
    }
    for _ in 0..3 {
        rx.try_receive(&mut buf).unwrap();
    }
    // Three received but not yet published: the sender still sees a full queue.
    assert_eq!(tx.try_send(&[0]), Err(Error::NotAvailable));
    rx.try_receive(&mut buf).unwrap();
    tx.try_send(&[0]).unwrap();
    while rx.try_receive(&mut buf).is_ok() {}
    assert_eq!(tx.status().unwrap().nb_message, 0);
}

#[test]
fn sender_batching_is_invisible_until_published() {
    let g = Geometry::queuing(4, 4, false);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let mut tx = QueuingPortSender::<4, 4>::attach(r.region(), &g).unwrap();
    let mut rx = QueuingPortReceiver::<4, 4>::attach(r.region(), &g).unwrap();
    // 3 is rounded down to 2: the tail is published whenever it is even.
    tx.set_publish_batch(3);
    let mut buf = [0u8; 4];
    tx.try_send(&message(0, 4)).unwrap();
    assert_eq!(rx.try_receive(&mut buf), Err(Error::NotAvailable));
    tx.try_send(&message(1, 4)).unwrap();
    for i in 0..2 {
        rx.try_receive(&mut buf).unwrap();
        assert_eq!(&buf[..], &message(i, 4)[..]);
    }
    // Batch 4: published at tail 4 (a multiple of the batch), or on flush.
    tx.set_publish_batch(4);
    tx.try_send(&message(2, 4)).unwrap();
    assert_eq!(rx.try_receive(&mut buf), Err(Error::NotAvailable));
    tx.try_send(&message(3, 4)).unwrap();
    for i in 2..4 {
        rx.try_receive(&mut buf).unwrap();
        assert_eq!(&buf[..], &message(i, 4)[..]);
    }
    tx.try_send(&message(4, 4)).unwrap();
    assert_eq!(rx.try_receive(&mut buf), Err(Error::NotAvailable));
    tx.flush();
    rx.try_receive(&mut buf).unwrap();
    assert_eq!(&buf[..], &message(4, 4)[..]);
    // Seen full: what is held back is published before NOT_AVAILABLE.
    for i in 5..9 {
        tx.try_send(&message(i, 4)).unwrap();
    }
    assert_eq!(tx.try_send(&[0]), Err(Error::NotAvailable));
    assert_eq!(rx.status().unwrap().nb_message, 4);
}

#[test]
fn flush_rewrites_our_index_after_a_peer_overwrote_it() {
    let g = Geometry::queuing(4, 4, false);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let peer = HostilePeer::new(r.region());
    let mut tx = QueuingPortSender::<4, 4>::attach(r.region(), &g).unwrap();
    let mut rx = QueuingPortReceiver::<4, 4>::attach(r.region(), &g).unwrap();
    rx.set_publish_batch(4);
    let mut buf = [0u8; 4];
    for i in 0..3 {
        tx.try_send(&message(i, 4)).unwrap();
    }
    rx.try_receive(&mut buf).unwrap();
    // The receiver holds back head = 1; a peer writes a value into the head word.
    peer.poke(HostilePeer::HEAD, 1);
    rx.flush();
    assert_eq!(tx.status().unwrap().nb_message, 2);
    peer.poke(HostilePeer::HEAD, 0xdead);
    rx.flush();
    assert_eq!(
        tx.status().unwrap().nb_message,
        2,
        "head rewritten on flush"
    );
    peer.poke(HostilePeer::TAIL, 0xbeef);
    tx.flush();
    assert_eq!(
        rx.status().unwrap().nb_message,
        2,
        "tail rewritten on flush"
    );
}

#[test]
fn the_dropped_count_lives_at_its_documented_word() {
    // Drop-on-full, 2 slots: the sender drops the third and fourth message and publishes
    // the count in the word the layout gives (`HostilePeer::DROPPED`), where a receiver
    // in another partition reads it.
    let g = Geometry::queuing(16, 2, true);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let mut tx = QueuingPortSender::<16, 2>::attach(r.region(), &g).unwrap();
    let mut rx = QueuingPortReceiver::<16, 2>::attach(r.region(), &g).unwrap();
    for i in 0..4u8 {
        tx.try_send(&[i]).unwrap();
    }
    let words = r.region().words();
    assert_eq!(
        words[HostilePeer::DROPPED].load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let mut buf = [0u8; 16];
    assert!(rx.try_receive(&mut buf).unwrap().overflowed);
    assert!(!rx.try_receive(&mut buf).unwrap().overflowed);
    // A count the peer writes there is what the receiver reports.
    tx.try_send(&[9]).unwrap();
    HostilePeer::new(r.region()).poke(HostilePeer::DROPPED, 7);
    let m = rx.try_receive(&mut buf).unwrap();
    assert_eq!((m.len, buf[0], m.overflowed), (1, 9, true));
}

#[test]
fn ports_attached_mid_stream_find_the_right_slot_with_any_capacity() {
    // Capacity 3 (not a power of two: the slot is index % capacity, kept by a counter).
    // After 5 messages through the first pair of handles, new handles attach where the
    // indices are and carry on in order.
    let g = Geometry::queuing(16, 3, false);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let mut buf = [0u8; 16];
    {
        let mut tx = QueuingPortSender::<16, 3>::attach(r.region(), &g).unwrap();
        let mut rx = QueuingPortReceiver::<16, 3>::attach(r.region(), &g).unwrap();
        // Full queues (3 in flight), then one at a time: 5 messages in all.
        for burst in [0..3u8, 3..5] {
            for i in burst.clone() {
                tx.try_send(&[i; 4]).unwrap();
            }
            for i in burst {
                assert_eq!(rx.try_receive(&mut buf).unwrap().len, 4);
                assert_eq!(buf[..4], [i; 4]);
            }
        }
        tx.try_send(&[5; 4]).unwrap();
    }
    let mut tx = QueuingPortSender::<16, 3>::attach(r.region(), &g).unwrap();
    let mut rx = QueuingPortReceiver::<16, 3>::attach(r.region(), &g).unwrap();
    assert_eq!(rx.try_receive(&mut buf).unwrap().len, 4);
    assert_eq!(buf[..4], [5; 4], "the message sent before the re-attach");
    for burst in [6..9u8, 9..12] {
        for i in burst.clone() {
            tx.try_send(&[i; 4]).unwrap();
        }
        assert_eq!(
            tx.try_send(&[0; 4]),
            Err(Error::NotAvailable),
            "3 in flight: full"
        );
        for i in burst {
            assert_eq!(rx.try_receive(&mut buf).unwrap().len, 4);
            assert_eq!(buf[..4], [i; 4]);
        }
    }
}

#[test]
fn runtime_handles_report_their_geometry_and_clear_with_any_capacity() {
    use queuing_port::{QueueReceiver, QueueSender};
    let g = Geometry::queuing(16, 3, true);
    let r = OwnedRegion::<WORDS>::formatted(&g);
    let mut tx = QueueSender::attach(r.region(), &g).unwrap();
    let mut rx = QueueReceiver::attach(r.region(), &g).unwrap();
    assert_eq!((tx.max_message_size(), tx.max_nb_message()), (16, 3));
    assert_eq!((rx.max_message_size(), rx.max_nb_message()), (16, 3));
    assert!(tx.drops_on_full());
    let plain = Geometry::queuing(16, 3, false);
    let r2 = OwnedRegion::<WORDS>::formatted(&plain);
    assert!(!QueueSender::attach(r2.region(), &plain)
        .unwrap()
        .drops_on_full());
    let debug = format!("{tx:?} {rx:?}");
    assert!(
        debug.contains("QueueSender") && debug.contains("QueueReceiver"),
        "{debug}"
    );
    assert!(debug.contains("max_nb_message: 3"), "{debug}");

    // The receiver one slot in (index 1), two messages waiting: `clear` discards them
    // and the next message is read from the slot after them (slot 0 of 3).
    let mut buf = [0u8; 16];
    tx.try_send(&[1]).unwrap();
    rx.try_receive(&mut buf).unwrap();
    tx.try_send(&[2]).unwrap();
    tx.try_send(&[3]).unwrap();
    rx.clear().unwrap();
    assert_eq!(rx.nb_message(), Ok(0));
    tx.try_send(&[4]).unwrap();
    let m = rx.try_receive(&mut buf).unwrap();
    assert_eq!((m.len, buf[0], m.overflowed), (1, 4, false));
}
