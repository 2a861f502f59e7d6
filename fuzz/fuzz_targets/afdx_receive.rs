//! The AFDX end system's receive side: arbitrary frames on networks A and B at arbitrary
//! time steps — raw bytes, well-formed frames with any VL, port, sequence number and
//! network claim, and well-formed frames with one byte changed.
//!
//! Input (easy to write seeds for, see `fuzz/seeds/afdx_receive/`): byte 0 is the skew
//! max (x 20 µs, 0 = 20 µs); then records of
//! `op, dt (x 10 µs), seq, len` (+ `pos_lo, pos_hi, value` when op kind is 1, + `n` and
//! `n` bytes when op kind is 2), where op bit 0 is the network (0 = A), bits 1..=2 the
//! kind (0 well-formed, 1 well-formed with one byte changed, 2 raw bytes, 3 well-formed
//! claiming the other network), bits 3..=4 the VL (VL 1 queuing port, VL 2 sampling
//! port, VL 3 not received, VL 1 to an unknown UDP port).
//!
//! Invariants: no panic; every frame counted exactly once per network (delivered or one
//! drop reason); a delivered payload is the frame's UDP payload; two consecutive
//! deliveries on a VL never carry the same sequence number unless the skew max passed
//! between them; and the outcome of every frame matches a plain model of integrity
//! checking and redundancy management.
#![no_main]

use afdx::wire::{self, Addressing};
use afdx::{EndSystem, EsConfig, Network, PartitionId, PortKind, RxError, RxPortConfig, VlConfig};
use libfuzzer_sys::fuzz_target;

const VLS: [u16; 3] = [1, 2, 3];

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
}

/// The model of one received VL.
#[derive(Default)]
struct Model {
    prev: [Option<u8>; 2],
    last: Option<(u8, u64)>,
}

fn next(s: u8) -> u8 {
    if s == 255 {
        1
    } else {
        s + 1
    }
}

