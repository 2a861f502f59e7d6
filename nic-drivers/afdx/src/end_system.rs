//! [`EndSystem`]: the validated configuration and the per-VL state of both directions.

use heapless::Vec;
use queuing_port::PartitionId;

use crate::config::{EsConfig, Network, PortKind, RxPortConfig, TxPortConfig, VlConfig};
use crate::error::EsConfigError;
use crate::stats::{NetStats, VlRxStats, VlTxStats};
use crate::wire::{self, Addressing};

/// A frame built and waiting for its BAG.
pub(crate) struct Pending {
    /// The transmit port it came from.
    pub(crate) port: usize,
    pub(crate) len: u16,
    pub(crate) arrival_us: u64,
    pub(crate) frame: [u8; wire::MAX_FRAME],
}

/// A FIFO of `Q` frame slots, frames built and sent in place (no frame is moved).
pub(crate) struct FrameQueue<const Q: usize> {
    slots: [Pending; Q],
    head: usize,
    len: usize,
}

impl<const Q: usize> FrameQueue<Q> {
    fn new() -> Self {
        FrameQueue {
            slots: core::array::from_fn(|_| Pending {
                port: 0,
                len: 0,
                arrival_us: 0,
                frame: [0; wire::MAX_FRAME],
            }),
            head: 0,
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn front(&self) -> Option<&Pending> {
        if self.len == 0 {
            return None;
        }
        self.slots.get(self.head)
    }

    /// The newest frame.
    #[inline]
    pub(crate) fn back(&self) -> Option<&Pending> {
        let last = self.len.checked_sub(1)?;
        self.slots.get((self.head + last) % Q)
    }

    /// The slot after the last frame, now counted in the queue (the caller fills it).
    #[inline]
    pub(crate) fn push(&mut self) -> Option<&mut Pending> {
        if self.len >= Q {
            return None;
        }
        let i = (self.head + self.len) % Q;
        self.len += 1;
        self.slots.get_mut(i)
    }

    /// Removes the newest frame.
    #[inline]
    pub(crate) fn pop_back(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    /// Removes the oldest frame: its slot, valid until the next `push`.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<&mut Pending> {
        if self.len == 0 {
            return None;
        }
        let i = self.head;
        self.head = (self.head + 1) % Q;
        self.len -= 1;
        self.slots.get_mut(i)
    }
}

/// A transmitted VL: its regulator and queue.
pub(crate) struct TxVl<const Q: usize> {
    pub(crate) cfg: VlConfig,
    pub(crate) queue: FrameQueue<Q>,
    /// The regulator's release time of the previous frame (µs).
    pub(crate) last_release_us: Option<u64>,
    pub(crate) next_seq: u8,
    pub(crate) ip_id: u16,
    pub(crate) stats: VlTxStats,
}

/// A received VL: integrity checking per network and redundancy management.
pub(crate) struct RxVl {
    pub(crate) cfg: VlConfig,
    /// Previous sequence number per network (integrity checking).
    pub(crate) prev: [Option<u8>; 2],
    /// Last delivered sequence number and when (redundancy management).
    pub(crate) last: Option<(u8, u64)>,
    pub(crate) stats: VlRxStats,
}

/// A transmit port resolved against the VL table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxPort {
    pub(crate) cfg: TxPortConfig,
    pub(crate) vl: usize,
    pub(crate) addr: Addressing,
}

/// A receive port resolved against the VL table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RxPort {
    pub(crate) cfg: RxPortConfig,
    pub(crate) vl: usize,
}

/// An AFDX end system: `V` VLs per direction, `P` ports per direction, `Q` frames queued
/// per transmitted VL at most.
///
/// It owns no link and no clock: [`poll_tx`](Self::poll_tx) and
/// [`poll_rx`](Self::poll_rx) take the two networks' [`FrameLink`](frame_link::FrameLink)s
/// and the time (`now_us`, µs of a monotonic clock) as arguments. The slice-level cores
/// ([`poll_tx_with`](Self::poll_tx_with), [`receive`](Self::receive)) need no link at all.
pub struct EndSystem<const V: usize, const P: usize, const Q: usize> {
    pub(crate) tx_vls: Vec<TxVl<Q>, V>,
    pub(crate) rx_vls: Vec<RxVl, V>,
    pub(crate) tx_ports: Vec<TxPort, P>,
    pub(crate) rx_ports: Vec<RxPort, P>,
    pub(crate) link_mbps: u32,
    /// When the wire model's transmitter is free again (ns).
    pub(crate) wire_free_ns: u64,
    /// Per network: frames that reached no VL (malformed, unknown VL) and link errors.
    pub(crate) net: [NetStats; 2],
}

impl<const V: usize, const P: usize, const Q: usize> core::fmt::Debug for EndSystem<V, P, Q> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EndSystem")
            .field("tx_vls", &self.tx_vls.len())
            .field("rx_vls", &self.rx_vls.len())
            .field("tx_ports", &self.tx_ports.len())
            .field("rx_ports", &self.rx_ports.len())
            .finish_non_exhaustive()
    }
}

fn too_many(what: &'static str, max: usize) -> EsConfigError {
    EsConfigError::TooMany { what, max }
}

