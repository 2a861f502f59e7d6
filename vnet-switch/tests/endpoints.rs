//! Heterogeneous ports through `&mut dyn FrameLink`, and links that misbehave:
//! a destination that refuses writes or has no room costs only its own copies.
mod common;
use common::*;
use vnet_switch::frame_link::LinkError;
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{
    DropReason, ErrorKind, FrameLink, FrameMeta, LinkCaps, PortConfig, PortId, RxSlot,
    SwitchBuilder, TxSlot, VlanSet,
};

/// A link that never receives and refuses every write (its peer went down).
struct Refusing {
    reserved: u16,
    aborted: u16,
}

impl FrameLink for Refusing {
    type Error = LinkError;
    fn caps(&self) -> LinkCaps {
        LinkCaps::new(1600)
    }
    fn rx_take(&mut self) -> Result<Option<RxSlot>, LinkError> {
        Ok(None)
    }
    fn rx_frame(&self, _: &RxSlot) -> &[u8] {
        &[]
    }
    fn rx_release(&mut self, _: RxSlot) {}
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, LinkError> {
        self.reserved += 1;
        Ok(Some(TxSlot::new(self.reserved, len)))
    }
    fn tx_write(&mut self, _: &TxSlot, _: usize, _: &[u8]) -> Result<(), LinkError> {
        Err(LinkError::Down)
    }
    fn tx_commit(&mut self, _: TxSlot, _: FrameMeta) -> Result<(), LinkError> {
        panic!("a refused frame was committed");
    }
    fn tx_abort(&mut self, _: TxSlot) {
        self.aborted += 1;
    }
}

#[test]
fn a_refusing_destination_costs_only_its_own_copy() {
    let mut up = MemEndpoint::<8, 1600>::new();
    let mut good = MemEndpoint::<8, 1600>::new();
    let mut bad = Refusing {
        reserved: 0,
        aborted: 0,
    };
    // The peer side of each endpoint is used before and after the switch borrows it.
    let (to_bad, bcast) = (
        frame(mac(2), mac(50), 0x0800, b"for the broken port"),
        frame(
            vnet_switch::MacAddress::BROADCAST,
            mac(50),
            0x0806,
            b"everyone",
        ),
    );
    up.inject(&to_bad).unwrap();
    up.inject(&bcast).unwrap();
    let mut b = SwitchBuilder::<&mut dyn FrameLink<Error = LinkError>, 4>::new();
    b.add_port(&mut up, PortConfig::uplink(Some(1), VlanSet::new()))
        .unwrap();
    b.add_port(&mut good, PortConfig::partition(mac(1), 1))
        .unwrap();
    b.add_port(&mut bad, PortConfig::partition(mac(2), 1))
        .unwrap();
    let mut sw = b.build::<16, 4>().unwrap();
    assert_eq!(sw.poll(0, 8), 2);
    let up_stats = sw.stats(PortId::new(0)).unwrap().clone();
    let bad_stats = sw.stats(PortId::new(2)).unwrap().clone();
    drop(sw);
    // The unicast had one destination, which refused: dropped, counted once.
    assert_eq!(up_stats.drops(DropReason::QueueFull), 1);
    // The broadcast still reached the good partition.
    assert_eq!(up_stats.rx_forwarded, 1);
    assert_eq!(bad_stats.tx_errors, 2);
    // Counted by the link's error kind.
    assert_eq!(bad_stats.link_errors(ErrorKind::Down), 2);
    assert_eq!(bad_stats.last_error, Some(ErrorKind::Down));
    assert_eq!(bad.aborted, 2, "every refused slot went back");
    let mut buf = [0u8; 1600];
    let n = good.receive(&mut buf).unwrap();
    assert_eq!(&buf[..n], &bcast[..]);
    assert_eq!(good.receive(&mut buf), None);
}

#[test]
fn a_full_destination_drops_only_what_does_not_fit() {
    let mut sw = build(&[
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
    ]);
    // The partition never reads: after 8 frames its ring is full.
    for round in 0..3u8 {
        for i in 0..4u8 {
            inject(&mut sw, 0, &frame(mac(1), mac(50), 0x0800, &[round, i]));
        }
        sw.poll(u64::from(round), 8);
    }
    let s = sw.stats(p(0)).unwrap();
    assert_eq!((s.rx_forwarded, s.drops(DropReason::QueueFull)), (8, 4));
    assert_eq!(sw.stats(p(1)).unwrap().tx_queue_full, 4);
    // Once the partition reads, frames flow again.
    assert_eq!(drain(&mut sw, 1).len(), 8);
    inject(&mut sw, 0, &frame(mac(1), mac(50), 0x0800, b"again"));
    sw.poll(9, 8);
    assert_eq!(drain(&mut sw, 1).len(), 1);
}

/// A link whose receive side has failed (its peer broke the channel) and whose
/// housekeeping fails every other call; it counts what the switch asked of it.
#[derive(Default)]
struct Failing {
    takes: u32,
    services: Vec<u16>,
}

impl FrameLink for Failing {
    type Error = ErrorKind;
    fn caps(&self) -> LinkCaps {
        LinkCaps::new(1600)
    }
    fn service(&mut self, budget: u16) -> Result<(), ErrorKind> {
        self.services.push(budget);
        if self.services.len().is_multiple_of(2) {
            Err(ErrorKind::Down)
        } else {
            Ok(())
        }
    }
    fn rx_take(&mut self) -> Result<Option<RxSlot>, ErrorKind> {
        self.takes += 1;
        Err(ErrorKind::Peer)
    }
    fn rx_frame(&self, _: &RxSlot) -> &[u8] {
        &[]
    }
    fn rx_release(&mut self, _: RxSlot) {}
    fn tx_reserve(&mut self, _: usize) -> Result<Option<TxSlot>, ErrorKind> {
        Ok(None)
    }
    fn tx_write(&mut self, _: &TxSlot, _: usize, _: &[u8]) -> Result<(), ErrorKind> {
        Err(ErrorKind::BadSlot)
    }
    fn tx_commit(&mut self, _: TxSlot, _: FrameMeta) -> Result<(), ErrorKind> {
        Err(ErrorKind::BadSlot)
    }
    fn tx_abort(&mut self, _: TxSlot) {}
}

#[test]
fn every_poll_services_each_port_once_and_counts_link_errors_by_kind() {
    let mut bad = Failing::default();
    let mut good = Failing::default();
    let mut b = SwitchBuilder::<&mut Failing, 4>::new();
    b.add_port(&mut bad, PortConfig::partition(mac(1), 1))
        .unwrap();
    b.add_port(&mut good, PortConfig::partition(mac(2), 1))
        .unwrap();
    let mut sw = b.build::<16, 4>().unwrap();
    for t in 0..4 {
        // A failing receive ends the port's turn: no frame, no loop.
        assert_eq!(sw.poll(t, 300_000), 0);
    }
    let s = sw.stats(PortId::new(0)).unwrap().clone();
    drop(sw);
    // One take per port per poll (the error ends the turn and the round found nothing).
    assert_eq!(bad.takes, 4);
    assert_eq!(s.rx_errors, 4);
    assert_eq!(s.link_errors(ErrorKind::Peer), 4);
    // One service per poll, with the poll's budget (clamped to u16); every other fails.
    assert_eq!(bad.services, vec![u16::MAX; 4]);
    assert_eq!(s.service_errors, 2);
    assert_eq!(s.link_errors(ErrorKind::Down), 2);
    assert_eq!(s.last_error, Some(ErrorKind::Down));
    assert_eq!((s.rx_frames, s.total_drops()), (0, 0));
    assert_eq!(good.services.len(), 4);
}
