//! [`PortPair`]: two links joined back to back in memory — a switch port and the
//! partition stack behind it in one program, or two stacks in a test.
//!
//! The pair holds two queues of `N` frame slots of `S` bytes, one per direction; each
//! [`PairEnd`] sends into one and receives from the other. Both ends borrow the pair, so
//! it lives where both can see it (a `static`, a `Box`, a local of the test).
//!
//! A frame is never copied by the pair: the sender writes it into a slot it reserved
//! (or builds it in place, [`FrameLink::tx_buffer`]), the receiver reads it in that slot
//! while it holds it — the slot stays borrowed from `rx_take` to `rx_release` and is
//! off the free list meanwhile, so nobody can write it: the bytes a switch validated are
//! the bytes it forwards.
//!
//! With feature `test-utils`, [`Faults`] lose or corrupt frames on their way (per
//! direction, deterministically from a seed), and two benchmark modes make frames
//! recirculate without a peer: [`PortPair::set_recycle`] and [`PortPair::set_discard`].

use core::cell::{Cell, Ref, RefCell, RefMut};

use crate::{FrameLink, FrameMeta, LinkCaps, LinkError, LinkState, RxSlot, TxSlot, HEADER_LEN};

/// Frames one end holds taken (not yet released) at once.
pub const PAIR_TAKEN: usize = 4;

/// Which end of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The first end of [`PortPair::split`].
    A,
    /// The second end of [`PortPair::split`].
    B,
}

/// How often a fault hits (feature `test-utils`).
#[cfg(feature = "test-utils")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Odds {
    /// Never.
    #[default]
    Never,
    /// Every n-th frame (`Every(0)` is never).
    Every(u32),
    /// At random, per mille of the frames.
    PerMille(u16),
}

/// Faults on the frames travelling towards one end (feature `test-utils`).
#[cfg(feature = "test-utils")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// Frames lost.
    pub drop: Odds,
    /// Frames corrupted.
    pub corrupt: Odds,
    /// What corruption changes: `false` flips one bit after the Ethernet header of an
    /// IPv4 frame only (every corrupted frame is one a checksum catches); `true` flips
    /// one byte anywhere, addresses included.
    pub corrupt_anywhere: bool,
    /// Seed of the generator (xorshift32; 0 is replaced by 1).
    pub seed: u32,
}

/// What the fault hooks did (feature `test-utils`).
#[cfg(feature = "test-utils")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Frames lost.
    pub dropped: u64,
    /// Frames corrupted.
    pub corrupted: u64,
}

/// Where a slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    Reserved,
    Queued,
    Taken,
}

/// A frame slot with an odd cache-line stride (`S` rounded up to lines, plus one line),
/// so slot starts — where headers and small frames live — spread over the cache sets.
#[repr(C, align(64))]
struct Slot<const S: usize> {
    bytes: [u8; S],
    _stride: [u8; 64],
}

/// One direction: `N` slots, a free stack and a FIFO of filled slots. Bookkeeping is in
/// `Cell`s (plain loads and stores); each slot's bytes are in a `RefCell`, borrowed by
/// the receiving end while it holds the frame and by the sending end while it writes.
struct Queue<const N: usize, const S: usize> {
    slots: [RefCell<Slot<S>>; N],
    lens: [Cell<u32>; N],
    metas: [Cell<FrameMeta>; N],
    state: [Cell<State>; N],
    free: [Cell<u16>; N],
    free_len: Cell<usize>,
    fifo: [Cell<u16>; N],
    head: Cell<usize>,
    queued: Cell<usize>,
    #[cfg(feature = "test-utils")]
    hooks: Hooks,
}

#[cfg(feature = "test-utils")]
#[derive(Default)]
struct Hooks {
    faults: Cell<Faults>,
    rng: Cell<u32>,
    n: Cell<u64>,
    counts: Cell<FaultCounts>,
    recycle: Cell<bool>,
    discard: Cell<bool>,
}

impl<const N: usize, const S: usize> Queue<N, S> {
    fn new() -> Self {
        const {
            assert!(
                N.is_power_of_two() && N <= 0x8000,
                "N must be a power of two"
            );
            assert!(S >= HEADER_LEN, "a slot holds at least an Ethernet header");
        };
        Queue {
            slots: core::array::from_fn(|_| {
                RefCell::new(Slot {
                    bytes: [0; S],
                    _stride: [0; 64],
                })
            }),
            lens: core::array::from_fn(|_| Cell::new(0)),
            metas: core::array::from_fn(|_| Cell::new(FrameMeta::NONE)),
            state: core::array::from_fn(|_| Cell::new(State::Free)),
            free: core::array::from_fn(|i| Cell::new((N - 1 - i) as u16)),
            free_len: Cell::new(N),
            fifo: core::array::from_fn(|_| Cell::new(0)),
            head: Cell::new(0),
            queued: Cell::new(0),
            #[cfg(feature = "test-utils")]
            hooks: Hooks::default(),
        }
    }

