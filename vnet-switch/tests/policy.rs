//! Rate budgets, traffic classes and configuration errors.
mod common;
use common::*;
use vnet_switch::{
    ConfigError, DropReason, MacAddress, PortConfig, RateLimit, SwitchBuilder, VlanMode, VlanSet,
};

const IPV4: u16 = 0x0800;

fn limited(queue: u16) -> Sw {
    let mut cfgs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
    ];
    cfgs[1].rate = Some(RateLimit {
        bytes_per_sec: 1_000_000,
        byte_burst: 2000,
        frames_per_sec: 10,
        frame_burst: 2,
        queue,
    });
    build(&cfgs)
}

#[test]
fn over_budget_frames_wait_up_to_the_bound_then_are_dropped() {
    let mut sw = limited(3);
    for i in 0..6u8 {
        inject(&mut sw, 1, &frame(mac(99), mac(1), IPV4, &[i]));
    }
    // Burst of two frames passes; the third waits (3 more are behind it, bound 3 → the
    // oldest waiting one is dropped when more than `queue` wait).
    sw.poll(0, 16);
    assert_eq!(drain(&mut sw, 0).len(), 2);
    let s = sw.stats(p(1)).unwrap();
    assert_eq!((s.rx_forwarded, s.drops(DropReason::Rate)), (2, 1));
    // 100 ms later one frame token is back (10 frames/s).
    sw.poll(100_000_000, 16);
    assert_eq!(drain(&mut sw, 0).len(), 1);
    assert_eq!(
        sw.stats(p(1)).unwrap().rx_frames,
        4,
        "frame 4 waits for budget"
    );
    // Much later the burst is back: the last two pass.
    sw.poll(10_000_000_000, 16);
    assert_eq!(drain(&mut sw, 0).len(), 2);
    let s = sw.stats(p(1)).unwrap();
    assert_eq!((s.rx_frames, s.rx_forwarded, s.total_drops()), (6, 5, 1));
}

#[test]
fn without_a_rate_queue_over_budget_frames_are_dropped_at_once() {
    let mut sw = limited(0);
    for i in 0..4u8 {
        inject(&mut sw, 1, &frame(mac(99), mac(1), IPV4, &[i]));
    }
    sw.poll(0, 16);
    assert_eq!(drain(&mut sw, 0).len(), 2);
    assert_eq!(sw.stats(p(1)).unwrap().drops(DropReason::Rate), 2);
}

#[test]
fn strict_priority_gives_a_congested_port_to_the_higher_class() {
    // The uplink sends to partition 1, which has only 8 slots and 8 classes.
    let mut cfgs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
    ];
    cfgs[1].classes = 8;
    let mut sw = build(&cfgs);
    for i in 0..4u8 {
        inject(&mut sw, 0, &tagged(mac(1), mac(60), 1, 0, IPV4, &[b'l', i]));
    }
    for i in 0..4u8 {
        inject(&mut sw, 0, &tagged(mac(1), mac(60), 7, 0, IPV4, &[b'h', i]));
    }
    sw.poll(0, 16);
    let got = drain(&mut sw, 1);
    // Committed high class first, then low class, each in arrival order.
    let order: Vec<(u8, u8)> = got.iter().map(|f| (f[14], f[15])).collect();
    let mut want: Vec<(u8, u8)> = (0..4).map(|i| (b'h', i)).collect();
    want.extend((0..4).map(|i| (b'l', i)));
    assert_eq!(order, want);
    // Now congest: 8 low-priority frames fill every slot of the peer, then 2 high.
    for i in 0..6u8 {
        inject(&mut sw, 0, &tagged(mac(1), mac(60), 0, 0, IPV4, &[b'l', i]));
    }
    sw.poll(1, 6);
    for i in 0..2u8 {
        inject(
            &mut sw,
            0,
            &tagged(mac(1), mac(60), 0, 0, IPV4, &[b'l', 10 + i]),
        );
    }
    for i in 0..2u8 {
        inject(&mut sw, 0, &tagged(mac(1), mac(60), 7, 0, IPV4, &[b'h', i]));
    }
    sw.poll(2, 16);
    let got = drain(&mut sw, 1);
    let order: Vec<(u8, u8)> = got.iter().map(|f| (f[14], f[15])).collect();
    // The two high frames took the slots of the two newest low frames of this poll.
    let mut want: Vec<(u8, u8)> = (0..6).map(|i| (b'l', i)).collect();
    want.extend([(b'h', 0), (b'h', 1)]);
    assert_eq!(order, want);
    assert_eq!(sw.stats(p(1)).unwrap().tx_queue_full, 2);
}

/// Uplink (trunk, VLAN 1 tagged: the PCP leaves on the wire) with 8 slots and 8
/// classes; partitions 1 and 2 in VLAN 1.
fn contended(max_pcp: Option<u8>) -> Sw {
    let mut allowed = VlanSet::new();
    allowed.insert(1);
    let mut cfgs = [
        PortConfig::uplink(None, allowed),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
    ];
    cfgs[0].classes = 8;
    cfgs[2].max_pcp = max_pcp;
    build(&cfgs)
}

