//! `Region` over raw memory, and the ports across real threads (also under Miri, whose
//! race detector then checks the bulk copies against the index protocol).

use queuing_port::mock::OwnedRegion;
use queuing_port::{
    Error, Geometry, QueueReceiver, QueueSender, Region, RegionError, SampleReader, SampleWriter,
};

#[test]
fn raw_region_checks_alignment_and_round_trips() {
    let g = Geometry::queuing(10, 3, false);
    let mut mem = vec![0u32; g.total_words() + 1];
    let base = mem.as_mut_ptr().cast::<u8>();
    // SAFETY: `mem` is live, exclusively ours, and only used through the region below.
    let region = unsafe { Region::from_raw_parts(base, g.region_bytes() + 3) }.unwrap();
    assert_eq!(region.len_bytes(), g.region_bytes());
    // SAFETY: as above; one byte in, still within `mem`.
    let e = unsafe { Region::from_raw_parts(base.wrapping_add(1), 8) }.unwrap_err();
    assert!(matches!(e, RegionError::Misaligned { .. }));
    g.format(&region).unwrap();
    let mut tx = QueueSender::attach(region, &g).unwrap();
    let mut rx = QueueReceiver::attach(region, &g).unwrap();
    let mut buf = [0u8; 10];
    for len in 1..=10usize {
        let msg: Vec<u8> = (0..len as u8).collect();
        tx.try_send(&msg).unwrap();
        let m = rx.try_receive(&mut buf).unwrap();
        assert_eq!(&buf[..m.len], &msg[..]);
    }
}

/// A region that starts 4 bytes past an 8-byte boundary: the data slots are then copied
/// as 32-bit words (the 64-bit view needs 8-byte alignment), and every length still
/// round-trips.
#[test]
fn region_off_an_eight_byte_boundary_round_trips() {
    let g = Geometry::queuing(21, 2, false);
    let mut mem = vec![0u64; g.total_words() / 2 + 1];
    // One word in: 4 mod 8 (`mem` is 8-byte aligned).
    let base = mem.as_mut_ptr().cast::<u8>().wrapping_add(4);
    // SAFETY: `mem` is live, exclusively ours, and only used through the region below;
    // `4 + region_bytes` is within its `8 * (total_words / 2 + 1)` bytes.
    let region = unsafe { Region::from_raw_parts(base, g.region_bytes()) }.unwrap();
    g.format(&region).unwrap();
    let mut tx = QueueSender::attach(region, &g).unwrap();
    let mut rx = QueueReceiver::attach(region, &g).unwrap();
    let mut buf = [0u8; 21];
    for len in 1..=21usize {
        let msg: Vec<u8> = (1..=len as u8).collect();
        tx.try_send(&msg).unwrap();
        let m = rx.try_receive(&mut buf).unwrap();
        assert_eq!(&buf[..m.len], &msg[..]);
    }
}

#[test]
fn queue_across_threads_delivers_in_order() {
    let g = Geometry::queuing(24, 4, false);
    let r = OwnedRegion::<128>::formatted(&g);
    let mut tx = QueueSender::attach(r.region(), &g).unwrap();
    let mut rx = QueueReceiver::attach(r.region(), &g).unwrap();
    rx.set_publish_batch(2);
    let n: u32 = if cfg!(miri) { 40 } else { 20_000 };
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut i = 0u32;
            while i < n {
                let len = 1 + (i % 24) as usize;
                match tx.try_send(&vec![i as u8; len]) {
                    Ok(()) => i += 1,
                    Err(Error::NotAvailable) => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        });
        let mut buf = [0u8; 24];
        let mut i = 0u32;
        while i < n {
            match rx.try_receive(&mut buf) {
                Ok(m) => {
                    assert_eq!(m.len, 1 + (i % 24) as usize);
                    assert!(buf[..m.len].iter().all(|&b| b == i as u8));
                    i += 1;
                }
                Err(Error::NotAvailable) => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
    });
}

#[test]
fn sampling_across_threads_is_never_torn() {
    let g = Geometry::sampling(32, 1_000);
    let r = OwnedRegion::<128>::formatted(&g);
    let mut w = SampleWriter::attach(r.region(), &g).unwrap();
    let mut rd = SampleReader::attach(r.region(), &g).unwrap();
    let n: u8 = if cfg!(miri) { 30 } else { 250 };
    std::thread::scope(|s| {
        s.spawn(move || {
            for i in 1..=n {
                w.write(&[i; 32][..usize::from(i % 32) + 1], u64::from(i))
                    .unwrap();
            }
        });
        let mut buf = [0u8; 32];
        let mut last = 0;
        for _ in 0..n {
            if let Ok(m) = rd.read(&mut buf, 0) {
                let i = buf[0];
                assert!(i >= last);
                assert_eq!(m.len, usize::from(i % 32) + 1);
                assert!(buf[..m.len].iter().all(|&b| b == i));
                last = i;
            }
        }
    });
}

