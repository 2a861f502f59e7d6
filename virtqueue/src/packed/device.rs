//! The device side of a packed ring: pops validated chains the (untrusted) driver made
//! available, returns them as used descriptors, and decides when to notify.
//!
//! A chain occupies consecutive ring positions; its buffer id is in its last descriptor
//! (2.8.6). The walk reads each field of each descriptor once. Per-chain content errors (a
//! buffer outside memory, the order of directions, a bad indirect table, too many segments)
//! consume the chain and name its id ([`Error::chain_head`]), so the device can return it
//! with [`PackedDeviceQueue::add_used`] and length 0. Structural errors — a descriptor
//! inside a chain with the wrap bits of another lap, a chain that does not end within the
//! ring — leave the ring unfollowable: they are fatal. A bad id (out of range, or still
//! held by the device) consumes the chain, which then cannot be returned.

use crate::chain::DescriptorChain;
use crate::layout::packed::{packed_need_event, EventFlags, PackedDescFlags};
use crate::layout::QueueConfig;
use crate::ordering::{self, IndexCell};
use crate::packed::{is_avail, PackedRing, Pos};
use crate::{Error, Features, MemoryHandle, SharedMemory, UsedEntry};

#[derive(Debug, Clone, Copy, Default)]
struct Held {
    /// Ring positions of the chain; 0 when the device does not hold this id.
    descs: u16,
    /// Writable bytes of the chain.
    writable: u32,
}

/// The device side of one packed virtqueue over the memory of handle `H` (see
/// [`MemoryHandle`]). Same API shape as [`crate::DeviceQueue`]; a chain's
/// [`DescriptorChain::head`] is its buffer id.
///
/// `N` is the largest queue size supported, `S` the most segments one chain may have.
pub struct PackedDeviceQueue<H: MemoryHandle, const N: usize = 256, const S: usize = 16> {
    mem: H,
    cfg: QueueConfig,
    st: PackedState<N>,
}

/// The private state of a packed device queue (everything but the memory).
struct PackedState<const N: usize> {
    size: u16,
    features: Features,
    event_idx: bool,
    next_avail: Pos,
    next_used: Pos,
    /// Used positions written since the last notification decision (`None`: never
    /// decided yet).
    unsignalled: Option<u16>,
    held: [Held; N],
    /// Held ids in pop order (kept with `IN_ORDER`).
    in_order: bool,
    order: [u16; N],
    order_head: u16,
    order_len: u16,
    broken: bool,
}

/// A [`PackedDeviceQueue`] with its ring translated once, for a burst of calls (see
/// [`crate::DeviceSession`]).
pub struct PackedDeviceSession<
    'q,
    M: SharedMemory + ?Sized,
    const N: usize = 256,
    const S: usize = 16,
> {
    mem: &'q M,
    ring: PackedRing<'q>,
    st: &'q mut PackedState<N>,
}

impl<const N: usize> PackedState<N> {
    fn debug(&self, f: &mut core::fmt::Formatter<'_>, name: &str) -> core::fmt::Result {
        crate::device::debug_queue(
            f,
            name,
            self.size,
            &self.next_avail,
            &self.next_used,
            self.broken,
        )
    }
}

impl<H: MemoryHandle, const N: usize, const S: usize> core::fmt::Debug
    for PackedDeviceQueue<H, N, S>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.st.debug(f, "PackedDeviceQueue")
    }
}

impl<M: SharedMemory + ?Sized, const N: usize, const S: usize> core::fmt::Debug
    for PackedDeviceSession<'_, M, N, S>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.st.debug(f, "PackedDeviceSession")
    }
}