    #[inline]
    fn alloc(&self) -> Option<u16> {
        let n = self.free_len.get().checked_sub(1)?;
        let i = self.free.get(n)?.get();
        self.free_len.set(n);
        self.set_state(i, State::Reserved);
        Some(i)
    }

    #[inline]
    fn release(&self, i: u16) {
        let n = self.free_len.get();
        if let Some(f) = self.free.get(n) {
            f.set(i);
            self.free_len.set(n + 1);
            self.set_state(i, State::Free);
        }
    }

    #[inline]
    fn push(&self, i: u16) {
        let q = self.queued.get();
        if let Some(f) = self.fifo.get((self.head.get() + q) % N) {
            f.set(i);
            self.queued.set(q + 1);
            self.set_state(i, State::Queued);
        }
    }

    #[inline]
    fn pop(&self) -> Option<u16> {
        let q = self.queued.get().checked_sub(1)?;
        let h = self.head.get();
        let i = self.fifo.get(h % N)?.get();
        self.head.set((h + 1) % N);
        self.queued.set(q);
        Some(i)
    }

    #[inline]
    fn state_of(&self, i: u16) -> Option<State> {
        self.state.get(usize::from(i)).map(Cell::get)
    }

    #[inline]
    fn set_state(&self, i: u16, s: State) {
        if let Some(c) = self.state.get(usize::from(i)) {
            c.set(s);
        }
    }

    /// A committed frame of `len` bytes in slot `i` reaches the receiving end (through
    /// the fault hooks and benchmark modes).
    #[inline]
    fn deliver(&self, i: u16, len: usize, meta: FrameMeta) {
        #[cfg(feature = "test-utils")]
        {
            if self.hooks.discard.get() {
                self.release(i);
                return;
            }
            if !self.faults_pass(i, len) {
                self.release(i);
                return;
            }
        }
        if let (Some(l), Some(m)) = (
            self.lens.get(usize::from(i)),
            self.metas.get(usize::from(i)),
        ) {
            l.set(len as u32);
            m.set(meta);
        }
        self.push(i);
    }

    /// A taken frame's slot comes back.
    #[inline]
    fn give_back(&self, i: u16) {
        #[cfg(feature = "test-utils")]
        if self.hooks.recycle.get() {
            self.push(i);
            return;
        }
        self.release(i);
    }
}

#[cfg(feature = "test-utils")]
impl<const N: usize, const S: usize> Queue<N, S> {
    fn roll(&self, odds: Odds) -> Option<u32> {
        let n = self.hooks.n.get();
        match odds {
            Odds::Never | Odds::Every(0) | Odds::PerMille(0) => None,
            Odds::Every(e) => (n % u64::from(e) == u64::from(e) - 1).then_some(n as u32),
            Odds::PerMille(p) => {
                let mut x = self.hooks.rng.get().max(1);
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                self.hooks.rng.set(x);
                (x % 1000 < u32::from(p)).then_some(x)
            }
        }
    }

    /// Runs the fault hooks over the frame in slot `i`: `false` if it is lost.
    fn faults_pass(&self, i: u16, len: usize) -> bool {
        let f = self.hooks.faults.get();
        if f.drop == Odds::Never && f.corrupt == Odds::Never {
            return true;
        }
        let lost = self.roll(f.drop).is_some();
        let hit = if lost { None } else { self.roll(f.corrupt) };
        self.hooks.n.set(self.hooks.n.get() + 1);
        let mut counts = self.hooks.counts.get();
        if lost {
            counts.dropped += 1;
            self.hooks.counts.set(counts);
            return false;
        }
        if let Some(x) = hit {
            let Some(mut slot) = self
                .slots
                .get(usize::from(i))
                .and_then(|s| s.try_borrow_mut().ok())
            else {
                return true;
            };
            let b = slot.bytes.get_mut(..len.min(S)).unwrap_or(&mut []);
            let at = if f.corrupt_anywhere {
                (!b.is_empty()).then(|| (x as usize >> 3) % b.len())
            } else if b.len() > HEADER_LEN && b[12..14] == [0x08, 0x00] {
                Some(HEADER_LEN + (x as usize >> 10) % (b.len() - HEADER_LEN))
            } else {
                None
            };
            if let Some(byte) = at.and_then(|at| b.get_mut(at)) {
                *byte ^= 1 << (x & 7);
                counts.corrupted += 1;
                self.hooks.counts.set(counts);
            }
        }
        true
    }
}

/// Two links back to back in memory: `N` slots (a power of two) of `S` bytes each way.
/// Frames are read and built in place, never copied by the pair; see the crate README.
pub struct PortPair<const N: usize = 64, const S: usize = 1536> {
    to_b: Queue<N, S>,
    to_a: Queue<N, S>,
}

