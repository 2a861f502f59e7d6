//! The device side of a split ring: pops validated chains the (untrusted) driver made
//! available, returns them through the used ring, and decides when to notify.
//!
//! Per-chain errors (a bad head, loop, buffer, order, indirect table) consume that one
//! avail entry and are returned with the head (see [`Error::chain_head`]) so the device
//! can give the chain back with [`DeviceQueue::add_used`] and length 0; the next
//! [`DeviceQueue::pop`] serves the next chain. An avail index that jumps by more than the
//! queue size is fatal: the ring can no longer be trusted and the queue becomes broken
//! (the transport should then set `DEVICE_NEEDS_RESET`).
//!
//! The queue holds its memory through a [`MemoryHandle`] and keeps only the ring's
//! validated geometry; each call rebuilds its views of the ring from the memory, and a
//! [`DeviceSession`] keeps them for a burst of calls.

use crate::chain::DescriptorChain;
use crate::layout::{self, avail, used};
use crate::layout::{need_event, DescFlags, Descriptor, QueueConfig, UsedFlags};
use crate::memory::Slots;
use crate::ordering::{self, Barriers, IndexCell, RingU16};
use crate::ring::{desc_from_words, part, SplitRing};
use crate::{Error, Features, MemoryHandle, SharedMemory, VolatileSlice};

/// The memory access and per-call methods of a device queue (`$session` over ring views
/// `$ring`): each call makes a session (a broken queue fails first, before any
/// translation) and delegates to it.
macro_rules! per_call_methods {
    ($session:ident) => {
        /// The memory handle.
        pub fn handle(&self) -> &H {
            &self.mem
        }

        /// The memory the chains' buffers are in (for [`DescriptorChain::reader`] /
        /// [`DescriptorChain::writer`]).
        #[inline(always)]
        pub fn memory(&self) -> &H::Memory {
            self.mem.memory()
        }

        /// Translate the ring once for a burst of calls. Fails only if the memory no
        /// longer holds the ring it held at attach (a [`MemoryHandle`] promises it does).
        #[inline]
        pub fn session(&mut self) -> Result<$session<'_, H::Memory, N, S>, Error> {
            $session::all(self.mem.memory(), self.cfg, &mut self.st)
        }

        /// The session of a per-call method: a broken queue fails with
        /// [`Error::Broken`] before any translation.
        #[inline(always)]
        fn live(&mut self) -> Result<$session<'_, H::Memory, N, S>, Error> {
            if self.st.broken {
                return Err(Error::Broken);
            }
            $session::per_call(self.mem.memory(), self.cfg, &mut self.st)
        }

        #[doc = concat!("Chains made available and not popped yet: see [`", stringify!($session), "::pending`].")]
        pub fn pending(&mut self) -> Result<u16, Error> {
            self.live()?.pending()
        }

        /// Pop the next available chain: `Ok(None)` when there is none. O(chain length),
        /// which is at most the queue size (plus an indirect table of at most the size).
        ///
        /// A per-chain error consumes the chain; the queue keeps working.
        #[inline]
        pub fn pop(&mut self) -> Result<Option<DescriptorChain<S>>, Error> {
            self.live()?.pop()
        }

        /// Like `pop`, but fills a caller-owned chain (reused across calls, so nothing is
        /// moved): `Ok(true)` when a chain was popped into `chain`. On `Ok(false)` or an
        /// error, `chain` holds no segment.
        #[inline]
        pub fn pop_into(&mut self, chain: &mut DescriptorChain<S>) -> Result<bool, Error> {
            match self.live() {
                Ok(mut s) => s.pop_into(chain),
                Err(e) => {
                    chain.reset(0);
                    Err(e)
                }
            }
        }

        /// Return one chain (by its head / buffer id) with `len` bytes written, and
        /// publish it.
        #[inline]
        pub fn add_used(&mut self, head: u16, len: u32) -> Result<(), Error> {
            self.live()?.add_used(head, len)
        }

        #[doc = concat!("Return several chains with one publication: see [`", stringify!($session), "::add_used_batch`].")]
        pub fn add_used_batch(&mut self, entries: &[UsedEntry]) -> Result<usize, Error> {
            self.live()?.add_used_batch(entries)
        }

        #[doc = concat!("With `IN_ORDER`: see [`", stringify!($session), "::add_used_in_order`].")]
        pub fn add_used_in_order(&mut self, last: u16, len: u32) -> Result<(), Error> {
            self.live()?.add_used_in_order(last, len)
        }

        #[doc = concat!("Whether the driver wants a used-buffer notification now: see [`", stringify!($session), "::needs_notification`].")]
        pub fn needs_notification(&mut self) -> Result<bool, Error> {
            self.live()?.needs_notification()
        }

        /// Ask the driver for notifications of new available buffers. Returns `Ok(true)`
        /// when buffers were already made available (work raced in): the caller must pop
        /// again before sleeping.
        ///
        /// ```
        /// # use virtqueue::{mock::Loopback, Features};
        /// # let lb = Loopback::new(16, 4096);
        /// # let mut q = lb.device::<16, 4>(Features::VERSION_1)?;
        /// # let mut driver = lb.mock_driver();
        /// # driver.add_chain(0, &[(lb.data_addr(0), 8, false)]);
        /// # driver.publish();
        /// let mut handled = 0;
        /// loop {
        ///     q.disable_notification();
        ///     while let Some(chain) = q.pop()? {
        ///         q.add_used(chain.head(), 0)?;
        ///         handled += 1;
        ///     }
        ///     if !q.enable_notification()? {
        ///         break; // nothing raced in: sleep until notified
        ///     }
        /// }
        /// assert_eq!(handled, 1);
        /// # Ok::<(), virtqueue::Error>(())
        /// ```
        pub fn enable_notification(&mut self) -> Result<bool, Error> {
            self.live()?.enable_notification()
        }

        /// Ask the driver not to notify (best effort: the driver may notify anyway, and
        /// nothing is asked of a broken queue).
        pub fn disable_notification(&mut self) {
            if let Ok(mut s) = self.live() {
                s.disable_notification();
            }
        }
    };
}