impl<H: MemoryHandle, const N: usize, const S: usize> PackedDeviceQueue<H, N, S> {
    /// Attach to the ring at `cfg` in the memory of `mem` (`cfg.avail` / `cfg.used`: the
    /// driver / device event suppression areas). Checks the size, alignment and that each
    /// part is inside the memory. `features` are the negotiated generic features.
    pub fn attach(mem: H, cfg: QueueConfig, features: Features) -> Result<Self, Error> {
        let size = PackedRing::attach(mem.memory(), cfg, N, features)?.size;
        Ok(PackedDeviceQueue {
            mem,
            cfg,
            st: PackedState {
                size,
                features,
                event_idx: features.contains(Features::RING_EVENT_IDX),
                next_avail: Pos::START,
                next_used: Pos::START,
                unsignalled: None,
                held: [Held::default(); N],
                in_order: features.contains(Features::IN_ORDER),
                order: [0; N],
                order_head: 0,
                order_len: 0,
                broken: false,
            },
        })
    }

    /// Reset this queue (`RING_RESET`): positions back to offset 0 of lap 1, nothing held,
    /// not broken. The ring memory is the driver's to re-initialise.
    pub fn reset(&mut self) {
        self.st.next_avail = Pos::START;
        self.st.next_used = Pos::START;
        self.st.unsignalled = None;
        self.st.held = [Held::default(); N];
        self.st.order_head = 0;
        self.st.order_len = 0;
        self.st.broken = false;
    }

    /// Start from a saved ring state (a vhost-user `SET_VRING_BASE`, a migrated device):
    /// the next position to pop and the next position a used descriptor goes to, each as
    /// `(offset, wrap counter)` like [`PackedDeviceQueue::next_avail`] /
    /// [`PackedDeviceQueue::next_used`] report them. Nothing is held afterwards (the state
    /// of [`PackedDeviceQueue::reset`], at these positions). An offset not below the queue
    /// size is refused ([`Error::HeadOutOfRange`] with that offset) and changes nothing.
    pub fn set_position(
        &mut self,
        next_avail: (u16, bool),
        next_used: (u16, bool),
    ) -> Result<(), Error> {
        let size = self.st.size;
        let pos = |(off, wrap): (u16, bool)| {
            if off >= size {
                return Err(Error::HeadOutOfRange { head: off, size });
            }
            // Lap 1 (wrap counter 1) is the even one (`Pos::wrap`).
            Ok(Pos {
                idx: if wrap { off } else { off | size },
            })
        };
        let (avail, used) = (pos(next_avail)?, pos(next_used)?);
        self.reset();
        self.st.next_avail = avail;
        self.st.next_used = used;
        Ok(())
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        self.st.size
    }

    /// The negotiated generic features.
    pub fn features(&self) -> Features {
        self.st.features
    }

    /// Next ring position to be popped: `(offset, wrap counter)`.
    pub fn next_avail(&self) -> (u16, bool) {
        (
            self.st.next_avail.off(self.st.size),
            self.st.next_avail.wrap(self.st.size),
        )
    }

    /// Next ring position a used descriptor goes to: `(offset, wrap counter)`.
    pub fn next_used(&self) -> (u16, bool) {
        (
            self.st.next_used.off(self.st.size),
            self.st.next_used.wrap(self.st.size),
        )
    }

    /// Whether a fatal violation broke the queue.
    pub fn is_broken(&self) -> bool {
        self.st.broken
    }

    per_call_methods!(PackedDeviceSession);
}

