//! The driver side of a split ring: posts chains of buffers, publishes them, and takes
//! back what the (untrusted) device returns.
//!
//! The free list and the per-chain state (descriptor count, writable bytes) live in
//! private memory and are never read back from the shared descriptor table. Every used
//! element is checked against that state; a violation is fatal and leaves the queue
//! `Broken` (sticky) — never a panic, never a double free.

use crate::layout::{need_event, AvailFlags, DescFlags, Descriptor, QueueConfig, UsedFlags};
use crate::ordering::{self, IndexCell};
use crate::ring::SplitRing;
use crate::{Error, Features, SharedMemory};

/// A buffer to post: its peer address and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// Address as the device sees it (after the integrator's DMA translation).
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
}

impl Buffer {
    /// A buffer of `len` bytes at `addr`.
    pub const fn new(addr: u64, len: u32) -> Self {
        Buffer { addr, len }
    }
}

/// Identifies a posted chain (its head descriptor index, below the queue size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u16);

/// A chain the device returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsedBuffer {
    /// The chain, as returned by [`DriverQueue::add`].
    pub token: Token,
    /// Bytes the device wrote (checked: at most the chain's writable bytes).
    pub len: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct ChainState {
    /// Descriptors of the chain; 0 when this index is not an outstanding head.
    descs: u16,
    /// Writable bytes posted.
    writable: u32,
}

/// The driver side of one split virtqueue over memory `M`; `N` is the largest queue size
/// supported (private state is sized by it).
pub struct DriverQueue<'m, M: SharedMemory + ?Sized, const N: usize = 256> {
    _mem: &'m M,
    ring: SplitRing<'m>,
    event_idx: bool,
    link: [u16; N],
    chains: [ChainState; N],
    free_head: u16,
    num_free: u16,
    avail_idx: u16,
    published: u16,
    notified_at: u16,
    last_used: u16,
    seen_used: u16,
    used_notifications: bool,
    /// `IN_ORDER`: descriptors are allocated in ring order and chains come back in order.
    in_order: bool,
    /// `IN_ORDER`: head of the oldest outstanding chain.
    oldest: u16,
    /// `IN_ORDER` batch being taken back: the head and length of its used element.
    batch_last: Option<(u16, u32)>,
    broken: bool,
}

impl<M: SharedMemory + ?Sized, const N: usize> core::fmt::Debug for DriverQueue<'_, M, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DriverQueue")
            .field("size", &self.ring.size)
            .field("free", &self.num_free)
            .field("avail_idx", &self.avail_idx)
            .field("last_used", &self.last_used)
            .field("broken", &self.broken)
            .finish()
    }
}

impl<'m, M: SharedMemory + ?Sized, const N: usize> DriverQueue<'m, M, N> {
    /// Set up the rings at `cfg` in `mem` (checked like the device side) and initialise
    /// them: flags cleared, indices zero.
    pub fn new(mem: &'m M, cfg: QueueConfig, features: Features) -> Result<Self, Error> {
        Self::with_start_index(mem, cfg, features, 0)
    }

    /// Like [`DriverQueue::new`] but with both ring indices starting at `start` (queue
    /// resumption; tests use it to exercise index wrap-around). The device must be set to
    /// the same indices ([`crate::DeviceQueue::set_indices`]).
    pub fn with_start_index(
        mem: &'m M,
        cfg: QueueConfig,
        features: Features,
        start: u16,
    ) -> Result<Self, Error> {
        let ring = SplitRing::attach(mem, cfg, N, features)?;
        let mut q = DriverQueue {
            _mem: mem,
            ring,
            event_idx: features.contains(Features::RING_EVENT_IDX),
            link: [0; N],
            chains: [ChainState::default(); N],
            free_head: 0,
            num_free: ring.size,
            avail_idx: start,
            published: start,
            notified_at: start,
            last_used: start,
            seen_used: start,
            used_notifications: true,
            in_order: features.contains(Features::IN_ORDER),
            oldest: 0,
            batch_last: None,
            broken: false,
        };
        q.reset_to(start);
        Ok(q)
    }

    /// Reset this queue (`RING_RESET`, or after the transport reset it): all descriptors
    /// free, indices zero, flags and event fields cleared, not broken. Call it while the
    /// device side of this queue is stopped (writing the transport's `queue_reset` /
    /// `queue_enable` registers is the caller's business); outstanding tokens become
    /// invalid.
    pub fn reset(&mut self) {
        self.reset_to(0);
    }