/// One entry for [`DeviceQueue::add_used_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsedEntry {
    /// Chain head.
    pub head: u16,
    /// Bytes written to the chain's writable buffers.
    pub len: u32,
}

/// The device side of one split virtqueue over the memory of handle `H` (`&M` for memory
/// that outlives the queue, `Arc<M>` for memory the queue keeps alive: see
/// [`MemoryHandle`]).
///
/// `N` is the largest queue size supported (private per-descriptor state is sized by it),
/// `S` the most segments one chain may have.
///
/// Each call translates the parts of the ring it uses again from the memory (the geometry
/// was validated at attach): a pop the avail ring and the descriptor table, an
/// `add_used` the used ring; [`DeviceQueue::session`] translates them once for a burst of
/// calls.
pub struct DeviceQueue<H: MemoryHandle, const N: usize = 256, const S: usize = 16> {
    mem: H,
    cfg: QueueConfig,
    st: SplitState<N>,
}

/// The private state of a split device queue (everything but the memory).
struct SplitState<const N: usize> {
    size: u16,
    barriers: Barriers,
    features: Features,
    event_idx: bool,
    next_avail: u16,
    cached_avail: u16,
    next_used: u16,
    signalled_used: Option<u16>,
    stamps: [u16; N],
    generation: u16,
    broken: bool,
}

/// A [`DeviceQueue`] with its ring translated once: the same calls as the queue's, without
/// translating the ring parts on each, for a burst of pops and returns (a poll).
///
/// ```
/// # use virtqueue::{mock::Loopback, Features};
/// # let lb = Loopback::new(16, 4096);
/// # let mut q = lb.device::<16, 4>(Features::VERSION_1)?;
/// # let mut driver = lb.mock_driver();
/// # driver.add_chain(0, &[(lb.data_addr(0), 8, false)]);
/// # driver.publish();
/// let mut s = q.session()?;
/// while let Some(chain) = s.pop()? {
///     let mut header = [0u8; 8];
///     chain.reader(s.memory()).read_exact(&mut header)?;
///     s.add_used(chain.head(), 0)?;
/// }
/// # Ok::<(), virtqueue::Error>(())
/// ```
pub struct DeviceSession<'q, M: SharedMemory + ?Sized, const N: usize = 256, const S: usize = 16> {
    mem: &'q M,
    cfg: QueueConfig,
    /// The ring's parts, each translated when first needed (all at once for
    /// [`DeviceQueue::session`]).
    avail: Option<Part<'q, 2>>,
    used: Option<Part<'q, 8>>,
    desc: Option<Slots<'q, 16>>,
    st: &'q mut SplitState<N>,
}

