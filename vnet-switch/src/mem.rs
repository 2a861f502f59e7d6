//! An in-memory port: two fixed rings of frame slots (feature `test-utils`).
//!
//! The switch sees a [`FrameLink`]; the test (the "peer") uses [`MemEndpoint::inject`]
//! and [`MemEndpoint::receive`]. Each ring keeps a free list and a FIFO of slot indices,
//! so slots may be released or aborted in any order and egress frames reach the peer in
//! commit order (as a virtqueue's used ring would).
//!
//! Fault hooks ([`Faults`]) drop or corrupt every n-th injected frame. For benchmarks,
//! [`MemEndpoint::set_recycle`] re-queues released ingress frames (no copy) and
//! [`MemEndpoint::set_discard`] frees committed egress slots at once.

use frame_link::{FrameLink, FrameMeta, LinkCaps, LinkError, RxSlot, TxSlot};

/// Fault injection on the peer's ingress side (0 disables a hook).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Silently lose every n-th injected frame.
    pub drop_every: u32,
    /// Flip one byte (anywhere, addresses included) of every n-th injected frame.
    pub corrupt_every: u32,
}

/// Why the peer could not inject a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectError {
    /// No free slot.
    Full,
    /// Longer than a slot: the length.
    TooLong(usize),
}

impl core::fmt::Display for InjectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InjectError::Full => write!(f, "no free slot"),
            InjectError::TooLong(n) => write!(f, "frame of {n} bytes longer than a slot"),
        }
    }
}

/// A FIFO of up to `N` slot indices (`N` a power of two): free-running positions masked
/// with `N - 1`, so no index is out of bounds and no wrap test is needed.
///
/// A ring's free list and FIFO share its `N` indices: each index is in one of them or
/// handed out (and goes back only through `take_back`, once), so a push never finds a
/// full FIFO and needs no test for it.
struct Indices<const N: usize> {
    items: [u16; N],
    head: usize,
    tail: usize,
}

impl<const N: usize> Indices<N> {
    const MASK: usize = N - 1;
    const fn new() -> Self {
        Indices {
            items: [0; N],
            head: 0,
            tail: 0,
        }
    }
    #[inline]
    fn push(&mut self, i: u16) {
        debug_assert!(self.len() < N, "more than N indices in a ring");
        if let Some(item) = self.items.get_mut(self.tail & Self::MASK) {
            *item = i;
        }
        self.tail = self.tail.wrapping_add(1);
    }
    #[inline]
    fn pop(&mut self) -> Option<u16> {
        if self.head == self.tail {
            return None;
        }
        // Entries are slot indices (below `N`): the mask changes none, and tells the
        // compiler so (no bounds check where the index is used).
        let i = self
            .items
            .get(self.head & Self::MASK)
            .map(|i| i & Self::MASK as u16);
        self.head = self.head.wrapping_add(1);
        i
    }
    #[inline]
    fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }
}

/// One frame slot followed by one cache line of padding.
///
/// Slot sizes are usually an even number of cache lines (1536 bytes is 24 lines): without
/// the padding, the starts of all slots (where every frame's header and the whole of a
/// small frame live) map to a few cache sets only (8 of 64 sets of a 48 KiB 12-way L1 for
/// 1536 bytes), and a ring's worth of small frames evicts itself. With an odd stride
/// (1600 bytes, 25 lines) the slot starts spread over all sets.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot<const S: usize> {
    bytes: [u8; S],
    _pad: [u8; 64],
}

/// Writes `header` then `payload` from the start of `buf`; the caller checked that
/// they fit (a longer frame writes nothing). Fixed-size copies for the two header
/// lengths the switch writes (no call into memcpy for 14 bytes); none for a frame copied
/// whole.
#[inline(always)]
fn write_frame<const S: usize>(buf: &mut [u8; S], header: &[u8], payload: &[u8]) {
    let h = header.len();
    let Some(rest) = buf.get_mut(h..h + payload.len()) else {
        return;
    };
    copy(rest, payload);
    if header.is_empty() {
    } else if let (Some(d), Ok(src)) = (buf.first_chunk_mut::<14>(), <&[u8; 14]>::try_from(header))
    {
        *d = *src;
    } else if let (Some(d), Ok(src)) = (buf.first_chunk_mut::<18>(), <&[u8; 18]>::try_from(header))
    {
        *d = *src;
    } else if let Some(d) = buf.get_mut(..h) {
        d.copy_from_slice(header);
    }
}