    fn reset_to(&mut self, start: u16) {
        let size = self.ring.size;
        for (i, l) in self.link.iter_mut().enumerate() {
            *l = (i as u16).wrapping_add(1);
        }
        // Circular: with IN_ORDER, descriptors are allocated in ring order for good.
        if let Some(l) = self.link.get_mut(usize::from(size) - 1) {
            *l = 0;
        }
        self.chains = [ChainState::default(); N];
        self.free_head = 0;
        self.num_free = size;
        self.avail_idx = start;
        self.published = start;
        self.notified_at = start;
        self.last_used = start;
        self.seen_used = start;
        self.used_notifications = true;
        self.oldest = 0;
        self.batch_last = None;
        self.broken = false;
        let ring = &self.ring;
        ring.avail_flags.store(0);
        ring.avail_idx.store(start);
        ring.used_event.store(start);
        ring.used_flags.store(0);
        ring.used_idx.store(start);
        ring.avail_event.store(start);
    }

    /// The 32-bit `NOTIFICATION_DATA` value for queue `queue_index` (VirtIO 2.9): the
    /// queue index in bits 0..=15 and the next avail index, as last published, in bits
    /// 16..=31.
    pub fn notification_data(&self, queue_index: u16) -> u32 {
        u32::from(queue_index) | u32::from(self.published) << 16
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        self.ring.size
    }

    /// Free descriptors.
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

    /// Post a chain: `readable` buffers (device reads) then `writable` ones (device
    /// writes). It is not visible to the device until [`DriverQueue::publish`]. O(chain).
    #[inline]
    pub fn add(&mut self, readable: &[Buffer], writable: &[Buffer]) -> Result<Token, Error> {
        match (readable, writable) {
            ([b], []) => self.add_one(b, DescFlags::empty(), 0),
            ([], [b]) => self.add_one(b, DescFlags::WRITE, b.len),
            _ => self.add_chain(readable, writable),
        }
    }

    /// [`DriverQueue::add`] of a one-descriptor chain: one descriptor store, no chain walk.
    #[inline(always)]
    fn add_one(&mut self, b: &Buffer, flags: DescFlags, writable: u32) -> Result<Token, Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        if self.num_free == 0 {
            return Err(Error::QueueFull { needed: 1, free: 0 });
        }
        let head = self.free_head;
        self.ring
            .write_desc(head, &Descriptor::new(b.addr, b.len, flags, 0));
        self.free_head = self.link_of(head);
        self.num_free -= 1;
        if let Some(c) = self.chains.get_mut(usize::from(head)) {
            *c = ChainState { descs: 1, writable };
        }
        self.ring.write_avail_slot(self.avail_idx, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        Ok(Token(head))
    }

