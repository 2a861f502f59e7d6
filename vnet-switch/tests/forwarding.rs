//! Forwarding rules: unicast, unknown unicast, broadcast, multicast, isolation, VLANs,
//! learning.
mod common;
use common::*;
use vnet_switch::{DropReason, MacAddress, PortConfig, VlanSet};

const IPV4: u16 = 0x0800;

/// Port 0 uplink (native VLAN 1, tagged 10), ports 1..=3 partitions in VLAN 1,
/// port 4 a partition in VLAN 10.
fn net() -> Sw {
    let mut allowed = VlanSet::new();
    allowed.insert(10);
    build(&[
        PortConfig::uplink(Some(1), allowed),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
        PortConfig::partition(mac(3), 1),
        PortConfig::partition(mac(4), 10),
    ])
}

#[test]
fn unicast_between_partitions_is_copied_once_to_the_destination_only() {
    let mut sw = net();
    let f = frame(mac(2), mac(1), IPV4, b"hello partition two");
    inject(&mut sw, 1, &f);
    assert_eq!(sw.poll(0, 16), 1);
    assert_eq!(drain(&mut sw, 2), vec![f.clone()]);
    for other in [0, 1, 3, 4] {
        assert!(drain(&mut sw, other).is_empty(), "port {other} got a copy");
    }
    let s1 = sw.stats(p(1)).unwrap();
    assert_eq!(
        (s1.rx_frames, s1.rx_forwarded, s1.rx_bytes),
        (1, 1, f.len() as u64)
    );
    let s2 = sw.stats(p(2)).unwrap();
    assert_eq!((s2.tx_frames, s2.tx_bytes), (1, f.len() as u64));
}

#[test]
fn unknown_unicast_goes_up_from_partitions_and_stops_at_the_uplink() {
    let mut sw = net();
    let out = frame(mac(99), mac(1), IPV4, b"to the world");
    inject(&mut sw, 1, &out);
    sw.poll(0, 16);
    assert_eq!(drain(&mut sw, 0), vec![out]);
    let inbound = frame(mac(98), mac(50), IPV4, b"for nobody");
    inject(&mut sw, 0, &inbound);
    sw.poll(1, 16);
    for port in 1..=4 {
        assert!(drain(&mut sw, port).is_empty());
    }
    assert_eq!(sw.stats(p(0)).unwrap().drops(DropReason::NoRoute), 1);
}

#[test]
fn promiscuous_ports_get_unknown_unicast_from_the_uplink() {
    let mut cfgs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
    ];
    cfgs[2].promiscuous = true;
    let mut sw = build(&cfgs);
    let inbound = frame(mac(98), mac(50), IPV4, b"unknown");
    inject(&mut sw, 0, &inbound);
    sw.poll(0, 4);
    assert_eq!(drain(&mut sw, 2), vec![inbound]);
    assert!(drain(&mut sw, 1).is_empty());
}

#[test]
fn broadcast_floods_the_vlan_except_the_source_and_tags_for_the_trunk() {
    let mut sw = net();
    let b = frame(
        vnet_switch::MacAddress::BROADCAST,
        mac(4),
        0x0806,
        b"arp who-has",
    );
    inject(&mut sw, 4, &b);
    sw.poll(0, 4);
    // Only the uplink shares VLAN 10 with port 4; it carries VLAN 10 tagged.
    let up = drain(&mut sw, 0);
    assert_eq!(
        up,
        vec![tagged(
            vnet_switch::MacAddress::BROADCAST,
            mac(4),
            0,
            10,
            0x0806,
            b"arp who-has"
        )]
    );
    for port in 1..=4 {
        assert!(drain(&mut sw, port).is_empty(), "port {port}");
    }
    let b1 = frame(vnet_switch::MacAddress::BROADCAST, mac(1), 0x0806, b"arp");
    inject(&mut sw, 1, &b1);
    sw.poll(1, 4);
    for port in [0, 2, 3] {
        assert_eq!(drain(&mut sw, port), vec![b1.clone()], "port {port}");
    }
    assert!(drain(&mut sw, 1).is_empty() && drain(&mut sw, 4).is_empty());
}

#[test]
fn tagged_uplink_frames_reach_the_access_port_untagged() {
    let mut sw = net();
    let t = tagged(mac(4), mac(60), 5, 10, IPV4, b"vlan ten");
    inject(&mut sw, 0, &t);
    sw.poll(0, 4);
    assert_eq!(
        drain(&mut sw, 4),
        vec![frame(mac(4), mac(60), IPV4, b"vlan ten")]
    );
    // The same address in the native VLAN is not port 4's.
    let u = frame(mac(4), mac(60), IPV4, b"vlan one");
    inject(&mut sw, 0, &u);
    sw.poll(1, 4);
    assert!(drain(&mut sw, 4).is_empty());
}

