//! [`PortPair`]: an in-process switch port with a partition side (feature
//! `vnet-switch`).
//!
//! The pair is two frame queues (partition → switch, switch → partition) of `N` slots of
//! `S` bytes. The switch owns the [`SwitchPort`] (a `vnet_switch::FrameLink`); the
//! partition's stack runs over the [`PartitionLink`] (a [`FrameLink`]). Both sides borrow
//! the pair, so it lives where both can see it (a `static`, a `Box`, a test's frame).
//!
//! The switch side reads a frame it took in its queue slot, without a copy: the slot
//! stays borrowed (each partition → switch slot has its own borrow flag) from `rx_take`
//! to `rx_release`, and it is off the free list meanwhile, so the partition can neither
//! reserve nor write it — the memory is private to the switch for that time, as the
//! link contract asks, and the bytes it forwards are the bytes it validated.
//! The one copy is the switch's own, into the destination's slot. The partition side
//! reads a received frame in its queue slot while it holds a borrow of the pair (nobody
//! can write it meanwhile, so there is no double fetch) and builds a transmitted frame
//! straight in a queue slot the switch cannot see before the send. The switch's egress writes straight into the partition's slot. Slots may be committed or aborted in any order (the
//! switch queues reserved frames per traffic class).
//!
//! [`Faults`] drop or corrupt frames on their way to the partition, deterministically
//! from a seed, and count what they did; corruption flips one bit after the Ethernet
//! header of an IPv4 frame, so every corrupted frame is one a checksum catches.

use core::cell::{Ref, RefCell, RefMut};

use vnet_switch::frame_link::{
    FrameLink as SwitchLink, LinkCaps as SwitchCaps, LinkError as SwitchError,
};
use vnet_switch::{FrameMeta, RxSlot, TxSlot};

use crate::link::{FrameLink, LinkCaps, LinkError, MAX_FRAME, MIN_FRAME};

/// Fault injection on the switch → partition queue (per mille; 0 disables).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Chance per frame, in ‰, to lose it.
    pub drop_per_mille: u16,
    /// Chance per frame, in ‰, to flip one bit of an IPv4 frame after its Ethernet header.
    pub corrupt_per_mille: u16,
    /// Seed of the generator (xorshift32; 0 is replaced by 1).
    pub seed: u32,
}

/// What the fault hooks did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Frames lost.
    pub dropped: u64,
    /// Frames corrupted.
    pub corrupted: u64,
}

/// A frame slot with an odd cache-line stride (`S` + 64 bytes, 64-aligned), so slot
/// starts spread over the cache sets (1536 is 24 lines).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot<const S: usize> {
    bytes: [u8; S],
    stride: [u8; 64],
}

/// A partition → switch frame slot. Each has its own borrow flag (which fills the 64
/// bytes after the frame: the stride stays odd), so the switch side reads a taken frame
/// in place while the partition writes other slots; the flag makes the partition's
/// write to a slot the switch still reads fail instead of changing the bytes.
#[repr(C, align(64))]
struct UpSlot<const S: usize> {
    bytes: [u8; S],
}

/// The bookkeeping of a fixed queue of `N` frame slots: a free stack and a FIFO of
/// filled slots with their lengths.
struct Ring<const N: usize> {
    lens: [u16; N],
    free: [u16; N],
    free_len: usize,
    fifo: [u16; N],
    fifo_head: usize,
    fifo_len: usize,
}

impl<const N: usize> Ring<N> {
    fn new() -> Self {
        const { assert!(N >= 1 && N <= 0x8000) };
        Ring {
            lens: [0; N],
            free: core::array::from_fn(|i| (N - 1 - i) as u16),
            free_len: N,
            fifo: [0; N],
            fifo_head: 0,
            fifo_len: 0,
        }
    }

    fn alloc(&mut self) -> Option<u16> {
        self.free_len = self.free_len.checked_sub(1)?;
        self.free.get(self.free_len).copied()
    }

    fn release(&mut self, i: u16) {
        if let Some(f) = self.free.get_mut(self.free_len) {
            *f = i;
            self.free_len += 1;
        }
    }

    fn push(&mut self, i: u16, len: usize) {
        let at = (self.fifo_head + self.fifo_len) % N;
        if let (Some(f), Some(l)) = (self.fifo.get_mut(at), self.lens.get_mut(usize::from(i))) {
            *f = i;
            *l = len as u16;
            self.fifo_len += 1;
        }
    }

    fn pop(&mut self) -> Option<u16> {
        if self.fifo_len == 0 {
            return None;
        }
        let i = self.fifo.get(self.fifo_head).copied()?;
        self.fifo_head = (self.fifo_head + 1) % N;
        self.fifo_len -= 1;
        Some(i)
    }

