//! The `LinkPort` uplink inside a real switch: frames both ways through a scripted
//! `FrameLink` driver, and a driver that errors or misbehaves is counted, typed, and does not
//! stop the switch from serving its partitions.
mod common;

use std::collections::VecDeque;

use common::{frame, mac};
use nic_drivers::{Error as NicError, FrameLink, LinkCaps, LinkState};

/// The link's offload metadata (the switch has its own `FrameMeta`).
type LinkMeta = nic_drivers::FrameMeta;
use vnet_switch::adapters::link::{LinkPort, LinkPortError};
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{FrameMeta, PortConfig, PortEndpoint, PortId, Switch, SwitchBuilder, VlanSet};

/// What the scripted driver does wrong.
#[derive(Default, Clone, Copy)]
struct Misbehave {
    /// `rx_take` fails with this error.
    rx: Option<NicError>,
    /// `tx_reserve` fails with this error.
    reserve: Option<NicError>,
    /// `tx_commit` fails with this error.
    commit: Option<NicError>,
    /// `service` fails with this error.
    poll: Option<NicError>,
    /// `rx_frame` returns this many bytes more than the slot holds (garbage tail).
    long_frame: usize,
}

/// A `FrameLink` over plain queues: `wire_in` is what the wire delivers, `wire_out` what
/// the driver transmitted (with its options), four receive and four transmit slots.
#[derive(Default)]
struct ScriptedLink {
    wire_in: VecDeque<Vec<u8>>,
    wire_out: Vec<(Vec<u8>, LinkMeta)>,
    rx_slots: [Option<Vec<u8>>; 4],
    tx_slots: [Option<Vec<u8>>; 4],
    /// Transmitted but not yet reclaimed by `service` (bounds the transmit ring).
    in_flight: usize,
    polls: u64,
    flushes: u64,
    tx_partial: bool,
    bad: Misbehave,
}

impl FrameLink for ScriptedLink {
    type Error = NicError;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(1518)
            .with_checksum(nic_drivers::ChecksumCaps {
                tx_partial: self.tx_partial,
                rx_offload: false,
            })
            .with_mac(nic_drivers::MacAddress([2, 0, 0, 0, 0, 0x99]))
    }
    fn link_state(&mut self) -> LinkState {
        LinkState::Up
    }
    /// Kicks (counted in `flushes`) and reclaims every transmitted buffer.
    fn service(&mut self, _budget: u16) -> Result<(), NicError> {
        self.polls += 1;
        if let Some(e) = self.bad.poll {
            return Err(e);
        }
        self.flushes += 1;
        self.in_flight = 0;
        Ok(())
    }
    fn rx_take(&mut self) -> Result<Option<nic_drivers::RxSlot>, NicError> {
        if let Some(e) = self.bad.rx {
            return Err(e);
        }
        let Some(i) = self.rx_slots.iter().position(Option::is_none) else {
            return Ok(None);
        };
        let Some(f) = self.wire_in.pop_front() else {
            return Ok(None);
        };
        let len = f.len();
        let mut stored = f;
        stored.extend(std::iter::repeat_n(0xEE, self.bad.long_frame));
        self.rx_slots[i] = Some(stored);
        Ok(Some(nic_drivers::RxSlot::new(i as u16, len)))
    }
    fn rx_frame(&self, slot: &nic_drivers::RxSlot) -> &[u8] {
        match self.rx_slots.get(usize::from(slot.index())) {
            Some(Some(f)) => f,
            _ => &[],
        }
    }
    fn rx_release(&mut self, slot: nic_drivers::RxSlot) {
        if let Some(s) = self.rx_slots.get_mut(usize::from(slot.index())) {
            *s = None;
        }
    }
    fn tx_reserve(&mut self, len: usize) -> Result<Option<nic_drivers::TxSlot>, NicError> {
        if let Some(e) = self.bad.reserve {
            return Err(e);
        }
        if self.in_flight >= 4 {
            return Ok(None);
        }
        let Some(i) = self.tx_slots.iter().position(Option::is_none) else {
            return Ok(None);
        };
        self.tx_slots[i] = Some(vec![0; len]);
        Ok(Some(nic_drivers::TxSlot::new(i as u16, len)))
    }
    fn tx_write(
        &mut self,
        slot: &nic_drivers::TxSlot,
        offset: usize,
        data: &[u8],
    ) -> Result<(), NicError> {
        let Some(Some(buf)) = self.tx_slots.get_mut(usize::from(slot.index())) else {
            return Err(NicError::InvalidSlot {
                index: slot.index(),
            });
        };
        let slot_len = buf.len();
        match buf.get_mut(offset..offset + data.len()) {
            Some(dst) => {
                dst.copy_from_slice(data);
                Ok(())
            }
            None => Err(NicError::SlotBounds {
                offset,
                len: data.len(),
                slot_len,
            }),
        }
    }
    fn tx_commit(&mut self, slot: nic_drivers::TxSlot, options: LinkMeta) -> Result<(), NicError> {
        let buf = self
            .tx_slots
            .get_mut(usize::from(slot.index()))
            .and_then(Option::take);
        if let Some(e) = self.bad.commit {
            return Err(e);
        }
        let buf = buf.ok_or(NicError::InvalidSlot {
            index: slot.index(),
        })?;
        self.wire_out.push((buf, options));
        self.in_flight += 1;
        Ok(())
    }
    fn tx_abort(&mut self, slot: nic_drivers::TxSlot) {
        if let Some(s) = self.tx_slots.get_mut(usize::from(slot.index())) {
            *s = None;
        }
    }
}

