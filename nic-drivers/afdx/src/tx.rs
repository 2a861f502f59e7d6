//! Transmit: per-VL regulators (one frame per BAG, Lmax, queue bound), the scheduler
//! across VLs, sequence numbering, replication onto networks A and B.
//!
//! A frame queued on a VL becomes *eligible* at `max(arrival, previous eligibility +
//! BAG)`: the regulator's output respects the BAG exactly. The scheduler sends, at each
//! poll, every eligible frame in order of eligibility (ties: VL table order), at most one
//! per VL (a BAG is at least 1 ms, twice the jitter bound). A wire model at link speed
//! gives each frame its departure time; with the caller polling at least every
//! technological latency, departure − eligibility stays within the configured worst case,
//! which [`EsConfig::check`](crate::EsConfig::check) keeps within 500 µs. A frame that
//! leaves later is counted ([`VlTxStats::jitter_overruns`](crate::VlTxStats)).

use frame_link::{FrameLink, FrameMeta};
use queuing_port::PartitionId;

use crate::config::{wire_time_ns, Network, PortKind, JITTER_BOUND_US};
use crate::end_system::EndSystem;
use crate::error::TxError;
use crate::stats::TxDrop;
use crate::wire;

/// One network's copy of a frame, handed to the transmit callback.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The network.
    pub network: Network,
    /// The VL.
    pub vl: u16,
    /// Its sequence number.
    pub seq: u8,
    /// When the regulator made it eligible (µs).
    pub eligible_us: u64,
    /// When the wire model starts sending it (ns).
    pub departure_ns: u64,
    /// The frame (no FCS).
    pub frame: &'a [u8],
}

/// What became of one copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Handed to the link.
    Sent,
    /// The link had no room (counted, the copy lost).
    NoRoom,
    /// The link refused it with an error (counted, the copy lost).
    Error,
}

/// The sequence number after `seq`: 0 (reset) and 255 are followed by 1.
#[inline]
pub const fn next_seq(seq: u8) -> u8 {
    if seq == 255 {
        1
    } else {
        seq + 1
    }
}

/// Sends `frame` on `link`: reserve, write (in place when the link lends its buffer),
/// commit.
pub fn send_on<L: FrameLink + ?Sized>(link: &mut L, frame: &[u8]) -> Emit {
    let slot = match link.tx_reserve(frame.len()) {
        Ok(Some(s)) => s,
        Ok(None) => return Emit::NoRoom,
        Err(_) => return Emit::Error,
    };
    if let Some(buf) = link.tx_buffer(&slot) {
        match buf.get_mut(..frame.len()) {
            Some(b) => b.copy_from_slice(frame),
            None => {
                link.tx_abort(slot);
                return Emit::Error;
            }
        }
    } else if link.tx_write(&slot, 0, frame).is_err() {
        link.tx_abort(slot);
        return Emit::Error;
    }
    match link.tx_commit(slot, FrameMeta::NONE) {
        Ok(()) => Emit::Sent,
        Err(_) => Emit::Error,
    }
}

impl<const V: usize, const P: usize, const Q: usize> EndSystem<V, P, Q> {
    /// Queues `msg` from `partition` on transmit port `port` at `now_us`. Refused (and
    /// counted on the VL, except the first two) when the port does not exist, is not the
    /// partition's, the frame would exceed Lmax, or — for a queuing port — the VL's queue
    /// is at its bound. A sampling port's message replaces its own newest frame still
    /// waiting on a full VL queue (counted as `replaced`): the freshest value leaves at
    /// the next BAG.
    pub fn send(
        &mut self,
        partition: PartitionId,
        port: usize,
        msg: &[u8],
        now_us: u64,
    ) -> Result<(), TxError> {
        let p = *self
            .tx_ports
            .get(port)
            .ok_or(TxError::NoSuchPort { port })?;
        if p.cfg.partition != partition {
            return Err(TxError::NotOwner {
                partition: partition.0,
                port,
            });
        }
        let Some(vl) = self.tx_vls.get_mut(p.vl) else {
            return Err(TxError::NoSuchPort { port });
        };
        let frame_len = wire::frame_len(msg.len()) + wire::FCS_LEN;
        if frame_len > usize::from(vl.cfg.lmax) {
            vl.stats.drops[TxDrop::OverLmax.index()] += 1;
            return Err(TxError::OverLmax {
                frame_len,
                lmax: vl.cfg.lmax,
            });
        }
        if vl.queue.len() >= usize::from(vl.cfg.queue_bound) {
            if p.cfg.kind == PortKind::Sampling && vl.queue.back().is_some_and(|b| b.port == port) {
                // A sampling port sends its freshest value: it replaces its own frame
                // still waiting for the BAG (never another port's).
                vl.queue.pop_back();
                vl.stats.replaced += 1;
            } else {
                vl.stats.drops[TxDrop::QueueFull.index()] += 1;
                return Err(TxError::QueueFull { vl: vl.cfg.id });
            }
        }
        let Some(slot) = vl.queue.push() else {
            vl.stats.drops[TxDrop::QueueFull.index()] += 1;
            return Err(TxError::QueueFull { vl: vl.cfg.id });
        };
        // Built in place; the length was checked against Lmax (≤ 1518), so it fits.
        let Some(len) = wire::build(&mut slot.frame, &p.addr, vl.ip_id, msg) else {
            vl.queue.pop_back();
            vl.stats.drops[TxDrop::OverLmax.index()] += 1;
            return Err(TxError::OverLmax {
                frame_len,
                lmax: vl.cfg.lmax,
            });
        };
        slot.port = port;
        slot.len = len as u16;
        slot.arrival_us = now_us;
        vl.ip_id = vl.ip_id.wrapping_add(1);
        vl.stats.queued += 1;
        Ok(())
    }

