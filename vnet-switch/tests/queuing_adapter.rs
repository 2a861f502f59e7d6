//! The queuing-port port inside a real switch: a corrupt region or an oversize message is
//! counted and typed, never a panic, and the other ports keep working.
mod adapter_util;
mod common;

use adapter_util::*;
use common::{frame, mac};
use queuing_port::mock::HostilePeer;
use queuing_port::{Error as QpError, RegionError};
use vnet_switch::adapters::queuing::QueuingEndpointError;
use vnet_switch::{DropReason, ErrorKind, FrameLink, FrameMeta, LinkFault};

/// The virtio partition and the uplink still exchange frames.
fn virtio_still_works(sw: &mut Sw<'_>, drv: &mut NetDriver<'_>, now: u64) {
    let to_v = frame(mac(1), mac(77), 0x0800, b"uplink to virtio partition");
    let to_up = frame(mac(77), mac(1), 0x0800, b"virtio partition to uplink");
    exchange_with_virtio(sw, drv, now, &to_v, &to_up);
}

#[test]
fn a_corrupt_index_is_typed_and_only_this_port_is_affected() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let mut drv = net.driver(V1);
    let (mut q_tx, _q_rx) = partition_side(&up, &down);
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    let fine = frame(mac(77), mac(2), 0x0800, b"fine");
    q_tx.try_send(&fine).unwrap();
    sw.poll(0, 8);
    assert_eq!(uplink_next(&mut sw).as_ref(), Some(&fine));

    // The partition writes a tail far beyond the queue depth.
    HostilePeer::new(up.region()).poke(HostilePeer::TAIL, 0x8000_0000);
    virtio_still_works(&mut sw, &mut drv, 1);
    let q = sw.endpoint_mut(port(2)).unwrap().queuing();
    assert!(q.stats().rx_corrupt >= 1);
    let Some(QueuingEndpointError::Receive(QpError::Corrupt(RegionError::IndexOutOfRange {
        field: "tail",
        ..
    }))) = q.stats().last_error
    else {
        panic!("untyped: {:?}", q.stats().last_error);
    };
    assert!(q
        .stats()
        .last_error
        .unwrap()
        .to_string()
        .starts_with("receiving a frame: corrupt shared region: peer index `tail`"));
    virtio_still_works(&mut sw, &mut drv, 2);
}

#[test]
fn a_corrupt_length_costs_one_message() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let (mut q_tx, _q_rx) = partition_side(&up, &down);
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    let good = frame(mac(77), mac(2), 0x0800, b"second message");
    q_tx.try_send(&frame(mac(77), mac(2), 0x0800, b"first"))
        .unwrap();
    q_tx.try_send(&good).unwrap();
    // The first slot's length word now claims more than the message size.
    HostilePeer::new(up.region()).poke(HostilePeer::SLOTS, 99_999);
    sw.poll(0, 8);
    assert_eq!(uplink_next(&mut sw).as_ref(), Some(&good));
    let q = sw.endpoint_mut(port(2)).unwrap().queuing();
    assert_eq!((q.stats().rx_corrupt, q.stats().rx_frames), (1, 1));
    assert_eq!(
        q.stats().last_error,
        Some(QueuingEndpointError::Receive(QpError::Corrupt(
            RegionError::LengthOutOfRange {
                len: 99_999,
                max: MSG as u32
            }
        )))
    );
}

#[test]
fn a_corrupt_egress_channel_is_typed() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let mut drv = net.driver(V1);
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    // The partition (the receiver of `down`) writes a head the sender cannot accept.
    HostilePeer::new(down.region()).poke(HostilePeer::HEAD, 12345);
    sw.endpoint_mut(port(0))
        .unwrap()
        .mem()
        .inject(&frame(mac(2), mac(77), 0x0800, b"undeliverable"))
        .unwrap();
    sw.poll(0, 8);
    assert_eq!(sw.stats(port(0)).unwrap().drops(DropReason::QueueFull), 1);
    let q = sw.endpoint_mut(port(2)).unwrap().queuing();
    assert_eq!(q.stats().tx_errors, 1);
    assert!(matches!(
        q.stats().last_error,
        Some(QueuingEndpointError::Send(QpError::Corrupt(
            RegionError::IndexOutOfRange { field: "head", .. }
        )))
    ));
    virtio_still_works(&mut sw, &mut drv, 1);
}

#[test]
fn oversize_and_full_are_refused_and_counted() {
    let (up, down) = (channel(), channel());
    let (_q_tx, mut q_rx) = partition_side(&up, &down);
    let mut q = queuing_port(&up, &down);
    let oversized = q.tx_reserve(MSG + 1).unwrap_err();
    assert_eq!(oversized.kind(), ErrorKind::FrameLength);
    assert_eq!(q.stats().tx_oversized, 1);
    assert_eq!(
        q.stats().last_error,
        Some(QueuingEndpointError::Oversized {
            len: MSG + 1,
            max: MSG
        })
    );
    // The channel holds DEPTH messages; reservations count the ones in flight.
    let f = frame(mac(2), mac(77), 0x0800, b"fill");
    for _ in 0..DEPTH {
        let t = q.tx_reserve(f.len()).unwrap().unwrap();
        q.tx_write(&t, 0, &f).unwrap();
        q.tx_commit(t, FrameMeta::NONE).unwrap();
    }
    assert!(q.tx_reserve(f.len()).unwrap().is_none());
    assert_eq!(q.stats().tx_full, 1);
    assert_eq!(queuing_receive_all(&mut q_rx).len(), DEPTH);
    let t = q.tx_reserve(f.len()).unwrap().unwrap();
    // Writes are bounds-checked against the reservation.
    assert_eq!(
        q.tx_write(&t, 1, &f).unwrap_err().kind(),
        ErrorKind::OutOfBounds
    );
    q.tx_abort(t);
    assert_eq!(q.stats().tx_frames, DEPTH as u64);
}

#[test]
fn batched_publication_is_flushed_by_the_service_call_of_each_poll() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let (mut q_tx, mut q_rx) = partition_side(&up, &down);
    let frames: Vec<Vec<u8>> = (0..3u8)
        .map(|i| frame(mac(2), mac(77), 0x0800, &[i; 20]))
        .collect();
    // The port alone: committed frames wait for the batch, `service` publishes them.
    let mut q = queuing_port(&up, &down);
    q.set_publish_batch(4);
    for f in &frames {
        let t = q.tx_reserve(f.len()).unwrap().unwrap();
        q.tx_write(&t, 0, f).unwrap();
        q.tx_commit(t, FrameMeta::NONE).unwrap();
    }
    assert!(
        queuing_receive_all(&mut q_rx).is_empty(),
        "3 < batch: not published yet"
    );
    q.service(8).unwrap();
    assert_eq!(queuing_receive_all(&mut q_rx), frames);
    // In a switch, every poll ends with the port's service: nothing is left unpublished.
    let mut sw = switch(net.port(V1), q);
    for f in &frames {
        sw.endpoint_mut(port(0)).unwrap().mem().inject(f).unwrap();
    }
    sw.poll(0, 8);
    assert_eq!(queuing_receive_all(&mut q_rx), frames);
    // Ingress still works with batching.
    q_tx.try_send(&frame(mac(77), mac(2), 0x0800, b"up"))
        .unwrap();
    sw.poll(1, 8);
    assert_eq!(sw.stats(port(2)).unwrap().rx_forwarded, 1);
}
