//! The driver side of a packed ring: makes chains available in ring order, publishes them
//! by their first descriptor's flags, and takes back what the (untrusted) device marks
//! used.
//!
//! Buffer ids are allocated from a private free list; each id's descriptor count and
//! writable bytes live in private memory. A used descriptor is checked against them (id in
//! range, outstanding, length at most what was posted); a violation is fatal and leaves the
//! queue `Broken` — never a panic, never a double free.

use crate::layout::packed::{packed_need_event, EventFlags, PackedDescFlags};
use crate::layout::QueueConfig;
use crate::ordering::{self, IndexCell};
use crate::packed::{is_used, PackedRing, Pos};
use crate::{Buffer, Error, Features, SharedMemory, Token, UsedBuffer};

#[derive(Debug, Clone, Copy, Default)]
struct ChainState {
    /// Ring positions of the chain; 0 when this id is not outstanding.
    descs: u16,
    /// Writable bytes posted.
    writable: u32,
}

/// The driver side of one packed virtqueue over memory `M`; `N` is the largest queue size
/// supported. Same API shape as [`crate::DriverQueue`]; [`Token`]s are buffer ids.
pub struct PackedDriverQueue<'m, M: SharedMemory + ?Sized, const N: usize = 256> {
    _mem: &'m M,
    ring: PackedRing<'m>,
    event_idx: bool,
    in_order: bool,
    /// Free buffer ids, linked.
    id_link: [u16; N],
    free_id: u16,
    chains: [ChainState; N],
    /// Free ring positions.
    num_free: u16,
    next_avail: Pos,
    /// First descriptor of the oldest unpublished chain and the flags it will get.
    pending_head: Option<(u16, u16)>,
    unpublished: u16,
    /// Positions published since the last [`PackedDriverQueue::should_notify`].
    unnotified: u16,
    published: Pos,
    last_used: Pos,
    /// Outstanding ids in the order they were made available (kept with `IN_ORDER`).
    order: [u16; N],
    order_head: u16,
    order_len: u16,
    /// `IN_ORDER` batch being taken back: the id and length of its used descriptor.
    batch_last: Option<(u16, u32)>,
    used_notifications: bool,
    broken: bool,
}

impl<M: SharedMemory + ?Sized, const N: usize> core::fmt::Debug for PackedDriverQueue<'_, M, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PackedDriverQueue")
            .field("size", &self.ring.size)
            .field("free", &self.num_free)
            .field("next_avail", &self.next_avail)
            .field("last_used", &self.last_used)
            .field("broken", &self.broken)
            .finish()
    }
}

impl<'m, M: SharedMemory + ?Sized, const N: usize> PackedDriverQueue<'m, M, N> {
    /// Set up the ring at `cfg` in `mem` (`cfg.avail` / `cfg.used`: the driver / device
    /// event suppression areas; checked like the split layout) and initialise it: every
    /// descriptor cleared, notifications enabled.
    pub fn new(mem: &'m M, cfg: QueueConfig, features: Features) -> Result<Self, Error> {
        let ring = PackedRing::attach(mem, cfg, N, features)?;
        let mut q = PackedDriverQueue {
            _mem: mem,
            ring,
            event_idx: features.contains(Features::RING_EVENT_IDX),
            in_order: features.contains(Features::IN_ORDER),
            id_link: [0; N],
            free_id: 0,
            chains: [ChainState::default(); N],
            num_free: ring.size,
            next_avail: Pos::START,
            pending_head: None,
            unpublished: 0,
            unnotified: 0,
            published: Pos::START,
            last_used: Pos::START,
            order: [0; N],
            order_head: 0,
            order_len: 0,
            batch_last: None,
            used_notifications: true,
            broken: false,
        };
        q.reset();
        Ok(q)
    }

    /// Reset this queue (`RING_RESET`, or after the transport reset it): every descriptor
    /// cleared, all ids free, positions back to offset 0 of lap 1, not broken. Call it while
    /// the device side of this queue is stopped (the transport's `queue_reset` is the
    /// caller's business); outstanding tokens become invalid.
    pub fn reset(&mut self) {
        let size = self.ring.size;
        for i in 0..size {
            self.ring.descs.store_addr_len_id(i, 0, 0, 0);
            self.ring.flags(i).store(0);
        }
        for (i, l) in self.id_link.iter_mut().enumerate() {
            *l = (i as u16).wrapping_add(1);
        }
        self.free_id = 0;
        self.chains = [ChainState::default(); N];
        self.num_free = size;
        self.next_avail = Pos::START;
        self.pending_head = None;
        self.unpublished = 0;
        self.unnotified = 0;
        self.published = Pos::START;
        self.last_used = Pos::START;
        self.order_head = 0;
        self.order_len = 0;
        self.batch_last = None;
        self.used_notifications = true;
        self.broken = false;
        self.ring.driver_off_wrap.store(0);
        self.ring.driver_flags.store(EventFlags::Enable.bits());
        self.ring.device_off_wrap.store(0);
        self.ring.device_flags.store(EventFlags::Enable.bits());
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        self.ring.size
    }