/// `dst.copy_from_slice(src)` (same lengths), inline for up to 64 bytes (two
/// overlapping fixed-size copies: no call into memcpy for a small frame).
#[inline(always)]
fn copy(dst: &mut [u8], src: &[u8]) {
    fn ends<const K: usize>(dst: &mut [u8], src: &[u8]) -> bool {
        match (
            dst.first_chunk_mut::<K>(),
            src.first_chunk::<K>(),
            src.last_chunk::<K>(),
        ) {
            (Some(d), Some(a), Some(_)) => *d = *a,
            _ => return false,
        }
        if let (Some(d), Some(b)) = (dst.last_chunk_mut::<K>(), src.last_chunk::<K>()) {
            *d = *b;
        }
        true
    }
    let n = src.len();
    if n != dst.len() || !(16..=64).contains(&n) {
        dst.copy_from_slice(src);
    } else if n >= 32 {
        ends::<32>(dst, src);
    } else {
        ends::<16>(dst, src);
    }
}

/// A ring of `N` slots of `S` bytes: a free list and a FIFO of filled slots.
struct Ring<const N: usize, const S: usize> {
    bufs: [Slot<S>; N],
    lens: [u16; N],
    metas: [FrameMeta; N],
    free: Indices<N>,
    fifo: Indices<N>,
    /// Slots handed out (taken or reserved) and not yet returned.
    out: [bool; N],
}

impl<const N: usize, const S: usize> Ring<N, S> {
    fn new() -> Self {
        const {
            assert!(
                N.is_power_of_two() && N <= 65536,
                "N must be a power of two"
            );
            assert!(S <= u16::MAX as usize, "a slot holds at most 65535 bytes");
        };
        let mut free = Indices::new();
        for i in 0..N {
            free.push(i as u16);
        }
        Ring {
            bufs: [Slot {
                bytes: [0; S],
                _pad: [0; 64],
            }; N],
            lens: [0; N],
            metas: [FrameMeta::NONE; N],
            free,
            fifo: Indices::new(),
            out: [false; N],
        }
    }
    /// Takes a slot out (from the free list or the FIFO) and marks it handed out.
    fn hand_out(&mut self, i: u16) {
        if let Some(o) = self.out.get_mut(usize::from(i)) {
            *o = true;
        }
    }
    /// Returns `true` if `i` was handed out (and clears the mark).
    fn take_back(&mut self, i: u16) -> bool {
        match self.out.get_mut(usize::from(i)) {
            Some(o) if *o => {
                *o = false;
                true
            }
            _ => false,
        }
    }
}

/// An in-memory endpoint with `N` slots (a power of two) of `S` bytes per direction.
pub struct MemEndpoint<const N: usize, const S: usize = 1536> {
    rx: Ring<N, S>,
    tx: Ring<N, S>,
    faults: Faults,
    injected: u64,
    recycle: bool,
    discard: bool,
    /// Frames lost by the drop hook.
    pub fault_dropped: u64,
    /// Frames changed by the corrupt hook.
    pub fault_corrupted: u64,
}

impl<const N: usize, const S: usize> Default for MemEndpoint<N, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const S: usize> MemEndpoint<N, S> {
    /// An endpoint with empty rings.
    pub fn new() -> Self {
        MemEndpoint {
            rx: Ring::new(),
            tx: Ring::new(),
            faults: Faults::default(),
            injected: 0,
            recycle: false,
            discard: false,
            fault_dropped: 0,
            fault_corrupted: 0,
        }
    }

    /// Sets the fault hooks.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Benchmark mode: released ingress frames go back to the FIFO instead of the free
    /// list, so the same frames flow again without being copied in.
    pub fn set_recycle(&mut self, on: bool) {
        self.recycle = on;
    }

    /// Benchmark mode: committed egress slots are freed at once (the peer reads nothing).
    pub fn set_discard(&mut self, on: bool) {
        self.discard = on;
    }