/// Uplink or partition.
enum Ep {
    Link(Box<LinkPort<ScriptedLink>>),
    Mem(Box<MemEndpoint<8, 1600>>),
}

macro_rules! each {
    ($self:ident, $e:ident => $body:expr) => {
        match $self {
            Ep::Link($e) => $body,
            Ep::Mem($e) => $body,
        }
    };
}

impl PortEndpoint for Ep {
    fn rx_take(&mut self) -> Option<vnet_switch::RxSlot> {
        each!(self, e => e.rx_take())
    }
    fn rx_frame(&self, slot: &vnet_switch::RxSlot) -> &[u8] {
        each!(self, e => e.rx_frame(slot))
    }
    fn rx_release(&mut self, slot: vnet_switch::RxSlot) {
        each!(self, e => e.rx_release(slot))
    }
    fn rx_pending(&self) -> usize {
        each!(self, e => e.rx_pending())
    }
    fn rx_meta(&self, slot: &vnet_switch::RxSlot) -> FrameMeta {
        each!(self, e => e.rx_meta(slot))
    }
    fn tx_reserve(&mut self, len: usize) -> Option<vnet_switch::TxSlot> {
        each!(self, e => e.tx_reserve(len))
    }
    fn tx_write(
        &mut self,
        slot: &vnet_switch::TxSlot,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), vnet_switch::EndpointError> {
        each!(self, e => e.tx_write(slot, offset, bytes))
    }
    fn tx_meta(&mut self, slot: &vnet_switch::TxSlot, meta: FrameMeta) {
        each!(self, e => e.tx_meta(slot, meta))
    }
    fn tx_commit(&mut self, slot: vnet_switch::TxSlot) {
        each!(self, e => e.tx_commit(slot))
    }
    fn tx_abort(&mut self, slot: vnet_switch::TxSlot) {
        each!(self, e => e.tx_abort(slot))
    }
}

type Sw = Switch<Ep, 4, 64, 8>;

const UP: usize = 0;
const P1: usize = 1;
const P2: usize = 2;

fn pid(i: usize) -> PortId {
    PortId::new(i as u8)
}

/// Uplink (scripted link) + two partitions (MACs 1 and 2), all in VLAN 1.
fn switch(link: ScriptedLink) -> Sw {
    let mut b = SwitchBuilder::<Ep, 4>::new();
    b.add_port(
        Ep::Link(Box::new(LinkPort::new(link, 8))),
        PortConfig::uplink(Some(1), VlanSet::new()),
    )
    .unwrap();
    for m in [1, 2] {
        b.add_port(
            Ep::Mem(Box::new(MemEndpoint::new())),
            PortConfig::partition(mac(m), 1),
        )
        .unwrap();
    }
    b.build().unwrap()
}

fn link(sw: &mut Sw) -> &mut LinkPort<ScriptedLink> {
    match sw.endpoint_mut(pid(UP)) {
        Some(Ep::Link(l)) => l,
        _ => unreachable!("port 0 is the link"),
    }
}

