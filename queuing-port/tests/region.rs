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
