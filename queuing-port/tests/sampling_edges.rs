//! The runtime sampling ports at their edges: the sequence wrapping past zero (which
//! means "empty"), time stamps above 32 bits, every new write seen as an update, the
//! destination buffer shorter or longer than the maximum, and the handles' geometry and
//! `Debug`.

use queuing_port::mock::{HostilePeer, OwnedRegion};
use queuing_port::{Error, Geometry, SampleReader, SampleWriter, Validity};

const MAX: u32 = 24;

fn ports<'r>(r: &'r OwnedRegion<128>, g: &Geometry) -> (SampleWriter<'r>, SampleReader<'r>) {
    (
        SampleWriter::attach(r.region(), g).unwrap(),
        SampleReader::attach(r.region(), g).unwrap(),
    )
}

#[test]
fn a_writer_continuing_a_sequence_at_its_end_skips_zero() {
    let g = Geometry::sampling(MAX, 1_000);
    let r = OwnedRegion::<128>::formatted(&g);
    let mut first = SampleWriter::attach(r.region(), &g).unwrap();
    first.write(b"before", 1).unwrap();
    // A previous writer left the sequence at its last value: the next one must not be
    // 0 (the "never written" mark), so readers still see the message.
    HostilePeer::new(r.region()).poke(HostilePeer::TAIL, u32::MAX);
    let mut w = SampleWriter::attach(r.region(), &g).unwrap();
    let mut rd = SampleReader::attach(r.region(), &g).unwrap();
    w.write(b"after the wrap", 2).unwrap();
    let mut buf = [0u8; MAX as usize];
    let m = rd.read(&mut buf, 2).unwrap();
    assert_eq!(&buf[..m.len], b"after the wrap");
    assert_eq!(m.timestamp, 2);
    assert!(m.updated);
    w.write(b"next", 3).unwrap();
    let m = rd.read(&mut buf, 3).unwrap();
    assert_eq!(&buf[..m.len], b"next");
    assert!(m.updated);
}

#[test]
fn every_write_is_an_update_and_time_stamps_keep_their_upper_half() {
    let g = Geometry::sampling(MAX, 1_000);
    let r = OwnedRegion::<128>::formatted(&g);
    let (mut w, mut rd) = ports(&r, &g);
    let mut buf = [0u8; MAX as usize];
    assert_eq!(rd.read(&mut buf, 0), Err(Error::NoAction));
    for i in 1..=5u64 {
        let now = (i << 32) | (i * 7);
        w.write(&[i as u8; 3], now).unwrap();
        let m = rd.read(&mut buf, now + 10).unwrap();
        assert_eq!(m.timestamp, now, "write {i}");
        assert!(m.updated, "write {i} is new");
        assert_eq!(m.validity, Validity::Valid);
        let again = rd.read(&mut buf, now + 10).unwrap();
        assert!(!again.updated, "read twice");
        assert_eq!(rd.read_updated(&mut buf, now), Err(Error::NoAction));
        assert_eq!(
            rd.read_conditional(&mut buf, now, now).unwrap().timestamp,
            now
        );
        assert_eq!(
            rd.read_conditional(&mut buf, now + 1, now),
            Err(Error::NotAvailable),
            "written before the reference time"
        );
    }
}

#[test]
fn the_destination_buffer_must_hold_the_maximum() {
    let g = Geometry::sampling(MAX, 1_000);
    let r = OwnedRegion::<128>::formatted(&g);
    let (mut w, mut rd) = ports(&r, &g);
    w.write(b"x", 1).unwrap();
    let mut short = [0u8; MAX as usize - 1];
    assert!(matches!(
        rd.read(&mut short, 1),
        Err(Error::InvalidParam { value, .. }) if value == u64::from(MAX) - 1
    ));
    let mut exact = [0u8; MAX as usize];
    assert_eq!(rd.read(&mut exact, 1).unwrap().len, 1);
    let mut long = [0u8; 2 * MAX as usize];
    assert_eq!(rd.read(&mut long, 1).unwrap().len, 1);
}

#[test]
fn the_handles_say_their_geometry() {
    let g = Geometry::sampling(MAX, 1_000);
    let r = OwnedRegion::<128>::formatted(&g);
    let (mut w, rd) = ports(&r, &g);
    assert_eq!(w.max_message_size(), MAX);
    assert_eq!(rd.max_message_size(), MAX);
    w.write(b"seq", 1).unwrap();
    let dw = format!("{w:?}");
    assert!(dw.starts_with("SampleWriter"), "{dw}");
    assert!(
        dw.contains("seq: 1") && dw.contains("max_message_size: 24"),
        "{dw}"
    );
    let dr = format!("{rd:?}");
    assert!(dr.starts_with("SampleReader"), "{dr}");
    assert!(
        dr.contains("last_seq: 0") && dr.contains("max_message_size: 24"),
        "{dr}"
    );
}

#[test]
fn current_status_reads_the_latest_stamp_and_time_once() {
    use queuing_port::{MessageAge, UpdateState};
    let g = Geometry::sampling(MAX, 1_000);
    let r = OwnedRegion::<128>::formatted(&g);
    let (mut w, mut rd) = ports(&r, &g);
    let empty = rd.current_status(0);
    assert_eq!((empty.age, empty.update), (None, UpdateState::EmptyPort));
    let t = (5u64 << 32) | 7;
    w.write(b"m", t).unwrap();
    let s = rd.current_status(t + 999);
    assert_eq!(
        (s.age, s.update),
        (Some(MessageAge::Fresh), UpdateState::NewMessage)
    );
    assert_eq!(rd.current_status(t + 1_001).age, Some(MessageAge::Stale));
    let mut buf = [0u8; MAX as usize];
    rd.read(&mut buf, t).unwrap();
    assert_eq!(rd.current_status(t).update, UpdateState::ConsumedMessage);
    w.write(b"n", t + 1).unwrap();
    assert_eq!(rd.current_status(t).update, UpdateState::NewMessage);
}