    /// A free egress slot for a frame of `len` bytes (`None`: no room); a frame longer
    /// than a slot is refused.
    #[inline(always)]
    fn tx_slot(&mut self, len: usize) -> Result<Option<u16>, LinkError> {
        if len > S {
            return Err(LinkError::FrameLength {
                len,
                min: 0,
                max: S,
            });
        }
        Ok(self.tx.free.pop())
    }

    /// Hands written slot `i` (`len <= S` bytes) to the peer, or frees it at once in
    /// discard mode.
    #[inline(always)]
    fn tx_publish(&mut self, i: u16, len: usize, meta: FrameMeta) {
        let at = usize::from(i);
        if let (Some(l), Some(m)) = (self.tx.lens.get_mut(at), self.tx.metas.get_mut(at)) {
            // `S` fits a `u16` (checked on `new`).
            *l = len.min(S) as u16;
            *m = meta;
        }
        if self.discard {
            self.tx.free.push(i);
        } else {
            self.tx.fifo.push(i);
        }
    }

    /// The peer sends a frame (subject to the fault hooks).
    pub fn inject(&mut self, frame: &[u8]) -> Result<(), InjectError> {
        self.inject_with_meta(frame, FrameMeta::NONE)
    }

    /// The peer sends a frame with offload metadata (subject to the fault hooks).
    pub fn inject_with_meta(&mut self, frame: &[u8], meta: FrameMeta) -> Result<(), InjectError> {
        if frame.len() > S || frame.len() > usize::from(u16::MAX) {
            return Err(InjectError::TooLong(frame.len()));
        }
        let Some(i) = self.rx.free.pop() else {
            return Err(InjectError::Full);
        };
        self.injected += 1;
        let n = self.injected;
        let hit = |every: u32| every != 0 && n.is_multiple_of(u64::from(every));
        if hit(self.faults.drop_every) {
            self.fault_dropped += 1;
            self.rx.free.push(i);
            return Ok(());
        }
        let slot = usize::from(i);
        self.rx.bufs[slot].bytes[..frame.len()].copy_from_slice(frame);
        if hit(self.faults.corrupt_every) && !frame.is_empty() {
            // Anywhere in the frame, addresses and tags included.
            let at = (n as usize).wrapping_mul(7) % frame.len();
            self.rx.bufs[slot].bytes[at] ^= 0xa5;
            self.fault_corrupted += 1;
        }
        self.rx.lens[slot] = frame.len() as u16;
        self.rx.metas[slot] = meta;
        self.rx.fifo.push(i);
        Ok(())
    }

    /// The peer receives the oldest committed frame into `out`; returns its length
    /// (truncated to `out.len()` if `out` is short).
    pub fn receive(&mut self, out: &mut [u8]) -> Option<usize> {
        self.receive_with_meta(out).map(|(n, _)| n)
    }

    /// [`receive`](Self::receive), with the frame's offload metadata.
    pub fn receive_with_meta(&mut self, out: &mut [u8]) -> Option<(usize, FrameMeta)> {
        let i = self.tx.fifo.pop()?;
        let slot = usize::from(i);
        let len = usize::from(self.tx.lens[slot]).min(out.len());
        out[..len].copy_from_slice(&self.tx.bufs[slot].bytes[..len]);
        self.tx.free.push(i);
        Some((usize::from(self.tx.lens[slot]), self.tx.metas[slot]))
    }

    /// Frames committed and not yet received by the peer.
    pub fn tx_pending(&self) -> usize {
        self.tx.fifo.len()
    }

    /// Free ingress slots (room for the peer to inject).
    pub fn rx_room(&self) -> usize {
        self.rx.free.len()
    }

    /// Drops all frames waiting for the peer (O(1) per frame, no copy).
    pub fn clear_tx(&mut self) {
        while let Some(i) = self.tx.fifo.pop() {
            self.tx.free.push(i);
        }
    }
}

