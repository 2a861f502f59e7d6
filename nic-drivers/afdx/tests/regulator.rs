//! Transmit side: for any configuration the end system accepts and any offered load,
//! every VL's output respects its BAG and Lmax, every frame leaves within the jitter
//! bound of its eligibility, sequence numbers count 0, 1..=255, 1.., and configurations
//! whose worst-case jitter exceeds 500 µs are refused.

use afdx::config::{wire_time_ns, worst_case_jitter_ns};
use afdx::wire;
use afdx::{
    Emit, EndSystem, EsConfig, EsConfigError, Network, Networks, PartitionId, PortKind, TxDrop,
    TxError, TxPortConfig, VlConfig, JITTER_BOUND_US,
};
use proptest::prelude::*;

type Es = EndSystem<8, 8, 4>;

#[derive(Debug, Clone)]
struct Scenario {
    link_mbps: u32,
    tech_latency_us: u32,
    vls: Vec<VlConfig>,
    /// (time step before it in µs, port, message length); length 0 = only advance time.
    ops: Vec<(u32, usize, usize)>,
}

fn vl_strategy() -> impl Strategy<Value = VlConfig> {
    (0u16..=0xffff, 0u32..=7, 64u16..=1518, 0u8..3, 1u8..=4).prop_map(
        |(id, bag_log, lmax, nets, q)| {
            let nets = [Networks::A, Networks::B, Networks::Both][usize::from(nets)];
            VlConfig::new(id, 1 << bag_log, lmax).on(nets).queue(q)
        },
    )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop_oneof![Just(100u32), Just(1000u32)],
        1u32..=150,
        proptest::collection::vec(vl_strategy(), 1..=6),
    )
        .prop_flat_map(|(link_mbps, tech_latency_us, mut vls)| {
            // Distinct VL ids.
            for (i, v) in vls.iter_mut().enumerate() {
                v.id = v.id.wrapping_mul(8).wrapping_add(i as u16);
            }
            let n = vls.len();
            let ops = proptest::collection::vec((0..=tech_latency_us, 0..n, 0usize..=1600), 1..400);
            (Just(link_mbps), Just(tech_latency_us), Just(vls), ops)
        })
        .prop_map(|(link_mbps, tech_latency_us, vls, ops)| Scenario {
            link_mbps,
            tech_latency_us,
            vls,
            ops,
        })
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    vl: u16,
    net: Network,
    seq: u8,
    eligible_us: u64,
    departure_ns: u64,
    len: usize,
}

