//! The switch: ports, the MAC table and the bounded `poll`.
//!
//! # One poll
//!
//! 1. **Ingress**, round-robin over the ports starting after the last port served in the
//!    previous poll, one turn per port per round, until `budget` frames are handled or
//!    a whole round finds nothing. A turn takes a burst of at most
//!    `clamp(budget / ports, 1, BURST)` frames from the port ([`BURST`] = 16), so with a
//!    budget of at least one frame per port every busy port is served in the first
//!    round. Each frame is classified on a private copy of its header (see the
//!    forwarding rules in the crate README), mirrored with its verdict, charged to the
//!    port's rate budget, then copied once into a reserved slot of each destination and
//!    the slot queued in the destination's egress queue for the frame's traffic class.
//!
//!    **Fast path.** A port with no per-frame extras on ingress (not the monitor, no
//!    EtherType allow-list, no rate budget, not mirrored) first offers each frame to
//!    the fast path: an untagged unicast frame in the port's own VLAN whose one
//!    destination has a single traffic class and is not mirrored. It makes the same
//!    checks as the full path in a cheaper form (a precomputed reachability mask per
//!    port stands for VLAN membership and isolation) and the same copy, commit and
//!    counters; anything else (tagged, group or unknown destinations from the uplink,
//!    any drop reason but `QueueFull`) it declines, unchanged, to the full path. A
//!    property test checks that both decide alike.
//! 2. **Egress**: every port's queues are committed to its link in strict priority
//!    order (class 7 first). A port with a single class has nothing to reorder: its
//!    frames are committed as soon as they are written.
//! 3. **Service**: every port's [`FrameLink::service`] is called once, with the poll's
//!    budget: the link publishes what was committed, notifies its peer, takes back
//!    transmitted buffers and reads the peer's notifications. A failing link is counted
//!    ([`PortStats::service_errors`], by kind) and the poll goes on.
//!
//! When a destination has no free slot, a queued frame of a lower class of that port
//! (from this poll) is given up for the higher-class one (counted in
//! [`PortStats::tx_queue_full`]); strict priority therefore decides who gets the slots
//! of a congested port.
//!
//! # Worst case per call
//!
//! At most `budget` ingress frames, at most [`BURST`] of them from one port before every
//! other busy port had its turn; each costs at most two header parses (a frame the fast
//! path declines is classified again by the full path), at most five MAC table
//! operations of at most [`PROBE_LIMIT`](crate::PROBE_LIMIT) probes each (two on the
//! fast path, three on the full path: destination, spoofing check and learning on the
//! uplink; a learn also takes at most one aged-out entry off its port's quota), and
//! for a flooded frame one pass over the `P` ports and up to `P - 1` copies. Port visits
//! (turns) are bounded by `(budget + 1) * P`; egress commits by the number of copies
//! made in this call; `service` calls by `P`. Nothing waits or loops on peer data.

use crate::error::GroupError;
use crate::forward::{FastCtx, Route};
use crate::mac_table::MacTable;
use crate::monitor::{Direction, NoTap, Tap, TapEvent, Verdict};
use crate::policy::{Hot, PortConfig, Role, TokenBucket, MAX_CLASSES};
use crate::ring::IndexRing;
use crate::stats::{DropReason, PortStats};
use crate::wire::{MacAddress, RawHeader, VlanTag, HEADER_LEN, MAX_HEADER_LEN};
use frame_link::{FrameLink, FrameMeta, RxSlot, TxSlot};

/// A port's index in the switch (the order in which ports were added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub(crate) u8);