impl<const N: usize, const S: usize> Default for PortPair<N, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const S: usize> core::fmt::Debug for PortPair<N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PortPair")
            .field("slots", &N)
            .field("slot_bytes", &S)
            .field("queued_to_a", &self.to_a.queued.get())
            .field("queued_to_b", &self.to_b.queued.get())
            .finish()
    }
}

impl<const N: usize, const S: usize> PortPair<N, S> {
    /// An empty pair.
    pub fn new() -> Self {
        PortPair {
            to_b: Queue::new(),
            to_a: Queue::new(),
        }
    }

    /// Both ends: `(A, B)`.
    pub fn split(&self) -> (PairEnd<'_, N, S>, PairEnd<'_, N, S>) {
        (self.end(End::A), self.end(End::B))
    }

    /// One end. Two handles of the same end share its queues (each frame reaches one of
    /// them).
    pub fn end(&self, end: End) -> PairEnd<'_, N, S> {
        let (rx, tx) = match end {
            End::A => (&self.to_a, &self.to_b),
            End::B => (&self.to_b, &self.to_a),
        };
        PairEnd {
            rx,
            tx,
            taken: [const { None }; PAIR_TAKEN],
            lent: None,
        }
    }

    fn towards(&self, end: End) -> &Queue<N, S> {
        match end {
            End::A => &self.to_a,
            End::B => &self.to_b,
        }
    }

    /// Frames waiting for `end` to take them.
    pub fn queued(&self, end: End) -> usize {
        self.towards(end).queued.get()
    }
}

#[cfg(feature = "test-utils")]
impl<const N: usize, const S: usize> PortPair<N, S> {
    /// Sets the faults on the frames towards `end` (and reseeds).
    pub fn set_faults(&self, end: End, faults: Faults) {
        let q = self.towards(end);
        q.hooks.faults.set(faults);
        q.hooks.rng.set(faults.seed.max(1));
        q.hooks.n.set(0);
    }

    /// What the fault hooks did to the frames towards `end`.
    pub fn fault_counts(&self, end: End) -> FaultCounts {
        self.towards(end).hooks.counts.get()
    }

    /// Benchmark mode: frames `end` releases go back to its queue instead of the free
    /// list, so the same frames are taken again without a sender.
    pub fn set_recycle(&self, end: End, on: bool) {
        self.towards(end).hooks.recycle.set(on);
    }

    /// Benchmark mode: frames committed towards `end` are freed at once (nobody reads
    /// them).
    pub fn set_discard(&self, end: End, on: bool) {
        self.towards(end).hooks.discard.set(on);
    }
}

/// A frame an end took: its slot, held borrowed until released.
struct Taken<'a, const S: usize> {
    index: u16,
    len: u32,
    meta: FrameMeta,
    slot: Ref<'a, Slot<S>>,
}

/// One end of a [`PortPair`]: a [`FrameLink`] whose frames reach the other end.
pub struct PairEnd<'a, const N: usize = 64, const S: usize = 1536> {
    rx: &'a Queue<N, S>,
    tx: &'a Queue<N, S>,
    /// Frames taken and not yet released (the handle's index is the position here).
    taken: [Option<Taken<'a, S>>; PAIR_TAKEN],
    /// The reserved slot lent for building in place, held borrowed until commit or abort.
    lent: Option<(u16, RefMut<'a, Slot<S>>)>,
}

impl<const N: usize, const S: usize> core::fmt::Debug for PairEnd<'_, N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PairEnd")
            .field("waiting", &self.rx.queued.get())
            .field("free_to_send", &self.tx.free_len.get())
            .finish()
    }
}

impl<const N: usize, const S: usize> PairEnd<'_, N, S> {
    /// Checks that `slot` is a reservation of this end's sending queue; its index.
    #[inline]
    fn reserved(&self, slot: &TxSlot) -> Result<usize, LinkError> {
        let i = slot.index();
        match self.tx.state_of(i) {
            Some(State::Reserved) if slot.len() <= S => Ok(usize::from(i)),
            _ => Err(LinkError::BadSlot { index: i }),
        }
    }

    /// Drops the lent buffer of slot `i`, if it is the one lent.
    #[inline]
    fn unlend(&mut self, i: u16) {
        if self.lent.as_ref().is_some_and(|(l, _)| *l == i) {
            self.lent = None;
        }
    }

    /// Copies `parts` one after the other into reserved slot `slot` from byte `at`.
    #[inline]
    fn write_parts(
        &mut self,
        slot: &TxSlot,
        at: usize,
        parts: [&[u8]; 2],
    ) -> Result<(), LinkError> {
        let i = self.reserved(slot)?;
        let len = parts[0].len() + parts[1].len();
        let reserved = slot.len();
        let end = at
            .checked_add(len)
            .filter(|&e| e <= reserved)
            .ok_or(LinkError::OutOfBounds {
                offset: at,
                len,
                reserved,
            })?;
        self.unlend(slot.index());
        let mut s = self
            .tx
            .slots
            .get(i)
            .and_then(|s| s.try_borrow_mut().ok())
            .ok_or(LinkError::BadSlot {
                index: slot.index(),
            })?;
        let dst = s.bytes.get_mut(at..end).ok_or(LinkError::BadSlot {
            index: slot.index(),
        })?;
        let (head, rest) = dst.split_at_mut(parts[0].len());
        head.copy_from_slice(parts[0]);
        rest.copy_from_slice(parts[1]);
        Ok(())
    }
}