fn ports(vls: &[VlConfig]) -> Vec<TxPortConfig> {
    vls.iter()
        .enumerate()
        .map(|(i, v)| TxPortConfig {
            partition: PartitionId(i as u16 % 3),
            vl: v.id,
            src_udp: 1000 + i as u16,
            dst_udp: 2000 + i as u16,
            kind: PortKind::Queuing,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bag_lmax_jitter_hold_for_any_load(s in scenario()) {
        let tx_ports = ports(&s.vls);
        let cfg = EsConfig {
            network_id: 3,
            equipment_id: 4,
            src_ip: [10, 3, 4, 1],
            link_mbps: s.link_mbps,
            tech_latency_us: s.tech_latency_us,
            tx_vls: &s.vls,
            rx_vls: &[],
            tx_ports: &tx_ports,
            rx_ports: &[],
        };
        let worst = worst_case_jitter_ns(&s.vls, s.link_mbps, s.tech_latency_us);
        let mut es = match Es::new(&cfg) {
            Ok(es) => {
                prop_assert!(worst <= JITTER_BOUND_US * 1000);
                Box::new(es)
            }
            Err(e) => {
                // Refused only for the jitter bound (everything else is generated valid).
                prop_assert!(worst > JITTER_BOUND_US * 1000, "{e}");
                prop_assert_eq!(e, EsConfigError::Jitter { worst_ns: worst, bound_ns: 500_000 });
                return Ok(());
            }
        };
        let mut now = 0u64;
        let mut sent: Vec<Sent> = Vec::new();
        let mut refused_lmax = vec![0u64; s.vls.len()];
        let mut refused_full = vec![0u64; s.vls.len()];
        let mut accepted = vec![0u64; s.vls.len()];
        let poll = |es: &mut Es, now: u64, sent: &mut Vec<Sent>| {
            es.poll_tx_with(now, 64, |o| {
                sent.push(Sent {
                    vl: o.vl,
                    net: o.network,
                    seq: o.seq,
                    eligible_us: o.eligible_us,
                    departure_ns: o.departure_ns,
                    len: o.frame.len(),
                });
                // The frame is well-formed AFDX with the right VL, network and number.
                let f = wire::parse(o.frame).expect("own frames parse");
                assert_eq!((f.vl, f.network, f.seq), (o.vl, o.network, o.seq));
                Emit::Sent
            });
        };
        for &(step, port, len) in &s.ops {
            now += u64::from(step);
            if len > 0 {
                let p = tx_ports[port];
                let msg = vec![0xa5u8; len];
                match es.send(p.partition, port, &msg, now) {
                    Ok(()) => accepted[port] += 1,
                    Err(TxError::OverLmax { .. }) => {
                        prop_assert!(wire::frame_len(len) + 4 > usize::from(s.vls[port].lmax));
                        refused_lmax[port] += 1;
                    }
                    Err(TxError::QueueFull { .. }) => refused_full[port] += 1,
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
                // Another partition may not send on it.
                let other = PartitionId(p.partition.0 + 10);
                prop_assert!(
                    matches!(es.send(other, port, &msg, now), Err(TxError::NotOwner { .. })),
                    "send by a foreign partition must be refused"
                );
            }
            poll(&mut es, now, &mut sent);
        }
        // Drain: keep polling every tech latency until the queues are empty.
        while es.tx_queued() > 0 {
            now += u64::from(s.tech_latency_us);
            poll(&mut es, now, &mut sent);
        }

        for (i, v) in s.vls.iter().enumerate() {
            let st = es.tx_stats(v.id).unwrap();
            prop_assert_eq!(st.drops[TxDrop::OverLmax.index()], refused_lmax[i]);
            prop_assert_eq!(st.drops[TxDrop::QueueFull.index()], refused_full[i]);
            prop_assert_eq!(st.queued, accepted[i]);
            prop_assert_eq!(st.released, accepted[i]);
            prop_assert_eq!(st.jitter_overruns, 0);
            for net in Network::BOTH {
                let mine: Vec<&Sent> = sent.iter().filter(|x| x.vl == v.id && x.net == net).collect();
                if !v.networks.contains(net) {
                    prop_assert!(mine.is_empty());
                    continue;
                }
                prop_assert_eq!(mine.len() as u64, accepted[i]);
                let mut expect_seq = 0u8;
                for (k, f) in mine.iter().enumerate() {
                    prop_assert!(f.len + 4 <= usize::from(v.lmax), "Lmax");
                    prop_assert_eq!(f.seq, expect_seq);
                    expect_seq = if expect_seq == 255 { 1 } else { expect_seq + 1 };
                    let jitter = f.departure_ns - f.eligible_us * 1000;
                    prop_assert!(jitter <= JITTER_BOUND_US * 1000, "jitter {jitter} ns");
                    prop_assert!(jitter <= worst, "jitter {jitter} ns over the computed worst case {worst}");
                    if k > 0 {
                        let prev = mine[k - 1];
                        // The regulator: exactly one BAG or more between eligibilities.
                        prop_assert!(f.eligible_us - prev.eligible_us >= v.bag_us());
                        // The output: BAG minus the jitter bound.
                        let gap = f.departure_ns - prev.departure_ns;
                        prop_assert!(
                            gap >= v.bag_us() * 1000 - JITTER_BOUND_US * 1000,
                            "gap {gap} ns under BAG {} ms - 500 µs", v.bag_ms
                        );
                    }
                }
            }
        }
    }
}

fn one_vl(lmax: u16, mbps: u32, tech: u32, n: usize) -> Result<Es, EsConfigError> {
    let vls: Vec<VlConfig> = (0..n as u16).map(|i| VlConfig::new(i, 1, lmax)).collect();
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 0, 0, 1],
        link_mbps: mbps,
        tech_latency_us: tech,
        tx_vls: &vls,
        rx_vls: &[],
        tx_ports: &[],
        rx_ports: &[],
    };
    Es::new(&cfg)
}

#[test]
fn jitter_budget_is_enforced_at_configuration() {
    // 100 Mbit/s: a 1518-byte frame takes (1518 + 20) * 8 / 100 = 123.04 µs.
    assert_eq!(wire_time_ns(1514, 100), 123_040);
    // Three of them and 100 µs: 469.12 µs, accepted; four: 592.16 µs, refused.
    assert!(one_vl(1518, 100, 100, 3).is_ok());
    assert_eq!(
        one_vl(1518, 100, 100, 4).unwrap_err(),
        EsConfigError::Jitter {
            worst_ns: 592_160,
            bound_ns: 500_000
        }
    );
    // At 1 Gbit/s eight fit easily.
    assert!(one_vl(1518, 1000, 40, 8).is_ok());
    // Capacity: a ninth VL does not fit `EndSystem<8, ..>`.
    assert_eq!(
        one_vl(64, 1000, 40, 9).unwrap_err(),
        EsConfigError::TooMany {
            what: "tx VLs",
            max: 8
        }
    );
}

#[test]
fn configuration_errors_are_typed() {
    let base = |v: VlConfig| {
        let vls = [v];
        let cfg = EsConfig {
            network_id: 1,
            equipment_id: 1,
            src_ip: [10, 0, 0, 1],
            link_mbps: 100,
            tech_latency_us: 40,
            tx_vls: &vls,
            rx_vls: &vls,
            tx_ports: &[],
            rx_ports: &[],
        };
        Es::new(&cfg).map(|_| ())
    };
    assert_eq!(
        base(VlConfig::new(1, 3, 100)),
        Err(EsConfigError::Bag { vl: 1, ms: 3 })
    );
    assert_eq!(
        base(VlConfig::new(1, 0, 100)),
        Err(EsConfigError::Bag { vl: 1, ms: 0 })
    );
    assert_eq!(
        base(VlConfig::new(1, 255, 100)),
        Err(EsConfigError::Bag { vl: 1, ms: 255 })
    );
    assert!(base(VlConfig::new(1, 128, 100)).is_ok());
    assert_eq!(
        base(VlConfig::new(1, 1, 63)),
        Err(EsConfigError::Lmax {
            vl: 1,
            lmax: 63,
            max: 1518
        })
    );
    assert_eq!(
        base(VlConfig::new(1, 1, 1519)),
        Err(EsConfigError::Lmax {
            vl: 1,
            lmax: 1519,
            max: 1518
        })
    );
    assert_eq!(
        base(VlConfig::new(1, 1, 100).queue(5)),
        Err(EsConfigError::QueueBound {
            vl: 1,
            bound: 5,
            max: 4
        })
    );
    assert_eq!(
        base(VlConfig::new(1, 1, 100).skew(0)),
        Err(EsConfigError::Skew { vl: 1 })
    );
    let vls = [VlConfig::new(1, 1, 100), VlConfig::new(1, 2, 100)];
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 0, 0, 1],
        link_mbps: 100,
        tech_latency_us: 40,
        tx_vls: &vls,
        rx_vls: &[],
        tx_ports: &[],
        rx_ports: &[],
    };
    assert_eq!(
        Es::new(&cfg).unwrap_err(),
        EsConfigError::DuplicateVl { vl: 1 }
    );
    let vls = [VlConfig::new(1, 1, 100)];
    let tx = [TxPortConfig {
        partition: PartitionId(1),
        vl: 2,
        src_udp: 1,
        dst_udp: 2,
        kind: PortKind::Sampling,
    }];
    let cfg = EsConfig {
        tx_vls: &vls,
        tx_ports: &tx,
        ..cfg
    };
    assert_eq!(
        Es::new(&cfg).unwrap_err(),
        EsConfigError::UnknownVl { vl: 2 }
    );
}