impl PortId {
    /// The id of the port at `index` (methods taking a `PortId` check it exists).
    pub const fn new(index: u8) -> Self {
        PortId(index)
    }
    /// The port's index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

const CLASSES: usize = MAX_CLASSES as usize;

/// Most frames one port takes in one round-robin turn of [`Switch::poll`] (fewer when
/// the budget is small: `clamp(budget / ports, 1, BURST)`).
pub const BURST: usize = 16;

/// A frame reserved, written and waiting in an egress queue for its commit.
#[derive(Debug, Clone, Copy)]
struct Queued {
    index: u16,
    len: u16,
    meta: FrameMeta,
}

impl Queued {
    const EMPTY: Queued = Queued {
        index: 0,
        len: 0,
        meta: FrameMeta::NONE,
    };
}

/// One port: its link, policy, counters, rate state and egress queues.
pub(crate) struct Port<E, const Q: usize> {
    /// The per-frame fields of `cfg`.
    pub(crate) hot: Hot,
    pub(crate) ep: E,
    pub(crate) cfg: PortConfig,
    pub(crate) stats: PortStats,
    /// A frame taken but waiting for rate budget.
    held: Option<RxSlot>,
    /// Byte and frame buckets.
    rate: Option<(TokenBucket, TokenBucket)>,
    /// Reserved, written, not yet committed slots per traffic class.
    queues: [IndexRing<Q, Queued>; CLASSES],
    /// Fast-path destinations of this port's untagged frames (see
    /// [`fast_reach`](crate::forward::fast_reach)); set when the switch is built.
    pub(crate) reach: u64,
}

impl<E, const Q: usize> Port<E, Q> {
    pub(crate) fn new(ep: E, cfg: PortConfig) -> Self {
        let rate = cfg.rate.map(|r| {
            (
                TokenBucket::new(r.bytes_per_sec, r.byte_burst),
                TokenBucket::new(r.frames_per_sec, r.frame_burst),
            )
        });
        Port {
            hot: Hot::new(&cfg),
            ep,
            cfg,
            stats: PortStats::default(),
            held: None,
            rate,
            queues: [const { IndexRing::new(Queued::EMPTY) }; CLASSES],
            reach: 0,
        }
    }
}

impl<E: FrameLink, const Q: usize> Port<E, Q> {
    /// Hands one written frame to the link: counted as transmitted, or (refused) as a
    /// transmit error by its kind. `false` if refused.
    #[inline(always)]
    fn commit(&mut self, tx: TxSlot, meta: FrameMeta) -> bool {
        let len = tx.len() as u64;
        match self.ep.tx_commit(tx, meta) {
            Ok(()) => {
                self.stats.tx_frames += 1;
                self.stats.tx_bytes += len;
                true
            }
            Err(e) => {
                self.stats.tx_errors += 1;
                self.stats.fault(&e);
                false
            }
        }
    }

    /// Commits every queued slot, highest class first.
    #[inline(never)]
    fn commit_queued(&mut self) {
        for c in (0..CLASSES).rev() {
            while let Some(q) = self.queues[c].pop_front() {
                self.commit(TxSlot::new(q.index, usize::from(q.len)), q.meta);
            }
        }
    }

    /// Reserves `len` bytes: `None` when the link has no room, `Some(Err(()))` when it
    /// refused (the error counted by kind here, the copy by the caller).
    #[inline]
    fn try_reserve(&mut self, len: usize) -> Option<Result<TxSlot, ()>> {
        match self.ep.tx_reserve(len) {
            Ok(Some(t)) => Some(Ok(t)),
            Ok(None) => None,
            Err(e) => {
                self.stats.fault(&e);
                Some(Err(()))
            }
        }
    }

    /// [`try_reserve`](Self::try_reserve); if the link is full, gives up the newest
    /// queued frame of the lowest class below `class` and retries once.
    fn reserve(&mut self, len: usize, class: usize) -> Option<Result<TxSlot, ()>> {
        if let Some(t) = self.try_reserve(len) {
            return Some(t);
        }
        let victim = self
            .queues
            .get_mut(..class)?
            .iter_mut()
            .find_map(|q| q.pop_back())?;
        self.stats.tx_queue_full += 1;
        self.ep
            .tx_abort(TxSlot::new(victim.index, usize::from(victim.len)));
        self.try_reserve(len)
    }

    /// Takes the next frame; a link error is counted (by kind) and ends the port's turn.
    #[inline(always)]
    fn take(&mut self) -> Option<RxSlot> {
        match self.ep.rx_take() {
            Ok(slot) => slot,
            Err(e) => {
                self.stats.rx_errors += 1;
                self.stats.fault(&e);
                None
            }
        }
    }