    /// Free descriptors (ring positions).
    pub fn free_descriptors(&self) -> u16 {
        self.num_free
    }

    /// Whether a fatal violation by the device broke the queue.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Writable bytes of an outstanding chain (`None` if `token` is not outstanding).
    pub fn writable_len(&self, token: Token) -> Option<u32> {
        self.chains
            .get(usize::from(token.0))
            .filter(|c| c.descs != 0)
            .map(|c| c.writable)
    }

    /// The `NOTIFICATION_DATA` value for this queue (VirtIO 2.8.23 / 4.x "available buffer
    /// notification"): bits 0..=15 the queue index, 16..=30 the next avail offset, bit 31
    /// its wrap counter, as of the last [`PackedDriverQueue::publish`].
    pub fn notification_data(&self, queue_index: u16) -> u32 {
        u32::from(queue_index) | u32::from(self.published.off_wrap(self.ring.size)) << 16
    }

    /// Post a chain: `readable` buffers then `writable` ones, in consecutive ring positions.
    /// Not visible to the device until [`PackedDriverQueue::publish`]. O(chain).
    pub fn add(&mut self, readable: &[Buffer], writable: &[Buffer]) -> Result<Token, Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        let n = readable.len() + writable.len();
        if n == 0 {
            return Err(Error::EmptyChain);
        }
        if n > usize::from(self.num_free) {
            return Err(Error::QueueFull {
                needed: u16::try_from(n).unwrap_or(u16::MAX),
                free: self.num_free,
            });
        }
        let total: u64 = writable.iter().map(|b| u64::from(b.len)).sum();
        let writable_total = u32::try_from(total).map_err(|_| Error::ChainTooLarge { total })?;
        // At most `size` chains are outstanding (each takes a position), so an id is free.
        let id = self.free_id;
        self.free_id = self.id_link.get(usize::from(id)).copied().unwrap_or(0);
        let size = self.ring.size;
        let bufs = readable
            .iter()
            .map(|b| (b, PackedDescFlags::empty()))
            .chain(writable.iter().map(|b| (b, PackedDescFlags::WRITE)));
        let mut pos = self.next_avail;
        for (k, (b, flags)) in bufs.enumerate() {
            let last = k + 1 == n;
            let mut flags = flags | PackedDescFlags::avail_bits(pos.wrap(self.ring.size));
            if !last {
                flags |= PackedDescFlags::NEXT;
            }
            self.ring
                .descs
                .store_addr_len_id(pos.idx, b.addr, b.len, id);
            if k == 0 && self.pending_head.is_none() {
                // The batch's first head is the publication point: stored last, in publish.
                self.pending_head = Some((pos.idx, flags.bits()));
            } else {
                self.ring.flags(pos.idx).store(flags.bits());
            }
            pos = pos.advance(1);
        }
        let n = n as u16;
        self.num_free -= n;
        self.next_avail = pos;
        self.unpublished += n;
        if let Some(c) = self.chains.get_mut(usize::from(id)) {
            *c = ChainState {
                descs: n,
                writable: writable_total,
            };
        }
        if self.in_order {
            let slot = (self.order_head + self.order_len) % size;
            if let Some(o) = self.order.get_mut(usize::from(slot)) {
                *o = id;
            }
            self.order_len += 1;
        }
        Ok(Token(id))
    }

    /// Make every chain added since the last call visible to the device: one release fence,
    /// then the store of the first chain's head flags (VirtIO 2.8.21.2).
    pub fn publish(&mut self) {
        if let Some((off, flags)) = self.pending_head.take() {
            ordering::publish(self.ring.barriers, &self.ring.flags(off), flags);
        }
        self.unnotified = self.unnotified.saturating_add(self.unpublished);
        self.unpublished = 0;
        self.published = self.next_avail;
    }

    /// Whether the device wants a notification for what was published since the last call:
    /// its event suppression structure (2.8.10), with the wrap-safe descriptor event test
    /// under `RING_EVENT_IDX`.
    pub fn should_notify(&mut self) -> bool {
        let moved = core::mem::take(&mut self.unnotified);
        if moved == 0 {
            return false;
        }
        let flags = ordering::load_after_publish(self.ring.barriers, &self.ring.device_flags);
        match EventFlags::from_bits(flags) {
            EventFlags::Disable => false,
            EventFlags::Desc if self.event_idx && moved < self.ring.size => {
                let event = self.ring.device_off_wrap.load();
                let new = self.published.off(self.ring.size);
                packed_need_event(
                    event,
                    new,
                    new.wrapping_sub(moved),
                    self.published.wrap(self.ring.size),
                    self.ring.size,
                )
            }
            _ => true,
        }
    }

    /// Ask for used-buffer notifications. Returns `true` when a used descriptor is already
    /// waiting (it raced in): pop before sleeping.
    pub fn enable_used_notifications(&mut self) -> bool {
        self.used_notifications = true;
        let mode = if self.event_idx {
            self.ring
                .driver_off_wrap
                .store(self.last_used.off_wrap(self.ring.size));
            EventFlags::Desc
        } else {
            EventFlags::Enable
        };
        let seen = ordering::store_then_load(
            self.ring.barriers,
            &self.ring.driver_flags,
            mode.bits(),
            &self.ring.flags(self.last_used.idx),
        );
        self.batch_last.is_some() || is_used(seen, self.last_used.wrap(self.ring.size))
    }

    /// Ask the device not to notify of used buffers (best effort).
    pub fn disable_used_notifications(&mut self) {
        self.used_notifications = false;
        self.ring.driver_flags.store(EventFlags::Disable.bits());
    }

    fn fail(&mut self, e: Error) -> Error {
        if !self.broken {
            event!(
                warn,
                "virtqueue: packed driver queue broken by the device: {}",
                e
            );
        }
        self.broken = true;
        e
    }

    /// The oldest outstanding id (`IN_ORDER`).
    fn order_front(&self) -> Option<u16> {
        if self.order_len == 0 {
            return None;
        }
        self.order.get(usize::from(self.order_head)).copied()
    }

    /// Take back the next chain the device returned, or `Ok(None)`. Validates the id (in
    /// range, outstanding) and the length (at most the writable bytes posted); with
    /// `IN_ORDER` a used descriptor naming a later buffer returns every earlier one first
    /// (with length 0: only the batch's last buffer carries a length). A violation breaks
    /// the queue.
    pub fn pop_used(&mut self) -> Result<Option<UsedBuffer>, Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        let size = self.ring.size;
        let (id, len) = match self.batch_last {
            Some((last, len)) => {
                let front = self.order_front().unwrap_or(last);
                if front == last {
                    self.batch_last = None;
                    (last, len)
                } else {
                    (front, 0)
                }
            }
            None => {
                let at = self.last_used;
                let flags = ordering::observe(self.ring.barriers, &self.ring.flags(at.idx));
                if !is_used(flags, at.wrap(self.ring.size)) {
                    return Ok(None);
                }
                let (len, id) = self.ring.descs.load_len_id(at.idx);
                if id >= size {
                    return Err(self.fail(Error::UsedIdOutOfRange {
                        id: u32::from(id),
                        size,
                    }));
                }
                if self.chains.get(usize::from(id)).map_or(0, |c| c.descs) == 0 {
                    return Err(self.fail(Error::UsedIdNotOutstanding { id: u32::from(id) }));
                }
                match self.order_front() {
                    // Every outstanding id is in the order queue: a later one is a batch.
                    Some(front) if self.in_order && front != id => {
                        self.check_len(id, len)?;
                        self.batch_last = Some((id, len));
                        (front, 0)
                    }
                    _ => (id, len),
                }
            }
        };
        self.check_len(id, len)?;
        let state = self
            .chains
            .get_mut(usize::from(id))
            .map(core::mem::take)
            .unwrap_or_default();
        if let Some(l) = self.id_link.get_mut(usize::from(id)) {
            *l = self.free_id;
        }
        self.free_id = id;
        self.num_free += state.descs;
        self.last_used = self.last_used.advance(state.descs);
        if self.in_order {
            self.order_head = (self.order_head + 1) % size;
            self.order_len -= 1;
        }
        if self.event_idx && self.used_notifications {
            self.ring
                .driver_off_wrap
                .store(self.last_used.off_wrap(self.ring.size));
        }
        Ok(Some(UsedBuffer {
            token: Token(id),
            len,
        }))
    }

    fn check_len(&mut self, id: u16, len: u32) -> Result<(), Error> {
        let writable = self.chains.get(usize::from(id)).map_or(0, |c| c.writable);
        if len > writable {
            return Err(self.fail(Error::UsedLengthTooLong { id, len, writable }));
        }
        Ok(())
    }

    /// Pop up to `budget` used chains, calling `f` on each; returns how many.
    pub fn pop_used_batch(
        &mut self,
        budget: usize,
        f: impl FnMut(UsedBuffer),
    ) -> Result<usize, Error> {
        crate::driver::drain(budget, f, || self.pop_used())
    }
}
