//! A hostile virtio-net driver against the device port inside a real switch: every bad
//! chain is counted, typed and returned used with length 0; a broken ring takes only that
//! port down; the other ports keep working.
mod adapter_util;
mod common;

use adapter_util::*;
use common::{frame, mac};
use virtqueue::layout::{DescFlags, Descriptor};
use virtqueue::Features;
use vnet_switch::adapters::virtio_net::{
    NetHeader, NetQueue, PortState, VirtioNetError, NET_HDR_LEN,
};
use vnet_switch::DropReason;

/// The uplink and the queuing partition still exchange frames.
fn others_still_work(
    sw: &mut Sw<'_>,
    q_tx: &mut queuing_port::QueuingPortSender<'_, MSG, DEPTH>,
    q_rx: &mut queuing_port::QueuingPortReceiver<'_, MSG, DEPTH>,
    now: u64,
) {
    let down = frame(mac(2), mac(77), 0x0800, b"uplink to queuing partition");
    let up = frame(mac(77), mac(2), 0x0800, b"queuing partition to uplink");
    sw.endpoint_mut(port(0))
        .unwrap()
        .mem()
        .inject(&down)
        .unwrap();
    q_tx.try_send(&up).unwrap();
    sw.poll(now, 16);
    assert_eq!(queuing_receive_all(q_rx), vec![down]);
    assert_eq!(uplink_next(sw).as_ref(), Some(&up));
}

#[test]
fn malformed_transmit_chains_are_counted_and_returned() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let _drv = net.driver(V1);
    let mut mock = net.tx.mock_driver();
    let (_q_tx, mut q_rx) = partition_side(&up, &down);
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));

    let at = |i: usize| net.tx.data_addr(i * 4096);
    let good = frame(mac(2), mac(1), 0x0800, b"after the garbage");
    let mut gso = NetHeader::default().encode();
    gso[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4: GSO is not negotiated
    net.tx.write(at(5), &gso);
    net.tx.write(at(6), &NetHeader::default().encode());
    net.tx.write(at(6) + NET_HDR_LEN as u64, &good);

    mock.add_chain(0, &[(at(0), 8, false)]); // shorter than the header
    mock.add_chain(1, &[(at(1), (NET_HDR_LEN + 2000) as u32, false)]); // frame too long
    mock.add_chain(2, &[(0xdead_0000_0000, 64, false)]); // outside memory
    mock.write_desc(3, Descriptor::new(at(3), 64, DescFlags::NEXT, 999)); // next out of range
    mock.push_avail(3);
    mock.add_chain(4, &[(at(4), 64, true)]); // device-writable transmit buffer
    mock.add_chain(5, &[(at(5), 80, false)]); // GSO header
    mock.push_avail(77); // head outside the queue
    let good_len = (NET_HDR_LEN + good.len()) as u32;
    mock.add_chain(6, &[(at(6), good_len, false)]);
    mock.publish();

    assert_eq!(sw.poll(0, 16), 1);
    assert_eq!(queuing_receive_all(&mut q_rx), vec![good]);
    // Every chain with a head came back used with length 0, in order.
    for (k, head) in [0u32, 1, 2, 3, 4, 5, 6].into_iter().enumerate() {
        assert_eq!(mock.used_elem(k as u16), (head, 0), "used entry {k}");
    }
    assert_eq!(mock.used_idx(), 7, "head 77 cannot be returned");
    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    assert_eq!((v.stats().tx_errors, v.stats().tx_frames), (7, 1));
    assert_eq!(v.state(), PortState::Up);
}

#[test]
fn each_refusal_is_typed() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let _drv = net.driver(V1);
    let mut mock = net.tx.mock_driver();
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    let at = |i: usize| net.tx.data_addr(i * 4096);
    let last = |sw: &mut Sw<'_>| {
        sw.poll(0, 4);
        sw.endpoint_mut(port(1))
            .unwrap()
            .virtio()
            .stats()
            .last_error
    };
    mock.add_chain(0, &[(at(0), 8, false)]);
    mock.publish();
    assert_eq!(
        last(&mut sw),
        Some(VirtioNetError::ShortHeader { head: 0, len: 8 })
    );
    mock.add_chain(1, &[(at(1), 2100, false)]);
    mock.publish();
    assert_eq!(
        last(&mut sw),
        Some(VirtioNetError::FrameTooLong {
            head: 1,
            len: 2088,
            max: 1518
        })
    );
    mock.add_chain(2, &[(at(2), 64, true)]);
    mock.publish();
    assert_eq!(
        last(&mut sw),
        Some(VirtioNetError::WritableTransmitChain { head: 2, len: 64 })
    );
    mock.write_desc(3, Descriptor::new(at(3), 64, DescFlags::NEXT, 3)); // a loop
    mock.push_avail(3);
    mock.publish();
    let e = last(&mut sw).unwrap();
    assert!(matches!(
        e,
        VirtioNetError::Ring {
            queue: NetQueue::Transmit,
            error: virtqueue::Error::ChainLoop { head: 3, index: 3 }
        }
    ));
    assert!(!e.is_fatal());
    assert_eq!(
        e.to_string(),
        "transmitq: chain 3 visits descriptor 3 twice"
    );
}

