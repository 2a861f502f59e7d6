//! Feature `log`: a value the peer wrote that fails validation is reported through the
//! `log` facade with the typed error, and the port goes on.
#![cfg(feature = "log")]

use std::sync::Mutex;

use queuing_port::mock::{HostilePeer, OwnedRegion};
use queuing_port::{Error, Geometry, QueuingPortReceiver, RegionError};

/// Every record logged in this test binary, as `LEVEL message`.
static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let line = format!("{} {}", r.level(), r.args());
        RECORDS.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

#[test]
fn a_tail_out_of_range_is_logged_with_its_error() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let g = Geometry::queuing(16, 4, false);
    let r = OwnedRegion::<128>::formatted(&g);
    let mut rx = QueuingPortReceiver::<16, 4>::attach(r.region(), &g).unwrap();
    let peer = HostilePeer::new(r.region());
    peer.poke(HostilePeer::TAIL, 5);
    let want = RegionError::IndexOutOfRange {
        field: "tail",
        used: 5,
        capacity: 4,
    };
    let mut buf = [0u8; 16];
    assert_eq!(rx.try_receive(&mut buf), Err(Error::Corrupt(want)));
    peer.poke(HostilePeer::TAIL, 0);
    assert_eq!(rx.try_receive(&mut buf), Err(Error::NotAvailable));

    assert_eq!(
        *RECORDS.lock().unwrap(),
        [format!("WARN queuing-port: corrupt shared region: {want}")]
    );
}
