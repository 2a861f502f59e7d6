//! The virtio-net device port inside a real switch, next to a queuing-port partition and
//! the uplink: frames both ways byte for byte, MRG_RXBUF, checksum offload, and a hostile
//! driver.
mod adapter_util;
mod common;

use adapter_util::*;
use common::{frame, mac};
use virtqueue::Features;
use vnet_switch::adapters::virtio_net::{
    NetFeatures, NetHeader, PortState, VirtioNetError, F_DATA_VALID, F_NEEDS_CSUM,
};
use vnet_switch::{FrameMeta, MacAddress};

fn uplink_receive(sw: &mut Sw<'_>) -> Vec<(Vec<u8>, FrameMeta)> {
    let ep = sw.endpoint_mut(port(0)).unwrap().mem();
    let mut out = Vec::new();
    let mut buf = [0u8; 1600];
    while let Some((n, m)) = ep.receive_with_meta(&mut buf) {
        out.push((buf[..n].to_vec(), m));
    }
    out
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Split rings, or packed ones (`RING_PACKED` negotiated): the memory and the feature
/// word to use.
fn layout(packed: bool) -> (NetMemory, u64) {
    if packed {
        (NetMemory::packed(), V1 | Features::RING_PACKED.bits())
    } else {
        (NetMemory::new(), V1)
    }
}

#[test]
fn frames_cross_between_virtio_queuing_and_uplink() {
    frames_cross(false);
}

#[test]
fn frames_cross_over_packed_rings() {
    frames_cross(true);
}

fn frames_cross(packed: bool) {
    let (net, f) = layout(packed);
    let (up, down) = (channel(), channel());
    let mut drv = net.driver(f);
    let (mut q_tx, mut q_rx) = partition_side(&up, &down);
    let mut sw = switch(net.port(f), queuing_port(&up, &down));
    drv.post_rx(8, 1536);

    // virtio → queuing partition, virtio → uplink (unknown unicast).
    let to_q = frame(mac(2), mac(1), 0x0800, &payload(300, 1));
    let to_up = frame(mac(77), mac(1), 0x0800, &payload(1500, 2));
    drv.send(&to_q);
    drv.send(&to_up);
    // queuing partition → virtio, uplink → virtio, uplink → queuing, broadcast.
    let q_to_v = frame(mac(1), mac(2), 0x86dd, &payload(61, 3));
    q_tx.try_send(&q_to_v).unwrap();
    let up_to_v = frame(mac(1), mac(77), 0x0800, &payload(1000, 4));
    let up_to_q = frame(mac(2), mac(77), 0x0800, &payload(46, 5));
    let bcast = frame(MacAddress::BROADCAST, mac(77), 0x0806, &payload(28, 6));
    let ep = sw.endpoint_mut(port(0)).unwrap().mem();
    for f in [&up_to_v, &up_to_q, &bcast] {
        ep.inject(f).unwrap();
    }

    assert_eq!(sw.poll(0, 64), 6);
    assert_eq!(drv.reclaim_tx(), 2, "both transmit chains returned");

    // One turn per port of up to `BURST` frames: the uplink's three first, then the
    // virtio partition's.
    assert_eq!(
        queuing_receive_all(&mut q_rx),
        vec![up_to_q.clone(), bcast.clone(), to_q.clone()]
    );
    let up_got: Vec<Vec<u8>> = uplink_receive(&mut sw)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(up_got, vec![to_up.clone()]);
    let mut at_v = Vec::new();
    while let Some((hdr, f)) = drv.receive() {
        assert_eq!(hdr.num_buffers, 1);
        assert_eq!((hdr.flags, hdr.gso_type), (0, 0));
        at_v.push(f);
    }
    // Port order of ingress is round-robin: the uplink's frames, the queuing one.
    at_v.sort();
    let mut want = vec![q_to_v, up_to_v, bcast];
    want.sort();
    assert_eq!(at_v, want);

    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    assert_eq!((v.stats().tx_frames, v.stats().rx_frames), (2, 3));
    assert_eq!(v.state(), PortState::Up);
    let q = sw.endpoint_mut(port(2)).unwrap().queuing();
    assert_eq!((q.stats().rx_frames, q.stats().tx_frames), (1, 3));
}

#[test]
fn mrg_rxbuf_spreads_a_frame_over_small_buffers() {
    mrg_rxbuf(false);
}

#[test]
fn mrg_rxbuf_over_packed_rings() {
    mrg_rxbuf(true);
}

fn mrg_rxbuf(packed: bool) {
    let (net, f) = layout(packed);
    let (up, down) = (channel(), channel());
    let features = f | NetFeatures::MRG_RXBUF.bits();
    let mut drv = net.driver(features);
    let mut sw = switch(net.port(features), queuing_port(&up, &down));
    drv.post_rx(12, 128);
    let big = frame(mac(1), mac(77), 0x0800, &payload(1000, 9));
    let small = frame(mac(1), mac(77), 0x0800, &payload(50, 10));
    let ep = sw.endpoint_mut(port(0)).unwrap().mem();
    ep.inject(&big).unwrap();
    ep.inject(&small).unwrap();
    sw.poll(0, 8);
    // 12 + 1014 bytes need 9 buffers of 128; the small frame fits in the 10th.
    let (h1, f1) = drv.receive().unwrap();
    assert_eq!((h1.num_buffers.get(), &f1), (9, &big));
    let (h2, f2) = drv.receive().unwrap();
    assert_eq!((h2.num_buffers.get(), f2), (1, small));
    assert!(drv.receive().is_none());
    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    assert_eq!((v.stats().rx_frames, v.stats().rx_chains), (2, 10));

    // Not enough buffers for the next big frame: nothing is lost on the ring, the chains
    // wait, and the frame after the refill gets them first.
    let ep = sw.endpoint_mut(port(0)).unwrap().mem();
    ep.inject(&big).unwrap();
    sw.poll(1, 8);
    assert!(drv.receive().is_none());
    assert_eq!(
        sw.endpoint_mut(port(1))
            .unwrap()
            .virtio()
            .stats()
            .rx_no_buffers,
        1
    );
    drv.post_rx(8, 128);
    sw.endpoint_mut(port(0))
        .unwrap()
        .mem()
        .inject(&big)
        .unwrap();
    sw.poll(2, 8);
    let (h3, f3) = drv.receive().unwrap();
    assert_eq!((h3.num_buffers.get(), f3), (9, big));
}

#[test]
fn without_mrg_rxbuf_small_receive_buffers_are_refused_and_returned() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let mut drv = net.driver(V1);
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    drv.post_rx(1, 256);
    drv.post_rx(1, 1530);
    let f = frame(mac(1), mac(77), 0x0800, &payload(100, 1));
    sw.endpoint_mut(port(0)).unwrap().mem().inject(&f).unwrap();
    sw.poll(0, 8);
    // The 256-byte buffer came back empty, the frame is in the second one.
    let empty = drv.rxq.pop_used().unwrap().unwrap();
    assert_eq!(empty.len, 0);
    let (_, got) = drv.receive().unwrap();
    assert_eq!(got, f);
    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    assert_eq!(v.stats().rx_errors, 1);
    assert!(matches!(
        v.stats().last_error,
        Some(VirtioNetError::ReceiveChainTooSmall {
            len: 256,
            needed: 1530,
            ..
        })
    ));
}