#[test]
fn an_avail_index_jump_takes_only_this_port_down() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let mut drv = net.driver(V1);
    let mut mock = net.tx.mock_driver();
    let (mut q_tx, mut q_rx) = partition_side(&up, &down);
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    drv.post_rx(4, 1536);

    mock.set_avail_idx(1000); // more than the queue size ahead
    others_still_work(&mut sw, &mut q_tx, &mut q_rx, 0);
    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    let jump = VirtioNetError::Ring {
        queue: NetQueue::Transmit,
        error: virtqueue::Error::AvailIndexJump {
            next: 0,
            published: 1000,
        },
    };
    assert_eq!(v.state(), PortState::Down(jump));
    assert!(jump.is_fatal());
    assert_eq!(v.enable_notifications(), Err(jump));

    // Frames for the downed partition are dropped by the switch, nothing else changes.
    let to_v = frame(mac(1), mac(77), 0x0800, b"for a dead port");
    sw.endpoint_mut(port(0))
        .unwrap()
        .mem()
        .inject(&to_v)
        .unwrap();
    sw.poll(1, 16);
    assert_eq!(sw.stats(port(0)).unwrap().drops(DropReason::QueueFull), 1);
    assert!(drv.receive().is_none());
    others_still_work(&mut sw, &mut q_tx, &mut q_rx, 2);
}

#[test]
fn malformed_receive_chains_are_counted_and_returned() {
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let _drv = net.driver(V1);
    let mut mock = net.rx.mock_driver();
    let mut sw = switch(net.port(V1), queuing_port(&up, &down));
    let at = |i: usize| net.rx.data_addr(i * 4096);
    mock.add_chain(0, &[(at(0), 16, false), (at(0) + 16, 1600, true)]); // readable part
    mock.write_desc(
        2,
        Descriptor::new(at(2), 1600, DescFlags::WRITE | DescFlags::NEXT, 40),
    );
    mock.push_avail(2); // next out of range
    mock.add_chain(3, &[(at(3), 1600, true)]); // good
    mock.publish();
    let f = frame(mac(1), mac(77), 0x0800, b"to the partition");
    sw.endpoint_mut(port(0)).unwrap().mem().inject(&f).unwrap();
    sw.poll(0, 4);
    assert_eq!(mock.used_elem(0), (0, 0));
    assert_eq!(mock.used_elem(1), (2, 0));
    let (id, len) = mock.used_elem(2);
    assert_eq!((id, len as usize), (3, NET_HDR_LEN + f.len()));
    let mut got = vec![0u8; f.len()];
    net.rx.read(at(3) + NET_HDR_LEN as u64, &mut got);
    assert_eq!(got, f);
    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    assert_eq!((v.stats().rx_errors, v.stats().rx_frames), (2, 1));

    // A receiveq index jump takes the port down too.
    mock.set_avail_idx(500);
    sw.endpoint_mut(port(0)).unwrap().mem().inject(&f).unwrap();
    sw.poll(1, 4);
    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    assert!(matches!(
        v.state(),
        PortState::Down(VirtioNetError::Ring {
            queue: NetQueue::Receive,
            ..
        })
    ));
}

#[test]
fn interrupts_follow_the_driver_event_index() {
    let features = V1 | Features::RING_EVENT_IDX.bits();
    let net = NetMemory::new();
    let (up, down) = (channel(), channel());
    let mut drv = net.driver(features);
    let mut sw = switch(net.port(features), queuing_port(&up, &down));
    drv.post_rx(8, 1536);
    let f = frame(mac(1), mac(77), 0x0800, b"x");
    let deliver = |sw: &mut Sw<'_>, t| {
        sw.endpoint_mut(port(0)).unwrap().mem().inject(&f).unwrap();
        sw.poll(t, 4);
        sw.endpoint_mut(port(1)).unwrap().virtio().interrupts()
    };
    // used_event starts at 0: the first used entry crosses it.
    assert!(deliver(&mut sw, 0).receiveq);
    // The driver has not moved used_event: no interrupt for the second frame.
    let second = deliver(&mut sw, 1);
    assert!(!second.receiveq && !second.any());
    // The driver consumes and re-arms at its position: the next frame interrupts.
    assert!(drv.receive().is_some() && drv.receive().is_some());
    assert!(!drv.rxq.enable_used_notifications());
    assert!(deliver(&mut sw, 2).receiveq);
    // Nothing new since: nothing to signal.
    assert!(!sw
        .endpoint_mut(port(1))
        .unwrap()
        .virtio()
        .interrupts()
        .any());

    // A sent frame returns its chain; the transmitq interrupt is asked for.
    drv.send(&frame(mac(77), mac(1), 0x0800, b"y"));
    sw.poll(3, 4);
    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    assert!(v.interrupts().transmitq);
    // Re-enabling kicks with nothing pending: no work raced in.
    assert_eq!(v.enable_notifications(), Ok(false));
    drv.send(&frame(mac(77), mac(1), 0x0800, b"z"));
    let v = sw.endpoint_mut(port(1)).unwrap().virtio();
    v.disable_notifications();
    assert_eq!(v.enable_notifications(), Ok(true), "a frame raced in");
}