    /// Messages port `port`'s VL can still queue now (0 for an unknown port).
    pub fn tx_room(&self, port: usize) -> usize {
        self.tx_ports
            .get(port)
            .and_then(|p| self.tx_vls.get(p.vl))
            .map_or(0, |v| {
                usize::from(v.cfg.queue_bound).saturating_sub(v.queue.len())
            })
    }

    /// Frames queued on all VLs.
    pub fn tx_queued(&self) -> usize {
        self.tx_vls.iter().map(|v| v.queue.len()).sum()
    }

    /// When the next queued frame becomes eligible (µs), if any is queued.
    pub fn next_eligible_us(&self) -> Option<u64> {
        self.tx_vls.iter().filter_map(|v| v.eligible_us()).min()
    }

    /// Releases at most `budget` eligible frames at `now_us`, in eligibility order, each
    /// copy handed to `emit` (network A first): the number of frames released.
    pub fn poll_tx_with<F>(&mut self, now_us: u64, budget: usize, mut emit: F) -> usize
    where
        F: FnMut(&Outgoing<'_>) -> Emit,
    {
        let mut released = 0;
        while released < budget {
            let mut best: Option<(usize, u64)> = None;
            for (i, v) in self.tx_vls.iter().enumerate() {
                if let Some(e) = v.eligible_us() {
                    if e <= now_us && best.is_none_or(|(_, b)| e < b) {
                        best = Some((i, e));
                    }
                }
            }
            let Some((i, eligible_us)) = best else {
                break;
            };
            let Some(vl) = self.tx_vls.get_mut(i) else {
                break;
            };
            let Some(p) = vl.queue.pop_front() else {
                break;
            };
            vl.last_release_us = Some(eligible_us);
            let seq = vl.next_seq;
            vl.next_seq = next_seq(seq);
            vl.stats.released += 1;
            let len = usize::from(p.len).min(wire::MAX_FRAME);
            let departure_ns = (now_us.saturating_mul(1000)).max(self.wire_free_ns);
            self.wire_free_ns = departure_ns.saturating_add(wire_time_ns(len, self.link_mbps));
            let jitter = departure_ns.saturating_sub(eligible_us.saturating_mul(1000));
            vl.stats.max_jitter_ns = vl.stats.max_jitter_ns.max(jitter);
            if jitter > JITTER_BOUND_US * 1000 {
                vl.stats.jitter_overruns += 1;
            }
            for net in Network::BOTH {
                if !vl.cfg.networks.contains(net) {
                    continue;
                }
                let frame = &mut p.frame[..len];
                wire::stamp(frame, net, seq);
                let out = Outgoing {
                    network: net,
                    vl: vl.cfg.id,
                    seq,
                    eligible_us,
                    departure_ns,
                    frame,
                };
                let s = &mut vl.stats.net[net.index()];
                match emit(&out) {
                    Emit::Sent => {
                        s.tx_frames += 1;
                        s.tx_bytes += len as u64;
                    }
                    Emit::NoRoom => {
                        event!(
                            debug,
                            "afdx: network {} had no room for a frame",
                            net.index()
                        );
                        s.tx_drops[TxDrop::NoRoom.index()] += 1;
                    }
                    Emit::Error => {
                        event!(debug, "afdx: network {} refused a frame", net.index());
                        s.tx_drops[TxDrop::LinkError.index()] += 1;
                    }
                }
            }
            released += 1;
        }
        released
    }

    /// [`poll_tx_with`](Self::poll_tx_with) onto the two networks' links.
    pub fn poll_tx<A, B>(&mut self, now_us: u64, a: &mut A, b: &mut B, budget: usize) -> usize
    where
        A: FrameLink + ?Sized,
        B: FrameLink + ?Sized,
    {
        self.poll_tx_with(now_us, budget, |o| match o.network {
            Network::A => send_on(a, o.frame),
            Network::B => send_on(b, o.frame),
        })
    }
}

impl<const Q: usize> crate::end_system::TxVl<Q> {
    /// When the head frame is (or becomes) eligible.
    #[inline]
    pub(crate) fn eligible_us(&self) -> Option<u64> {
        let head = self.queue.front()?;
        Some(match self.last_release_us {
            Some(r) => head.arrival_us.max(r.saturating_add(self.cfg.bag_us())),
            None => head.arrival_us,
        })
    }
}
