//! Receive: frame validation, integrity checking per VL and network, redundancy
//! management per VL, port lookup.
//!
//! * **Integrity checking** (per VL and network): a sequence number is valid if it is 0
//!   (the sender reset), the first seen, or the previous one + 1 or + 2 (wrapping 255 →
//!   1). An invalid frame is discarded and counted; the checker takes its number as the
//!   new previous one, so a network resynchronises after a burst of losses.
//! * **Redundancy management** (per VL): the first valid copy wins. A frame is delivered
//!   if its number is ahead of the last delivered one (by 1..=127 in the 1..=255 cycle),
//!   or if more than the VL's skew max has passed since the last delivery (so a reset,
//!   number 0, is taken once the skew max has passed); otherwise it is a redundant copy
//!   (or older than what was delivered) and discarded. Each number is delivered at most once as long as all
//!   copies of a frame arrive within the skew max of each other.

use frame_link::FrameLink;
use queuing_port::PartitionId;

use crate::config::{Network, PortKind};
use crate::end_system::{EndSystem, RxVl};
use crate::error::{FrameError, RxError};
use crate::stats::RxDrop;
use crate::tx::next_seq;
use crate::wire;

/// A message delivered by redundancy management.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'f> {
    /// The receive port (index in the configuration's `rx_ports`).
    pub port: usize,
    /// The partition the port belongs to.
    pub partition: PartitionId,
    /// Sampling or queuing.
    pub kind: PortKind,
    /// The VL.
    pub vl: u16,
    /// The network whose copy won.
    pub network: Network,
    /// The sequence number.
    pub seq: u8,
    /// The message (the UDP payload, padding included).
    pub payload: &'f [u8],
}

/// Whether `seq` is in the integrity window after `prev`.
#[inline]
pub const fn in_window(prev: u8, seq: u8) -> bool {
    let n1 = next_seq(prev);
    seq == 0 || seq == n1 || seq == next_seq(n1)
}

/// Whether `seq` is ahead of `last` (redundancy management): by 1..=127 in the cycle
/// 0, 1..=255, 1..; 0 (a reset) is never ahead, it is taken only once the skew max has
/// passed since the last delivery.
#[inline]
pub const fn ahead(last: u8, seq: u8) -> bool {
    if seq == 0 {
        return false;
    }
    let d = if last == 0 {
        seq as u16
    } else {
        (seq as u16 + 255 - last as u16) % 255
    };
    d >= 1 && d <= 127
}

impl RxVl {
    /// Integrity checking on network `n`: `Err(prev)` when outside the window.
    #[inline]
    fn check_integrity(&mut self, n: usize, seq: u8) -> Result<(), u8> {
        let Some(slot) = self.prev.get_mut(n) else {
            return Ok(());
        };
        let r = match *slot {
            Some(prev) if !in_window(prev, seq) => Err(prev),
            _ => Ok(()),
        };
        *slot = Some(seq);
        r
    }

    /// Redundancy management: whether this copy is the first valid one.
    #[inline]
    fn first_copy(&mut self, seq: u8, now_us: u64) -> bool {
        let fresh = match self.last {
            None => true,
            Some((last, t)) => {
                now_us.saturating_sub(t) > u64::from(self.cfg.skew_max_us) || ahead(last, seq)
            }
        };
        if fresh {
            self.last = Some((seq, now_us));
        }
        fresh
    }
}