/// A TCP/IPv4 frame with a partial checksum request: csum_start 34, offset 16.
fn tcp_frame(dst: MacAddress, src: MacAddress) -> Vec<u8> {
    let mut f = frame(dst, src, 0x0800, &payload(120, 7));
    f[14] = 0x45;
    f[50] = 0x12; // the pseudo-header sum the driver left in the field
    f[51] = 0x34;
    f
}

#[test]
fn checksum_flags_pass_through_the_switch() {
    let csum_meta = FrameMeta::partial(34, 16);
    let features = V1 | NetFeatures::CSUM.bits() | NetFeatures::GUEST_CSUM.bits();
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let mut drv = net.driver(features);
    let (_q_tx, mut q_rx) = partition_side(&up, &down);
    let mut sw = switch(net.port(features), queuing_port(&up, &down));
    drv.post_rx(4, 1536);

    // Driver → uplink: NEEDS_CSUM reaches the uplink as metadata, bytes untouched.
    let hdr = NetHeader {
        flags: F_NEEDS_CSUM,
        csum_start: 34.into(),
        csum_offset: 16.into(),
        ..NetHeader::default()
    };
    let to_up = tcp_frame(mac(77), mac(1));
    drv.send_with(&hdr, &to_up);
    // Driver → queuing partition: no offload there, the port completes the checksum.
    let to_q = tcp_frame(mac(2), mac(1));
    drv.send_with(&hdr, &to_q);
    // Uplink → driver: NEEDS_CSUM and DATA_VALID reach the driver's header.
    let from_up = tcp_frame(mac(1), mac(77));
    let ep = sw.endpoint_mut(port(0)).unwrap().mem();
    ep.inject_with_meta(&from_up, csum_meta).unwrap();
    let valid = frame(mac(1), mac(77), 0x0800, &payload(80, 1));
    ep.inject_with_meta(&valid, FrameMeta::VERIFIED).unwrap();
    sw.poll(0, 16);

    let got = uplink_receive(&mut sw);
    assert_eq!(got, vec![(to_up, csum_meta)]);

    let q = queuing_receive_all(&mut q_rx);
    assert_eq!(q.len(), 1);
    let mut want = to_q.clone();
    let mut sum: u32 = 0x1234; // pseudo-header sum
    want[50] = 0;
    want[51] = 0;
    for pair in want[34..].chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    want[50..52].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    assert_eq!(
        q[0], want,
        "checksum completed in software for the queuing partition"
    );

    let (h1, f1) = drv.receive().unwrap();
    assert_eq!(
        (h1.flags, h1.csum_start.get(), h1.csum_offset.get(), f1),
        (F_NEEDS_CSUM, 34, 16, from_up)
    );
    let (h2, f2) = drv.receive().unwrap();
    assert_eq!((h2.flags, f2), (F_DATA_VALID, valid));
}