impl<'q, M: SharedMemory + ?Sized, const N: usize, const S: usize>
    PackedDeviceSession<'q, M, N, S>
{
    /// A per-call method's session: the ring translated at once (the packed ring's
    /// parts are the descriptor ring and two event areas).
    #[inline]
    fn per_call(mem: &'q M, cfg: QueueConfig, st: &'q mut PackedState<N>) -> Result<Self, Error> {
        Self::all(mem, cfg, st)
    }

    /// A session with the ring translated.
    #[inline]
    fn all(mem: &'q M, cfg: QueueConfig, st: &'q mut PackedState<N>) -> Result<Self, Error> {
        let ring = PackedRing::attach(mem, cfg, N, st.features)?;
        Ok(PackedDeviceSession { mem, ring, st })
    }

    /// The memory the chains' buffers are in (for [`DescriptorChain::reader`] /
    /// [`DescriptorChain::writer`]).
    #[inline(always)]
    pub fn memory(&self) -> &'q M {
        self.mem
    }

    /// Whether a fatal violation broke the queue.
    pub fn is_broken(&self) -> bool {
        self.st.broken
    }

    fn fail(&mut self, e: Error) -> Error {
        if e.is_fatal() && !self.st.broken {
            event!(
                warn,
                "virtqueue: packed device queue broken by the driver: {}",
                e
            );
            self.st.broken = true;
        }
        e
    }

    /// Chains made available and not popped yet, counted by following the descriptors'
    /// flags from the next position (O(size)); advisory only: [`PackedDeviceQueue::pop`]
    /// reads and validates every descriptor again. A chain that does not end within the
    /// ring, or continues with the wrong wrap bits, is not counted.
    pub fn pending(&mut self) -> Result<u16, Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let size = self.ring.size;
        let mut pos = self.st.next_avail;
        let (mut chains, mut scanned) = (0u16, 0u16);
        let mut first = true;
        while scanned < size {
            let raw = if first {
                first = false;
                ordering::observe(self.ring.barriers, &self.ring.flags(pos.idx))
            } else {
                self.ring.flags(pos.idx).load()
            };
            if !is_avail(raw, pos.wrap(self.ring.size)) {
                break;
            }
            scanned += 1;
            pos = pos.advance(1);
            if !PackedDescFlags::from_bits_retain(raw).contains(PackedDescFlags::NEXT) {
                chains += 1;
            }
        }
        Ok(chains)
    }

    /// Pop the next available chain: `Ok(None)` when there is none. O(chain length),
    /// which is at most the queue size (plus an indirect table of at most the size).
    #[inline]
    pub fn pop(&mut self) -> Result<Option<DescriptorChain<S>>, Error> {
        let mut chain = DescriptorChain::empty();
        Ok(if self.pop_into(&mut chain)? {
            Some(chain)
        } else {
            None
        })
    }

    /// Like [`PackedDeviceQueue::pop`], but fills a caller-owned chain: `Ok(true)` when a
    /// chain was popped. On `Ok(false)` or an error, `chain` holds no segment.
    #[inline]
    pub fn pop_into(&mut self, chain: &mut DescriptorChain<S>) -> Result<bool, Error> {
        chain.reset(0);
        if self.st.broken {
            return Err(Error::Broken);
        }
        let start = self.st.next_avail;
        // The publication point: the first descriptor's flags, then an acquire fence.
        let raw = ordering::observe(self.ring.barriers, &self.ring.flags(start.idx));
        if !is_avail(raw, start.wrap(self.ring.size)) {
            return Ok(false);
        }
        let flags = PackedDescFlags::from_bits_retain(raw);
        let (addr, len, id) = self.ring.descs.load_addr_len_id(start.idx);
        // Most chains are one plain descriptor: validated inline, the rest out of line.
        let (count, id, content) =
            if flags.intersects(PackedDescFlags::NEXT.union(PackedDescFlags::INDIRECT)) {
                self.walk_long(chain, start, flags, (addr, len, id))?
            } else {
                let writable = flags.contains(PackedDescFlags::WRITE);
                (1, id, chain.push_segment(self.mem, addr, len, writable, 0))
            };
        self.st.next_avail = start.advance(count);
        self.hold(chain, count, id, content)
    }

    /// The chain at `start` whose first descriptor is `first` (flags already read): every
    /// descriptor is read once and validated; after a content error the walk goes on
    /// (without validating) to find the chain's end and id. Returns the descriptor count,
    /// the id and the content result; structural errors are fatal.
    #[inline(never)]
    fn walk_long(
        &mut self,
        chain: &mut DescriptorChain<S>,
        start: Pos,
        first: PackedDescFlags,
        first_fields: (u64, u32, u16),
    ) -> Result<(u16, u16, Result<(), Error>), Error> {
        let size = self.ring.size;
        let mut pos = start;
        let mut flags = first;
        let (mut addr, mut len, mut id) = first_fields;
        let mut count: u16 = 0;
        let mut content: Result<(), Error> = Ok(());
        loop {
            count += 1;
            if content.is_ok() {
                content = self.take(chain, addr, len, flags, count);
                if content.is_err() {
                    chain.reset(0);
                }
            }
            if !flags.contains(PackedDescFlags::NEXT) {
                return Ok((count, id, content));
            }
            if count == size {
                let e = Error::UnterminatedChain {
                    offset: start.off(self.ring.size),
                    size,
                };
                return Err(self.fail(e));
            }
            pos = pos.advance(1);
            let raw = self.ring.flags(pos.idx).load();
            if !is_avail(raw, pos.wrap(self.ring.size)) {
                let e = Error::WrapMismatch {
                    offset: pos.off(self.ring.size),
                    flags: raw,
                };
                return Err(self.fail(e));
            }
            flags = PackedDescFlags::from_bits_retain(raw);
            (addr, len, id) = self.ring.descs.load_addr_len_id(pos.idx);
        }
    }

    /// Take a consumed chain of `count` positions with buffer `id`: check the id, hold it,
    /// and report the content result under that id.
    #[inline]
    fn hold(
        &mut self,
        chain: &mut DescriptorChain<S>,
        count: u16,
        id: u16,
        content: Result<(), Error>,
    ) -> Result<bool, Error> {
        let size = self.ring.size;
        if id >= size {
            chain.reset(0);
            return Err(Error::BufferIdOutOfRange { id, size });
        }
        let held = match self.st.held.get_mut(usize::from(id)) {
            Some(h) if h.descs == 0 => h,
            _ => {
                chain.reset(0);
                return Err(Error::BufferIdInUse { id });
            }
        };
        let ok = content.is_ok();
        *held = Held {
            descs: count,
            writable: if ok { chain.writable_len } else { 0 },
        };
        chain.head = id;
        if self.st.in_order {
            let slot = (self.st.order_head + self.st.order_len) % size;
            if let Some(o) = self.st.order.get_mut(usize::from(slot)) {
                *o = id;
            }
            self.st.order_len += 1;
        }
        match content {
            Ok(()) => Ok(true),
            Err(e) => {
                chain.reset(id);
                Err(e.with_head(id))
            }
        }
    }

    /// Validate one descriptor at `position` (1-based) of the chain into `chain`.
    #[inline]
    fn take(
        &self,
        chain: &mut DescriptorChain<S>,
        addr: u64,
        len: u32,
        flags: PackedDescFlags,
        position: u16,
    ) -> Result<(), Error> {
        let head = chain.head;
        if flags.contains(PackedDescFlags::INDIRECT) {
            if !self.st.features.contains(Features::INDIRECT_DESC) {
                return Err(Error::IndirectNotNegotiated { head });
            }
            // 2.8.7: an indirect descriptor is alone (no NEXT, not inside a chain).
            if flags.contains(PackedDescFlags::NEXT) || position != 1 {
                return Err(Error::IndirectInChain { head });
            }
            return self.walk_indirect(chain, addr, len);
        }
        chain.push_segment(
            self.mem,
            addr,
            len,
            flags.contains(PackedDescFlags::WRITE),
            u32::from(position) - 1,
        )
    }

    /// The indirect table of `len` bytes at `addr`: `len / 16` packed descriptors in a row.
    #[inline(never)]
    fn walk_indirect(
        &self,
        chain: &mut DescriptorChain<S>,
        addr: u64,
        len: u32,
    ) -> Result<(), Error> {
        let head = chain.head;
        if len == 0 || !len.is_multiple_of(16) {
            return Err(Error::IndirectLength { head, len });
        }
        let entries = len / 16;
        if entries > u32::from(self.ring.size) {
            return Err(Error::ChainTooLong {
                head,
                len: entries,
                size: self.ring.size,
            });
        }
        let view = self
            .mem
            .slice(addr, len as usize)
            .map_err(|_| Error::BufferOutOfMemory { head, addr, len })?;
        for k in 0..entries {
            let (lo, hi) = view.read_u64_pair(k as usize * 16)?;
            let flags = PackedDescFlags::from_bits_retain((hi >> 48) as u16);
            if flags.contains(PackedDescFlags::INDIRECT) {
                return Err(Error::NestedIndirect { head });
            }
            if flags.contains(PackedDescFlags::NEXT) {
                return Err(Error::NextInIndirect { head });
            }
            chain.push_segment(
                self.mem,
                lo,
                hi as u32,
                flags.contains(PackedDescFlags::WRITE),
                k,
            )?;
        }
        Ok(())
    }

    /// Check `id` is held with at least `len` writable bytes; its ring positions.
    fn release(&mut self, id: u16, len: u32) -> Result<u16, Error> {
        if self.st.in_order {
            let oldest = self.st.order.get(usize::from(self.st.order_head)).copied();
            if self.st.order_len == 0 || oldest != Some(id) {
                return Err(Error::NotOldest {
                    id,
                    oldest: oldest.filter(|_| self.st.order_len != 0),
                });
            }
        }
        let descs = match self.st.held.get_mut(usize::from(id)) {
            Some(h) if h.descs != 0 => {
                if len > h.writable {
                    return Err(Error::LengthAboveWritable {
                        id,
                        len,
                        writable: h.writable,
                    });
                }
                core::mem::take(h).descs
            }
            _ => return Err(Error::NotHeld { id }),
        };
        if self.st.in_order {
            self.st.order_head = (self.st.order_head + 1) % self.ring.size;
            self.st.order_len -= 1;
        }
        Ok(descs)
    }

    /// Write a used descriptor for `id` at the next used position; its flags are stored
    /// by the caller (directly, or as the publication point).
    fn write_used(&mut self, id: u16, len: u32) -> Result<(u16, u16), Error> {
        let descs = self.release(id, len)?;
        let at = self.st.next_used;
        self.ring.descs.store_len_id(at.idx, len, id);
        self.st.next_used = at.advance(descs);
        self.st.unsignalled = Some(
            self.st
                .unsignalled
                .map_or(descs, |u| u.saturating_add(descs)),
        );
        Ok((
            at.off(self.ring.size),
            PackedDescFlags::used_bits(at.wrap(self.ring.size)).bits(),
        ))
    }

    /// Return one chain (by its id) with `len` bytes written, and publish it: length and id
    /// first, release fence, then the flags (2.8.22).
    pub fn add_used(&mut self, id: u16, len: u32) -> Result<(), Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let (off, flags) = self.write_used(id, len)?;
        ordering::publish(self.ring.barriers, &self.ring.flags(off), flags);
        Ok(())
    }

    /// Return several chains with one release fence: the first used descriptor's flags are
    /// stored last. The slice length is the budget. Stops at the first invalid entry
    /// (those before it are published); returns how many were added.
    pub fn add_used_batch(&mut self, entries: &[UsedEntry]) -> Result<usize, Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let mut first: Option<(u16, u16)> = None;
        let mut done = 0;
        let mut result = Ok(());
        for e in entries {
            match self.write_used(e.head, e.len) {
                Ok((off, flags)) => match first {
                    None => first = Some((off, flags)),
                    Some(_) => self.ring.flags(off).store(flags),
                },
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
            done += 1;
        }
        if let Some((off, flags)) = first {
            ordering::publish(self.ring.barriers, &self.ring.flags(off), flags);
        }
        result.map(|()| done)
    }

    /// With `IN_ORDER` (2.8.9): return every held chain popped up to and including the
    /// one with id `last` with a single used descriptor naming it (length `len`); the ring
    /// positions of all of them are skipped and the driver infers the earlier ones.
    /// O(chains returned).
    pub fn add_used_in_order(&mut self, last: u16, len: u32) -> Result<(), Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        if !self.st.in_order {
            return Err(Error::FeatureMissing {
                bits: Features::IN_ORDER.bits(),
            });
        }
        // Check before touching anything: `last` held (hence in the order queue).
        match self.st.held.get(usize::from(last)) {
            Some(h) if h.descs != 0 && len <= h.writable => {}
            Some(h) if h.descs != 0 => {
                return Err(Error::LengthAboveWritable {
                    id: last,
                    len,
                    writable: h.writable,
                })
            }
            _ => return Err(Error::NotHeld { id: last }),
        }
        let size = self.ring.size;
        let at = self.st.next_used;
        let mut skip: u16 = 0;
        while self.st.order_len > 0 {
            let id = self
                .st
                .order
                .get(usize::from(self.st.order_head))
                .copied()
                .unwrap_or(last);
            let descs = self
                .st
                .held
                .get_mut(usize::from(id))
                .map_or(0, |h| core::mem::take(h).descs);
            skip = skip.saturating_add(descs);
            self.st.order_head = (self.st.order_head + 1) % size;
            self.st.order_len -= 1;
            if id == last {
                break;
            }
        }
        // All returned chains were popped after `at`: together at most the ring.
        let skip = skip.min(size);
        self.ring.descs.store_len_id(at.idx, len, last);
        self.st.next_used = at.advance(skip);
        self.st.unsignalled = Some(self.st.unsignalled.map_or(skip, |u| u.saturating_add(skip)));
        let flags = PackedDescFlags::used_bits(at.wrap(self.ring.size)).bits();
        ordering::publish(self.ring.barriers, &self.ring.flags(at.idx), flags);
        Ok(())
    }

    /// Whether the driver wants a used-buffer notification now (call after
    /// [`PackedDeviceQueue::add_used`]): the driver's event suppression structure, with the
    /// wrap-safe descriptor event test under `RING_EVENT_IDX` (2.8.10).
    pub fn needs_notification(&mut self) -> Result<bool, Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let moved = self.st.unsignalled.replace(0);
        let flags = ordering::load_after_publish(self.ring.barriers, &self.ring.driver_flags);
        Ok(match (EventFlags::from_bits(flags), moved) {
            (_, Some(0)) => false,
            (EventFlags::Disable, _) => false,
            (EventFlags::Desc, Some(moved)) if self.st.event_idx && moved < self.ring.size => {
                let event = self.ring.driver_off_wrap.load();
                let new = self.st.next_used.off(self.ring.size);
                packed_need_event(
                    event,
                    new,
                    new.wrapping_sub(moved),
                    self.st.next_used.wrap(self.ring.size),
                    self.ring.size,
                )
            }
            _ => true,
        })
    }

    /// Ask the driver for available-buffer notifications. Returns `Ok(true)` when a chain
    /// was already made available (work raced in): pop again before sleeping.
    pub fn enable_notification(&mut self) -> Result<bool, Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let mode = if self.st.event_idx {
            self.ring
                .device_off_wrap
                .store(self.st.next_avail.off_wrap(self.ring.size));
            EventFlags::Desc
        } else {
            EventFlags::Enable
        };
        let seen = ordering::store_then_load(
            self.ring.barriers,
            &self.ring.device_flags,
            mode.bits(),
            &self.ring.flags(self.st.next_avail.idx),
        );
        Ok(is_avail(seen, self.st.next_avail.wrap(self.ring.size)))
    }

    /// Ask the driver not to notify (best effort).
    pub fn disable_notification(&mut self) {
        self.ring.device_flags.store(EventFlags::Disable.bits());
    }
}