    fn len_of(&self, i: u16) -> usize {
        self.lens.get(usize::from(i)).map_or(0, |&l| usize::from(l))
    }
}

/// A fixed queue of `N` frame slots of `S` bytes (switch → partition).
struct Slots<const N: usize, const S: usize> {
    ring: Ring<N>,
    bufs: [Slot<S>; N],
}

impl<const N: usize, const S: usize> Slots<N, S> {
    fn new() -> Self {
        const { assert!(S >= MIN_FRAME && S <= 0xffff) };
        Slots {
            ring: Ring::new(),
            bufs: [Slot {
                bytes: [0; S],
                stride: [0; 64],
            }; N],
        }
    }

    fn frame(&self, i: u16) -> &[u8] {
        let len = self.ring.len_of(i);
        self.bufs
            .get(usize::from(i))
            .and_then(|b| b.bytes.get(..len))
            .unwrap_or(&[])
    }

    /// The bytes of slot `i`, mutably.
    fn bytes_mut(&mut self, i: u16) -> Option<&mut [u8; S]> {
        self.bufs.get_mut(usize::from(i)).map(|s| &mut s.bytes)
    }
}

struct Wire<const N: usize, const S: usize> {
    up: Ring<N>,
    down: Slots<N, S>,
    faults: Faults,
    rng: u32,
    counts: FaultCounts,
}

impl<const N: usize, const S: usize> Wire<N, S> {
    fn roll(&mut self, per_mille: u16) -> Option<u32> {
        if per_mille == 0 {
            return None;
        }
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        (x % 1000 < u32::from(per_mille)).then_some(x)
    }

    /// Delivers down-slot `i` of `len` bytes to the partition, through the fault hooks.
    fn deliver(&mut self, i: u16, len: usize) {
        if self.roll(self.faults.drop_per_mille).is_some() {
            self.counts.dropped += 1;
            self.down.ring.release(i);
            return;
        }
        if let Some(x) = self.roll(self.faults.corrupt_per_mille) {
            if let Some(b) = self.down.bytes_mut(i).and_then(|b| b.get_mut(..len)) {
                if len > 14 && b[12..14] == [0x08, 0x00] {
                    let at = 14 + (x >> 10) as usize % (len - 14);
                    b[at] ^= 1 << (x & 7);
                    self.counts.corrupted += 1;
                }
            }
        }
        self.down.ring.push(i, len);
    }
}

/// An in-process switch port: `N` slots of `S` bytes each way.
pub struct PortPair<const N: usize = 64, const S: usize = 1536> {
    wire: RefCell<Wire<N, S>>,
    /// The partition → switch frames, outside `wire`: the switch reads a taken one in
    /// place (holding its borrow) while the queues go on.
    up: [RefCell<UpSlot<S>>; N],
}

impl<const N: usize, const S: usize> Default for PortPair<N, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const S: usize> core::fmt::Debug for PortPair<N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PortPair")
            .field("faults", &self.fault_counts())
            .finish()
    }
}

impl<const N: usize, const S: usize> PortPair<N, S> {
    /// An empty pair without faults.
    pub fn new() -> Self {
        PortPair {
            wire: RefCell::new(Wire {
                up: Ring::new(),
                down: Slots::new(),
                faults: Faults::default(),
                rng: 1,
                counts: FaultCounts::default(),
            }),
            up: core::array::from_fn(|_| RefCell::new(UpSlot { bytes: [0; S] })),
        }
    }

    /// Sets the fault hooks (and reseeds).
    pub fn set_faults(&self, faults: Faults) {
        let mut w = self.wire.borrow_mut();
        w.faults = faults;
        w.rng = faults.seed.max(1);
    }

    /// What the fault hooks did so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.wire.try_borrow().map(|w| w.counts).unwrap_or_default()
    }

    /// The switch's side: a `vnet_switch::FrameLink`.
    pub fn switch_port(&self) -> SwitchPort<'_, N, S> {
        SwitchPort {
            wire: &self.wire,
            up: &self.up,
            taken: [None, None],
        }
    }

    /// The partition's side: a [`FrameLink`].
    pub fn partition_link(&self) -> PartitionLink<'_, N, S> {
        PartitionLink {
            wire: &self.wire,
            up: &self.up,
        }
    }
}

/// The switch's side of a [`PortPair`].
pub struct SwitchPort<'a, const N: usize, const S: usize> {
    wire: &'a RefCell<Wire<N, S>>,
    up: &'a [RefCell<UpSlot<S>>; N],
    /// Frames taken and not yet released: the up slot, held borrowed (so the partition
    /// cannot write it: the bytes the switch reads are the bytes it validated), and the
    /// frame length.
    taken: [Option<Taken<'a, S>>; 2],
}

