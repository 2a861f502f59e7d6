//! Property tests against a simple model: isolation, anti-spoofing, accounting, budgets.
mod common;
use common::*;
use proptest::prelude::*;
use vnet_switch::{MacAddress, PortConfig, RateLimit, VlanSet};

/// Frames (and budget steps) per case: fewer under Miri, which runs ~1000x slower.
const MAX_SENDS: usize = if cfg!(miri) { 8 } else { 40 };

const GROUPS: [MacAddress; 2] = [
    MacAddress([1, 0, 0x5e, 0, 0, 1]),
    MacAddress([0x33, 0x33, 0, 0, 0, 2]),
];

#[derive(Debug, Clone)]
struct Part {
    vid: u16,
    isolated: bool,
    promiscuous: bool,
    all_multicast: bool,
    groups: [bool; 2],
}

#[derive(Debug, Clone)]
struct Config {
    native: Option<u16>,
    allowed: [bool; 3],
    uplink_all_multicast: bool,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, Copy)]
enum Dst {
    Port(usize),
    Unknown,
    Broadcast,
    Group(usize),
}

#[derive(Debug, Clone, Copy)]
enum Src {
    Own,
    Port(usize),
    Outsider,
}

#[derive(Debug, Clone, Copy)]
enum Tag {
    None,
    Vid(u16),
    Double(u16, u16),
}

#[derive(Debug, Clone)]
struct Send {
    from: usize,
    dst: Dst,
    src: Src,
    tag: Tag,
    pcp: u8,
    len: usize,
}

fn part() -> impl Strategy<Value = Part> {
    (
        1u16..=3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<[bool; 2]>(),
    )
        .prop_map(|(vid, isolated, promiscuous, all_multicast, groups)| Part {
            vid,
            isolated,
            promiscuous,
            all_multicast,
            groups,
        })
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop::option::of(1u16..=3),
        any::<[bool; 3]>(),
        any::<bool>(),
        prop::collection::vec(part(), 2..=6),
    )
        .prop_map(|(native, allowed, uplink_all_multicast, parts)| Config {
            native,
            allowed,
            uplink_all_multicast,
            parts,
        })
}

fn send(ports: usize) -> impl Strategy<Value = Send> {
    let dst = prop_oneof![
        (1..ports).prop_map(Dst::Port),
        Just(Dst::Unknown),
        Just(Dst::Broadcast),
        (0usize..2).prop_map(Dst::Group)
    ];
    let src = prop_oneof![4 => Just(Src::Own), 1 => (1..ports).prop_map(Src::Port), 1 => Just(Src::Outsider)];
    let tag = prop_oneof![
        4 => Just(Tag::None),
        2 => (0u16..=4).prop_map(Tag::Vid),
        1 => (1u16..=3, 1u16..=3).prop_map(|(a, b)| Tag::Double(a, b))
    ];
    (0..ports, dst, src, tag, 0u8..8, 60usize..200).prop_map(|(from, dst, src, tag, pcp, len)| {
        Send {
            from,
            dst,
            src,
            tag,
            pcp,
            len,
        }
    })
}

fn build_switch(c: &Config) -> Sw {
    build(&port_configs(c))
}

fn port_configs(c: &Config) -> Vec<PortConfig> {
    let mut allowed = VlanSet::new();
    for (i, a) in c.allowed.iter().enumerate() {
        if *a {
            allowed.insert(i as u16 + 1);
        }
    }
    let mut up = PortConfig::uplink(c.native, allowed);
    up.all_multicast = c.uplink_all_multicast;
    let mut cfgs = vec![up];
    for (i, pt) in c.parts.iter().enumerate() {
        let mut pc = PortConfig::partition(mac(i as u8 + 1), pt.vid);
        pc.isolated = pt.isolated;
        pc.promiscuous = pt.promiscuous;
        pc.all_multicast = pt.all_multicast;
        for (g, joined) in pt.groups.iter().enumerate() {
            if *joined {
                pc.groups.push(GROUPS[g]).unwrap();
            }
        }
        cfgs.push(pc);
    }
    cfgs
}