impl<const V: usize, const P: usize, const Q: usize> EndSystem<V, P, Q> {
    /// Checks `cfg` ([`EsConfig::check`], capacities, queue bounds) and builds the end
    /// system. Sequence numbers start at 0 (reset).
    pub fn new(cfg: &EsConfig<'_>) -> Result<Self, EsConfigError> {
        cfg.check()?;
        let mut es = EndSystem {
            tx_vls: Vec::new(),
            rx_vls: Vec::new(),
            tx_ports: Vec::new(),
            rx_ports: Vec::new(),
            link_mbps: cfg.link_mbps,
            wire_free_ns: 0,
            net: Default::default(),
        };
        for v in cfg.tx_vls {
            if v.queue_bound == 0 || usize::from(v.queue_bound) > Q {
                return Err(EsConfigError::QueueBound {
                    vl: v.id,
                    bound: v.queue_bound,
                    max: Q,
                });
            }
            es.tx_vls
                .push(TxVl {
                    cfg: *v,
                    queue: FrameQueue::new(),
                    last_release_us: None,
                    next_seq: 0,
                    ip_id: 0,
                    stats: VlTxStats::default(),
                })
                .map_err(|_| too_many("tx VLs", V))?;
        }
        for v in cfg.rx_vls {
            es.rx_vls
                .push(RxVl {
                    cfg: *v,
                    prev: [None; 2],
                    last: None,
                    stats: VlRxStats::default(),
                })
                .map_err(|_| too_many("rx VLs", V))?;
        }
        for p in cfg.tx_ports {
            let vl = es
                .tx_vls
                .iter()
                .position(|v| v.cfg.id == p.vl)
                .ok_or(EsConfigError::UnknownVl { vl: p.vl })?;
            let addr = Addressing {
                vl: p.vl,
                network_id: cfg.network_id,
                equipment_id: cfg.equipment_id,
                src_ip: cfg.src_ip,
                src_udp: p.src_udp,
                dst_udp: p.dst_udp,
            };
            es.tx_ports
                .push(TxPort { cfg: *p, vl, addr })
                .map_err(|_| too_many("tx ports", P))?;
        }
        for p in cfg.rx_ports {
            let vl = es
                .rx_vls
                .iter()
                .position(|v| v.cfg.id == p.vl)
                .ok_or(EsConfigError::UnknownVl { vl: p.vl })?;
            es.rx_ports
                .push(RxPort { cfg: *p, vl })
                .map_err(|_| too_many("rx ports", P))?;
        }
        Ok(es)
    }

    /// The transmit port that `partition` owns on `vl` with destination UDP port
    /// `dst_udp`.
    pub fn tx_port(&self, partition: PartitionId, vl: u16, dst_udp: u16) -> Option<usize> {
        self.tx_ports.iter().position(|p| {
            p.cfg.partition == partition && p.cfg.vl == vl && p.cfg.dst_udp == dst_udp
        })
    }

    /// The receive port of `vl` with destination UDP port `dst_udp`.
    pub fn rx_port(&self, vl: u16, dst_udp: u16) -> Option<usize> {
        self.rx_ports
            .iter()
            .position(|p| p.cfg.vl == vl && p.cfg.dst_udp == dst_udp)
    }

    /// A transmit port's configuration.
    pub fn tx_port_config(&self, port: usize) -> Option<&TxPortConfig> {
        self.tx_ports.get(port).map(|p| &p.cfg)
    }

    /// A receive port's configuration.
    pub fn rx_port_config(&self, port: usize) -> Option<&RxPortConfig> {
        self.rx_ports.get(port).map(|p| &p.cfg)
    }

    /// The kind of a receive port.
    pub fn rx_port_kind(&self, port: usize) -> Option<PortKind> {
        self.rx_ports.get(port).map(|p| p.cfg.kind)
    }

    /// Statistics of a transmitted VL.
    pub fn tx_stats(&self, vl: u16) -> Option<&VlTxStats> {
        self.tx_vls
            .iter()
            .find(|v| v.cfg.id == vl)
            .map(|v| &v.stats)
    }

    /// Statistics of a received VL.
    pub fn rx_stats(&self, vl: u16) -> Option<&VlRxStats> {
        self.rx_vls
            .iter()
            .find(|v| v.cfg.id == vl)
            .map(|v| &v.stats)
    }

    /// Totals of one network over every VL, plus the frames that reached no VL.
    pub fn net_stats(&self, net: Network) -> NetStats {
        let i = net.index();
        let mut s = self.net[i].clone();
        let nets = self
            .tx_vls
            .iter()
            .map(|v| &v.stats.net[i])
            .chain(self.rx_vls.iter().map(|v| &v.stats.net[i]));
        for n in nets {
            s.tx_frames += n.tx_frames;
            s.tx_bytes += n.tx_bytes;
            s.rx_frames += n.rx_frames;
            s.rx_bytes += n.rx_bytes;
            s.rx_delivered += n.rx_delivered;
            s.rx_link_errors += n.rx_link_errors;
            for (a, b) in s.tx_drops.iter_mut().zip(n.tx_drops) {
                *a += b;
            }
            for (a, b) in s.rx_drops.iter_mut().zip(n.rx_drops) {
                *a += b;
            }
        }
        s
    }
}
