//! Receive side: integrity checking and redundancy management against a simple model,
//! with copies on networks A and B lost, duplicated, delayed and reordered within the
//! skew max.

use afdx::wire::{self, Addressing};
use afdx::{
    EndSystem, EsConfig, Network, PartitionId, PortKind, RxDrop, RxError, RxPortConfig, VlConfig,
};
use proptest::prelude::*;

type Es = EndSystem<4, 4, 1>;

const VL: u16 = 0x0505;
const BAG_US: u64 = 1000;

fn receiver(skew_us: u32) -> Box<Es> {
    let vls = [VlConfig::new(VL, 1, 200).skew(skew_us)];
    let rx = [RxPortConfig {
        partition: PartitionId(2),
        vl: VL,
        dst_udp: 7000,
        kind: PortKind::Queuing,
    }];
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 2,
        src_ip: [10, 1, 2, 1],
        link_mbps: 100,
        tech_latency_us: 40,
        tx_vls: &[],
        rx_vls: &vls,
        tx_ports: &[],
        rx_ports: &rx,
    };
    Box::new(Es::new(&cfg).unwrap())
}

/// Frame number `i` (sequence 0, 1..=255, 1.. as a transmitter numbers them) on `net`,
/// its payload the index.
fn frame(i: u32, net: Network) -> Vec<u8> {
    let a = Addressing {
        vl: VL,
        network_id: 9,
        equipment_id: 9,
        src_ip: [10, 9, 9, 1],
        src_udp: 6000,
        dst_udp: 7000,
    };
    let mut buf = vec![0u8; wire::MAX_FRAME];
    let mut payload = [0u8; 20];
    payload[..4].copy_from_slice(&i.to_le_bytes());
    let len = wire::build(&mut buf, &a, 0, &payload).unwrap();
    buf.truncate(len);
    wire::stamp(&mut buf, net, seq_of(i));
    buf
}

fn seq_of(i: u32) -> u8 {
    if i == 0 {
        0
    } else {
        ((i - 1) % 255 + 1) as u8
    }
}

/// What happens to one network's copy of a frame.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Lost,
    Once(u32),
    Twice(u32, u32),
}

fn fate(max_delay: u32) -> impl Strategy<Value = Fate> {
    prop_oneof![
        1 => Just(Fate::Lost),
        6 => (0..max_delay).prop_map(Fate::Once),
        1 => (0..max_delay, 0..max_delay).prop_map(|(a, b)| Fate::Twice(a, b)),
    ]
}

/// Arrivals `(time, tiebreak, net, index)`, sorted.
fn arrivals(fates: &[(Fate, Fate)], order: &[u8]) -> Vec<(u64, u8, Network, u32)> {
    let mut ev = Vec::new();
    for (i, (fa, fb)) in fates.iter().enumerate() {
        let t = i as u64 * BAG_US;
        for (net, f) in [(Network::A, fa), (Network::B, fb)] {
            let delays: Vec<u32> = match *f {
                Fate::Lost => vec![],
                Fate::Once(d) => vec![d],
                Fate::Twice(d, e) => vec![d, e],
            };
            for d in delays {
                let tie = order[ev.len() % order.len()];
                ev.push((t + u64::from(d), tie, net, i as u32));
            }
        }
    }
    ev.sort();
    ev
}

