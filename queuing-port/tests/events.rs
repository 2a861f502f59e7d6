//! Feature `log`: a value the peer wrote that fails validation is reported through the
//! `log` facade with the typed error, and the port goes on.
#![cfg(feature = "log")]

use queuing_port::mock::{HostilePeer, OwnedRegion};
use queuing_port::{Error, Geometry, QueuingPortReceiver, RegionError};

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
fn a_tail_out_of_range_is_logged_with_its_error() {
    testing_logger::setup();

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
        take(),
        [format!("WARN queuing-port: corrupt shared region: {want}")]
    );
}