/// Partition 1 sends 8 untagged frames, partition 2 sends 8 priority-tagged frames
/// claiming PCP 7, all to the uplink (8 slots) in one poll. Returns the frames the
/// uplink got from each partition and the PCPs they carry.
fn priority_attack(sw: &mut Sw) -> (usize, usize, Vec<u8>) {
    for i in 0..8u8 {
        inject(sw, 1, &frame(mac(99), mac(1), IPV4, &[1, i]));
        inject(sw, 2, &tagged(mac(99), mac(2), 7, 0, IPV4, &[2, i]));
    }
    sw.poll(0, 16);
    let got = drain(sw, 0);
    let from = |n: u8| got.iter().filter(|f| f[11] == n).count();
    let pcps = got.iter().map(|f| f[14] >> 5).collect();
    (from(1), from(2), pcps)
}

#[test]
fn a_partition_cannot_claim_a_priority_its_policy_does_not_allow() {
    // Default policy: the claimed PCP 7 is ignored, both partitions are in class 0 and
    // share the uplink's slots by round-robin; nothing leaves with PCP 7.
    let mut sw = contended(None);
    let (one, two, pcps) = priority_attack(&mut sw);
    assert_eq!(one + two, 8);
    assert!(
        one >= 4 && two >= 3,
        "partition 1 got {one}, partition 2 {two}"
    );
    assert!(pcps.iter().all(|p| *p == 0), "{pcps:?}");
    assert_eq!(
        sw.stats(p(0)).unwrap().tx_queue_full,
        8,
        "no room, no eviction"
    );
    // A policy allowing up to PCP 3 caps the claim: class 3 beats class 0, and the
    // frames leave with PCP 3, not 7.
    let mut sw = contended(Some(3));
    let (one, two, pcps) = priority_attack(&mut sw);
    assert_eq!((one, two), (0, 8));
    assert!(pcps.iter().all(|p| *p == 3), "{pcps:?}");
    // A trusted peer (max_pcp 7) keeps its claim.
    let mut sw = contended(Some(7));
    let (_, two, pcps) = priority_attack(&mut sw);
    assert_eq!(two, 8);
    assert!(pcps.iter().all(|p| *p == 7), "{pcps:?}");
}

#[test]
fn configuration_errors_are_typed() {
    fn err(cfgs: &[PortConfig]) -> ConfigError {
        let mut b = SwitchBuilder::<Box<Ep>, 8>::new();
        for c in cfgs {
            b.add_port(Box::new(Ep::new()), c.clone()).unwrap();
        }
        match b.build::<64, 8>() {
            Err(e) => e,
            Ok(_) => panic!("accepted {cfgs:?}"),
        }
    }
    let up = PortConfig::uplink(Some(1), VlanSet::new());
    assert_eq!(err(&[up.clone(), up.clone()]), ConfigError::SecondUplink(1));
    assert_eq!(
        err(&[
            PortConfig::partition(mac(1), 1),
            PortConfig::partition(mac(1), 1)
        ]),
        ConfigError::DuplicateMac(1, mac(1))
    );
    let g = MacAddress([1, 0, 0, 0, 0, 1]);
    assert_eq!(
        err(&[PortConfig::partition(g, 1)]),
        ConfigError::InvalidMac(0, Some(g))
    );
    assert_eq!(
        err(&[PortConfig::partition(mac(1), 4095)]),
        ConfigError::InvalidVlan(0, 4095)
    );
    let mut c = PortConfig::partition(mac(1), 1);
    c.vlan = VlanMode::Trunk {
        native: None,
        allowed: VlanSet::new(),
    };
    assert_eq!(err(&[c]), ConfigError::VlanModeForRole(0));
    let mut c = PortConfig::partition(mac(1), 1);
    c.classes = 9;
    assert_eq!(err(&[c]), ConfigError::Classes(0, 9));
    let mut c = PortConfig::partition(mac(1), 1);
    c.max_pcp = Some(8);
    assert_eq!(err(&[c]), ConfigError::MaxPcp(0, 8));
    let mut c = PortConfig::partition(mac(1), 1);
    c.max_frame = 20;
    assert_eq!(err(&[c]), ConfigError::FrameLimit(0, 20));
    let mut c = PortConfig::partition(mac(1), 1);
    c.learning = true;
    assert_eq!(err(&[c]), ConfigError::LearningNotOnUplink(0));
    let mut c = PortConfig::partition(mac(1), 1);
    c.rate = Some(RateLimit {
        bytes_per_sec: 1,
        byte_burst: 100,
        frames_per_sec: 1,
        frame_burst: 1,
        queue: 0,
    });
    assert_eq!(err(&[c]), ConfigError::RateBurst(0));
    let mut b = SwitchBuilder::<Box<Ep>, 1>::new();
    b.add_port(Box::new(Ep::new()), PortConfig::monitor())
        .unwrap();
    assert_eq!(
        b.add_port(Box::new(Ep::new()), PortConfig::monitor())
            .unwrap_err(),
        ConfigError::TooManyPorts(1)
    );
    assert!(matches!(
        b.build::<48, 8>(),
        Err(ConfigError::TableSize(48))
    ));
    // A full MAC table neighbourhood is reported, not a panic: 3 buckets, probe 8.
    let mut b = SwitchBuilder::<Box<Ep>, 8>::new();
    for i in 0..3 {
        b.add_port(Box::new(Ep::new()), PortConfig::partition(mac(i + 1), 1))
            .unwrap();
    }
    assert!(matches!(
        b.build::<2, 8>(),
        Err(ConfigError::MacTableFull(2, _))
    ));
    assert!(ConfigError::InvalidVlan(3, 5000)
        .to_string()
        .contains("5000"));
}
