//! loom models of the queuing SPSC and the sampling buffers.
//!
//! Both sides run in spawned threads: with one side on the model's main thread, loom
//! 0.7 explored a single interleaving of a load-then-store against a load (checked by
//! counting iterations), so the main thread only joins.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use queuing_port::mock::OwnedRegion;
use queuing_port::{Error, Geometry, QueueReceiver, QueueSender, SampleReader, SampleWriter};

const WORDS: usize = 96;

#[test]
fn queue_delivers_every_message_in_order() {
    loom::model(|| {
        let g = Geometry::queuing(4, 2, false);
        let r = Arc::new(OwnedRegion::<WORDS>::formatted(&g));
        let r2 = r.clone();
        let producer = thread::spawn(move || {
            let mut tx = QueueSender::attach(r2.region(), &g).unwrap();
            let mut n = 0u8;
            while n < 3 {
                match tx.try_send(&[n; 4]) {
                    Ok(()) => n += 1,
                    Err(Error::NotAvailable) => thread::yield_now(),
                    Err(e) => panic!("send: {e}"),
                }
            }
        });
        let consumer = thread::spawn(move || {
            let mut rx = QueueReceiver::attach(r.region(), &g).unwrap();
            let mut buf = [0u8; 4];
            let mut n = 0u8;
            while n < 3 {
                match rx.try_receive(&mut buf) {
                    Ok(m) => {
                        assert_eq!(m.len, 4);
                        assert_eq!(buf, [n; 4], "message {n} lost or torn");
                        n += 1;
                    }
                    Err(Error::NotAvailable) => thread::yield_now(),
                    Err(e) => panic!("receive: {e}"),
                }
            }
        });
        producer.join().unwrap();
        consumer.join().unwrap();
    });
}

#[test]
fn batched_publication_delivers_every_message_in_order() {
    loom::model(|| {
        let g = Geometry::queuing(4, 2, false);
        let r = Arc::new(OwnedRegion::<WORDS>::formatted(&g));
        let r2 = r.clone();
        let producer = thread::spawn(move || {
            let mut tx = QueueSender::attach(r2.region(), &g).unwrap();
            tx.set_publish_batch(2);
            let mut n = 0u8;
            while n < 3 {
                match tx.try_send(&[n; 4]) {
                    Ok(()) => n += 1,
                    Err(Error::NotAvailable) => thread::yield_now(),
                    Err(e) => panic!("send: {e}"),
                }
            }
            tx.flush();
        });
        let consumer = thread::spawn(move || {
            let mut rx = QueueReceiver::attach(r.region(), &g).unwrap();
            rx.set_publish_batch(2);
            let mut buf = [0u8; 4];
            let mut n = 0u8;
            while n < 3 {
                match rx.try_receive(&mut buf) {
                    Ok(_) => {
                        assert_eq!(buf, [n; 4], "message {n} lost or torn");
                        n += 1;
                    }
                    Err(Error::NotAvailable) => thread::yield_now(),
                    Err(e) => panic!("receive: {e}"),
                }
            }
        });
        producer.join().unwrap();
        consumer.join().unwrap();
    });
}

#[test]
fn sampling_reads_are_never_torn() {
    loom::model(|| {
        let g = Geometry::sampling(8, 1_000);
        let r = Arc::new(OwnedRegion::<WORDS>::formatted(&g));
        let r2 = r.clone();
        let writer = thread::spawn(move || {
            let mut w = SampleWriter::attach(r2.region(), &g).unwrap();
            for n in 1..=5u8 {
                w.write(&[n; 8][..usize::from(n) + 3], u64::from(n))
                    .unwrap();
            }
        });
        let reader = thread::spawn(move || {
            let mut rd = SampleReader::attach(r.region(), &g).unwrap();
            let mut buf = [0u8; 8];
            let mut last = 0u8;
            for _ in 0..2 {
                match rd.read(&mut buf, 10) {
                    Ok(m) => {
                        let n = buf[0];
                        assert!(n >= last, "went back in time: {n} after {last}");
                        assert_eq!(m.len, usize::from(n) + 3, "length of another message");
                        assert!(buf[..m.len].iter().all(|&b| b == n), "torn: {buf:?}");
                        assert_eq!(m.timestamp, u64::from(n));
                        last = n;
                    }
                    Err(Error::NoAction) | Err(Error::NotAvailable) => {}
                    Err(e) => panic!("read: {e}"),
                }
            }
        });
        writer.join().unwrap();
        reader.join().unwrap();
    });
}