#[test]
fn one_frame_per_bag_and_sequence_wrap() {
    let vls = [VlConfig::new(7, 1, 100).queue(4)];
    let tx = [TxPortConfig {
        partition: PartitionId(1),
        vl: 7,
        src_udp: 1,
        dst_udp: 2,
        kind: PortKind::Queuing,
    }];
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 0, 0, 1],
        link_mbps: 100,
        tech_latency_us: 40,
        tx_vls: &vls,
        rx_vls: &[],
        tx_ports: &tx,
        rx_ports: &[],
    };
    let mut es = Box::new(Es::new(&cfg).unwrap());
    let mut seqs = Vec::new();
    let mut now = 0;
    for _ in 0..600 {
        while es.tx_room(0) > 0 {
            es.send(PartitionId(1), 0, b"0123456789abcdefghij", now)
                .unwrap();
        }
        let n = es.poll_tx_with(now, 8, |o| {
            if o.network == Network::A {
                seqs.push(o.seq);
            }
            Emit::Sent
        });
        assert!(n <= 1, "one frame per BAG");
        now += 500;
    }
    assert_eq!(seqs.len(), 300);
    assert_eq!(&seqs[..3], &[0, 1, 2]);
    assert_eq!(seqs[255], 255);
    assert_eq!(seqs[256], 1, "255 wraps to 1, never to 0");
}