impl<const N: usize, const S: usize> FrameLink for MemEndpoint<N, S> {
    type Error = LinkError;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(S)
    }

    #[inline]
    fn rx_take(&mut self) -> Result<Option<RxSlot>, LinkError> {
        let Some(i) = self.rx.fifo.pop() else {
            return Ok(None);
        };
        self.rx.hand_out(i);
        Ok(Some(RxSlot::new(
            i,
            usize::from(self.rx.lens[usize::from(i)]),
        )))
    }

    #[inline]
    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        let i = usize::from(slot.index());
        match (self.rx.bufs.get(i).map(|b| &b.bytes), self.rx.out.get(i)) {
            (Some(b), Some(true)) => b.get(..slot.len()).unwrap_or(b),
            _ => &[],
        }
    }

    #[inline]
    fn rx_release(&mut self, slot: RxSlot) {
        let i = slot.index();
        if self.rx.take_back(i) {
            if self.recycle {
                self.rx.fifo.push(i);
            } else {
                self.rx.free.push(i);
            }
        }
    }

    #[inline]
    fn rx_pending(&self) -> usize {
        self.rx.fifo.len()
    }

    #[inline]
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, LinkError> {
        let Some(i) = self.tx_slot(len)? else {
            return Ok(None);
        };
        self.tx.hand_out(i);
        Ok(Some(TxSlot::new(i, len)))
    }

    #[inline]
    fn tx_room(&self) -> Option<usize> {
        Some(self.tx.free.len())
    }

    #[inline]
    fn tx_write(&mut self, slot: &TxSlot, offset: usize, bytes: &[u8]) -> Result<(), LinkError> {
        let i = usize::from(slot.index());
        if !self.tx.out.get(i).copied().unwrap_or(false) {
            return Err(LinkError::BadSlot {
                index: slot.index(),
            });
        }
        let reserved = slot.len();
        let end = offset.checked_add(bytes.len()).filter(|e| *e <= reserved);
        match (end, self.tx.bufs.get_mut(i).map(|b| &mut b.bytes)) {
            (Some(end), Some(buf)) => {
                buf[offset..end].copy_from_slice(bytes);
                Ok(())
            }
            _ => Err(LinkError::OutOfBounds {
                offset,
                len: bytes.len(),
                reserved,
            }),
        }
    }

    #[inline]
    fn tx_write_frame(
        &mut self,
        slot: &TxSlot,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), LinkError> {
        let i = usize::from(slot.index());
        let reserved = slot.len();
        let total = header.len() + payload.len();
        match (
            self.tx.out.get(i),
            self.tx.bufs.get_mut(i).map(|b| &mut b.bytes),
        ) {
            (Some(true), Some(buf)) if total <= reserved && total <= S => {
                write_frame(buf, header, payload);
                Ok(())
            }
            (Some(true), Some(_)) => Err(LinkError::OutOfBounds {
                offset: 0,
                len: total,
                reserved,
            }),
            _ => Err(LinkError::BadSlot {
                index: slot.index(),
            }),
        }
    }

    #[inline]
    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        self.rx
            .metas
            .get(usize::from(slot.index()))
            .copied()
            .unwrap_or_default()
    }

    #[inline]
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), LinkError> {
        let i = slot.index();
        if !self.tx.take_back(i) {
            return Err(LinkError::BadSlot { index: i });
        }
        // At most a slot: a handle claiming more than its slot cannot make the peer
        // read past it.
        self.tx_publish(i, slot.len().min(S), meta);
        Ok(())
    }

    #[inline]
    fn tx_abort(&mut self, slot: TxSlot) {
        let i = slot.index();
        if self.tx.take_back(i) {
            self.tx.free.push(i);
        }
    }

    /// Reserve, write and commit in one: no handle is handed out, so none is checked.
    #[inline]
    fn tx_send(
        &mut self,
        header: &[u8],
        payload: &[u8],
        meta: FrameMeta,
    ) -> Result<bool, LinkError> {
        let len = header.len() + payload.len();
        let Some(i) = self.tx_slot(len)? else {
            return Ok(false);
        };
        // Published before the copy (nothing reads the slot in between: the peer reads
        // through `&mut self`), so the caller's `meta` is not kept across the copy.
        self.tx_publish(i, len, meta);
        if let Some(b) = self.tx.bufs.get_mut(usize::from(i)) {
            write_frame(&mut b.bytes, header, payload);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_flow_both_ways_and_handles_are_checked() {
        let mut e = MemEndpoint::<2, 64>::new();
        e.inject(&[1, 2, 3]).unwrap();
        e.inject(&[4]).unwrap();
        assert_eq!(e.inject(&[5]), Err(InjectError::Full));
        assert_eq!(e.inject(&[0; 65]), Err(InjectError::TooLong(65)));
        let a = e.rx_take().unwrap().unwrap();
        assert_eq!(e.rx_frame(&a), &[1, 2, 3]);
        let forged = RxSlot::new(1, 1);
        assert_eq!(e.rx_frame(&forged), &[] as &[u8], "slot 1 not taken yet");
        e.rx_release(a);
        let t = e.tx_reserve(4).unwrap().unwrap();
        assert!(matches!(
            e.tx_write(&t, 2, &[0; 3]),
            Err(LinkError::OutOfBounds { .. })
        ));
        e.tx_write(&t, 0, &[9, 8, 7, 6]).unwrap();
        let u = e.tx_reserve(1).unwrap().unwrap();
        e.tx_write(&u, 0, &[1]).unwrap();
        e.tx_commit(u, FrameMeta::NONE).unwrap(); // committed first, so received first
        e.tx_commit(t, FrameMeta::NONE).unwrap();
        let mut out = [0u8; 8];
        assert_eq!(e.receive(&mut out), Some(1));
        assert_eq!(e.receive(&mut out), Some(4));
        assert_eq!(&out[..4], &[9, 8, 7, 6]);
        assert_eq!(e.receive(&mut out), None);
        // Committed shorter than reserved; a forged longer handle is clamped to its slot.
        let t = e.tx_reserve(4).unwrap().unwrap();
        e.tx_write(&t, 0, &[1, 2, 3, 4]).unwrap();
        e.tx_commit(t.shrink(2), FrameMeta::NONE).unwrap();
        assert_eq!(e.receive(&mut out), Some(2));
        let t = e.tx_reserve(3).unwrap().unwrap();
        let forged = TxSlot::new(t.index(), 60_000);
        e.tx_commit(forged, FrameMeta::NONE).unwrap();
        let mut whole = [0u8; 100];
        assert_eq!(e.receive(&mut whole), Some(64), "at most the 64-byte slot");
        assert!(
            e.tx_commit(t, FrameMeta::NONE).is_err(),
            "committed once already"
        );
    }

    #[test]
    fn tx_send_writes_commits_and_refuses_like_the_slot_calls() {
        let mut e = MemEndpoint::<2, 64>::new();
        let head = [7u8; 14];
        let meta = FrameMeta::partial(14, 6);
        assert_eq!(e.tx_send(&head, &[1, 2, 3], meta), Ok(true));
        let long = [5u8; 40];
        assert_eq!(e.tx_send(&head[..4], &long, FrameMeta::NONE), Ok(true));
        assert_eq!(e.tx_send(&[], &[1], FrameMeta::NONE), Ok(false), "full");
        assert!(matches!(
            e.tx_send(&head, &[0; 51], FrameMeta::NONE),
            Err(LinkError::FrameLength { len: 65, .. })
        ));
        let mut out = [0u8; 64];
        assert_eq!(e.receive_with_meta(&mut out), Some((17, meta)));
        assert_eq!((&out[..14], &out[14..17]), (&head[..], &[1, 2, 3][..]));
        assert_eq!(e.receive(&mut out), Some(44));
        assert_eq!((&out[..4], &out[4..44]), (&head[..4], &long[..]));
        // Every length of the inline small copies, and the copy past them.
        let mut e = MemEndpoint::<2, 128>::new();
        let mut out = [0u8; 128];
        for n in 0..=128 {
            let f: Vec<u8> = (0..n as u8).collect();
            assert_eq!(e.tx_send(&[], &f, FrameMeta::NONE), Ok(true));
            assert_eq!(e.receive(&mut out), Some(n));
            assert_eq!(&out[..n], &f[..]);
        }
    }

    #[test]
    fn fault_hooks_drop_and_corrupt() {
        let mut e = MemEndpoint::<8, 64>::new();
        e.set_faults(Faults {
            drop_every: 2,
            corrupt_every: 3,
        });
        for _ in 0..4 {
            e.inject(&[0u8; 20]).unwrap();
        }
        assert_eq!((e.fault_dropped, e.fault_corrupted), (2, 1));
        assert_eq!(e.rx_pending(), 2);
        let a = e.rx_take().unwrap().unwrap();
        let b = e.rx_take().unwrap().unwrap();
        assert_eq!(e.rx_frame(&a), &[0u8; 20]);
        assert_eq!(e.rx_frame(&b).iter().filter(|x| **x != 0).count(), 1);
    }
}