    fn add_chain(&mut self, readable: &[Buffer], writable: &[Buffer]) -> Result<Token, Error> {
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
        let head = self.free_head;
        let mut index = head;
        let bufs = readable
            .iter()
            .map(|b| (b, DescFlags::empty()))
            .chain(writable.iter().map(|b| (b, DescFlags::WRITE)));
        for (i, (b, flags)) in bufs.enumerate() {
            let next = self.link_of(index);
            let last = i + 1 == n;
            let flags = if last { flags } else { flags | DescFlags::NEXT };
            let d = Descriptor::new(b.addr, b.len, flags, if last { 0 } else { next });
            self.ring.write_desc(index, &d);
            if last {
                self.free_head = next;
            } else {
                index = next;
            }
        }
        self.num_free -= n as u16;
        if let Some(c) = self.chains.get_mut(usize::from(head)) {
            *c = ChainState {
                descs: n as u16,
                writable: writable_total,
            };
        }
        self.ring.write_avail_slot(self.avail_idx, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        Ok(Token(head))
    }

    fn link_of(&self, index: u16) -> u16 {
        self.link.get(usize::from(index)).copied().unwrap_or(0)
    }

    /// Make every chain added since the last call visible to the device (one release
    /// fence and one index store for the whole batch).
    pub fn publish(&mut self) {
        ordering::publish(self.ring.barriers, &self.ring.avail_idx, self.avail_idx);
        self.published = self.avail_idx;
    }

    /// Whether the device wants a notification for what was published since the last
    /// call: wrap-safe `avail_event` test with `RING_EVENT_IDX`, otherwise the device's
    /// `NO_NOTIFY` flag.
    pub fn should_notify(&mut self) -> bool {
        let new = self.published;
        let old = core::mem::replace(&mut self.notified_at, new);
        if self.event_idx {
            let event = ordering::load_after_publish(self.ring.barriers, &self.ring.avail_event);
            need_event(event, new, old)
        } else {
            let flags = ordering::load_after_publish(self.ring.barriers, &self.ring.used_flags);
            new != old && flags & UsedFlags::NO_NOTIFY.bits() == 0
        }
    }

    /// Ask for used-buffer notifications. Returns `true` when used buffers are already
    /// waiting (they raced in): pop them before sleeping.
    pub fn enable_used_notifications(&mut self) -> bool {
        self.used_notifications = true;
        let used = if self.event_idx {
            ordering::store_then_load(
                self.ring.barriers,
                &self.ring.used_event,
                self.last_used,
                &self.ring.used_idx,
            )
        } else {
            ordering::store_then_load(
                self.ring.barriers,
                &self.ring.avail_flags,
                0,
                &self.ring.used_idx,
            )
        };
        self.batch_last.is_some() || used != self.last_used
    }

    /// Ask the device not to notify of used buffers (best effort).
    pub fn disable_used_notifications(&mut self) {
        self.used_notifications = false;
        if self.event_idx {
            self.ring.used_event.store(self.last_used.wrapping_sub(1));
        } else {
            self.ring.avail_flags.store(AvailFlags::NO_INTERRUPT.bits());
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        if !self.broken {
            event!(
                warn,
                "virtqueue: split driver queue broken by the device: {}",
                e
            );
        }
        self.broken = true;
        e
    }

    /// Take back the next chain the device returned, or `Ok(None)`. Validates the used
    /// index jump, the id (in range, the head of an outstanding chain) and the length (at
    /// most the writable bytes posted). A violation breaks the queue.
    #[inline(always)]
    pub fn pop_used(&mut self) -> Result<Option<UsedBuffer>, Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        let (head, len) = match self.batch_last {
            Some((last, len)) if self.oldest == last => {
                self.batch_last = None;
                (last, len)
            }
            Some(_) => (self.oldest, 0),
            None => match self.next_used()? {
                None => return Ok(None),
                Some(used) => used,
            },
        };
        let state = self
            .chains
            .get_mut(usize::from(head))
            .map(core::mem::take)
            .unwrap_or_default();
        if self.in_order {
            // Descriptors stay linked in ring order; the next chain starts right after.
            self.oldest = (head + state.descs) & (self.ring.size - 1);
        } else {
            // Return the chain's descriptors to the free list, following private links.
            let mut last = head;
            for _ in 1..state.descs {
                last = self.link_of(last);
            }
            if let Some(l) = self.link.get_mut(usize::from(last)) {
                *l = self.free_head;
            }
            self.free_head = head;
        }
        self.num_free += state.descs;
        Ok(Some(UsedBuffer {
            token: Token(head),
            len,
        }))
    }

    /// Read and check the next used element: `(head, len)`, or `None`. With `IN_ORDER`,
    /// an element naming a later chain than the oldest starts a batch (every older chain
    /// comes back first, with length 0).
    #[inline]
    fn next_used(&mut self) -> Result<Option<(u16, u32)>, Error> {
        if self.last_used == self.seen_used {
            let published = ordering::observe(self.ring.barriers, &self.ring.used_idx);
            if published.wrapping_sub(self.last_used) > self.ring.size {
                return Err(self.fail(Error::UsedIndexJump {
                    last: self.last_used,
                    published,
                }));
            }
            self.seen_used = published;
            if self.last_used == published {
                return Ok(None);
            }
        }
        let (id, len) = self.ring.read_used_slot(self.last_used);
        let size = self.ring.size;
        let head = match u16::try_from(id) {
            Ok(h) if h < size => h,
            _ => return Err(self.fail(Error::UsedIdOutOfRange { id, size })),
        };
        let state = self
            .chains
            .get(usize::from(head))
            .copied()
            .unwrap_or_default();
        if state.descs == 0 {
            return Err(self.fail(Error::UsedIdNotOutstanding { id }));
        }
        if len > state.writable {
            return Err(self.fail(Error::UsedLengthTooLong {
                id: head,
                len,
                writable: state.writable,
            }));
        }
        self.last_used = self.last_used.wrapping_add(1);
        if self.event_idx && self.used_notifications {
            self.ring.used_event.store(self.last_used);
        }
        if self.in_order && head != self.oldest {
            // An outstanding chain other than the oldest is a later one: a batch.
            self.batch_last = Some((head, len));
            return Ok(Some((self.oldest, 0)));
        }
        Ok(Some((head, len)))
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

/// Take up to `budget` used buffers from `pop`, calling `f` on each; returns how many.
pub(crate) fn drain(
    budget: usize,
    mut f: impl FnMut(UsedBuffer),
    mut pop: impl FnMut() -> Result<Option<UsedBuffer>, Error>,
) -> Result<usize, Error> {
    let mut n = 0;
    while n < budget {
        match pop()? {
            Some(u) => f(u),
            None => break,
        }
        n += 1;
    }
    Ok(n)
}