fn member(c: &Config, port: usize, vid: u16) -> bool {
    if port == 0 {
        c.native == Some(vid) || c.allowed[usize::from(vid) - 1]
    } else {
        c.parts[port - 1].vid == vid
    }
}

/// The model: the VLAN of the frame and the set of ports it must reach.
fn expected(c: &Config, s: &Send) -> (Option<u16>, Vec<usize>) {
    let n = c.parts.len() + 1;
    let src_mac = source_mac(s);
    // VLAN admission.
    let vid = match (s.from, s.tag) {
        (_, Tag::Double(..)) => return (None, vec![]),
        (0, Tag::None) | (0, Tag::Vid(0)) => match c.native {
            Some(v) => v,
            None => return (None, vec![]),
        },
        (0, Tag::Vid(v)) if (1..=3).contains(&v) && c.allowed[usize::from(v) - 1] => v,
        (0, _) => return (None, vec![]),
        (p, Tag::None) | (p, Tag::Vid(0)) => c.parts[p - 1].vid,
        (p, Tag::Vid(v)) if v == c.parts[p - 1].vid => v,
        _ => return (None, vec![]),
    };
    // Anti-spoofing.
    if s.from != 0 && src_mac != mac(s.from as u8) {
        return (None, vec![]);
    }
    if s.from == 0 && (1..n).any(|p| src_mac == mac(p as u8) && c.parts[p - 1].vid == vid) {
        return (None, vec![]);
    }
    let eligible = |r: usize| {
        r != s.from
            && member(c, r, vid)
            && !(s.from != 0 && r != 0 && (c.parts[s.from - 1].isolated || c.parts[r - 1].isolated))
    };
    let all_mc = |r: usize| {
        if r == 0 {
            c.uplink_all_multicast
        } else {
            c.parts[r - 1].all_multicast
        }
    };
    let joined = |r: usize, g: usize| r != 0 && c.parts[r - 1].groups[g];
    let set: Vec<usize> = match s.dst {
        Dst::Broadcast => (0..n).filter(|r| eligible(*r)).collect(),
        Dst::Group(g) => (0..n)
            .filter(|r| eligible(*r) && (joined(*r, g) || all_mc(*r)))
            .collect(),
        Dst::Port(k) if c.parts[k - 1].vid == vid => {
            [k].into_iter().filter(|r| eligible(*r)).collect()
        }
        Dst::Port(_) | Dst::Unknown if s.from != 0 => {
            [0].into_iter().filter(|r| eligible(*r)).collect()
        }
        Dst::Port(_) | Dst::Unknown => (1..n)
            .filter(|r| eligible(*r) && c.parts[r - 1].promiscuous)
            .collect(),
    };
    (Some(vid), set)
}

fn source_mac(s: &Send) -> MacAddress {
    match s.src {
        Src::Own => mac(s.from as u8),
        Src::Port(k) => mac(k as u8),
        Src::Outsider => mac(200),
    }
}

fn dst_mac(s: &Send) -> MacAddress {
    match s.dst {
        Dst::Port(k) => mac(k as u8),
        Dst::Unknown => mac(201),
        Dst::Broadcast => MacAddress::BROADCAST,
        Dst::Group(g) => GROUPS[g],
    }
}

fn payload(seq: u32, len: usize) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.resize(len, 0xab);
    p
}

fn wire(s: &Send, seq: u32) -> Vec<u8> {
    let pl = payload(seq, s.len);
    match s.tag {
        Tag::None => frame(dst_mac(s), source_mac(s), 0x0800, &pl),
        Tag::Vid(v) => tagged(dst_mac(s), source_mac(s), s.pcp, v, 0x0800, &pl),
        Tag::Double(a, b) => {
            let mut f = tagged(dst_mac(s), source_mac(s), s.pcp, a, 0x0800, &pl);
            f.splice(16..16, [0x81, 0x00, 0x00, b as u8]);
            f
        }
    }
}

