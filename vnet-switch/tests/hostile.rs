//! The malicious peer: VLAN hopping, spoofing, oversized, truncated, runt and malformed
//! frames. Each is dropped under its reason, and the switch keeps serving everyone.
mod common;
use common::*;
use vnet_switch::{DropReason, MacAddress, PortConfig, VlanSet};

const IPV4: u16 = 0x0800;

fn net() -> Sw {
    let mut allowed = VlanSet::new();
    allowed.insert(10).insert(20);
    build(&[
        PortConfig::uplink(Some(1), allowed),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
        PortConfig::partition(mac(3), 20),
    ])
}

/// Sends `bad` from `port`, then a good frame from port 2 to port 1; checks the drop
/// reason and that the good frame still arrives.
fn assert_dropped(sw: &mut Sw, port: usize, bad: &[u8], reason: DropReason) {
    let before = sw.stats(p(port)).unwrap().drops(reason);
    inject(sw, port, bad);
    let good = frame(mac(1), mac(2), IPV4, b"still working");
    inject(sw, 2, &good);
    sw.poll(0, 16);
    let stats = sw.stats(p(port)).unwrap();
    assert_eq!(stats.drops(reason), before + 1, "{reason}: {stats:?}");
    for other in [0, 2, 3] {
        assert!(
            drain(sw, other).is_empty(),
            "port {other} got a copy of a {reason} frame"
        );
    }
    assert_eq!(drain(sw, 1), vec![good]);
}

#[test]
fn double_tagged_frames_from_a_partition_are_vlan_drops() {
    let mut sw = net();
    // Outer tag of the partition's own VLAN, inner tag of VLAN 20: the classic hop.
    let mut hop = tagged(mac(3), mac(1), 0, 1, IPV4, b"hop");
    hop.splice(16..16, [0x81, 0x00, 0x00, 20]);
    assert_dropped(&mut sw, 1, &hop, DropReason::Vlan);
    // Also with an 802.1ad outer tag, and from the uplink.
    let mut qinq = frame(mac(3), mac(1), IPV4, b"qinq");
    qinq.splice(12..12, [0x88, 0xa8, 0x00, 1, 0x81, 0x00, 0x00, 20]);
    assert_dropped(&mut sw, 1, &qinq, DropReason::Vlan);
    let mut up = tagged(mac(3), mac(50), 0, 10, IPV4, b"hop from outside");
    up.splice(16..16, [0x81, 0x00, 0x00, 20]);
    assert_dropped(&mut sw, 0, &up, DropReason::Vlan);
}

/// `01:80:c2:00:00:0n`: the IEEE 802.1D reserved group addresses.
fn reserved(n: u8) -> MacAddress {
    MacAddress([0x01, 0x80, 0xc2, 0, 0, n])
}

#[test]
fn link_control_frames_from_a_partition_never_reach_the_uplink() {
    // The uplink takes all multicast (its default): before, each of these left on it.
    let mut sw = net();
    let attacks = [
        frame(reserved(0x01), mac(1), 0x8808, &[0x00, 0x01, 0xff, 0xff]), // PAUSE
        frame(reserved(0x02), mac(1), 0x8809, &[0x01, 0x01]),             // LACP
        frame(reserved(0x03), mac(1), 0x888e, &[0x01, 0x02, 0x00, 0x00]), // EAPOL-Logoff
        frame(reserved(0x0e), mac(1), 0x88cc, &[0x02, 0x07]),             // LLDP
        frame(reserved(0x00), mac(1), 0x0800, b"bottom of the range"),
        frame(reserved(0x0f), mac(1), 0x0800, b"top of the range"),
        tagged(
            reserved(0x0e),
            mac(1),
            0,
            0,
            0x88cc,
            b"priority-tagged LLDP",
        ),
        tagged(reserved(0x01), mac(1), 0, 1, 0x8808, b"tagged PAUSE"),
        // MAC control to any destination: a unicast PAUSE to the host behind the uplink,
        // to a broadcast, and to the other partition.
        frame(mac(50), mac(1), 0x8808, &[0x00, 0x01, 0xff, 0xff]),
        frame(MacAddress::BROADCAST, mac(1), 0x8808, &[0x00, 0x01]),
        frame(mac(2), mac(1), 0x8809, &[0x03]),
    ];
    for (i, f) in attacks.iter().enumerate() {
        println!("attack {i}");
        assert_dropped(&mut sw, 1, f, DropReason::LinkControl);
    }
    assert_eq!(
        sw.stats(p(1)).unwrap().total_drops(),
        attacks.len() as u64,
        "each under exactly one reason"
    );
    // Just outside the range (01:80:c2:00:00:10, GARP) is an ordinary group address.
    let garp = frame(
        MacAddress([0x01, 0x80, 0xc2, 0, 0, 0x10]),
        mac(1),
        0x0800,
        b"",
    );
    inject(&mut sw, 1, &garp);
    sw.poll(0, 4);
    assert_eq!(drain(&mut sw, 0), vec![garp]);
    // From the uplink, the reserved range is not this policy's business.
    let lldp_in = frame(reserved(0x0e), mac(50), 0x88cc, b"");
    sw.join_group(p(2), reserved(0x0e)).unwrap();
    inject(&mut sw, 0, &lldp_in);
    sw.poll(0, 4);
    assert_eq!(drain(&mut sw, 2), vec![lldp_in]);
}