#[test]
fn a_sampling_port_sends_its_freshest_value() {
    let vls = [VlConfig::new(7, 4, 100)];
    let tx = [TxPortConfig {
        partition: PartitionId(1),
        vl: 7,
        src_udp: 1,
        dst_udp: 2,
        kind: PortKind::Sampling,
    }];
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 0, 0, 1],
        link_mbps: 100,
        tech_latency_us: 40,
        tx_vls: &vls,
        rx_vls: &[],
        tx_ports: &tx,
        rx_ports: &[],
    };
    let mut es = Box::new(Es::new(&cfg).unwrap());
    let mut got = Vec::new();
    for t in 0..=8u64 {
        // A new value every ms; the VL sends one frame per 4 ms.
        let mut v = [0u8; 20];
        v[0] = t as u8;
        es.send(PartitionId(1), 0, &v, t * 1000).unwrap();
        es.poll_tx_with(t * 1000, 8, |o| {
            if o.network == Network::A {
                got.push(wire::parse(o.frame).unwrap().payload[0]);
            }
            Emit::Sent
        });
    }
    // At 0, 4 and 8 ms: each time the value written at that moment, never an older one.
    assert_eq!(got, [0, 4, 8]);
    let st = es.tx_stats(7).unwrap();
    assert_eq!(st.replaced, 6);
    assert_eq!(st.drops[TxDrop::QueueFull.index()], 0);
}

#[test]
fn a_sampling_port_never_replaces_another_ports_frame() {
    let vls = [VlConfig::new(7, 4, 100).queue(1)];
    let port = |partition, dst_udp, kind| TxPortConfig {
        partition: PartitionId(partition),
        vl: 7,
        src_udp: 1,
        dst_udp,
        kind,
    };
    let tx = [
        port(1, 2, PortKind::Queuing),
        port(2, 3, PortKind::Sampling),
    ];
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 0, 0, 1],
        link_mbps: 100,
        tech_latency_us: 40,
        tx_vls: &vls,
        rx_vls: &[],
        tx_ports: &tx,
        rx_ports: &[],
    };
    let mut es = Box::new(Es::new(&cfg).unwrap());
    es.send(PartitionId(1), 0, b"queued command 0001", 0)
        .unwrap();
    // The VL's one slot holds partition 1's message: partition 2's sample waits.
    assert_eq!(
        es.send(PartitionId(2), 1, b"sample 0000000001", 0),
        Err(TxError::QueueFull { vl: 7 })
    );
    let mut sent = Vec::new();
    es.poll_tx_with(0, 8, |o| {
        sent.push(wire::parse(o.frame).unwrap().dst_udp);
        Emit::Sent
    });
    assert_eq!(sent, [2, 2], "the queuing message, on A and B");
    assert_eq!(es.tx_stats(7).unwrap().replaced, 0);
}
