//! The worst-case work of `Switch::poll(now, budget)` against the README's "Bounded
//! work": at most `budget` ingress frames, each copied once per destination (at most
//! `ports - 1` copies for a flooded frame). Shared by `benches/worst_case.rs` (under
//! callgrind, `cargo xtask worst-case`) and `tests/worst_case.rs` (the units asserted).
//!
//! Every port holds a full ring of the worst frames: broadcast (flooded to every other
//! port), of the largest size, tagged from the uplink (tag removed on the way to the
//! access ports), each from a new source address (learning on the uplink); the
//! destinations either take every copy or have their egress rings full. The units are
//! counted from the port counters: frames taken and copies made.

use virtqueue_bench::kit::{measured, Row};
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{MacAddress, PortConfig, PortId, Switch, SwitchBuilder, VlanSet};

/// Ports: the uplink and four partitions.
pub const PORTS: usize = 5;
/// The poll budget of every row.
pub const BUDGET: usize = 64;
const SLOTS: usize = 64;
const SLOT: usize = 1536;
const MAX_FRAME: usize = 1514;

type Ep = Box<MemEndpoint<SLOTS, SLOT>>;
type Sw = Switch<Ep, PORTS, 1024, 64>;

fn mac(n: u8) -> MacAddress {
    MacAddress([2, 0, 0, 0, 0, n])
}

/// A frame of `len` bytes from `src` to `dst`, tagged with VLAN 1 when `tagged`.
fn frame(dst: MacAddress, src: MacAddress, len: usize, tagged: bool) -> Vec<u8> {
    let mut f = vec![0x5a; len];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    if tagged {
        f[12..16].copy_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        f[16..18].copy_from_slice(&0x0800u16.to_be_bytes());
    } else {
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    }
    f
}

/// What every port's ring holds, and whether the destinations take the copies.
#[derive(Clone, Copy)]
struct Load {
    worst: bool,
    egress_full: bool,
}

/// The switch with every ingress ring full (and, with `egress_full`, every egress ring
/// too).
fn switch(load: Load) -> Sw {
    let mut b = SwitchBuilder::<Ep, PORTS>::new();
    for p in 0..PORTS {
        let mut ep = Box::new(MemEndpoint::<SLOTS, SLOT>::new());
        for i in 0..SLOTS {
            let f = match (load.worst, p) {
                (true, 0) => frame(
                    MacAddress::BROADCAST,
                    MacAddress([2, 1, 0, 0, i as u8, 0]),
                    MAX_FRAME + 4,
                    true,
                ),
                (true, _) => frame(MacAddress::BROADCAST, mac(p as u8), MAX_FRAME, false),
                // Typical: 64-byte unicast to the next partition.
                (false, _) => frame(mac((p % (PORTS - 1)) as u8 + 1), mac(p as u8), 64, false),
            };
            ep.inject(&f).unwrap();
        }
        ep.set_discard(!load.egress_full);
        let config = if p == 0 {
            let mut vlans = VlanSet::new();
            vlans.insert(1);
            PortConfig::uplink(None, vlans)
        } else {
            PortConfig::partition(mac(p as u8), 1)
        };
        b.add_port(ep, config).unwrap();
    }
    let mut sw: Sw = b.build().unwrap();
    if load.egress_full {
        // Fill every egress ring: one poll's copies, never taken by the peers.
        while sw.poll(0, BUDGET) > 0 {
            let full = (0..PORTS).all(|p| {
                let ep = sw.endpoint_mut(PortId::new(p as u8)).unwrap();
                ep.tx_pending() == SLOTS
            });
            if full {
                break;
            }
        }
        for p in 0..PORTS {
            let ep = sw.endpoint_mut(PortId::new(p as u8)).unwrap();
            while ep.rx_room() > 0 {
                let f = frame(MacAddress::BROADCAST, mac(p as u8), MAX_FRAME, false);
                ep.inject(&f).unwrap();
            }
        }
    }
    sw
}

/// Sum of a counter over the ports.
fn total(sw: &Sw, f: fn(&vnet_switch::PortStats) -> u64) -> u64 {
    (0..PORTS)
        .map(|p| f(sw.stats(PortId::new(p as u8)).unwrap()))
        .sum()
}

/// One `poll(now, BUDGET)` on the switch `load` builds; returns the frames taken (and
/// checks the copies: at most `ports - 1` per frame).
fn poll(reps: u32, load: Load) -> u32 {
    let mut frames = 0;
    for _ in 0..reps {
        let mut sw = switch(load);
        let copies = total(&sw, |s| s.tx_frames + s.tx_queue_full);
        let taken = total(&sw, |s| s.rx_frames);
        let n = measured(|| sw.poll(1_000, BUDGET));
        let copies = total(&sw, |s| s.tx_frames + s.tx_queue_full) - copies;
        frames = (total(&sw, |s| s.rx_frames) - taken) as u32;
        assert_eq!(n as u32, frames, "poll's count and the counters agree");
        assert!(
            copies <= u64::from(frames) * (PORTS as u64 - 1),
            "{copies} copies (or refusals) for {frames} frames"
        );
    }
    frames
}

const POLL: &str = "Switch::poll(now, 64), 5 ports";
const BOUND: &str = "≤ budget (64) frames, ≤ ports-1 copies each";

const fn row(input: &'static str, run: fn(u32) -> u32) -> Row {
    Row::new(POLL, input, BOUND, BUDGET as u32, "frames", run)
}

/// Every measured input.
pub const ROWS: &[Row] = &[
    row("typical", |r| {
        poll(
            r,
            Load {
                worst: false,
                egress_full: false,
            },
        )
    }),
    row(
        "every ring full of max-size broadcasts (uplink tagged, new sources)",
        |r| {
            poll(
                r,
                Load {
                    worst: true,
                    egress_full: false,
                },
            )
        },
    ),
    row("the same, every egress ring full", |r| {
        poll(
            r,
            Load {
                worst: true,
                egress_full: true,
            },
        )
    }),
];