    /// Rate check for a frame of `len` bytes: `true` if within budget (and charged).
    #[inline]
    fn charge(&mut self, len: usize, now_ns: u64) -> bool {
        let Some((bytes, frames)) = &mut self.rate else {
            return true;
        };
        let len = len as u64;
        if !(bytes.has(len) && frames.has(1)) {
            bytes.refill(now_ns);
            frames.refill(now_ns);
        }
        if bytes.has(len) && frames.has(1) {
            bytes.take(len);
            frames.take(1);
            true
        } else {
            false
        }
    }
}

/// The TCI a frame of VLAN `vid` carries when it leaves a port, if tagged there.
#[inline]
fn egress_tci(hot: &Hot, vid: u16, pcp: u8) -> Option<u16> {
    hot.tags(vid).then_some(VlanTag { pcp, vid }.tci())
}

/// What happened to one port's turn.
enum Step {
    Handled,
    Idle,
    Deferred,
}

/// The outcome of one [`Switch::fast_run`].
#[derive(Default)]
struct FastRun {
    /// Frames decided on the fast path.
    handled: usize,
    /// The port had no more frames.
    empty: bool,
    /// A frame the fast path declined, for the full path.
    declined: Option<RxSlot>,
    /// The source (VLAN, address) of the last frame, to learn.
    learn: Option<(u16, u64)>,
}

/// Sends a fast-path frame (`head`, then `payload` from the source slot) to `dst` in
/// one [`FrameLink::tx_send`], with the source's offload metadata. `false` if `dst` had
/// no room or refused it (counted at `dst`).
#[inline(always)]
fn deliver_fast<E: FrameLink, const Q: usize>(
    src: &Port<E, Q>,
    slot: &RxSlot,
    dst: &mut Port<E, Q>,
    head: &[u8],
    payload: &[u8],
) -> bool {
    let meta = src.ep.rx_meta(slot);
    let sent = if meta.is_none() {
        // No offload state (most frames): the constant, not the value just read.
        dst.ep.tx_send(head, payload, FrameMeta::NONE)
    } else if head.is_empty() {
        dst.ep.tx_send(head, payload, meta)
    } else {
        dst.ep
            .tx_send(head, payload, meta.moved(HEADER_LEN, head.len()))
    };
    match sent {
        Ok(true) => {
            dst.stats.tx_frames += 1;
            dst.stats.tx_bytes += (head.len() + payload.len()) as u64;
            true
        }
        Ok(false) => {
            dst.stats.tx_queue_full += 1;
            false
        }
        Err(e) => {
            dst.stats.tx_errors += 1;
            dst.stats.fault(&e);
            false
        }
    }
}

/// The virtual Ethernet switch over `P` ports of link type `E` (any [`FrameLink`]), with
/// a MAC table of `M` buckets and egress queues of `Q` frames per traffic class.
///
/// Built with [`SwitchBuilder`](crate::SwitchBuilder). Ports of different kinds share
/// one switch through an enum made with [`frame_link::link_enum!`], or as
/// `&mut dyn FrameLink<Error = _>` / `Box<dyn FrameLink<Error = _>>`.
pub struct Switch<E, const P: usize, const M: usize = 1024, const Q: usize = 32> {
    pub(crate) ports: heapless::Vec<Port<E, Q>, P>,
    pub(crate) table: MacTable<M>,
    pub(crate) uplink: Option<u8>,
    pub(crate) monitor: Option<u8>,
    /// The smallest `max_frame` of all ports: frames shorter by a tag fit everywhere.
    pub(crate) fits_everywhere: usize,
    next: usize,
}

impl<E: FrameLink, const P: usize, const M: usize, const Q: usize> Switch<E, P, M, Q> {
    pub(crate) fn from_parts(
        ports: heapless::Vec<Port<E, Q>, P>,
        table: MacTable<M>,
        uplink: Option<u8>,
        monitor: Option<u8>,
    ) -> Self {
        let fits_everywhere = ports
            .iter()
            .map(|p| usize::from(p.cfg.max_frame))
            .min()
            .unwrap_or(0);
        let mut ports = ports;
        for s in 0..ports.len() {
            let reach = crate::forward::fast_reach(s, &ports);
            ports[s].reach = reach;
        }
        Switch {
            ports,
            table,
            uplink,
            monitor,
            fits_everywhere,
            next: 0,
        }
    }

    /// Number of ports.
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// The uplink, if configured.
    pub fn uplink(&self) -> Option<PortId> {
        self.uplink.map(PortId)
    }