#[test]
fn multicast_reaches_joined_ports_and_all_multicast_ports() {
    let mut sw = net();
    let group = vnet_switch::MacAddress([0x01, 0x00, 0x5e, 0, 0, 7]);
    sw.join_group(p(3), group).unwrap();
    let m = frame(group, mac(1), IPV4, b"mcast");
    inject(&mut sw, 1, &m);
    sw.poll(0, 4);
    assert_eq!(drain(&mut sw, 3), vec![m.clone()]);
    assert_eq!(
        drain(&mut sw, 0),
        vec![m.clone()],
        "the uplink takes all multicast"
    );
    assert!(drain(&mut sw, 2).is_empty());
    assert_eq!(sw.leave_group(p(3), group), Ok(true));
    inject(&mut sw, 1, &m);
    sw.poll(1, 4);
    assert!(drain(&mut sw, 3).is_empty());
    assert!(
        sw.join_group(p(3), mac(5)).is_err(),
        "unicast is not a group"
    );
}

#[test]
fn isolated_partitions_talk_only_to_the_uplink() {
    let mut cfgs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
    ];
    cfgs[1].isolated = true;
    let mut sw = build(&cfgs);
    inject(&mut sw, 1, &frame(mac(2), mac(1), IPV4, b"x"));
    inject(&mut sw, 2, &frame(mac(1), mac(2), IPV4, b"y"));
    sw.poll(0, 8);
    assert!(drain(&mut sw, 2).is_empty() && drain(&mut sw, 1).is_empty());
    // Port 1's frame to port 2's MAC is unknown to it: not delivered, so no route.
    assert_eq!(sw.stats(p(1)).unwrap().drops(DropReason::NoRoute), 1);
    assert_eq!(sw.stats(p(2)).unwrap().drops(DropReason::NoRoute), 1);
    let b = frame(vnet_switch::MacAddress::BROADCAST, mac(1), 0x0806, b"b");
    inject(&mut sw, 1, &b);
    sw.poll(1, 8);
    assert_eq!(drain(&mut sw, 0), vec![b]);
    assert!(drain(&mut sw, 2).is_empty());
    let down = frame(mac(1), mac(70), IPV4, b"from outside");
    inject(&mut sw, 0, &down);
    sw.poll(2, 8);
    assert_eq!(drain(&mut sw, 1), vec![down]);
}

#[test]
fn learning_uplink_respects_its_quota_and_never_hairpins() {
    let mut cfgs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
    ];
    cfgs[0].learning = true;
    cfgs[0].mac_quota = 2;
    let mut sw = build(&cfgs);
    for (i, src) in [60u8, 61, 62].into_iter().enumerate() {
        inject(&mut sw, 0, &frame(mac(1), mac(src), IPV4, b"in"));
        sw.poll(i as u64, 8);
    }
    assert_eq!(drain(&mut sw, 1).len(), 3);
    assert_eq!(sw.stats(p(0)).unwrap().learn_refused, 1);
    // A frame from the uplink to a station learned on the uplink goes nowhere.
    inject(&mut sw, 0, &frame(mac(60), mac(61), IPV4, b"hairpin"));
    sw.poll(10, 8);
    assert_eq!(sw.stats(p(0)).unwrap().drops(DropReason::NoRoute), 1);
    // A partition reaches it through the uplink.
    inject(&mut sw, 1, &frame(mac(60), mac(1), IPV4, b"reply"));
    sw.poll(11, 8);
    assert_eq!(drain(&mut sw, 0).len(), 1);
}