fn mem(sw: &mut Sw, i: usize) -> &mut MemEndpoint<8, 1600> {
    match sw.endpoint_mut(pid(i)) {
        Some(Ep::Mem(m)) => m,
        _ => unreachable!("ports 1 and 2 are partitions"),
    }
}

fn received(sw: &mut Sw, i: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1600];
    while let Some(n) = mem(sw, i).receive(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// A partition-to-partition exchange still works (the switch is not stalled).
fn partitions_still_talk(sw: &mut Sw, now: u64) {
    let f = frame(mac(2), mac(1), 0x0800, b"partition one to partition two");
    mem(sw, P1).inject(&f).unwrap();
    sw.poll(now, 16);
    assert_eq!(received(sw, P2), vec![f]);
}

#[test]
fn frames_cross_the_link_both_ways() {
    let mut sw = switch(ScriptedLink::default());
    let from_wire = frame(mac(1), mac(77), 0x0800, b"from the wire to partition one");
    let to_wire = frame(mac(77), mac(2), 0x0800, b"from partition two to the wire");
    link(&mut sw)
        .device_mut()
        .wire_in
        .push_back(from_wire.clone());
    // Unknown unicast from a partition goes to the uplink.
    mem(&mut sw, P2).inject(&to_wire).unwrap();
    sw.poll(0, 16);
    link(&mut sw).service().unwrap();

    assert_eq!(received(&mut sw, P1), vec![from_wire.clone()]);
    let dev = link(&mut sw).device();
    assert_eq!(dev.wire_out.len(), 1);
    assert_eq!(dev.wire_out[0].0, to_wire);
    assert_eq!(dev.wire_out[0].1, LinkMeta::NONE);
    assert!(dev.flushes >= 1, "committed frames are kicked");
    assert!(
        dev.rx_slots.iter().all(Option::is_none),
        "receive slots returned"
    );
    let up = sw.stats(pid(UP)).unwrap();
    assert_eq!((up.rx_forwarded, up.tx_frames), (1, 1));
    assert_eq!(link(&mut sw).stats().last_error, None);
}

#[test]
fn a_full_transmit_ring_is_reclaimed_by_the_port_itself() {
    let mut sw = switch(ScriptedLink::default());
    // Ten frames to the wire, never calling `service`: the port polls the driver when it
    // has no room, so all ten leave.
    for n in 0..10u8 {
        let f = frame(mac(77), mac(1), 0x0800, &[n; 50]);
        mem(&mut sw, P1).inject(&f).unwrap_or_else(|_| {
            sw.poll(u64::from(n), 16);
            mem(&mut sw, P1).inject(&f).unwrap()
        });
        sw.poll(u64::from(n), 16);
    }
    let dev = link(&mut sw).device();
    assert_eq!(dev.wire_out.len(), 10);
    for (n, (f, _)) in dev.wire_out.iter().enumerate() {
        assert_eq!(f[14..64], [n as u8; 50]);
    }
    assert!(dev.polls >= 2);
}

#[test]
fn checksum_requests_reach_a_driver_with_offload_and_are_counted_without() {
    for tx_partial in [true, false] {
        let mut sw = switch(ScriptedLink {
            tx_partial,
            ..ScriptedLink::default()
        });
        let f = frame(mac(77), mac(1), 0x0800, &[0u8; 40]);
        let meta = FrameMeta {
            needs_csum: true,
            data_valid: false,
            csum_start: 34,
            csum_offset: 6,
        };
        mem(&mut sw, P1).inject_with_meta(&f, meta).unwrap();
        sw.poll(0, 16);
        let port = link(&mut sw);
        let sent = port.device().wire_out[0].1;
        if tx_partial {
            assert_eq!(sent, LinkMeta::partial(34, 6));
            assert_eq!(port.stats().offload_lost, 0);
        } else {
            assert_eq!(sent, LinkMeta::NONE);
            assert_eq!(port.stats().offload_lost, 1);
        }
    }
}

#[test]
fn a_failing_receive_is_typed_and_partitions_keep_talking() {
    let mut sw = switch(ScriptedLink::default());
    link(&mut sw).device_mut().bad.rx = Some(NicError::Broken);
    link(&mut sw)
        .device_mut()
        .wire_in
        .push_back(frame(mac(1), mac(77), 0x0800, b"x"));
    for now in 0..5 {
        partitions_still_talk(&mut sw, now);
    }
    let stats = link(&mut sw).stats().clone();
    assert!(stats.rx_errors >= 5);
    assert_eq!(
        stats.last_error,
        Some(LinkPortError::Receive(NicError::Broken))
    );
    assert_eq!(
        stats.last_error.unwrap().to_string(),
        format!("receiving from the link: {}", NicError::Broken)
    );
    // Nothing reached partition one; the uplink took nothing.
    assert!(received(&mut sw, P1).is_empty());
    assert_eq!(sw.stats(pid(UP)).unwrap().rx_frames, 0);

    // The driver recovers: the waiting frame arrives.
    link(&mut sw).device_mut().bad.rx = None;
    sw.poll(10, 16);
    assert_eq!(received(&mut sw, P1).len(), 1);
}

#[test]
fn failing_transmit_calls_are_typed_and_the_frame_is_not_leaked() {
    let cases = [
        (
            Misbehave {
                reserve: Some(NicError::Broken),
                ..Misbehave::default()
            },
            LinkPortError::Reserve(NicError::Broken),
        ),
        (
            Misbehave {
                commit: Some(NicError::Os { errno: 5 }),
                ..Misbehave::default()
            },
            LinkPortError::Commit(NicError::Os { errno: 5 }),
        ),
    ];
    for (bad, expected) in cases {
        let mut sw = switch(ScriptedLink {
            bad,
            ..ScriptedLink::default()
        });
        for now in 0..3 {
            let f = frame(mac(77), mac(1), 0x0800, b"to the wire");
            mem(&mut sw, P1).inject(&f).unwrap();
            sw.poll(now, 16);
            partitions_still_talk(&mut sw, now);
        }
        let port = link(&mut sw);
        assert_eq!(port.stats().tx_errors, 3);
        assert_eq!(port.stats().last_error, Some(expected));
        assert!(port.device().wire_out.is_empty());
        assert!(
            port.device().tx_slots.iter().all(Option::is_none),
            "no transmit slot left reserved"
        );
    }
}

#[test]
fn a_failing_poll_is_counted_and_the_port_goes_on() {
    let mut sw = switch(ScriptedLink {
        bad: Misbehave {
            poll: Some(NicError::Timeout { what: "reset" }),
            ..Misbehave::default()
        },
        ..ScriptedLink::default()
    });
    assert_eq!(
        link(&mut sw).service(),
        Err(LinkPortError::Poll(NicError::Timeout { what: "reset" }))
    );
    let from_wire = frame(mac(2), mac(77), 0x0800, b"still delivered");
    link(&mut sw)
        .device_mut()
        .wire_in
        .push_back(from_wire.clone());
    sw.poll(0, 16);
    assert_eq!(received(&mut sw, P2), vec![from_wire]);
    partitions_still_talk(&mut sw, 1);
    assert!(link(&mut sw).stats().service_errors >= 1);
}

#[test]
fn a_driver_returning_more_bytes_than_its_slot_cannot_grow_the_frame() {
    let mut sw = switch(ScriptedLink {
        bad: Misbehave {
            long_frame: 100,
            ..Misbehave::default()
        },
        ..ScriptedLink::default()
    });
    let from_wire = frame(mac(1), mac(77), 0x0800, b"exact length");
    link(&mut sw)
        .device_mut()
        .wire_in
        .push_back(from_wire.clone());
    sw.poll(0, 16);
    assert_eq!(received(&mut sw, P1), vec![from_wire]);
}

#[test]
fn a_spoofing_wire_frame_is_dropped_by_the_switch() {
    // A frame from the wire claiming partition one's address is the switch's to refuse.
    let mut sw = switch(ScriptedLink::default());
    link(&mut sw).device_mut().wire_in.push_back(frame(
        mac(2),
        mac(1),
        0x0800,
        b"i am partition one",
    ));
    sw.poll(0, 16);
    assert!(received(&mut sw, P2).is_empty());
    assert_eq!(
        sw.stats(pid(UP))
            .unwrap()
            .drops(vnet_switch::DropReason::Spoofed),
        1
    );
}