impl<const N: usize, const S: usize> FrameLink for PairEnd<'_, N, S> {
    type Error = LinkError;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(S)
    }

    fn link_state(&mut self) -> LinkState {
        LinkState::Up
    }

    /// Takes the oldest frame in its slot: the slot stays borrowed (read-only) until
    /// `rx_release`, so nobody writes it meanwhile and no copy is made. `Ok(None)` when
    /// no frame waits or this end holds [`PAIR_TAKEN`] frames already.
    #[inline]
    fn rx_take(&mut self) -> Result<Option<RxSlot>, LinkError> {
        let Some(k) = self.taken.iter().position(Option::is_none) else {
            return Ok(None);
        };
        let Some(i) = self.rx.pop() else {
            return Ok(None);
        };
        let at = usize::from(i);
        let len = self.rx.lens.get(at).map_or(0, Cell::get).min(S as u32);
        let meta = self.rx.metas.get(at).map_or(FrameMeta::NONE, Cell::get);
        match self.rx.slots.get(at).map(RefCell::try_borrow) {
            Some(Ok(slot)) => {
                self.rx.set_state(i, State::Taken);
                if let Some(t) = self.taken.get_mut(k) {
                    *t = Some(Taken {
                        index: i,
                        len,
                        meta,
                        slot,
                    });
                }
                Ok(Some(RxSlot::new(k as u16, len as usize)))
            }
            // Not reachable (a queued slot is not borrowed); the slot goes back, unread.
            _ => {
                self.rx.release(i);
                Ok(None)
            }
        }
    }

    #[inline]
    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        match self.taken.get(usize::from(slot.index())) {
            Some(Some(t)) => t.slot.bytes.get(..t.len as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    #[inline]
    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        match self.taken.get(usize::from(slot.index())) {
            Some(Some(t)) => t.meta,
            _ => FrameMeta::NONE,
        }
    }

    #[inline]
    fn rx_release(&mut self, slot: RxSlot) {
        let Some(t) = self
            .taken
            .get_mut(usize::from(slot.index()))
            .and_then(Option::take)
        else {
            return;
        };
        drop(t.slot);
        self.rx.give_back(t.index);
    }

    #[inline]
    fn rx_pending(&self) -> usize {
        self.rx.queued.get()
    }

    #[inline]
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, LinkError> {
        if !(HEADER_LEN..=S).contains(&len) {
            return Err(LinkError::FrameLength {
                len,
                min: HEADER_LEN,
                max: S,
            });
        }
        Ok(self.tx.alloc().map(|i| TxSlot::new(i, len)))
    }

    #[inline]
    fn tx_room(&self) -> Option<usize> {
        Some(self.tx.free_len.get())
    }

    #[inline]
    fn tx_write(&mut self, slot: &TxSlot, offset: usize, data: &[u8]) -> Result<(), LinkError> {
        self.write_parts(slot, offset, [data, &[]])
    }

    /// Header and payload with one bounds check and one borrow.
    #[inline]
    fn tx_write_frame(
        &mut self,
        slot: &TxSlot,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), LinkError> {
        self.write_parts(slot, 0, [header, payload])
    }

    /// The slot itself: the receiving end cannot see it before the commit.
    fn tx_buffer(&mut self, slot: &TxSlot) -> Option<&mut [u8]> {
        let i = self.reserved(slot).ok()?;
        let len = slot.len();
        if self.lent.as_ref().is_none_or(|(l, _)| *l != slot.index()) {
            self.lent = None;
            let s = self.tx.slots.get(i)?.try_borrow_mut().ok()?;
            self.lent = Some((slot.index(), s));
        }
        self.lent.as_mut()?.1.bytes.get_mut(..len)
    }

    #[inline]
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), LinkError> {
        self.reserved(&slot)?;
        self.unlend(slot.index());
        self.tx.deliver(slot.index(), slot.len(), meta);
        Ok(())
    }

    #[inline]
    fn tx_abort(&mut self, slot: TxSlot) {
        if self.reserved(&slot).is_ok() {
            self.unlend(slot.index());
            self.tx.release(slot.index());
        }
    }
}
