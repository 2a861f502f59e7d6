//! The bench's switch: one uplink and `parts` partitions over recycling in-memory
//! endpoints (shared by `benches/forward.rs` and `examples/forward_count.rs`).
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{MacAddress, PortConfig, Switch, SwitchBuilder, VlanSet};

/// Frames per poll (and per iteration of both functions).
pub const BATCH: usize = 64;
/// Slots per ring of each endpoint.
pub const SLOTS: usize = 64;

/// The poll budget of group `forward_ports`: one full burst ([`vnet_switch::BURST`]
/// frames) per port and turn, at least [`BATCH`]. With a fixed budget of 64 frames,
/// 33 ports would get one or two frames per turn each (fairness within a poll), and the
/// bench would measure the cost of a turn rather than of a frame.
pub fn ports_budget(parts: usize) -> usize {
    (vnet_switch::BURST * (parts + 1)).max(BATCH)
}

/// The endpoint type: `N` slots of `S` bytes per ring.
pub type Ep<const S: usize, const N: usize = SLOTS> = MemEndpoint<N, S>;

/// The address of partition `n` (200: a host behind the uplink, 201: an unknown one).
pub fn mac(n: u8) -> MacAddress {
    MacAddress([2, 0, 0, 0, 0, n])
}

/// An IPv4 frame of `len` bytes.
pub fn frame(dst: MacAddress, src: MacAddress, len: usize) -> Vec<u8> {
    let mut f = vec![0x5a; len];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f
}

/// One uplink (port 0) and `parts` partitions; partition k sends alternately to
/// partition k+1 and out through the uplink, the uplink sends to every partition (to the
/// first `N` with `N` slots per ring). Every ring is filled: `N` frames recirculate.
pub fn switch<const S: usize, const P: usize, const N: usize>(
    parts: usize,
    len: usize,
) -> Switch<Box<Ep<S, N>>, P, 1024, 64> {
    let mut b = SwitchBuilder::<Box<Ep<S, N>>, P>::new();
    let mut up = Box::new(Ep::<S, N>::new());
    for i in 0..N {
        up.inject(&frame(mac((i % parts) as u8 + 1), mac(200), len))
            .unwrap();
    }
    up.set_recycle(true);
    up.set_discard(true);
    b.add_port(up, PortConfig::uplink(Some(1), VlanSet::new()))
        .unwrap();
    for k in 1..=parts {
        let mut ep = Box::new(Ep::<S, N>::new());
        let next = mac((k % parts) as u8 + 1);
        for i in 0..N {
            let dst = if i % 2 == 0 { next } else { mac(201) };
            ep.inject(&frame(dst, mac(k as u8), len)).unwrap();
        }
        ep.set_recycle(true);
        ep.set_discard(true);
        b.add_port(ep, PortConfig::partition(mac(k as u8), 1))
            .unwrap();
    }
    let mut sw: Switch<Box<Ep<S, N>>, P, 1024, 64> = b.build().unwrap();
    // Sanity: a batch is forwarded whole, nothing dropped, one copy per frame.
    assert_eq!(sw.poll(0, BATCH), BATCH);
    let total = |f: fn(&vnet_switch::PortStats) -> u64| {
        (0..=parts)
            .map(|i| f(sw.stats(vnet_switch::PortId::new(i as u8)).unwrap()))
            .sum::<u64>()
    };
    assert_eq!(total(|s| s.rx_forwarded), BATCH as u64);
    assert_eq!(total(|s| s.tx_frames), BATCH as u64);
    assert_eq!(total(|s| s.total_drops() + s.tx_queue_full), 0);
    sw
}