impl Model {
    /// `Some(delivered?)` for a frame that passes integrity checking, `None` otherwise.
    fn take(&mut self, n: usize, seq: u8, now: u64, skew: u64) -> Option<bool> {
        let ok = match self.prev[n] {
            None => true,
            Some(p) => seq == 0 || seq == next(p) || seq == next(next(p)),
        };
        self.prev[n] = Some(seq);
        if !ok {
            return None;
        }
        // Ahead: 1..=127 steps forward in the cycle 1..=255 (0 counts as position 0 and
        // is never ahead).
        let pos = |s: u8| i32::from(s);
        let fresh = match self.last {
            None => true,
            Some((l, t)) => {
                let d = if l == 0 {
                    pos(seq)
                } else {
                    (pos(seq) - pos(l)).rem_euclid(255)
                };
                now.saturating_sub(t) > skew || (seq != 0 && (1..=127).contains(&d))
            }
        };
        if fresh {
            self.last = Some((seq, now));
        }
        Some(fresh)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader(data);
    let skew = u64::from(r.byte().unwrap_or(0).max(1)) * 20;
    let vls = [
        VlConfig::new(VLS[0], 1, 1518).skew(skew as u32),
        VlConfig::new(VLS[1], 2, 300).skew(skew as u32),
    ];
    let rx = [
        RxPortConfig {
            partition: PartitionId(1),
            vl: VLS[0],
            dst_udp: 100,
            kind: PortKind::Queuing,
        },
        RxPortConfig {
            partition: PartitionId(2),
            vl: VLS[1],
            dst_udp: 200,
            kind: PortKind::Sampling,
        },
    ];
    let cfg = EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 1, 1, 1],
        link_mbps: 100,
        tech_latency_us: 100,
        tx_vls: &[],
        rx_vls: &vls,
        tx_ports: &[],
        rx_ports: &rx,
    };
    let mut es: Box<EndSystem<4, 4, 1>> = Box::new(EndSystem::new(&cfg).expect("valid"));
    let mut models = [Model::default(), Model::default()];
    let mut last_delivery: [Option<(u8, u64)>; 2] = [None, None];
    let mut seen = [0u64; 2];
    let mut now = 0u64;
    let mut buf = [0u8; 1600];

    while let Some(op) = r.byte() {
        let (Some(dt), Some(seq), Some(len)) = (r.byte(), r.byte(), r.byte()) else {
            break;
        };
        now += u64::from(dt) * 10;
        let net = if op & 1 == 0 { Network::A } else { Network::B };
        let kind = (op >> 1) & 3;
        let vl_choice = usize::from((op >> 3) & 3);
        let frame: &[u8] = if kind == 2 {
            let n = usize::from(len) * 6;
            let n = n.min(r.0.len());
            let (raw, rest) = r.0.split_at(n);
            r.0 = rest;
            raw
        } else {
            let a = Addressing {
                vl: VLS[vl_choice.min(2)],
                network_id: 2,
                equipment_id: 2,
                src_ip: [10, 2, 2, 1],
                src_udp: 7,
                dst_udp: match vl_choice {
                    1 => 200,
                    3 => 999,
                    _ => 100,
                },
            };
            let body = [seq; wire::MAX_PAYLOAD];
            let body = &body[..usize::from(len) * 6 % wire::MAX_PAYLOAD];
            let Some(l) = wire::build(&mut buf, &a, 0, body) else {
                continue;
            };
            let claim = if kind == 3 {
                match net {
                    Network::A => Network::B,
                    Network::B => Network::A,
                }
            } else {
                net
            };
            wire::stamp(&mut buf[..l], claim, seq);
            if kind == 1 {
                let (Some(lo), Some(hi), Some(v)) = (r.byte(), r.byte(), r.byte()) else {
                    break;
                };
                let pos = usize::from(u16::from_le_bytes([lo, hi])) % l;
                buf[pos] = v;
            }
            &buf[..l]
        };

        // The model's view: does the frame reach integrity checking?
        let parsed = wire::parse(frame);
        let expect = match parsed {
            Ok(f) if f.network == net => VLS[..2]
                .iter()
                .position(|&v| v == f.vl)
                .filter(|&i| frame.len() + 4 <= usize::from(vls[i].lmax))
                .map(|i| (i, f.seq, f.dst_udp, f.payload)),
            _ => None,
        };
        let n = net.index();
        seen[n] += 1;
        let got = es.receive(net, frame, now);
        match expect {
            None => assert!(
                matches!(
                    got,
                    Err(RxError::Frame(_) | RxError::UnknownVl { .. } | RxError::OverLmax { .. })
                ),
                "{got:?}"
            ),
            Some((i, seq, udp, payload)) => {
                let m = models[i].take(n, seq, now, skew);
                match (m, &got) {
                    (None, Err(RxError::Integrity { got: g, .. })) => assert_eq!(*g, seq),
                    (Some(false), Ok(None)) => {}
                    (Some(true), Ok(Some(d))) => {
                        assert_eq!(d.seq, seq);
                        assert_eq!(d.payload, payload);
                        assert_eq!(d.port, i);
                        assert_eq!(udp, [100, 200][i]);
                        if let Some((s, t)) = last_delivery[i] {
                            assert!(
                                s != seq || now - t > skew,
                                "sequence number {seq} delivered twice within the skew max"
                            );
                        }
                        last_delivery[i] = Some((seq, now));
                    }
                    (Some(true), Err(RxError::UnknownPort { udp: u, .. })) => {
                        assert_eq!(*u, udp);
                        if let Some((s, t)) = last_delivery[i] {
                            assert!(s != seq || now - t > skew);
                        }
                        last_delivery[i] = Some((seq, now));
                    }
                    (m, got) => panic!("model {m:?}, implementation {got:?}"),
                }
            }
        }
    }
    for net in Network::BOTH {
        let s = es.net_stats(net);
        assert_eq!(s.rx_frames, seen[net.index()]);
        assert_eq!(s.rx_delivered + s.rx_total_drops(), s.rx_frames);
    }
});