    /// The monitor port, if configured.
    pub fn monitor(&self) -> Option<PortId> {
        self.monitor.map(PortId)
    }

    /// The counters of a port.
    pub fn stats(&self, port: PortId) -> Option<&PortStats> {
        self.ports.get(port.index()).map(|p| &p.stats)
    }

    /// The configuration of a port.
    pub fn config(&self, port: PortId) -> Option<&PortConfig> {
        self.ports.get(port.index()).map(|p| &p.cfg)
    }

    /// The link of a port.
    pub fn endpoint(&self, port: PortId) -> Option<&E> {
        self.ports.get(port.index()).map(|p| &p.ep)
    }

    /// The link of a port, mutably (e.g. for a test peer to inject frames).
    pub fn endpoint_mut(&mut self, port: PortId) -> Option<&mut E> {
        self.ports.get_mut(port.index()).map(|p| &mut p.ep)
    }

    /// Joins `group` on `port` (idempotent).
    pub fn join_group(&mut self, port: PortId, group: MacAddress) -> Result<(), GroupError> {
        let p = self
            .ports
            .get_mut(port.index())
            .ok_or(GroupError::NoPort(port.0))?;
        if !group.is_multicast() {
            return Err(GroupError::NotGroup(group));
        }
        if p.cfg.groups.contains(&group) {
            return Ok(());
        }
        let cap = p.cfg.groups.capacity();
        p.cfg.groups.push(group).map_err(|_| GroupError::Full(cap))
    }

