//! What both benches measure: one end system sending on one VL, one receiving it, the
//! frames it receives, and the copy of a frame of the same length (the anchor).

use afdx::wire::{self, Addressing};
use afdx::{
    Emit, EndSystem, EsConfig, Network, PartitionId, PortKind, RxPortConfig, TxPortConfig, VlConfig,
};
use std::hint::black_box;

/// Payload sizes: the smallest common one, a middle one, the largest.
pub const SIZES: [usize; 3] = [64, 512, 1471];

const VLS: [VlConfig; 1] = [VlConfig::new(1, 1, 1518)];
const TX: [TxPortConfig; 1] = [TxPortConfig {
    partition: PartitionId(1),
    vl: 1,
    src_udp: 1,
    dst_udp: 2,
    kind: PortKind::Queuing,
}];
const RX: [RxPortConfig; 1] = [RxPortConfig {
    partition: PartitionId(1),
    vl: 1,
    dst_udp: 2,
    kind: PortKind::Queuing,
}];

fn cfg() -> EsConfig<'static> {
    EsConfig {
        network_id: 1,
        equipment_id: 1,
        src_ip: [10, 1, 1, 1],
        link_mbps: 1000,
        tech_latency_us: 100,
        tx_vls: &VLS,
        rx_vls: &VLS,
        tx_ports: &TX,
        rx_ports: &RX,
    }
}

/// The transmit path but the link: `send` (frame built in its VL slot) and
/// `poll_tx_with` (regulator, scheduler, sequence number, the A and B copies handed to a
/// callback), one BAG later each time.
pub struct Tx {
    es: Box<EndSystem<1, 1, 1>>,
    msg: Vec<u8>,
    now: u64,
}

impl Tx {
    pub fn new(n: usize) -> Self {
        Tx {
            es: Box::new(EndSystem::new(&cfg()).unwrap()),
            msg: vec![0x5a; n],
            now: 0,
        }
    }

    #[inline(never)]
    pub fn one(&mut self) -> usize {
        self.now += 1000;
        self.es
            .send(PartitionId(1), 0, black_box(&self.msg), self.now)
            .unwrap();
        self.es.poll_tx_with(self.now, 1, |o| {
            black_box(o.frame);
            Emit::Sent
        })
    }
}

/// `receive`: parse, IPv4 header checksum, integrity checking, redundancy management,
/// port lookup; A and B copies of each sequence number alternate (every second frame is
/// redundant).
pub struct Rx {
    es: Box<EndSystem<1, 1, 1>>,
    frames: Vec<(Network, Vec<u8>)>,
    i: usize,
    now: u64,
}

impl Rx {
    pub fn new(n: usize) -> Self {
        let a = Addressing {
            vl: 1,
            network_id: 2,
            equipment_id: 2,
            src_ip: [10, 2, 2, 1],
            src_udp: 1,
            dst_udp: 2,
        };
        let msg = vec![0x5a; n];
        let mut frames = Vec::new();
        for seq in 1..=255u8 {
            for net in Network::BOTH {
                let mut f = vec![0u8; wire::MAX_FRAME];
                let len = wire::build(&mut f, &a, 0, &msg).unwrap();
                f.truncate(len);
                wire::stamp(&mut f, net, seq);
                frames.push((net, f));
            }
        }
        Rx {
            es: Box::new(EndSystem::new(&cfg()).unwrap()),
            frames,
            i: 0,
            now: 0,
        }
    }

    #[inline(never)]
    pub fn one(&mut self) -> bool {
        let (net, f) = &self.frames[self.i];
        self.i = (self.i + 1) % self.frames.len();
        self.now += 500;
        matches!(self.es.receive(*net, black_box(f), self.now), Ok(Some(_)))
    }
}

/// The anchor: one copy of a frame of the same length.
pub struct Copy {
    src: Vec<u8>,
    dst: Vec<u8>,
}

impl Copy {
    pub fn new(n: usize) -> Self {
        let len = wire::frame_len(n);
        Copy {
            src: vec![0xa5; len],
            dst: vec![0; len],
        }
    }

    #[inline(never)]
    pub fn one(&mut self) {
        self.dst.copy_from_slice(black_box(&self.src));
        black_box(&self.dst);
    }
}