#[test]
fn without_guest_csum_the_port_completes_the_checksum() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let mut drv = net.driver(V1);
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    drv.post_rx(2, 1536);
    let f = tcp_frame(mac(1), mac(77));
    let meta = FrameMeta::partial(34, 16);
    sw.endpoint_mut(port(0))
        .unwrap()
        .mem()
        .inject_with_meta(&f, meta)
        .unwrap();
    sw.poll(0, 4);
    let (h, got) = drv.receive().unwrap();
    assert_eq!(h.flags, 0, "no flags without GUEST_CSUM");
    assert_ne!(got[50..52], f[50..52]);
    assert_eq!(got[..50], f[..50]);
    assert_eq!(got[52..], f[52..]);
    // The receiver's check: the range with the stored checksum plus the pseudo-header sum.
    let mut sum: u32 = 0x1234;
    for pair in got[34..].chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    assert_eq!(sum, 0xffff);
    assert_eq!(
        sw.endpoint_mut(port(1))
            .unwrap()
            .virtio()
            .stats()
            .csum_completed,
        1
    );
}

#[test]
fn aborted_reservations_keep_their_buffers_and_writes_are_bounded() {
    use vnet_switch::adapters::virtio_net::VirtioNetError;
    use vnet_switch::frame_link::LinkError;
    use vnet_switch::{FrameLink, FrameMeta, TxSlot};
    let features = V1 | NetFeatures::MRG_RXBUF.bits();
    let net = NetMemory::new();
    let mut drv = net.driver(features);
    let mut v = net.port(features);
    drv.post_rx(4, 64);
    let f = frame(mac(1), mac(77), 0x0800, &payload(100, 3));
    // 12 + 100 bytes: two 64-byte buffers.
    let t = v.tx_reserve(f.len()).unwrap().unwrap();
    assert_eq!(
        v.tx_write(&t, 1, &f),
        Err(VirtioNetError::Slot(LinkError::OutOfBounds {
            offset: 1,
            len: f.len(),
            reserved: f.len()
        }))
    );
    assert_eq!(
        v.tx_write(&TxSlot::new(9, 10), 0, b"x"),
        Err(VirtioNetError::Slot(LinkError::BadSlot { index: 9 }))
    );
    v.tx_abort(t);
    assert!(
        drv.rxq.pop_used().unwrap().is_none(),
        "nothing returned on abort"
    );
    // The next reservation reuses the same two buffers, then takes the other two.
    let a = v.tx_reserve(f.len()).unwrap().unwrap();
    let b = v.tx_reserve(f.len()).unwrap().unwrap();
    assert!(
        v.tx_reserve(f.len()).unwrap().is_none(),
        "all four buffers are held"
    );
    assert_eq!(v.stats().rx_no_buffers, 1);
    for t in [&a, &b] {
        v.tx_write_frame(t, &f[..14], &f[14..]).unwrap();
    }
    v.tx_commit(b, FrameMeta::NONE).unwrap();
    v.tx_commit(a, FrameMeta::NONE).unwrap();
    for _ in 0..2 {
        let (h, got) = drv.receive().unwrap();
        assert_eq!((h.num_buffers.get(), got), (2, f.clone()));
    }
    assert!(v.interrupts().receiveq);
}