/// One translated ring (avail or used): its view (for the flags and event words), its
/// index word and its element slots.
#[derive(Clone, Copy)]
struct Part<'q, const STRIDE: usize> {
    view: VolatileSlice<'q>,
    idx: RingU16<'q>,
    slots: Slots<'q, STRIDE>,
}

impl<'q, const STRIDE: usize> Part<'q, STRIDE> {
    /// The ring (avail: `STRIDE` 2, used: 8) of `size` elements at `addr`, whose element
    /// array starts at offset `first`: its index word is at offset 2 in both.
    #[inline]
    fn translate<M: SharedMemory + ?Sized>(
        mem: &'q M,
        name: &'static str,
        addr: u64,
        size: u16,
        first: usize,
    ) -> Result<Self, Error> {
        let (bytes, align) = if STRIDE == 2 {
            (layout::avail_ring_bytes(size), layout::AVAIL_ALIGN)
        } else {
            (layout::used_ring_bytes(size), layout::USED_ALIGN)
        };
        let view = part(mem, name, addr, bytes, align)?;
        Ok(Part {
            idx: RingU16(view.atomic_u16(avail::IDX)?),
            slots: Slots::new(&view, first, size)?,
            view,
        })
    }

    /// The `u16` word at `offset` of the part (checked), as a ring index or event cell.
    #[inline]
    fn word(&self, offset: usize) -> Result<RingU16<'q>, Error> {
        Ok(RingU16(self.view.atomic_u16(offset)?))
    }
}

/// The `Debug` of a device queue or session: its position and health.
pub(crate) fn debug_queue(
    f: &mut core::fmt::Formatter<'_>,
    name: &str,
    size: u16,
    next_avail: &dyn core::fmt::Debug,
    next_used: &dyn core::fmt::Debug,
    broken: bool,
) -> core::fmt::Result {
    f.debug_struct(name)
        .field("size", &size)
        .field("next_avail", next_avail)
        .field("next_used", next_used)
        .field("broken", &broken)
        .finish()
}

impl<const N: usize> SplitState<N> {
    fn debug(&self, f: &mut core::fmt::Formatter<'_>, name: &str) -> core::fmt::Result {
        debug_queue(
            f,
            name,
            self.size,
            &self.next_avail,
            &self.next_used,
            self.broken,
        )
    }
}

impl<H: MemoryHandle, const N: usize, const S: usize> core::fmt::Debug for DeviceQueue<H, N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.st.debug(f, "DeviceQueue")
    }
}

impl<M: SharedMemory + ?Sized, const N: usize, const S: usize> core::fmt::Debug
    for DeviceSession<'_, M, N, S>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.st.debug(f, "DeviceSession")
    }
}

impl<H: MemoryHandle, const N: usize, const S: usize> DeviceQueue<H, N, S> {
    /// Attach to the rings at `cfg` (from the transport) in the memory of `mem`. Checks
    /// the size (a power of two, at most `N` and 32768), the alignment of each part and
    /// that each part is inside the memory. `features` are the negotiated generic
    /// features.
    pub fn attach(mem: H, cfg: QueueConfig, features: Features) -> Result<Self, Error> {
        let size = SplitRing::attach(mem.memory(), cfg, N, features)?.size;
        Ok(DeviceQueue {
            mem,
            cfg,
            st: SplitState {
                size,
                barriers: Barriers::for_features(features),
                features,
                event_idx: features.contains(Features::RING_EVENT_IDX),
                next_avail: 0,
                cached_avail: 0,
                next_used: 0,
                signalled_used: None,
                stamps: [0; N],
                generation: 0,
                broken: false,
            },
        })
    }