#[test]
fn reserved_group_addresses_pass_only_by_port_policy() {
    let mut cfgs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
    ];
    // Partition 1 may send LLDP (01:80:c2:00:00:0e); the PAUSE bit does not let MAC
    // control through. Partition 2 keeps the default (none).
    cfgs[1].link_local = (1 << 0x0e) | (1 << 0x01);
    let mut sw = build(&cfgs);
    let lldp = frame(reserved(0x0e), mac(1), 0x88cc, b"allowed");
    inject(&mut sw, 1, &lldp);
    inject(
        &mut sw,
        1,
        &frame(reserved(0x03), mac(1), 0x888e, b"not allowed"),
    );
    inject(&mut sw, 1, &frame(reserved(0x01), mac(1), 0x8808, b"never"));
    inject(
        &mut sw,
        2,
        &frame(reserved(0x0e), mac(2), 0x88cc, b"default deny"),
    );
    sw.poll(0, 8);
    assert_eq!(drain(&mut sw, 0), vec![lldp]);
    let s1 = sw.stats(p(1)).unwrap();
    assert_eq!((s1.rx_forwarded, s1.drops(DropReason::LinkControl)), (1, 2));
    assert_eq!(sw.stats(p(2)).unwrap().drops(DropReason::LinkControl), 1);
    assert!(DropReason::ALL.contains(&DropReason::LinkControl));
    assert_eq!(DropReason::LinkControl.to_string(), "link-control frame");
}

#[test]
fn legacy_service_tags_from_a_partition_are_vlan_drops() {
    // 0x9100 / 0x9200: pre-standard S-tag TPIDs. As an EtherType they would leave the
    // uplink looking like an outer tag (VLAN 20 here) to a switch that honours them.
    let mut sw = net();
    for tpid in [0x9100u16, 0x9200] {
        let mut stag = frame(mac(99), mac(1), tpid, b"");
        stag.splice(14..14, [0x00, 20, 0x08, 0x00]);
        assert_dropped(&mut sw, 1, &stag, DropReason::Vlan);
        // As the inner TPID under the partition's own (or a priority) tag.
        let mut inner = tagged(mac(99), mac(1), 0, 1, tpid, b"");
        inner.splice(18..18, [0x00, 20, 0x08, 0x00]);
        assert_dropped(&mut sw, 1, &inner, DropReason::Vlan);
        let mut prio = tagged(mac(99), mac(1), 0, 0, tpid, b"");
        prio.splice(18..18, [0x00, 20, 0x08, 0x00]);
        assert_dropped(&mut sw, 1, &prio, DropReason::Vlan);
        // And from the uplink, towards a partition.
        let up = frame(mac(1), mac(50), tpid, &[0x00, 1, 0x08, 0x00]);
        assert_dropped(&mut sw, 0, &up, DropReason::Vlan);
    }
}

#[test]
fn foreign_tags_and_unknown_vlans_are_vlan_drops() {
    let mut sw = net();
    assert_dropped(
        &mut sw,
        1,
        &tagged(mac(3), mac(1), 0, 20, IPV4, b"x"),
        DropReason::Vlan,
    );
    assert_dropped(
        &mut sw,
        0,
        &tagged(mac(1), mac(50), 0, 30, IPV4, b"x"),
        DropReason::Vlan,
    );
    // A priority tag (VID 0) and the port's own VLAN are accepted.
    inject(&mut sw, 1, &tagged(mac(2), mac(1), 6, 0, IPV4, b"prio"));
    inject(&mut sw, 1, &tagged(mac(2), mac(1), 6, 1, IPV4, b"own"));
    sw.poll(0, 8);
    assert_eq!(drain(&mut sw, 2).len(), 2);
}