/// A frame the switch side took: its up slot (index and borrow) and length.
struct Taken<'a, const S: usize> {
    index: u16,
    frame: Ref<'a, UpSlot<S>>,
    len: u16,
}

impl<const N: usize, const S: usize> core::fmt::Debug for SwitchPort<'_, N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SwitchPort").finish_non_exhaustive()
    }
}

impl<const N: usize, const S: usize> SwitchPort<'_, N, S> {
    /// Copies `parts` one after the other into reserved slot `t` from byte `at`.
    fn write_parts(&mut self, t: &TxSlot, at: usize, parts: &[&[u8]]) -> Result<(), SwitchError> {
        let reserved = t.len();
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let end = at.checked_add(len).filter(|&e| e <= reserved);
        let end = end.ok_or(SwitchError::OutOfBounds {
            offset: at,
            len,
            reserved,
        })?;
        let mut w = self.wire.try_borrow_mut().map_err(|_| SwitchError::Down)?;
        let mut dst = w
            .down
            .bytes_mut(t.index())
            .and_then(|b| b.get_mut(at..end))
            .ok_or(SwitchError::BadSlot { index: t.index() })?;
        for p in parts {
            let (head, rest) = dst.split_at_mut(p.len());
            head.copy_from_slice(p);
            dst = rest;
        }
        Ok(())
    }
}

impl<const N: usize, const S: usize> SwitchPort<'_, N, S> {
    fn take(&mut self) -> Option<RxSlot> {
        let k = self.taken.iter().position(Option::is_none)?;
        let mut w = self.wire.try_borrow_mut().ok()?;
        let index = w.up.pop()?;
        let len = w.up.len_of(index).min(S);
        match self.up.get(usize::from(index)).map(RefCell::try_borrow) {
            Some(Ok(frame)) => {
                let len = len as u16;
                *self.taken.get_mut(k)? = Some(Taken { index, frame, len });
                Some(RxSlot::new(k as u16, usize::from(len)))
            }
            // Not reachable (a queued slot is not borrowed); the slot goes back, unread.
            _ => {
                w.up.release(index);
                None
            }
        }
    }
}

impl<const N: usize, const S: usize> SwitchLink for SwitchPort<'_, N, S> {
    type Error = SwitchError;

    fn caps(&self) -> SwitchCaps {
        SwitchCaps::new(S)
    }

    /// Takes the oldest frame in place: its slot stays borrowed (read-only) until
    /// `rx_release`, so nobody writes it meanwhile (the memory is private to the switch
    /// for that time, as the link contract asks) and no copy is made.
    fn rx_take(&mut self) -> Result<Option<RxSlot>, SwitchError> {
        Ok(self.take())
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        match self.taken.get(usize::from(slot.index())) {
            Some(Some(t)) => t.frame.bytes.get(..usize::from(t.len)).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn rx_release(&mut self, slot: RxSlot) {
        let Some(t) = self
            .taken
            .get_mut(usize::from(slot.index()))
            .and_then(Option::take)
        else {
            return;
        };
        drop(t.frame);
        if let Ok(mut w) = self.wire.try_borrow_mut() {
            w.up.release(t.index);
        }
    }

    fn rx_pending(&self) -> usize {
        self.wire.try_borrow().map_or(0, |w| w.up.fifo_len)
    }

    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, SwitchError> {
        if len > S {
            return Err(SwitchError::FrameLength {
                len,
                min: 0,
                max: S,
            });
        }
        let Ok(mut w) = self.wire.try_borrow_mut() else {
            return Ok(None);
        };
        Ok(w.down.ring.alloc().map(|i| TxSlot::new(i, len)))
    }

    fn tx_write(&mut self, t: &TxSlot, at: usize, data: &[u8]) -> Result<(), SwitchError> {
        self.write_parts(t, at, &[data])
    }

    /// Header and payload with one borrow and one bounds check.
    fn tx_write_frame(
        &mut self,
        t: &TxSlot,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), SwitchError> {
        self.write_parts(t, 0, &[header, payload])
    }

    /// The pair carries no metadata: the partition's stack checks every checksum.
    fn tx_commit(&mut self, slot: TxSlot, _meta: FrameMeta) -> Result<(), SwitchError> {
        let mut w = self.wire.try_borrow_mut().map_err(|_| SwitchError::Down)?;
        w.deliver(slot.index(), slot.len().min(S));
        Ok(())
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        if let Ok(mut w) = self.wire.try_borrow_mut() {
            w.down.ring.release(slot.index());
        }
    }
}

/// The partition's side of a [`PortPair`].
pub struct PartitionLink<'a, const N: usize, const S: usize> {
    wire: &'a RefCell<Wire<N, S>>,
    up: &'a [RefCell<UpSlot<S>>; N],
}