    /// Reset this queue (`RING_RESET`): indices back to zero, not broken. The ring memory
    /// is the driver's to re-initialise; the transport's `queue_reset` register is the
    /// caller's business.
    pub fn reset(&mut self) {
        self.set_indices(0, 0);
        self.st.broken = false;
    }

    /// Set the ring positions (vhost-user `SET_VRING_BASE`, migration, resumption).
    pub fn set_indices(&mut self, next_avail: u16, next_used: u16) {
        self.st.next_avail = next_avail;
        self.st.cached_avail = next_avail;
        self.st.next_used = next_used;
        self.st.signalled_used = None;
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        self.st.size
    }

    /// The negotiated generic features.
    pub fn features(&self) -> Features {
        self.st.features
    }

    /// Next avail index to be popped.
    pub fn next_avail(&self) -> u16 {
        self.st.next_avail
    }

    /// Next used index to be written.
    pub fn next_used(&self) -> u16 {
        self.st.next_used
    }

    /// Whether a fatal violation broke the queue.
    pub fn is_broken(&self) -> bool {
        self.st.broken
    }

    per_call_methods!(DeviceSession);
}

impl<'q, M: SharedMemory + ?Sized, const N: usize, const S: usize> DeviceSession<'q, M, N, S> {
    /// A per-call method's session: its parts are translated when first needed.
    #[inline(always)]
    fn per_call(mem: &'q M, cfg: QueueConfig, st: &'q mut SplitState<N>) -> Result<Self, Error> {
        Ok(Self::lazy(mem, cfg, st))
    }

    /// A session with no part translated yet.
    #[inline(always)]
    fn lazy(mem: &'q M, cfg: QueueConfig, st: &'q mut SplitState<N>) -> Self {
        DeviceSession {
            mem,
            cfg,
            avail: None,
            used: None,
            desc: None,
            st,
        }
    }

    /// A session with every part translated.
    #[inline]
    fn all(mem: &'q M, cfg: QueueConfig, st: &'q mut SplitState<N>) -> Result<Self, Error> {
        let mut s = Self::lazy(mem, cfg, st);
        s.desc()?;
        s.avail()?;
        s.used()?;
        Ok(s)
    }