/// Feeds the arrivals; returns the delivered indices and the implementation's integrity
/// errors per network.
fn run(es: &mut Es, ev: &[(u64, u8, Network, u32)]) -> (Vec<u32>, [u64; 2]) {
    let mut got = Vec::new();
    let mut integrity = [0u64; 2];
    for &(t, _, net, i) in ev {
        let f = frame(i, net);
        match es.receive(net, &f, t) {
            Ok(Some(d)) => {
                assert_eq!(d.port, 0);
                assert_eq!(d.seq, seq_of(i));
                got.push(u32::from_le_bytes(d.payload[..4].try_into().unwrap()));
            }
            Ok(None) => {}
            Err(RxError::Integrity { .. }) => integrity[net.index()] += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    (got, integrity)
}

fn in_window(prev: u8, seq: u8) -> bool {
    let next = |s: u8| if s == 255 { 1 } else { s + 1 };
    seq == 0 || seq == next(prev) || seq == next(next(prev))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Copies arrive within the skew max (< BAG) of their frame's emission: the
    /// implementation delivers exactly what the model does — per network, integrity
    /// checking (window prev + 1 / prev + 2, resynchronising); then the first valid copy
    /// of a frame newer than the last delivered one.
    #[test]
    fn matches_the_model(
        skew in 100u32..=900,
        fates in proptest::collection::vec((fate(100), fate(100)), 1..700),
        order in proptest::collection::vec(any::<u8>(), 1..8),
        scale in 1u32..=9,
    ) {
        let fates: Vec<(Fate, Fate)> = fates
            .iter()
            .map(|&(a, b)| {
                let s = |f: Fate| match f {
                    Fate::Lost => Fate::Lost,
                    Fate::Once(d) => Fate::Once(d * scale * skew / 1000),
                    Fate::Twice(d, e) => Fate::Twice(d * scale * skew / 1000, e * scale * skew / 1000),
                };
                (s(a), s(b))
            })
            .collect();
        let ev = arrivals(&fates, &order);
        // The model.
        let mut prev: [Option<u8>; 2] = [None, None];
        let mut last: Option<u32> = None;
        let mut want = Vec::new();
        let mut want_integrity = [0u64; 2];
        for &(_, _, net, i) in &ev {
            let n = net.index();
            let seq = seq_of(i);
            let valid = prev[n].is_none_or(|p| in_window(p, seq));
            prev[n] = Some(seq);
            if !valid {
                want_integrity[n] += 1;
                continue;
            }
            if last.is_none_or(|l| i > l) {
                last = Some(i);
                want.push(i);
            }
        }
        let mut es = receiver(skew);
        let (got, integrity) = run(&mut es, &ev);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(integrity, want_integrity);
        // Accounting: every frame is delivered or dropped under one reason.
        let st = es.rx_stats(VL).unwrap();
        prop_assert_eq!(st.delivered, got.len() as u64);
        for net in Network::BOTH {
            let n = &st.net[net.index()];
            let arrived = ev.iter().filter(|e| e.2 == net).count() as u64;
            prop_assert_eq!(n.rx_frames, arrived);
            prop_assert_eq!(n.rx_delivered + n.rx_total_drops(), arrived);
            prop_assert_eq!(n.rx_dropped(RxDrop::Integrity), want_integrity[net.index()]);
        }
    }

    /// Copies reordered across frames (delays up to the skew max, several BAGs): each
    /// frame is delivered at most once, in increasing order, and a frame that arrives
    /// first, on a network that lost nothing before, is delivered.
    #[test]
    fn at_most_once_under_reordering(
        skew in 1000u32..=8000,
        fates in proptest::collection::vec((fate(8000), fate(8000)), 1..700),
        order in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let fates: Vec<(Fate, Fate)> = fates
            .iter()
            .map(|&(a, b)| {
                let s = |f: Fate| match f {
                    Fate::Lost => Fate::Lost,
                    Fate::Once(d) => Fate::Once(d % skew),
                    Fate::Twice(d, e) => Fate::Twice(d % skew, e % skew),
                };
                (s(a), s(b))
            })
            .collect();
        let ev = arrivals(&fates, &order);
        let mut es = receiver(skew);
        let (got, _) = run(&mut es, &ev);
        for w in got.windows(2) {
            prop_assert!(w[0] < w[1], "delivered {} then {}", w[0], w[1]);
        }
        // The very first arrival is always delivered.
        if let Some(first) = ev.first() {
            prop_assert_eq!(got.first().copied(), Some(first.3));
        }
    }
}

#[test]
fn first_valid_copy_wins_and_skew_expires() {
    #[cfg(feature = "log")]
    testing_logger::setup();
    let mut es = receiver(500);
    let a0 = frame(0, Network::A);
    let b0 = frame(0, Network::B);
    assert!(es.receive(Network::B, &b0, 10).unwrap().is_some());
    assert_eq!(es.receive(Network::A, &a0, 20), Ok(None));
    let a1 = frame(1, Network::A);
    assert!(es.receive(Network::A, &a1, 1000).unwrap().is_some());
    // A stale copy within the skew max is redundant ...
    let b0 = frame(0, Network::B);
    assert_eq!(es.receive(Network::B, &b0, 1400), Ok(None));
    // ... but 0 is a reset: after the skew max it is taken as the sender restarting.
    assert!(es.receive(Network::B, &b0, 1600).unwrap().is_some());
    // A frame on the wrong link (source MAC says B, arrived on A) is refused.
    assert!(matches!(
        es.receive(Network::A, &b0, 1700),
        Err(RxError::Frame(_))
    ));
    let st = es.rx_stats(VL).unwrap();
    assert_eq!(st.delivered, 3);
    assert_eq!(st.net[0].rx_dropped(RxDrop::Redundant), 1);
    assert_eq!(st.net[1].rx_dropped(RxDrop::Redundant), 1);
    assert_eq!(es.net_stats(Network::A).rx_dropped(RxDrop::Malformed), 1);
    // With `log`: the malformed frame is an event, the redundant copies are not.
    #[cfg(feature = "log")]
    assert_eq!(
        take(),
        [format!(
            "DEBUG afdx: network 0 dropped a received frame: {}",
            RxDrop::Malformed
        )]
    );
}

#[cfg(feature = "log")]
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
fn integrity_window_and_resync() {
    let mut es = receiver(500);
    let mut t = 0;
    let mut feed = |i: u32| {
        t += 1000;
        es.receive(Network::A, &frame(i, Network::A), t)
            .map(|d| d.is_some())
    };
    assert_eq!(feed(0), Ok(true));
    assert_eq!(feed(1), Ok(true));
    assert_eq!(feed(3), Ok(true)); // prev + 2: one lost frame is fine
    assert_eq!(
        feed(6),
        Err(RxError::Integrity {
            vl: VL,
            prev: 3,
            got: 6
        })
    );
    assert_eq!(feed(7), Ok(true)); // resynchronised on 6
    for i in 8..=300 {
        assert_eq!(feed(i), Ok(true), "frame {i} across the wrap");
    }
}

#[test]
fn unknown_vl_port_and_network_are_counted() {
    let vls = [VlConfig::new(VL, 1, 200).on(afdx::Networks::A)];
    let rx = [RxPortConfig {
        partition: PartitionId(2),
        vl: VL,
        dst_udp: 1,
        kind: PortKind::Sampling,
    }];
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 2,
        src_ip: [10, 1, 2, 1],
        link_mbps: 100,
        tech_latency_us: 40,
        tx_vls: &[],
        rx_vls: &vls,
        tx_ports: &[],
        rx_ports: &rx,
    };
    let mut es = Box::new(Es::new(&cfg).unwrap());
    assert_eq!(
        es.receive(Network::B, &frame(0, Network::B), 0),
        Err(RxError::WrongNetwork { vl: VL })
    );
    assert_eq!(
        es.receive(Network::A, &frame(0, Network::A), 0),
        Err(RxError::UnknownPort { vl: VL, udp: 7000 })
    );
    let mut other = frame(1, Network::A);
    other[5] = 0x06; // VL 0x0506
    assert!(matches!(
        es.receive(Network::A, &other, 0),
        Err(RxError::Frame(_)) // the destination IP no longer names the VL
    ));
    assert!(es.receive(Network::A, &[0u8; 10], 0).is_err());
    let a = es.net_stats(Network::A);
    assert_eq!(a.rx_frames, 3);
    assert_eq!(a.rx_dropped(RxDrop::NoPort), 1);
    assert_eq!(a.rx_dropped(RxDrop::Malformed), 2);
    assert_eq!(es.net_stats(Network::B).rx_dropped(RxDrop::WrongNetwork), 1);
}