#[test]
fn spoofed_sources_never_leave_the_switch() {
    let mut sw = net();
    assert_dropped(
        &mut sw,
        1,
        &frame(mac(0x63), mac(2), IPV4, b"I am two"),
        DropReason::Spoofed,
    );
    let b = frame(MacAddress::BROADCAST, mac(3), IPV4, b"bcast as three");
    assert_dropped(&mut sw, 1, &b, DropReason::Spoofed);
    // From outside, a partition's own address is a spoof too.
    assert_dropped(
        &mut sw,
        0,
        &frame(mac(2), mac(1), IPV4, b"outside as one"),
        DropReason::Spoofed,
    );
}

#[test]
fn oversized_runt_truncated_and_malformed_frames() {
    let mut sw = net();
    let mut big = frame(mac(2), mac(1), IPV4, &[0u8; 1505]);
    assert_eq!(big.len(), 1519);
    assert_dropped(&mut sw, 1, &big, DropReason::Oversized);
    big.truncate(1518);
    inject(&mut sw, 1, &big);
    sw.poll(0, 4);
    assert_eq!(drain(&mut sw, 2), vec![big], "1518 bytes is the limit");
    assert_dropped(&mut sw, 1, &[], DropReason::Malformed);
    assert_dropped(&mut sw, 1, &[0xff; 13], DropReason::Malformed);
    let t = tagged(mac(2), mac(1), 0, 1, IPV4, b"");
    assert_dropped(&mut sw, 1, &t[..16], DropReason::Malformed);
    assert_dropped(
        &mut sw,
        1,
        &frame(mac(2), mac(1), 0x0040, b"802.3"),
        DropReason::Malformed,
    );
    let mut group_src = frame(mac(2), mac(1), IPV4, b"");
    group_src[6] |= 1;
    assert_dropped(&mut sw, 1, &group_src, DropReason::Malformed);
    // A frame that only fits untagged never reaches a tagged trunk destination.
    let mut cfgs = [
        PortConfig::uplink(None, VlanSet::new()),
        PortConfig::partition(mac(1), 10),
    ];
    if let vnet_switch::VlanMode::Trunk { allowed, .. } = &mut cfgs[0].vlan {
        allowed.insert(10);
    }
    cfgs[1].max_frame = 1518;
    cfgs[0].max_frame = 1518;
    let mut sw = build(&cfgs);
    inject(&mut sw, 1, &frame(mac(9), mac(1), IPV4, &[0u8; 1504]));
    sw.poll(0, 4);
    assert_eq!(sw.stats(p(1)).unwrap().drops(DropReason::Oversized), 1);
}

#[test]
fn ethertype_allow_list() {
    let mut cfgs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
    ];
    cfgs[1].allowed_ethertypes = Some(heapless_vec(&[0x0800, 0x0806]));
    let mut sw = build(&cfgs);
    inject(&mut sw, 1, &frame(mac(2), mac(1), 0x86dd, b"v6"));
    inject(&mut sw, 1, &frame(mac(2), mac(1), 0x0806, b"arp"));
    sw.poll(0, 4);
    assert_eq!(drain(&mut sw, 2).len(), 1);
    assert_eq!(sw.stats(p(1)).unwrap().drops(DropReason::EtherType), 1);
}

fn heapless_vec(v: &[u16]) -> heapless::Vec<u16, 8> {
    v.iter().copied().collect()
}

#[test]
fn a_flooding_partition_cannot_starve_another() {
    let mut sw = net();
    for _ in 0..8 {
        inject(&mut sw, 1, &frame(mac(99), mac(1), IPV4, b"flood"));
    }
    inject(&mut sw, 2, &frame(mac(98), mac(2), IPV4, b"one"));
    // Budget 2: round-robin serves each busy port once.
    assert_eq!(sw.poll(0, 2), 2);
    assert_eq!(sw.stats(p(2)).unwrap().rx_forwarded, 1);
    assert_eq!(sw.stats(p(1)).unwrap().rx_frames, 1);
}
