//! [`PortPair`]: an in-process switch port with a partition side (feature
//! `vnet-switch`).
//!
//! The pair is two frame queues (partition → switch, switch → partition) of `N` slots of
//! `S` bytes. The switch owns the [`SwitchPort`] (a `vnet_switch::PortEndpoint`); the
//! partition's stack runs over the [`PartitionLink`] (a [`FrameLink`]). Both sides borrow
//! the pair, so it lives where both can see it (a `static`, a `Box`, a test's frame).
//!
//! The switch side copies what it receives into its own private slots (the
//! `PortEndpoint` contract). The partition side reads a received frame in its queue slot
//! while it holds a borrow of the pair (nobody can write it meanwhile, so there is no
//! double fetch) and builds a transmitted frame straight in a queue slot the switch cannot
//! see before the send. The switch's egress writes straight into the partition's slot. Slots may be committed or aborted in any order (the
//! switch queues reserved frames per traffic class).
//!
//! [`Faults`] drop or corrupt frames on their way to the partition, deterministically
//! from a seed, and count what they did; corruption flips one bit after the Ethernet
//! header of an IPv4 frame, so every corrupted frame is one a checksum catches.

use core::cell::RefCell;

use vnet_switch::{EndpointError, PortEndpoint, RxSlot, TxSlot};

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

/// A fixed queue of `N` frame slots: a free stack and a FIFO of filled slots.
struct Slots<const N: usize, const S: usize> {
    bufs: [Slot<S>; N],
    lens: [u16; N],
    free: [u16; N],
    free_len: usize,
    fifo: [u16; N],
    fifo_head: usize,
    fifo_len: usize,
}

impl<const N: usize, const S: usize> Slots<N, S> {
    fn new() -> Self {
        const { assert!(N >= 1 && N <= 0x8000 && S >= MIN_FRAME && S <= 0xffff) };
        Slots {
            bufs: [Slot {
                bytes: [0; S],
                stride: [0; 64],
            }; N],
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

    fn frame(&self, i: u16) -> &[u8] {
        let i = usize::from(i);
        match (self.bufs.get(i), self.lens.get(i)) {
            (Some(b), Some(&l)) => b.bytes.get(..usize::from(l)).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The bytes of slot `i`, mutably.
    fn bytes_mut(&mut self, i: u16) -> Option<&mut [u8; S]> {
        self.bufs.get_mut(usize::from(i)).map(|s| &mut s.bytes)
    }

    /// Copies the oldest frame into `out`; returns its length.
    fn pop_into(&mut self, out: &mut [u8]) -> Option<usize> {
        let i = self.pop()?;
        let f = self.frame(i);
        let n = f.len().min(out.len());
        out[..n].copy_from_slice(&f[..n]);
        self.release(i);
        Some(n)
    }
}

struct Wire<const N: usize, const S: usize> {
    up: Slots<N, S>,
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
            self.down.release(i);
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
        self.down.push(i, len);
    }
}

/// An in-process switch port: `N` slots of `S` bytes each way.
pub struct PortPair<const N: usize = 64, const S: usize = 1536> {
    wire: RefCell<Wire<N, S>>,
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
                up: Slots::new(),
                down: Slots::new(),
                faults: Faults::default(),
                rng: 1,
                counts: FaultCounts::default(),
            }),
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

    /// The switch's side: a `vnet_switch::PortEndpoint`.
    pub fn switch_port(&self) -> SwitchPort<'_, N, S> {
        SwitchPort {
            wire: &self.wire,
            rx: [[0; S]; 2],
            rx_len: [0; 2],
            rx_out: [false; 2],
        }
    }

    /// The partition's side: a [`FrameLink`].
    pub fn partition_link(&self) -> PartitionLink<'_, N, S> {
        PartitionLink { wire: &self.wire }
    }
}

/// The switch's side of a [`PortPair`].
pub struct SwitchPort<'a, const N: usize, const S: usize> {
    wire: &'a RefCell<Wire<N, S>>,
    rx: [[u8; S]; 2],
    rx_len: [u16; 2],
    rx_out: [bool; 2],
}

impl<const N: usize, const S: usize> core::fmt::Debug for SwitchPort<'_, N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SwitchPort").finish_non_exhaustive()
    }
}

impl<const N: usize, const S: usize> PortEndpoint for SwitchPort<'_, N, S> {
    fn rx_take(&mut self) -> Option<RxSlot> {
        let k = self.rx_out.iter().position(|o| !o)?;
        let mut w = self.wire.try_borrow_mut().ok()?;
        let n = w.up.pop_into(&mut self.rx[k])?;
        self.rx_out[k] = true;
        self.rx_len[k] = n as u16;
        Some(RxSlot::new(k as u16, n as u16))
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        let k = usize::from(slot.index());
        match (self.rx.get(k), self.rx_len.get(k)) {
            (Some(b), Some(&l)) => b.get(..usize::from(l)).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn rx_release(&mut self, slot: RxSlot) {
        if let Some(o) = self.rx_out.get_mut(usize::from(slot.index())) {
            *o = false;
        }
    }

    fn rx_pending(&self) -> usize {
        self.wire.try_borrow().map_or(0, |w| w.up.fifo_len)
    }

    fn tx_reserve(&mut self, len: usize) -> Option<TxSlot> {
        if len > S {
            return None;
        }
        let i = self.wire.try_borrow_mut().ok()?.down.alloc()?;
        Some(TxSlot::new(i, len as u16))
    }

    fn tx_write(&mut self, t: &TxSlot, at: usize, data: &[u8]) -> Result<(), EndpointError> {
        let reserved = usize::from(t.len());
        let end = at.checked_add(data.len()).filter(|&e| e <= reserved);
        let end = end.ok_or(EndpointError::OutOfBounds {
            offset: at,
            len: data.len(),
            reserved,
        })?;
        let (slot, offset, bytes) = (t, at, data);
        let mut w = self
            .wire
            .try_borrow_mut()
            .map_err(|_| EndpointError::Peer)?;
        let buf = w
            .down
            .bytes_mut(slot.index())
            .and_then(|b| b.get_mut(offset..end))
            .ok_or(EndpointError::BadSlot(slot.index()))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn tx_commit(&mut self, slot: TxSlot) {
        if let Ok(mut w) = self.wire.try_borrow_mut() {
            w.deliver(slot.index(), usize::from(slot.len()));
        }
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        if let Ok(mut w) = self.wire.try_borrow_mut() {
            w.down.release(slot.index());
        }
    }
}

/// The partition's side of a [`PortPair`].
pub struct PartitionLink<'a, const N: usize, const S: usize> {
    wire: &'a RefCell<Wire<N, S>>,
}

impl<const N: usize, const S: usize> core::fmt::Debug for PartitionLink<'_, N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PartitionLink").finish_non_exhaustive()
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
        Ok(w.down.pop().map(PairFrame))
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
            w.down.release(rx.0);
        }
    }

    fn tx_reserve(&mut self) -> Result<Option<PairSlot>, LinkError> {
        let mut w = self.wire.try_borrow_mut().map_err(|_| LinkError::Down)?;
        Ok(w.up.alloc().map(PairSlot))
    }

    fn tx_send(&mut self, tx: PairSlot, frame: &[u8]) -> Result<(), LinkError> {
        let mut w = self.wire.try_borrow_mut().map_err(|_| LinkError::Down)?;
        let len = frame.len();
        match w.up.bytes_mut(tx.0).and_then(|b| b.get_mut(..len)) {
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
        match w.up.bytes_mut(tx.0).and_then(|b| b.get_mut(..len)) {
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