/// Every message length from 1 to above the small-copy limit, across the slot boundary
/// sizes: each arrives whole, with nothing of the previous (longer) message left over.
#[test]
fn every_length_round_trips() {
    const MAX: usize = 150;
    let g = Geometry::queuing(MAX as u32, 3, false);
    let r = OwnedRegion::<{ Geometry::queuing(MAX as u32, 3, false).total_words() }>::formatted(&g);
    let mut tx = QueueSender::attach(r.region(), &g).unwrap();
    let mut rx = QueueReceiver::attach(r.region(), &g).unwrap();
    let mut buf = [0u8; MAX];
    for len in (1..=MAX).rev() {
        let msg: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        tx.try_send(&msg).unwrap();
        buf.fill(0xee);
        let m = rx.try_receive(&mut buf).unwrap();
        assert_eq!(m.len, len);
        assert_eq!(&buf[..len], &msg[..], "length {len}");
        assert!(buf[len..].iter().all(|&b| b == 0xee), "wrote past {len}");
    }
}

/// A peer that breaks the protocol: a thread that keeps writing the data slots (atomic
/// stores of the slots' own access width, `HostilePeer::poke_data`) while the sender copies messages in and the
/// receiver copies them out. Both copies must be defined under that race (atomic word
/// copies, never plain `memcpy` over shared memory), which Miri's race detector checks:
/// a non-atomic copy here is reported as a data race. The scribbled bytes reach the
/// caller only as payload; the lengths, which this peer leaves alone, still arrive
/// checked. Every copy path is taken: the full size above 64 bytes, 64 bytes, and each
/// smaller size class.
#[test]
fn peer_scribbling_the_slots_during_copies_is_no_data_race() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    use queuing_port::mock::HostilePeer;

    const MAX: usize = 100;
    const CAP: usize = 2;
    const G: Geometry = Geometry::queuing(MAX as u32, CAP as u32, false);
    const LENS: [usize; 8] = [MAX, 64, 40, 20, 9, 5, 3, 1];
    let r = OwnedRegion::<{ G.total_words() }>::formatted(&G);
    let mut tx = QueueSender::attach(r.region(), &G).unwrap();
    let mut rx = QueueReceiver::attach(r.region(), &G).unwrap();
    let peer = HostilePeer::new(r.region());
    let data = G.slot_word(0)..G.slot_word(CAP);
    // Relaxed: the flag must not order the owner's copies before the peer's writes.
    let stop = AtomicBool::new(false);
    let rounds = if cfg!(miri) { 2 * LENS.len() } else { 20_000 };
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut v = 0u64;
            // At least one pass, whenever the scheduler runs this thread.
            loop {
                // At the slots' own access width (`poke` would race with another
                // size where the queue copies 8-byte words).
                for w in data.clone().step_by(2) {
                    peer.poke_data(w, v);
                    v = v.wrapping_add(0x0101_0101_0101_0101);
                }
                if stop.load(Relaxed) {
                    break;
                }
                std::thread::yield_now();
            }
        });
        let mut buf = [0u8; MAX];
        for round in 0..rounds {
            let len = LENS[round % LENS.len()];
            tx.try_send(&[round as u8; MAX][..len]).unwrap();
            if round % 3 == 0 {
                std::thread::yield_now();
            }
            let m = rx.try_receive(&mut buf).unwrap();
            assert_eq!(m.len, len);
        }
        stop.store(true, Relaxed);
    });
}

/// Payload bytes land in the shared slot in message order (the word copies move bytes,
/// not numbers), whatever the length's split into 8-byte pairs, words and a tail.
#[test]
fn payload_bytes_are_stored_in_message_order() {
    const MAX: usize = 23;
    const G: Geometry = Geometry::queuing(MAX as u32, 1, false);
    let r = OwnedRegion::<{ G.total_words() }>::formatted(&G);
    let mut tx = QueueSender::attach(r.region(), &G).unwrap();
    let mut rx = QueueReceiver::attach(r.region(), &G).unwrap();
    let mut buf = [0u8; MAX];
    for len in [MAX, 16, 13, 8, 6, 4, 1] {
        let msg: Vec<u8> = (1..=len as u8).collect();
        tx.try_send(&msg).unwrap();
        // Read at the slots' own access width.
        let peer = queuing_port::mock::HostilePeer::new(r.region());
        let mut stored = Vec::new();
        for w in (G.slot_word(0)..G.slot_word(0) + len.div_ceil(4)).step_by(2) {
            stored.extend_from_slice(&peer.peek_data(w).unwrap().to_ne_bytes());
        }
        assert_eq!(&stored[..len], &msg[..], "length {len}");
        assert!(stored[len..].iter().all(|&b| b == 0), "padding of {len}");
        assert_eq!(rx.try_receive(&mut buf).unwrap().len, len);
        assert_eq!(&buf[..len], &msg[..]);
    }
}