impl<const N: usize, const S: usize> core::fmt::Debug for PartitionLink<'_, N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PartitionLink").finish_non_exhaustive()
    }
}

impl<'a, const N: usize, const S: usize> PartitionLink<'a, N, S> {
    /// Up slot `i` for writing; `None` while the switch side still reads it (never for a
    /// slot the partition reserved: a reserved slot is not taken).
    fn up_slot(&self, i: u16) -> Option<RefMut<'a, UpSlot<S>>> {
        self.up.get(usize::from(i))?.try_borrow_mut().ok()
    }
}

/// A taken frame of a [`PartitionLink`]: its queue slot (not reused before release).
#[derive(Debug, PartialEq, Eq)]
pub struct PairFrame(u16);

/// A reserved slot of the partition → switch queue.
#[derive(Debug, PartialEq, Eq)]
pub struct PairSlot(u16);

impl<const N: usize, const S: usize> FrameLink for PartitionLink<'_, N, S> {
    type Rx = PairFrame;
    type Tx = PairSlot;

    fn caps(&self) -> LinkCaps {
        LinkCaps::plain(S.min(MAX_FRAME) as u16)
    }

    fn rx_take(&mut self) -> Result<Option<PairFrame>, LinkError> {
        let mut w = self.wire.try_borrow_mut().map_err(|_| LinkError::Down)?;
        Ok(w.down.ring.pop().map(PairFrame))
    }

    /// Reads the frame in its queue slot: the pair is borrowed meanwhile, so the switch
    /// side cannot write it (no double fetch), and a taken slot is not reused before
    /// `rx_release`.
    fn rx_read<R>(&self, rx: &PairFrame, f: impl FnOnce(&[u8]) -> R) -> R {
        match self.wire.try_borrow() {
            Ok(w) => f(w.down.frame(rx.0)),
            Err(_) => f(&[]),
        }
    }

    fn rx_release(&mut self, rx: PairFrame) {
        if let Ok(mut w) = self.wire.try_borrow_mut() {
            w.down.ring.release(rx.0);
        }
    }

    fn tx_reserve(&mut self) -> Result<Option<PairSlot>, LinkError> {
        let mut w = self.wire.try_borrow_mut().map_err(|_| LinkError::Down)?;
        Ok(w.up.alloc().map(PairSlot))
    }

    fn tx_send(&mut self, tx: PairSlot, frame: &[u8]) -> Result<(), LinkError> {
        let mut w = self.wire.try_borrow_mut().map_err(|_| LinkError::Down)?;
        let len = frame.len();
        let mut slot = self.up_slot(tx.0);
        match slot.as_mut().and_then(|b| b.bytes.get_mut(..len)) {
            Some(b) => {
                b.copy_from_slice(frame);
                w.up.push(tx.0, len);
                Ok(())
            }
            None => {
                w.up.release(tx.0);
                Err(LinkError::FrameLength {
                    len,
                    min: MIN_FRAME,
                    max: S,
                })
            }
        }
    }

    fn tx_abort(&mut self, tx: PairSlot) {
        if let Ok(mut w) = self.wire.try_borrow_mut() {
            w.up.release(tx.0);
        }
    }

    /// Writes the frame straight into the queue slot: it is invisible to the switch until
    /// pushed.
    fn tx_build<R>(
        &mut self,
        tx: PairSlot,
        len: usize,
        scratch: &mut [u8; MAX_FRAME],
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> (R, Result<(), LinkError>) {
        let Ok(mut w) = self.wire.try_borrow_mut() else {
            let r = f(&mut scratch[..len.min(MAX_FRAME)]);
            return (r, Err(LinkError::Down));
        };
        let mut slot = self.up_slot(tx.0);
        match slot.as_mut().and_then(|b| b.bytes.get_mut(..len)) {
            Some(b) => {
                let r = f(b);
                w.up.push(tx.0, len);
                (r, Ok(()))
            }
            None => {
                w.up.release(tx.0);
                let r = f(&mut scratch[..len.min(MAX_FRAME)]);
                let e = LinkError::FrameLength {
                    len,
                    min: MIN_FRAME,
                    max: S,
                };
                (r, Err(e))
            }
        }
    }

    fn tx_room(&mut self) -> Option<usize> {
        self.wire.try_borrow().ok().map(|w| w.up.free_len)
    }

    fn service(&mut self, budget: u16) -> Result<(), LinkError> {
        let _ = budget;
        Ok(())
    }
}
