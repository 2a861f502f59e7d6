//! The static configuration: virtual links, AFDX communication ports, the end system's
//! identity and its jitter budget. Checked once by [`EndSystem::new`](crate::EndSystem::new).

use queuing_port::PartitionId;

use crate::error::EsConfigError;
use crate::wire;

/// The jitter bound of an end system's output (ARINC 664 P7): 500 µs.
pub const JITTER_BOUND_US: u64 = 500;
/// Bytes each frame occupies on the wire besides the frame itself: preamble and start
/// delimiter (8) and the inter-frame gap (12).
pub const WIRE_OVERHEAD: usize = 20;

/// One of the two redundant networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Network {
    /// Network A (interface id `001`).
    A,
    /// Network B (interface id `010`).
    B,
}

impl Network {
    /// Both networks, in index order.
    pub const BOTH: [Network; 2] = [Network::A, Network::B];

    /// The interface id in the source MAC (bits 5..=7 of its last byte).
    pub const fn interface_id(self) -> u8 {
        match self {
            Network::A => 0b001,
            Network::B => 0b010,
        }
    }

    /// 0 for A, 1 for B.
    pub const fn index(self) -> usize {
        match self {
            Network::A => 0,
            Network::B => 1,
        }
    }
}

/// The networks a VL uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Networks {
    /// Network A only.
    A,
    /// Network B only.
    B,
    /// Both (redundant).
    Both,
}

impl Networks {
    /// Whether `net` is one of them.
    pub const fn contains(self, net: Network) -> bool {
        matches!(
            (self, net),
            (Networks::Both, _) | (Networks::A, Network::A) | (Networks::B, Network::B)
        )
    }
}

/// What an AFDX communication port keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// The latest message; the receiver reads it as often as it likes, valid for a
    /// refresh period.
    Sampling,
    /// Every message, in order; a full receiver queue counts an overflow.
    Queuing,
}

/// One virtual link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlConfig {
    /// The VL id (destination MAC bytes 4 and 5).
    pub id: u16,
    /// Bandwidth allocation gap in ms: a power of two in 1..=128.
    pub bag_ms: u8,
    /// Largest frame in bytes, FCS included: 64..=1518.
    pub lmax: u16,
    /// The networks it uses.
    pub networks: Networks,
    /// Transmit: frames waiting for their BAG at most (1..= the end system's capacity).
    pub queue_bound: u8,
    /// Receive: how long after a frame a copy of it (or an older frame) is still taken as
    /// redundant, in µs (the skew max between networks A and B).
    pub skew_max_us: u32,
}

impl VlConfig {
    /// A VL on both networks, queue bound 1, skew max 1 ms.
    pub const fn new(id: u16, bag_ms: u8, lmax: u16) -> Self {
        VlConfig {
            id,
            bag_ms,
            lmax,
            networks: Networks::Both,
            queue_bound: 1,
            skew_max_us: 1000,
        }
    }

    /// The same VL on `networks`.
    pub const fn on(mut self, networks: Networks) -> Self {
        self.networks = networks;
        self
    }

    /// The same VL with a transmit queue bound.
    pub const fn queue(mut self, bound: u8) -> Self {
        self.queue_bound = bound;
        self
    }

    /// The same VL with a skew max.
    pub const fn skew(mut self, us: u32) -> Self {
        self.skew_max_us = us;
        self
    }

    /// The BAG in µs.
    pub const fn bag_us(&self) -> u64 {
        self.bag_ms as u64 * 1000
    }

    /// The largest message (AFDX payload) a frame of Lmax carries.
    pub const fn max_payload(&self) -> usize {
        (self.lmax as usize).saturating_sub(wire::OVERHEAD)
    }

    pub(crate) fn check(&self, max_lmax: u16) -> Result<(), EsConfigError> {
        if !self.bag_ms.is_power_of_two() || self.bag_ms > 128 {
            return Err(EsConfigError::Bag {
                vl: self.id,
                ms: self.bag_ms,
            });
        }
        if self.lmax < 64 || self.lmax > max_lmax {
            return Err(EsConfigError::Lmax {
                vl: self.id,
                lmax: self.lmax,
                max: max_lmax,
            });
        }
        Ok(())
    }
}

/// A transmit AFDX port: a partition's messages onto a VL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPortConfig {
    /// The only partition that may send on it.
    pub partition: PartitionId,
    /// Its VL.
    pub vl: u16,
    /// Source UDP port.
    pub src_udp: u16,
    /// Destination UDP port.
    pub dst_udp: u16,
    /// Sampling or queuing.
    pub kind: PortKind,
}