/// The frame as port `r` must receive it.
fn egress(c: &Config, s: &Send, vid: u16, r: usize, seq: u32) -> Vec<u8> {
    let pl = payload(seq, s.len);
    // A tag's PCP counts from the uplink only (a partition's claim is ignored by
    // default: it gets its port's default PCP, 0).
    let pcp = match s.tag {
        Tag::Vid(_) if s.from == 0 => s.pcp,
        _ => 0,
    };
    if r == 0 && c.native != Some(vid) {
        tagged(dst_mac(s), source_mac(s), pcp, vid, 0x0800, &pl)
    } else {
        frame(dst_mac(s), source_mac(s), 0x0800, &pl)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn frames_reach_exactly_the_ports_the_model_allows(
        (c, sends) in config().prop_flat_map(|c| {
            let n = c.parts.len() + 1;
            (Just(c), prop::collection::vec(send(n), 1..MAX_SENDS))
        })
    ) {
        let mut sw = build_switch(&c);
        let n = c.parts.len() + 1;
        for (seq, s) in sends.iter().enumerate() {
            let seq = seq as u32;
            inject(&mut sw, s.from, &wire(s, seq));
            prop_assert_eq!(sw.poll(u64::from(seq), 8), 1);
            let (vid, want) = expected(&c, s);
            for r in 0..n {
                let got = drain(&mut sw, r);
                if want.contains(&r) {
                    let vid = vid.unwrap();
                    prop_assert_eq!(got, vec![egress(&c, s, vid, r, seq)], "port {} for {:?}", r, s);
                } else {
                    prop_assert!(got.is_empty(), "port {} got {:?} for {:?}", r, got, s);
                }
            }
        }
        for r in 0..n {
            let st = sw.stats(p(r)).unwrap();
            prop_assert_eq!(st.rx_frames, st.rx_forwarded + st.total_drops(), "port {}: {:?}", r, st);
            prop_assert_eq!(st.rx_frames as usize, sends.iter().filter(|s| s.from == r).count());
        }
    }

    #[test]
    fn each_partition_stays_within_its_budget(
        bytes_per_sec in 10_000u64..1_000_000,
        frames_per_sec in 1u64..1000,
        extra_burst in 0u64..5000,
        frame_burst in 1u64..8,
        queue in 0u16..6,
        steps in prop::collection::vec((0u64..50_000_000, 1usize..4, 60usize..1500), 1..MAX_SENDS + 20),
    ) {
        let mut cfgs = [PortConfig::uplink(Some(1), VlanSet::new()), PortConfig::partition(mac(1), 1)];
        let rate = RateLimit { bytes_per_sec, byte_burst: 1518 + extra_burst, frames_per_sec, frame_burst, queue };
        cfgs[1].rate = Some(rate);
        let mut sw = build(&cfgs);
        let (mut now, mut seq, mut sent_bytes, mut sent_frames) = (0u64, 0u32, 0u64, 0u64);
        for (dt, burst, len) in steps {
            now += dt;
            for _ in 0..burst {
                let f = frame(mac(9), mac(1), 0x0800, &payload(seq, len));
                seq += 1;
                let _ = sw.endpoint_mut(p(1)).unwrap().inject(&f);
            }
            sw.poll(now, 16);
            for f in drain(&mut sw, 0) {
                sent_bytes += f.len() as u64;
                sent_frames += 1;
            }
            let max_bytes = rate.byte_burst + u64::try_from(u128::from(now) * u128::from(bytes_per_sec) / 1_000_000_000).unwrap();
            let max_frames = frame_burst + u64::try_from(u128::from(now) * u128::from(frames_per_sec) / 1_000_000_000).unwrap();
            prop_assert!(sent_bytes <= max_bytes, "{} bytes by {} ns, budget {}", sent_bytes, now, max_bytes);
            prop_assert!(sent_frames <= max_frames, "{} frames by {} ns, budget {}", sent_frames, now, max_frames);
            let st = sw.stats(p(1)).unwrap();
            prop_assert_eq!(st.rx_frames, st.rx_forwarded + st.total_drops());
        }
    }

    /// The fast path (untagged unicast between ports without per-frame extras) decides
    /// exactly as the full path: the same switch with every port mirrored on ingress
    /// (and no monitor port, so mirroring has no effect) always takes the full path.
    /// Several frames per port per poll (bursts, full egress rings, a learning uplink),
    /// varied budgets: the same frames reach the same peers, the same counters move.
    #[test]
    fn the_fast_path_decides_as_the_full_path(
        (c, rounds, learning) in config().prop_flat_map(|c| {
            let n = c.parts.len() + 1;
            let round = (prop::collection::vec(send(n), 0..MAX_SENDS / 3), 1usize..40, any::<bool>());
            (Just(c), prop::collection::vec(round, 1..MAX_SENDS / 4 + 2), any::<bool>())
        })
    ) {
        let mut cfgs = port_configs(&c);
        cfgs[0].learning = learning;
        cfgs[0].mac_quota = 2;
        let mut fast = build(&cfgs);
        for cfg in cfgs.iter_mut() {
            cfg.mirror.ingress = true;
        }
        let mut full = build(&cfgs);
        let n = cfgs.len();
        let mut seq = 0u32;
        for (t, (sends, budget, drain_now)) in rounds.iter().enumerate() {
            for s in sends {
                let f = wire(s, seq);
                seq += 1;
                let a = fast.endpoint_mut(p(s.from)).unwrap().inject(&f);
                let b = full.endpoint_mut(p(s.from)).unwrap().inject(&f);
                prop_assert_eq!(a, b);
            }
            let now = t as u64 * 1000;
            prop_assert_eq!(fast.poll(now, *budget), full.poll(now, *budget));
            for r in 0..n {
                if *drain_now {
                    prop_assert_eq!(drain(&mut fast, r), drain(&mut full, r), "port {}", r);
                }
                prop_assert_eq!(fast.stats(p(r)), full.stats(p(r)), "port {}", r);
            }
        }
    }

    /// `poll(budget)`: at most `budget` frames, work-conserving, and fair: with a budget
    /// of at least one frame per port, every busy port gets a turn of
    /// `clamp(budget / ports, 1, BURST)` frames (or all it has) in the first round.
    #[test]
    fn poll_bursts_stay_within_the_budget_and_serve_every_busy_port(
        (c, pending, budget) in config().prop_flat_map(|c| {
            let n = c.parts.len() + 1;
            (Just(c), prop::collection::vec(0usize..=MAX_SENDS / 5, n), 1usize..48)
        })
    ) {
        let mut sw = build_switch(&c);
        let n = pending.len();
        for (port, k) in pending.iter().enumerate() {
            for i in 0..*k {
                let dst = if port == 0 { mac(1) } else { mac(201) };
                let src = if port == 0 { mac(200) } else { mac(port as u8) };
                inject(&mut sw, port, &frame(dst, src, 0x0800, &payload(i as u32, 60)));
            }
        }
        let handled = sw.poll(0, budget);
        let total: usize = pending.iter().sum();
        prop_assert_eq!(handled, budget.min(total));
        let burst = (budget / n).clamp(1, vnet_switch::BURST);
        let mut sum = 0;
        for (port, k) in pending.iter().enumerate() {
            let got = sw.stats(p(port)).unwrap().rx_frames as usize;
            sum += got;
            prop_assert!(got <= *k);
            if budget >= n {
                prop_assert!(got >= burst.min(*k), "port {} got {} of {}, burst {}", port, got, k, burst);
            }
        }
        prop_assert_eq!(sum, handled);
    }
}