    /// The descriptor table.
    #[inline]
    fn desc(&mut self) -> Result<Slots<'q, 16>, Error> {
        if let Some(p) = self.desc {
            return Ok(p);
        }
        let size = self.st.size;
        let bytes = layout::desc_table_bytes(size);
        let view = part(
            self.mem,
            "descriptor table",
            self.cfg.desc,
            bytes,
            layout::DESC_ALIGN,
        )?;
        let d = Slots::new(&view, 0, size)?;
        self.desc = Some(d);
        Ok(d)
    }

    /// The avail ring.
    #[inline]
    fn avail(&mut self) -> Result<Part<'q, 2>, Error> {
        if let Some(p) = self.avail {
            return Ok(p);
        }
        let p = Part::translate(
            self.mem,
            "avail ring",
            self.cfg.avail,
            self.st.size,
            avail::ring(0),
        )?;
        self.avail = Some(p);
        Ok(p)
    }

    /// The used ring.
    #[inline]
    fn used(&mut self) -> Result<Part<'q, 8>, Error> {
        if let Some(p) = self.used {
            return Ok(p);
        }
        let p = Part::translate(
            self.mem,
            "used ring",
            self.cfg.used,
            self.st.size,
            used::ring(0),
        )?;
        self.used = Some(p);
        Ok(p)
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
                "virtqueue: split device queue broken by the driver: {}",
                e
            );
            self.st.broken = true;
        }
        e
    }

    /// Take in a newly observed `avail.idx`, checking the jump.
    fn accept_avail(&mut self, published: u16) -> Result<(), Error> {
        if published.wrapping_sub(self.st.next_avail) > self.st.size {
            return Err(self.fail(Error::AvailIndexJump {
                next: self.st.next_avail,
                published,
            }));
        }
        self.st.cached_avail = published;
        Ok(())
    }

    /// Chains made available and not popped yet (reads `avail.idx` once).
    pub fn pending(&mut self) -> Result<u16, Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let idx = self.avail()?.idx;
        let published = ordering::observe(self.st.barriers, &idx);
        self.accept_avail(published)?;
        Ok(self.st.cached_avail.wrapping_sub(self.st.next_avail))
    }

    /// Pop the next available chain: `Ok(None)` when there is none. O(chain length),
    /// which is at most the queue size.
    ///
    /// A per-chain error consumes the avail entry; the queue keeps working.
    #[inline]
    pub fn pop(&mut self) -> Result<Option<DescriptorChain<S>>, Error> {
        let mut chain = DescriptorChain::empty();
        Ok(if self.pop_into(&mut chain)? {
            Some(chain)
        } else {
            None
        })
    }

    /// Like [`DeviceQueue::pop`], but fills a caller-owned chain (reused across calls,
    /// so nothing is moved): `Ok(true)` when a chain was popped into `chain`. On
    /// `Ok(false)` or an error, `chain` holds no segment.
    #[inline]
    pub fn pop_into(&mut self, chain: &mut DescriptorChain<S>) -> Result<bool, Error> {
        if self.st.broken {
            chain.reset(0);
            return Err(Error::Broken);
        }
        // The parts already translated (a session's) are taken without a call.
        let av = match self.avail {
            Some(av) => av,
            None => match self.avail() {
                Ok(av) => av,
                Err(e) => {
                    chain.reset(0);
                    return Err(e);
                }
            },
        };
        if self.st.next_avail == self.st.cached_avail {
            let published = ordering::observe(self.st.barriers, &av.idx);
            if let Err(e) = self.accept_avail(published) {
                chain.reset(0);
                return Err(e);
            }
            if self.st.next_avail == self.st.cached_avail {
                chain.reset(0);
                return Ok(false);
            }
        }
        let desc = match self.desc {
            Some(desc) => desc,
            None => match self.desc() {
                Ok(desc) => desc,
                Err(e) => {
                    chain.reset(0);
                    return Err(e);
                }
            },
        };
        let head = av.slots.load_u16(self.st.next_avail);
        self.st.next_avail = self.st.next_avail.wrapping_add(1);
        chain.reset(head);
        match self.walk(chain, &desc) {
            Ok(()) => Ok(true),
            Err(e) => {
                chain.reset(head);
                Err(e)
            }
        }
    }

    #[inline]
    fn next_generation(&mut self) -> u16 {
        self.st.generation = self.st.generation.wrapping_add(1);
        if self.st.generation == 0 {
            // Once every 65535 walks: O(N) reset so stale stamps never match.
            self.st.stamps = [0; N];
            self.st.generation = 1;
        }
        self.st.generation
    }

    /// Mark `index` visited in this walk; false when it was already.
    #[inline]
    fn visit(&mut self, index: u16, generation: u16) -> bool {
        match self.st.stamps.get_mut(usize::from(index)) {
            Some(s) if *s != generation => {
                *s = generation;
                true
            }
            _ => false,
        }
    }

    /// Validate the chain at `chain.head` into `chain`. The head descriptor is handled
    /// here, inline (most chains have one descriptor, which cannot loop); the rest of a
    /// longer chain in [`DeviceQueue::walk_next`].
    #[inline]
    fn walk(&mut self, chain: &mut DescriptorChain<S>, desc: &Slots<'q, 16>) -> Result<(), Error> {
        let size = self.st.size;
        let head = chain.head;
        if head >= size {
            return Err(Error::HeadOutOfRange { head, size });
        }
        let (lo, hi) = desc.load_u64_pair(head);
        let d = desc_from_words(lo, hi);
        let flags = DescFlags::from_bits_retain(d.flags.get());
        if flags.contains(DescFlags::INDIRECT) {
            if !self.st.features.contains(Features::INDIRECT_DESC) {
                return Err(Error::IndirectNotNegotiated { head });
            }
            if flags.contains(DescFlags::NEXT) {
                return Err(Error::IndirectInChain { head });
            }
            return self.walk_indirect(chain, d.addr.get(), d.len.get());
        }
        self.push(chain, &d, flags, 0)?;
        if !flags.contains(DescFlags::NEXT) {
            return Ok(());
        }
        self.walk_next(chain, d.next.get(), desc)
    }

    /// The descriptors after the head (whose `next` is `next`), with loop detection:
    /// every descriptor of the walk is stamped with a fresh generation.
    #[inline(never)]
    fn walk_next(
        &mut self,
        chain: &mut DescriptorChain<S>,
        mut next: u16,
        desc: &Slots<'q, 16>,
    ) -> Result<(), Error> {
        let size = self.st.size;
        let head = chain.head;
        let generation = self.next_generation();
        // The head is in range (checked by `walk`), so this marks it.
        self.visit(head, generation);
        let mut position: u32 = 1;
        loop {
            if next >= size {
                return Err(Error::NextOutOfRange {
                    head,
                    next,
                    table_len: u32::from(size),
                });
            }
            if !self.visit(next, generation) {
                return Err(Error::ChainLoop { head, index: next });
            }
            let (lo, hi) = desc.load_u64_pair(next);
            let d = desc_from_words(lo, hi);
            let flags = DescFlags::from_bits_retain(d.flags.get());
            if flags.contains(DescFlags::INDIRECT) {
                return Err(if self.st.features.contains(Features::INDIRECT_DESC) {
                    Error::IndirectInChain { head }
                } else {
                    Error::IndirectNotNegotiated { head }
                });
            }
            self.push(chain, &d, flags, position)?;
            position += 1;
            if !flags.contains(DescFlags::NEXT) {
                return Ok(());
            }
            next = d.next.get();
        }
    }

    /// Walk the indirect table of `len` bytes at `addr` (the chain's only main-table
    /// descriptor).
    #[inline(never)]
    fn walk_indirect(
        &mut self,
        chain: &mut DescriptorChain<S>,
        addr: u64,
        len: u32,
    ) -> Result<(), Error> {
        let head = chain.head;
        if len == 0 || !len.is_multiple_of(16) {
            return Err(Error::IndirectLength { head, len });
        }
        let entries = len / 16;
        if entries > u32::from(self.st.size) {
            return Err(Error::ChainTooLong {
                head,
                len: entries,
                size: self.st.size,
            });
        }
        let view: VolatileSlice<'q> = self
            .mem
            .slice(addr, len as usize)
            .map_err(|_| Error::BufferOutOfMemory { head, addr, len })?;
        let generation = self.next_generation();
        let mut index: u16 = 0;
        let mut position: u32 = 0;
        loop {
            if !self.visit(index, generation) {
                return Err(Error::ChainLoop { head, index });
            }
            let d = crate::ring::read_desc_at(&view, usize::from(index) * 16)?;
            let flags = DescFlags::from_bits_retain(d.flags.get());
            if flags.contains(DescFlags::INDIRECT) {
                return Err(Error::NestedIndirect { head });
            }
            self.push(chain, &d, flags, position)?;
            position += 1;
            if !flags.contains(DescFlags::NEXT) {
                return Ok(());
            }
            let next = d.next.get();
            if u32::from(next) >= entries {
                return Err(Error::NextOutOfRange {
                    head,
                    next,
                    table_len: entries,
                });
            }
            index = next;
        }
    }

    #[inline]
    fn push(
        &self,
        chain: &mut DescriptorChain<S>,
        d: &Descriptor,
        flags: DescFlags,
        position: u32,
    ) -> Result<(), Error> {
        chain.push_segment(
            self.mem,
            d.addr.get(),
            d.len.get(),
            flags.contains(DescFlags::WRITE),
            position,
        )
    }

    #[inline]
    fn write_used(&mut self, used: &Part<'q, 8>, head: u16, len: u32) -> Result<(), Error> {
        if head >= self.st.size {
            return Err(Error::HeadOutOfRange {
                head,
                size: self.st.size,
            });
        }
        used.slots
            .store_u32_pair(self.st.next_used, u32::from(head), len);
        self.st.next_used = self.st.next_used.wrapping_add(1);
        Ok(())
    }

    /// Return one chain (by its head) with `len` bytes written, and publish it.
    #[inline]
    pub fn add_used(&mut self, head: u16, len: u32) -> Result<(), Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let used = self.used()?;
        self.write_used(&used, head, len)?;
        ordering::publish(self.st.barriers, &used.idx, self.st.next_used);
        Ok(())
    }

    /// Return several chains and publish them with one index update. The slice length is
    /// the budget. Stops at the first invalid head (those before it are published) and
    /// returns how many were added.
    pub fn add_used_batch(&mut self, entries: &[UsedEntry]) -> Result<usize, Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let used = self.used()?;
        let mut done = 0;
        let mut result = Ok(());
        for e in entries {
            if let Err(err) = self.write_used(&used, e.head, e.len) {
                result = Err(err);
                break;
            }
            done += 1;
        }
        if done > 0 {
            ordering::publish(self.st.barriers, &used.idx, self.st.next_used);
        }
        result.map(|()| done)
    }

    /// With `IN_ORDER` (VirtIO 2.7.9): return every chain popped up to and including the
    /// one headed `last` with a single used element naming it (length `len`); the driver
    /// infers the earlier ones. The caller keeps the order (chains are used in the order
    /// they were popped).
    pub fn add_used_in_order(&mut self, last: u16, len: u32) -> Result<(), Error> {
        if !self.st.features.contains(Features::IN_ORDER) {
            return Err(Error::FeatureMissing {
                bits: Features::IN_ORDER.bits(),
            });
        }
        self.add_used(last, len)
    }

    /// Whether the driver wants a used-buffer notification now (call after
    /// [`DeviceQueue::add_used`]). With `RING_EVENT_IDX`: wrap-safe `used_event` test over
    /// the used entries added since the last notification; otherwise the driver's
    /// `NO_INTERRUPT` flag.
    pub fn needs_notification(&mut self) -> Result<bool, Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let new = self.st.next_used;
        if self.st.event_idx {
            let cell = self.avail()?.word(avail::used_event(self.st.size))?;
            let event = ordering::load_after_publish(self.st.barriers, &cell);
            let old = self.st.signalled_used.replace(new);
            Ok(match old {
                None => true,
                Some(old) => need_event(event, new, old),
            })
        } else {
            let cell = self.avail()?.word(avail::FLAGS)?;
            let flags = ordering::load_after_publish(self.st.barriers, &cell);
            Ok(flags & crate::layout::AvailFlags::NO_INTERRUPT.bits() == 0)
        }
    }

    /// Ask the driver for notifications of new available buffers. Returns `Ok(true)` when
    /// buffers were already made available (work raced in): the caller must pop again
    /// before sleeping (see [`DeviceQueue::enable_notification`]).
    pub fn enable_notification(&mut self) -> Result<bool, Error> {
        if self.st.broken {
            return Err(Error::Broken);
        }
        let idx = self.avail()?.idx;
        let used = self.used()?;
        let published = if self.st.event_idx {
            let cell = used.word(used::avail_event(self.st.size))?;
            ordering::store_then_load(self.st.barriers, &cell, self.st.next_avail, &idx)
        } else {
            let cell = used.word(used::FLAGS)?;
            ordering::store_then_load(self.st.barriers, &cell, 0, &idx)
        };
        self.accept_avail(published)?;
        Ok(self.st.cached_avail != self.st.next_avail)
    }

    /// Ask the driver not to notify (best effort: the driver may notify anyway). With
    /// `RING_EVENT_IDX` the event index is simply left behind.
    pub fn disable_notification(&mut self) {
        if !self.st.event_idx {
            if let Ok(cell) = self.used().and_then(|u| u.word(used::FLAGS)) {
                cell.store(UsedFlags::NO_NOTIFY.bits());
            }
        }
    }
}