    /// Leaves `group` on `port`; `Ok(false)` if it was not joined.
    pub fn leave_group(&mut self, port: PortId, group: MacAddress) -> Result<bool, GroupError> {
        let p = self
            .ports
            .get_mut(port.index())
            .ok_or(GroupError::NoPort(port.0))?;
        match p.cfg.groups.iter().position(|g| *g == group) {
            Some(i) => {
                p.cfg.groups.swap_remove(i);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Handles at most `budget` ingress frames at time `now_ns` (see the
    /// [module documentation](self) for the order and the worst case). Returns the
    /// number of frames handled (forwarded or dropped).
    ///
    /// Round-robin over the ports, starting after the last port served: each port takes
    /// at most one burst of `clamp(budget / ports, 1, BURST)` frames per turn (see
    /// [`BURST`]), so with a budget of at least one frame per port every busy port is
    /// served in the first round, and no port takes more than [`BURST`] frames before
    /// every other busy port had its turn.
    pub fn poll(&mut self, now_ns: u64, budget: usize) -> usize {
        self.poll_tap(now_ns, budget, &mut NoTap)
    }

    /// [`poll`](Self::poll), handing mirrored frames with their verdict to `tap`.
    pub fn poll_tap<T: Tap>(&mut self, now_ns: u64, budget: usize, tap: &mut T) -> usize {
        let n = self.ports.len();
        let mut handled = 0;
        if n == 0 {
            return 0;
        }
        let burst = (budget / n).clamp(1, BURST);
        let start = self.next % n;
        let mut deferred: u64 = 0;
        'rounds: while handled < budget {
            let mut progress = false;
            let mut s = start;
            for _ in 0..n {
                if handled >= budget {
                    break 'rounds;
                }
                let here = s;
                s += 1;
                if s == n {
                    s = 0;
                }
                if deferred & (1 << here) != 0 {
                    continue;
                }
                let max = burst.min(budget - handled);
                let (k, defer) = self.ingress_burst(here, max, now_ns, tap);
                if k > 0 {
                    handled += k;
                    progress = true;
                    self.next = here + 1;
                }
                if defer {
                    deferred |= 1 << here;
                }
            }
            if !progress {
                break;
            }
        }
        let service_budget = u16::try_from(budget).unwrap_or(u16::MAX);
        for p in self.ports.iter_mut() {
            // A port with one class commits every frame as it is written.
            if p.hot.classes > 1 {
                p.commit_queued();
            }
            // The link's housekeeping: publish what was committed, notify the peer,
            // take back transmitted buffers, repost receive buffers.
            if let Err(e) = p.ep.service(service_budget) {
                p.stats.service_errors += 1;
                p.stats.fault(&e);
            }
        }
        handled
    }

    /// One turn of port `s`: at most `max` frames. Returns the frames handled and
    /// whether the port waits for rate budget (deferred for the rest of the poll).
    ///
    /// On a port with [`fast_in`](Hot::fast_in) set, frames go through
    /// [`fast_run`](Self::fast_run); a frame it declines takes the full path,
    /// unchanged, and the run goes on after it.
    #[inline(never)]
    fn ingress_burst<T: Tap>(
        &mut self,
        s: usize,
        max: usize,
        now_ns: u64,
        tap: &mut T,
    ) -> (usize, bool) {
        let Some(port) = self.ports.get(s) else {
            return (0, false);
        };
        let fast = port.hot.fast_in && port.held.is_none();
        let mut k = 0;
        while k < max {
            let step = if fast {
                let run = self.fast_run(s, max - k, now_ns);
                k += run.handled;
                if let Some((vid, mac)) = run.learn {
                    self.learn(s, vid, mac, now_ns);
                }
                match run.declined {
                    Some(slot) => self.ingress_slot(s, slot, now_ns, tap),
                    None if run.empty => Step::Idle,
                    None => continue,
                }
            } else {
                self.ingress_one(s, now_ns, tap)
            };
            match step {
                Step::Handled => k += 1,
                Step::Idle => break,
                Step::Deferred => return (k, true),
            }
        }
        (k, false)
    }

    /// The fast path over frames of port `s`: each untagged unicast frame that
    /// [`FastCtx::route`] accepts is copied and committed to its one destination, until
    /// `max` frames are handled, the port has no frame, a frame is declined (returned,
    /// nothing changed for it), or a frame's source is to be learned (returned, for the
    /// caller to learn). The port's ingress counters are added once per run.
    ///
    /// A fast frame is decided as on the full path: forwarded, or (no room at the
    /// destination, which has one class and so no lower class to give up a slot, or a
    /// refused write) dropped as [`QueueFull`](DropReason::QueueFull).
    fn fast_run(&mut self, s: usize, max: usize, now_ns: u64) -> FastRun {
        let mut run = FastRun::default();
        let ctx = FastCtx {
            table: &self.table,
            uplink: self.uplink,
            fits_everywhere: self.fits_everywhere,
        };
        let at = s.min(self.ports.len());
        let (before, rest) = self.ports.split_at_mut(at);
        let Some((src, after)) = rest.split_first_mut() else {
            run.empty = true;
            return run;
        };
        let dropped_before = src.stats.rx_drops[DropReason::QueueFull.index()];
        while run.handled < max {
            let Some(slot) = src.take() else {
                break;
            };
            let frame = src.ep.rx_frame(&slot);
            let frame = frame.get(..slot.len()).unwrap_or(frame);
            let dst = ctx
                .route(s, src, frame, now_ns)
                .and_then(|d| match d.checked_sub(s + 1) {
                    Some(a) => after.get_mut(a),
                    None => before.get_mut(d),
                });
            // `route` accepted the frame: it has a valid untagged header, read again
            // from the private copy where needed (a tagged egress, learning).
            let (Some(dst), Some(h)) = (dst, frame.first_chunk::<HEADER_LEN>()) else {
                run.declined = Some(slot);
                break;
            };
            let len = frame.len();
            let tci = egress_tci(&dst.hot, src.hot.home_vid, src.hot.default_pcp);
            let ok = if let Some(tci) = tci {
                let head = RawHeader::tag_untagged(h, tci);
                let payload = frame.get(HEADER_LEN..).unwrap_or(&[]);
                deliver_fast(src, &slot, dst, &head, payload)
            } else {
                // Untagged on egress too: the header the full path would build from the
                // private copy is the frame's own first 14 bytes (private memory, just
                // validated), so the frame is copied whole.
                deliver_fast(src, &slot, dst, &[], frame)
            };
            // Counted in place: nothing more to keep in registers across the copy.
            src.stats.rx_bytes += len as u64;
            if !ok {
                src.stats.rx_drops[DropReason::QueueFull.index()] += 1;
            }
            run.handled += 1;
            let learn = src.hot.learning.then(|| RawHeader::untagged(h).src);
            src.ep.rx_release(slot);
            if let Some(mac) = learn {
                run.learn = Some((src.hot.home_vid, mac));
                break;
            }
        }
        // The port had no more frames if the run ended for no other reason (set here, not
        // on every frame).
        run.empty = run.handled < max && run.declined.is_none() && run.learn.is_none();
        let dropped =
            src.stats.rx_drops[DropReason::QueueFull.index()].wrapping_sub(dropped_before);
        src.stats.rx_frames += run.handled as u64;
        src.stats.rx_forwarded += run.handled as u64 - dropped;
        if dropped > 0 {
            event!(
                debug,
                "vnet-switch: port {} dropped {} frames: queue full",
                s,
                dropped
            );
        }
        run
    }

    /// Takes, classifies and forwards or drops one frame of port `s` (the full path).
    fn ingress_one<T: Tap>(&mut self, s: usize, now_ns: u64, tap: &mut T) -> Step {
        let Some(port) = self.ports.get_mut(s) else {
            return Step::Idle;
        };
        if port.hot.role == Role::Monitor {
            return Step::Idle;
        }
        let Some(slot) = port.held.take().or_else(|| port.take()) else {
            return Step::Idle;
        };
        self.ingress_slot(s, slot, now_ns, tap)
    }

    /// Classifies and forwards or drops one taken frame of port `s` (the full path).
    #[inline(never)]
    fn ingress_slot<T: Tap>(&mut self, s: usize, slot: RxSlot, now_ns: u64, tap: &mut T) -> Step {
        let frame = self.ports[s].ep.rx_frame(&slot);
        let len = frame.len().min(slot.len());
        let decision = self.classify(s, &frame[..len], now_ns);

        let verdict = match decision {
            Err(reason) => Err(reason),
            Ok(route) => {
                if route.learn {
                    self.learn(s, route.vid, route.header.src, now_ns);
                }
                let port = &mut self.ports[s];
                if port.charge(len, now_ns) {
                    match self.deliver(s, &slot, &route, now_ns, tap) {
                        0 => Err(DropReason::QueueFull),
                        c => Ok(c),
                    }
                } else if port.ep.rx_pending() < usize::from(port.cfg.rate.map_or(0, |r| r.queue)) {
                    port.held = Some(slot);
                    return Step::Deferred;
                } else {
                    Err(DropReason::Rate)
                }
            }
        };

        if self.ports[s].hot.mirror_in {
            let event = TapEvent {
                port: PortId(s as u8),
                direction: Direction::Ingress,
                verdict: match verdict {
                    Ok(c) => Verdict::Forwarded { copies: c },
                    Err(r) => Verdict::Dropped(r),
                },
                time_ns: now_ns,
            };
            self.mirror(s, &slot, &[], 0, &event, tap);
        }
        let port = &mut self.ports[s];
        port.stats.rx_frames += 1;
        port.stats.rx_bytes += len as u64;
        match verdict {
            Ok(_) => port.stats.rx_forwarded += 1,
            Err(r) => {
                event!(
                    debug,
                    "vnet-switch: port {} dropped a frame: {}",
                    s,
                    r.as_str()
                );
                port.stats.rx_drops[r.index()] += 1;
            }
        }
        port.ep.rx_release(slot);
        Step::Handled
    }

    /// Learns the source of a frame that arrived on `s` (a learning uplink), within the
    /// port's quota of live learned entries.
    #[inline(never)]
    fn learn(&mut self, s: usize, vid: u16, mac: u64, now_ns: u64) {
        let quota = self.ports[s].cfg.mac_quota;
        if self.table.learn(vid, mac, s as u8, now_ns, quota).is_err() {
            self.ports[s].stats.learn_refused += 1;
        }
    }

    /// Copies the frame into every destination of `route`; returns the copies made.
    fn deliver<T: Tap>(
        &mut self,
        s: usize,
        slot: &RxSlot,
        route: &Route,
        now_ns: u64,
        tap: &mut T,
    ) -> u8 {
        let mut copies = 0u8;
        let mut mask = route.destinations;
        while mask != 0 {
            let d = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if let Some(written) = self.copy_to(s, d, slot, route) {
                copies += 1;
                if self.ports[d].hot.mirror_out {
                    let (head, hl) = written;
                    let event = TapEvent {
                        port: PortId(d as u8),
                        direction: Direction::Egress,
                        verdict: Verdict::Forwarded { copies: 1 },
                        time_ns: now_ns,
                    };
                    self.mirror(
                        s,
                        slot,
                        &head[..hl],
                        usize::from(route.header.payload_offset),
                        &event,
                        tap,
                    );
                }
            }
        }
        copies
    }

    /// Copies one frame from `s` to `d`: the header built from the private copy, the
    /// payload straight from the source slot. Returns the header written.
    #[inline]
    fn copy_to(
        &mut self,
        s: usize,
        d: usize,
        slot: &RxSlot,
        route: &Route,
    ) -> Option<([u8; MAX_HEADER_LEN], usize)> {
        let [src, dst] = self.ports.get_disjoint_mut([s, d]).ok()?;
        let frame = src.ep.rx_frame(slot);
        let frame = frame.get(..slot.len()).unwrap_or(frame);
        let payload = frame
            .get(usize::from(route.header.payload_offset)..)
            .unwrap_or(&[]);
        let mut head = [0u8; MAX_HEADER_LEN];
        let hl = route
            .header
            .emit(egress_tci(&dst.hot, route.vid, route.pcp), &mut head);
        let class = if dst.hot.classes > 1 {
            dst.hot.class_of(route.pcp)
        } else {
            0
        };
        let tx = match dst.reserve(hl + payload.len(), class) {
            Some(Ok(tx)) => tx,
            Some(Err(())) => {
                dst.stats.tx_errors += 1;
                return None;
            }
            None => {
                dst.stats.tx_queue_full += 1;
                return None;
            }
        };
        if let Err(e) = dst.ep.tx_write_frame(&tx, &head[..hl], payload) {
            dst.ep.tx_abort(tx);
            dst.stats.tx_errors += 1;
            dst.stats.fault(&e);
            return None;
        }
        let meta = src
            .ep
            .rx_meta(slot)
            .moved(usize::from(route.header.payload_offset), hl);
        if dst.hot.classes == 1 {
            // One class: nothing to reorder, hand the frame over at once.
            return dst.commit(tx, meta).then_some((head, hl));
        }
        if dst.queues[class].is_full() {
            dst.commit_queued();
        }
        // The queue was just emptied if it was full: this push cannot fail. (A frame
        // longer than a queue entry records, past 64 KiB, is committed at once.)
        let queued = u16::try_from(tx.len()).ok().map(|len| Queued {
            index: tx.index(),
            len,
            meta,
        });
        if !queued.is_some_and(|q| dst.queues[class].push_back(q)) {
            return dst.commit(tx, meta).then_some((head, hl));
        }
        Some((head, hl))
    }

    /// Hands a frame (`head` then the source slot from `from`) to the tap and the monitor.
    #[cold]
    #[inline(never)]
    fn mirror<T: Tap>(
        &mut self,
        s: usize,
        slot: &RxSlot,
        head: &[u8],
        from: usize,
        event: &TapEvent,
        tap: &mut T,
    ) {
        let monitor = self.monitor.map(usize::from).filter(|m| *m != s);
        let (src, mon) = match monitor.and_then(|m| self.ports.get_disjoint_mut([s, m]).ok()) {
            Some([src, mon]) => (&*src, Some(mon)),
            None => (&self.ports[s], None),
        };
        let frame = src.ep.rx_frame(slot);
        let frame = frame.get(..slot.len()).unwrap_or(frame);
        let payload = frame.get(from..).unwrap_or(&[]);
        tap.frame(event, head, payload);
        let Some(mon) = mon else { return };
        let total = head.len() + payload.len();
        if total > usize::from(mon.cfg.max_frame) {
            mon.stats.tx_errors += 1;
            return;
        }
        let tx = match mon.try_reserve(total) {
            Some(Ok(tx)) => tx,
            Some(Err(())) => {
                mon.stats.tx_errors += 1;
                return;
            }
            None => {
                mon.stats.tx_queue_full += 1;
                return;
            }
        };
        match mon.ep.tx_write_frame(&tx, head, payload) {
            Ok(()) => {
                mon.commit(tx, FrameMeta::NONE);
            }
            Err(e) => {
                mon.stats.tx_errors += 1;
                mon.stats.fault(&e);
                mon.ep.tx_abort(tx);
            }
        }
    }
}
