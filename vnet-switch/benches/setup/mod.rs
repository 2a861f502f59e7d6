//! The bench's switch: one uplink and `parts` partitions over recycling in-memory
//! endpoints, and `copy_only`, its copies alone (shared by `benches/forward.rs` and
//! `benches/forward_count.rs`).
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

/// A frame slot as `MemEndpoint` lays it out: cache-line aligned, `S` bytes and one line
/// of padding.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot<const S: usize> {
    bytes: [u8; S],
    pad: [u8; 64],
}

impl<const S: usize> Slot<S> {
    const ZERO: Self = Slot {
        bytes: [0; S],
        pad: [0; 64],
    };
}

/// One port's frame memory with `MemEndpoint`'s slot layout and count: ingress slots,
/// egress slots.
struct Slots<const S: usize> {
    rx: Box<[Slot<S>]>,
    tx: Box<[Slot<S>]>,
}

/// `copy_only`: the copies `partnet` makes and nothing else. The same ports with the
/// same frames in the same slot layout; frames are taken round-robin over the ports, a
/// burst per port per turn as `poll` takes them, from the next ingress slot (as the
/// recycling FIFO hands them out),
/// and copied whole into the next egress slot (as the free list hands them out) of the
/// port `partnet` routes them to (known in advance: no lookup, no check, no counter).
pub struct CopyOnly<const S: usize> {
    ports: Vec<Slots<S>>,
    /// Destination port of each (port, ingress slot).
    route: Vec<[u8; SLOTS]>,
    rx_next: Vec<usize>,
    tx_next: Vec<usize>,
    port: usize,
    len: usize,
}

impl<const S: usize> CopyOnly<S> {
    /// `copy_only` for the `switch::<S, _, SLOTS>(parts, len)` of `partnet`.
    pub fn new(parts: usize, len: usize) -> Self {
        let n = parts + 1;
        let mut ports = Vec::new();
        let mut route = Vec::new();
        for p in 0..n {
            let mut slots = Slots::<S> {
                rx: vec![Slot::<S>::ZERO; SLOTS].into_boxed_slice(),
                tx: vec![Slot::<S>::ZERO; SLOTS].into_boxed_slice(),
            };
            let mut to = [0u8; SLOTS];
            for (i, (buf, to)) in slots.rx.iter_mut().zip(to.iter_mut()).enumerate() {
                // The frames `switch` injects into port p, and where partnet sends them.
                let (dst, d) = if p == 0 {
                    let d = i % parts + 1;
                    (mac(d as u8), d)
                } else if i % 2 == 0 {
                    let d = p % parts + 1;
                    (mac(d as u8), d)
                } else {
                    (mac(201), 0)
                };
                let src = if p == 0 { mac(200) } else { mac(p as u8) };
                buf.bytes[..len].copy_from_slice(&frame(dst, src, len));
                *to = d as u8;
            }
            ports.push(slots);
            route.push(to);
        }
        CopyOnly {
            ports,
            route,
            rx_next: vec![0; n],
            tx_next: vec![0; n],
            port: 0,
            len,
        }
    }

    /// Copies `BATCH` frames, in the order `poll(_, BATCH)` takes them: round-robin
    /// over the ports, a burst of `clamp(BATCH / ports, 1, BURST)` frames per turn,
    /// the next call starting after the last port served.
    pub fn batch(&mut self) -> usize {
        let n = self.ports.len();
        let burst = (BATCH / n).clamp(1, vnet_switch::BURST);
        let mut done = 0;
        while done < BATCH {
            let p = self.port;
            self.port = if p + 1 == n { 0 } else { p + 1 };
            for _ in 0..burst.min(BATCH - done) {
                let r = self.rx_next[p];
                self.rx_next[p] = (r + 1) % SLOTS;
                let d = usize::from(self.route[p][r]);
                let t = self.tx_next[d];
                self.tx_next[d] = (t + 1) % SLOTS;
                let [src, dst] = self.ports.get_disjoint_mut([p, d]).unwrap();
                dst.tx[t].bytes[..self.len].copy_from_slice(&src.rx[r].bytes[..self.len]);
            }
            done += burst.min(BATCH - done);
        }
        BATCH
    }
}
