//! Every received byte is hostile: arbitrary bytes and corrupted frames on either
//! network get a typed error or a valid delivery, never a panic, and every frame is
//! counted exactly once.

use afdx::wire::{self, Addressing};
use afdx::{
    EndSystem, EsConfig, FrameError, Network, PartitionId, PortKind, RxError, RxPortConfig,
    VlConfig,
};
use proptest::prelude::*;

const VLS: [VlConfig; 2] = [VlConfig::new(1, 1, 1518), VlConfig::new(2, 2, 128)];
const RX: [RxPortConfig; 2] = [
    RxPortConfig {
        partition: PartitionId(1),
        vl: 1,
        dst_udp: 100,
        kind: PortKind::Queuing,
    },
    RxPortConfig {
        partition: PartitionId(2),
        vl: 2,
        dst_udp: 200,
        kind: PortKind::Sampling,
    },
];

fn es() -> Box<EndSystem<4, 4, 1>> {
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 1, 1, 1],
        link_mbps: 100,
        tech_latency_us: 100,
        tx_vls: &[],
        rx_vls: &VLS,
        tx_ports: &[],
        rx_ports: &RX,
    };
    Box::new(EndSystem::new(&cfg).unwrap())
}

fn frame(vl: u16, udp: u16, seq: u8, payload: &[u8], net: Network) -> Vec<u8> {
    let a = Addressing {
        vl,
        network_id: 2,
        equipment_id: 2,
        src_ip: [10, 2, 2, 1],
        src_udp: 9,
        dst_udp: udp,
    };
    let mut buf = vec![0u8; wire::MAX_FRAME];
    let len = wire::build(&mut buf, &a, 3, payload).unwrap();
    buf.truncate(len);
    wire::stamp(&mut buf, net, seq);
    buf
}

#[derive(Debug, Clone)]
enum Input {
    Raw(Vec<u8>),
    Corrupted {
        vl: u16,
        seq: u8,
        payload: Vec<u8>,
        at: usize,
        value: u8,
    },
    Truncated {
        seq: u8,
        payload: Vec<u8>,
        keep: usize,
    },
}

fn input() -> impl Strategy<Value = (bool, u16, Input)> {
    let inp = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1600).prop_map(Input::Raw),
        (
            1u16..=3,
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<usize>(),
            any::<u8>()
        )
            .prop_map(|(vl, seq, payload, at, value)| Input::Corrupted {
                vl,
                seq,
                payload,
                at,
                value
            }),
        (
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<usize>()
        )
            .prop_map(|(seq, payload, keep)| Input::Truncated { seq, payload, keep }),
    ];
    (any::<bool>(), 0u16..2000, inp)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hostile_frames_get_typed_errors_and_are_counted(inputs in proptest::collection::vec(input(), 1..60)) {
        let mut es = es();
        let mut now = 0u64;
        let mut seen = [0u64; 2];
        let mut delivered = [0u64; 2];
        for (b, dt, inp) in inputs {
            let net = if b { Network::B } else { Network::A };
            now += u64::from(dt);
            let bytes = match &inp {
                Input::Raw(v) => v.clone(),
                Input::Corrupted { vl, seq, payload, at, value } => {
                    let mut f = frame(*vl, 100, *seq, payload, net);
                    let i = at % f.len();
                    f[i] = *value;
                    f
                }
                Input::Truncated { seq, payload, keep } => {
                    let f = frame(1, 100, *seq, payload, net);
                    f[..keep % f.len()].to_vec()
                }
            };
            seen[net.index()] += 1;
            let got = es.receive(net, &bytes, now);
            if let Input::Truncated { .. } = inp {
                // A frame shorter than its headers say is never taken.
                prop_assert!(got.is_err(), "{:?}", got);
            }
            match got {
                Ok(Some(d)) => {
                    delivered[net.index()] += 1;
                    // What is delivered is the frame's own, validated UDP payload.
                    let f = wire::parse(&bytes).unwrap();
                    prop_assert_eq!(d.payload, f.payload);
                    prop_assert_eq!(d.network, net);
                    prop_assert!(d.port < 2);
                }
                Ok(None) => {}
                Err(RxError::Frame(FrameError::TooShort { len })) => prop_assert!(len < 60),
                Err(RxError::Frame(FrameError::TooLong { len })) => prop_assert!(len > 1514),
                Err(_) => {}
            }
        }
        for net in Network::BOTH {
            let s = es.net_stats(net);
            prop_assert_eq!(s.rx_frames, seen[net.index()]);
            prop_assert_eq!(s.rx_delivered + s.rx_total_drops(), s.rx_frames);
            prop_assert_eq!(s.rx_delivered, delivered[net.index()]);
        }
    }
}