impl<const V: usize, const P: usize, const Q: usize> EndSystem<V, P, Q> {
    /// Takes one frame received on `net` at `now_us`: the message to deliver, `Ok(None)`
    /// for a redundant copy, or why it was dropped. Every outcome is counted.
    pub fn receive<'f>(
        &mut self,
        net: Network,
        frame: &'f [u8],
        now_us: u64,
    ) -> Result<Option<Delivery<'f>>, RxError> {
        let n = net.index();
        let counted = |s: &mut crate::stats::NetStats, r: RxDrop| {
            if r != RxDrop::Redundant {
                event!(debug, "afdx: network {} dropped a received frame: {}", n, r);
            }
            if let Some(c) = s.rx_drops.get_mut(r.index()) {
                *c += 1;
            }
        };
        let f = match wire::parse(frame) {
            Ok(f) if f.network == net => f,
            Ok(f) => {
                self.net[n].rx_frames += 1;
                counted(&mut self.net[n], RxDrop::Malformed);
                return Err(RxError::Frame(FrameError::Source {
                    last: f.network.interface_id() << 5,
                }));
            }
            Err(e) => {
                self.net[n].rx_frames += 1;
                counted(&mut self.net[n], RxDrop::Malformed);
                return Err(e.into());
            }
        };
        let Some(vl_index) = self.rx_vls.iter().position(|v| v.cfg.id == f.vl) else {
            self.net[n].rx_frames += 1;
            counted(&mut self.net[n], RxDrop::UnknownVl);
            return Err(RxError::UnknownVl { vl: f.vl });
        };
        let Some(vl) = self.rx_vls.get_mut(vl_index) else {
            return Err(RxError::UnknownVl { vl: f.vl });
        };
        let s = &mut vl.stats.net[n];
        s.rx_frames += 1;
        s.rx_bytes += frame.len() as u64;
        if !vl.cfg.networks.contains(net) {
            counted(s, RxDrop::WrongNetwork);
            return Err(RxError::WrongNetwork { vl: f.vl });
        }
        let frame_len = frame.len() + wire::FCS_LEN;
        if frame_len > usize::from(vl.cfg.lmax) {
            counted(s, RxDrop::OverLmax);
            return Err(RxError::OverLmax {
                vl: f.vl,
                frame_len,
            });
        }
        if let Err(prev) = vl.check_integrity(n, f.seq) {
            counted(&mut vl.stats.net[n], RxDrop::Integrity);
            return Err(RxError::Integrity {
                vl: f.vl,
                prev,
                got: f.seq,
            });
        }
        if !vl.first_copy(f.seq, now_us) {
            counted(&mut vl.stats.net[n], RxDrop::Redundant);
            return Ok(None);
        }
        let Some((port, p)) = self
            .rx_ports
            .iter()
            .enumerate()
            .find(|(_, p)| p.vl == vl_index && p.cfg.dst_udp == f.dst_udp)
        else {
            counted(&mut vl.stats.net[n], RxDrop::NoPort);
            return Err(RxError::UnknownPort {
                vl: f.vl,
                udp: f.dst_udp,
            });
        };
        vl.stats.net[n].rx_delivered += 1;
        vl.stats.delivered += 1;
        Ok(Some(Delivery {
            port,
            partition: p.cfg.partition,
            kind: p.cfg.kind,
            vl: f.vl,
            network: net,
            seq: f.seq,
            payload: f.payload,
        }))
    }

    /// Takes at most `budget` frames from the two networks' links (alternating, A
    /// first), hands each delivered message to `deliver`, releases every frame: the
    /// number of frames taken.
    pub fn poll_rx<A, B, F>(
        &mut self,
        now_us: u64,
        a: &mut A,
        b: &mut B,
        budget: usize,
        mut deliver: F,
    ) -> usize
    where
        A: FrameLink + ?Sized,
        B: FrameLink + ?Sized,
        F: FnMut(&Delivery<'_>),
    {
        let mut taken = 0;
        let mut idle = [false; 2];
        while taken < budget && !(idle[0] && idle[1]) {
            for net in Network::BOTH {
                if taken >= budget || idle[net.index()] {
                    continue;
                }
                let got = match net {
                    Network::A => self.take_one(net, a, now_us, &mut deliver),
                    Network::B => self.take_one(net, b, now_us, &mut deliver),
                };
                if got {
                    taken += 1;
                } else {
                    idle[net.index()] = true;
                }
            }
        }
        taken
    }

    fn take_one<L, F>(&mut self, net: Network, link: &mut L, now_us: u64, deliver: &mut F) -> bool
    where
        L: FrameLink + ?Sized,
        F: FnMut(&Delivery<'_>),
    {
        let slot = match link.rx_take() {
            Ok(Some(s)) => s,
            Ok(None) => return false,
            Err(_) => {
                self.net[net.index()].rx_link_errors += 1;
                return false;
            }
        };
        if let Ok(Some(d)) = self.receive(net, link.rx_frame(&slot), now_us) {
            deliver(&d);
        }
        link.rx_release(slot);
        true
    }
}