/// A receive AFDX port: a VL's messages to a partition's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxPortConfig {
    /// The partition it delivers to.
    pub partition: PartitionId,
    /// Its VL.
    pub vl: u16,
    /// Destination UDP port.
    pub dst_udp: u16,
    /// Sampling or queuing.
    pub kind: PortKind,
}

/// The whole configuration of one end system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsConfig<'c> {
    /// Network id (source MAC byte 3).
    pub network_id: u8,
    /// Equipment id (source MAC byte 4).
    pub equipment_id: u8,
    /// Source IP of its frames.
    pub src_ip: [u8; 4],
    /// Link speed in Mbit/s (10, 100, 1000).
    pub link_mbps: u32,
    /// Technological latency of the transmit path in µs, the polling period included:
    /// the caller polls at least this often.
    pub tech_latency_us: u32,
    /// VLs it sends on.
    pub tx_vls: &'c [VlConfig],
    /// VLs it receives.
    pub rx_vls: &'c [VlConfig],
    /// Transmit ports.
    pub tx_ports: &'c [TxPortConfig],
    /// Receive ports.
    pub rx_ports: &'c [RxPortConfig],
}

/// Nanoseconds a frame of `len` bytes (no FCS) occupies the wire at `mbps`.
pub const fn wire_time_ns(len: usize, mbps: u32) -> u64 {
    let bits = ((len + wire::FCS_LEN + WIRE_OVERHEAD) * 8) as u64;
    let mbps = if mbps == 0 { 1 } else { mbps as u64 };
    (bits * 1000).div_ceil(mbps)
}

/// The worst-case output jitter of an end system sending `vls` (ns): every VL's largest
/// frame queued at once behind each other, plus the technological latency.
pub fn worst_case_jitter_ns(vls: &[VlConfig], link_mbps: u32, tech_latency_us: u32) -> u64 {
    vls.iter()
        .map(|v| wire_time_ns(usize::from(v.lmax).saturating_sub(wire::FCS_LEN), link_mbps))
        .sum::<u64>()
        + u64::from(tech_latency_us) * 1000
}

impl EsConfig<'_> {
    /// Checks the VL tables and the jitter budget (not capacities: the end system does).
    pub fn check(&self) -> Result<(), EsConfigError> {
        if self.link_mbps == 0 {
            return Err(EsConfigError::LinkSpeed);
        }
        for (list, i) in [(self.tx_vls, 0), (self.rx_vls, 1)] {
            for (n, v) in list.iter().enumerate() {
                v.check((wire::MAX_FRAME + wire::FCS_LEN) as u16)?;
                if list[..n].iter().any(|w| w.id == v.id) {
                    return Err(EsConfigError::DuplicateVl { vl: v.id });
                }
                if i == 1 && v.skew_max_us == 0 {
                    return Err(EsConfigError::Skew { vl: v.id });
                }
            }
        }
        for (n, p) in self.tx_ports.iter().enumerate() {
            if !self.tx_vls.iter().any(|v| v.id == p.vl) {
                return Err(EsConfigError::UnknownVl { vl: p.vl });
            }
            if self.tx_ports[..n]
                .iter()
                .any(|q| q.vl == p.vl && q.dst_udp == p.dst_udp && q.src_udp == p.src_udp)
            {
                return Err(EsConfigError::DuplicatePort {
                    vl: p.vl,
                    udp: p.dst_udp,
                });
            }
        }
        for (n, p) in self.rx_ports.iter().enumerate() {
            if !self.rx_vls.iter().any(|v| v.id == p.vl) {
                return Err(EsConfigError::UnknownVl { vl: p.vl });
            }
            if self.rx_ports[..n]
                .iter()
                .any(|q| q.vl == p.vl && q.dst_udp == p.dst_udp)
            {
                return Err(EsConfigError::DuplicatePort {
                    vl: p.vl,
                    udp: p.dst_udp,
                });
            }
        }
        let worst_ns = worst_case_jitter_ns(self.tx_vls, self.link_mbps, self.tech_latency_us);
        let bound_ns = JITTER_BOUND_US * 1000;
        if worst_ns > bound_ns {
            return Err(EsConfigError::Jitter { worst_ns, bound_ns });
        }
        Ok(())
    }
}