#[test]
fn uplink_learning_resumes_once_learned_entries_age_out() {
    const SEC: u64 = 1_000_000_000;
    const HOUR: u64 = 3600 * SEC;
    let mut up = PortConfig::uplink(Some(1), VlanSet::new());
    up.learning = true;
    up.mac_quota = 2;
    // Partition 1 is promiscuous: it gets unknown unicast from the uplink, so whether
    // the switch learned a station on the uplink shows in where a frame to it goes.
    let mut part = PortConfig::partition(mac(1), 1);
    part.promiscuous = true;
    let mut b = vnet_switch::SwitchBuilder::<Box<Ep>, 8>::new();
    b.learning_age_ns(300 * SEC);
    b.add_port(Box::new(Ep::new()), up).unwrap();
    b.add_port(Box::new(Ep::new()), part).unwrap();
    let mut sw: Sw = b.build().unwrap();
    let refused = |sw: &Sw| sw.stats(p(0)).unwrap().learn_refused;
    // Each station sends once from outside at time `t`.
    let send = |sw: &mut Sw, stations: &[u8], t: u64| {
        for src in stations {
            inject(sw, 0, &frame(mac(1), mac(*src), IPV4, b"in"));
            sw.poll(t, 8);
        }
        assert_eq!(drain(sw, 1).len(), stations.len());
    };
    // From `from` (a station already learned: only refreshed) to `to`: true if `to` is
    // learned on the uplink (the frame goes nowhere), false if it is unknown (the frame
    // reaches the promiscuous partition).
    let learned = |sw: &mut Sw, from: u8, to: u8, t: u64| {
        let before = sw.stats(p(0)).unwrap().drops(DropReason::NoRoute);
        inject(sw, 0, &frame(mac(to), mac(from), IPV4, b"probe"));
        sw.poll(t, 8);
        let got = drain(sw, 1).len() as u64;
        let no_route = sw.stats(p(0)).unwrap().drops(DropReason::NoRoute) - before;
        assert_eq!(got + no_route, 1);
        no_route == 1
    };
    send(&mut sw, &[60, 61, 62], 0);
    assert_eq!(refused(&sw), 1, "quota of 2 reached");
    assert!(learned(&mut sw, 60, 61, 0) && !learned(&mut sw, 60, 62, 0));
    // An hour later both entries aged out: they no longer count. Of five new stations
    // two are learned, three refused (before: all five, for good).
    send(&mut sw, &[70, 71, 72, 73, 74], HOUR);
    assert_eq!(refused(&sw), 1 + 3, "learning resumed after ageing");
    assert!(learned(&mut sw, 70, 71, HOUR));
    assert!(!learned(&mut sw, 70, 72, HOUR) && !learned(&mut sw, 70, 74, HOUR));
    assert!(!learned(&mut sw, 70, 60, HOUR), "aged out");
    // A station kept alive by traffic keeps its slot past the age limit; one that went
    // quiet (70, last seen at HOUR) gives its slot to a new station.
    send(&mut sw, &[71], HOUR + 200 * SEC);
    send(&mut sw, &[75], HOUR + 400 * SEC);
    assert_eq!(refused(&sw), 4);
    assert!(learned(&mut sw, 71, 75, HOUR + 400 * SEC));
    assert!(!learned(&mut sw, 71, 70, HOUR + 400 * SEC));
    send(&mut sw, &[76], HOUR + 400 * SEC);
    assert_eq!(refused(&sw), 5, "71 and 75 are live");
    // Once they age out in turn, learning resumes again.
    send(&mut sw, &[77, 78, 79], 3 * HOUR);
    assert_eq!(refused(&sw), 6);
    assert!(learned(&mut sw, 77, 78, 3 * HOUR) && !learned(&mut sw, 77, 79, 3 * HOUR));
}

#[test]
fn checksum_offload_flags_pass_through_and_follow_the_tag() {
    use vnet_switch::FrameMeta;
    let mut allowed = VlanSet::new();
    allowed.insert(10);
    let mut sw = build(&[
        PortConfig::uplink(None, allowed),
        PortConfig::partition(mac(1), 10),
        PortConfig::partition(mac(2), 10),
    ]);
    // TCP checksum to be filled: starts after IPv4's 20 bytes, stored 16 bytes in.
    let meta = FrameMeta::partial(34, 16);
    let f = frame(mac(9), mac(1), IPV4, &[0u8; 60]);
    sw.endpoint_mut(p(1))
        .unwrap()
        .inject_with_meta(&f, meta)
        .unwrap();
    let g = frame(mac(2), mac(1), IPV4, &[0u8; 60]);
    sw.endpoint_mut(p(1))
        .unwrap()
        .inject_with_meta(&g, meta)
        .unwrap();
    sw.poll(0, 8);
    let mut buf = [0u8; 1600];
    // Out through the trunk the frame gains a tag: the checksum start moves by 4.
    let (n, m) = sw
        .endpoint_mut(p(0))
        .unwrap()
        .receive_with_meta(&mut buf)
        .unwrap();
    assert_eq!((n, m), (f.len() + 4, FrameMeta::partial(38, 16)));
    // Between access ports nothing moves.
    let (n, m) = sw
        .endpoint_mut(p(2))
        .unwrap()
        .receive_with_meta(&mut buf)
        .unwrap();
    assert_eq!((n, m), (g.len(), meta));
    // A start inside the header cannot be moved: the request is dropped, not corrupted.
    let bad = FrameMeta::partial(4, 16);
    assert_eq!(bad.moved(14, 18), FrameMeta::NONE);
    assert_eq!(FrameMeta::NONE.moved(14, 18), FrameMeta::NONE);
}

/// Sources the uplink may not use: any group address (only its group bit set, or more),
/// or all zero. Each is dropped as malformed on the fast path's frames (IPv4, IPv6, ARP)
/// as on the others, and nothing is learnt from it.
#[test]
fn group_and_zero_sources_from_the_uplink_are_dropped() {
    let mut sw = net();
    let sources = [
        MacAddress([1, 0, 0, 0, 0, 0]),
        MacAddress([1, 0, 0x5e, 0, 0, 1]),
        MacAddress([0xff; 6]),
        MacAddress([0; 6]),
    ];
    let mut dropped = 0;
    for src in sources {
        for ethertype in [IPV4, 0x86dd, 0x0806, 0x88b5] {
            inject(&mut sw, 0, &frame(mac(1), src, ethertype, b"bad source"));
            sw.poll(0, 64);
            dropped += 1;
            assert!(drain(&mut sw, 1).is_empty(), "{src} {ethertype:#06x}");
            assert_eq!(
                sw.stats(p(0)).unwrap().drops(DropReason::Malformed),
                dropped,
                "{src} {ethertype:#06x}"
            );
        }
    }
    assert_eq!(sw.stats(p(0)).unwrap().rx_forwarded, 0);
}
