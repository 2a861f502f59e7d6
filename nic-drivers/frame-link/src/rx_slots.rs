//! [`RxSlots`]: the private receive slots of a link that copies each frame out of memory
//! its peer can write.

use crate::{FrameMeta, RxSlot};

/// `K` private receive slots of `F` bytes, each with a length and offload metadata, and a
/// free list: what a link implementation copies received frames into before it hands out
/// [`RxSlot`] handles (the copy is what keeps a peer from rewriting a frame after it was
/// checked). `K` is at most 255 (checked at compile time).
///
/// A handle is honoured only if it names a slot in range that is taken and holds exactly
/// the handle's length: a forged, stale or foreign handle reads nothing and frees
/// nothing. Every call does constant work.
///
/// ```
/// use frame_link::{FrameMeta, RxSlots};
///
/// let mut slots = RxSlots::<64, 2>::new();
/// // Copy a frame into the next free slot, then take it.
/// let buf = slots.next_free().unwrap();
/// buf[..5].copy_from_slice(b"hello");
/// let slot = slots.take(5, FrameMeta::NONE).unwrap();
/// assert_eq!(slots.frame(&slot), b"hello");
/// assert_eq!(slots.free(), 1);
/// slots.release(slot);
/// assert_eq!(slots.free(), 2);
/// ```
pub struct RxSlots<const F: usize, const K: usize> {
    bufs: [[u8; F]; K],
    lens: [u16; K],
    metas: [FrameMeta; K],
    taken: [bool; K],
    /// Free slot indices in `free[..nfree]`, the next one last.
    free: [u8; K],
    nfree: usize,
}

impl<const F: usize, const K: usize> RxSlots<F, K> {
    /// All `K` slots free.
    pub const fn new() -> Self {
        const { assert!(K <= 255, "at most 255 receive slots") };
        let mut free = [0u8; K];
        let mut i = 0;
        while i < K {
            // Slot 0 is handed out first.
            free[i] = (K - 1 - i) as u8;
            i += 1;
        }
        RxSlots {
            bufs: [[0; F]; K],
            lens: [0; K],
            metas: [FrameMeta::NONE; K],
            taken: [false; K],
            free,
            nfree: K,
        }
    }

    /// Slots free now.
    #[inline]
    pub fn free(&self) -> usize {
        self.nfree
    }

    /// The buffer of the next free slot, to copy a frame into, without taking it (`None`
    /// when every slot is taken).
    #[inline]
    pub fn next_free(&mut self) -> Option<&mut [u8; F]> {
        let i = *self.free.get(self.nfree.checked_sub(1)?)?;
        self.bufs.get_mut(usize::from(i))
    }

    /// Takes the slot [`next_free`](Self::next_free) returned, now holding `len` bytes
    /// (at most `F`: a longer length is refused) with `meta`.
    #[inline]
    pub fn take(&mut self, len: u16, meta: FrameMeta) -> Option<RxSlot> {
        if usize::from(len) > F {
            return None;
        }
        let n = self.nfree.checked_sub(1)?;
        let i = *self.free.get(n)?;
        let s = usize::from(i);
        let (Some(l), Some(m), Some(t)) = (
            self.lens.get_mut(s),
            self.metas.get_mut(s),
            self.taken.get_mut(s),
        ) else {
            return None;
        };
        *l = len;
        *m = meta;
        *t = true;
        self.nfree = n;
        Some(RxSlot::new(u16::from(i), usize::from(len)))
    }

    /// The slot `slot` names if it is taken and holds exactly `slot.len()` bytes.
    #[inline]
    fn valid(&self, slot: &RxSlot) -> Option<usize> {
        let i = usize::from(slot.index());
        match (self.taken.get(i), self.lens.get(i)) {
            (Some(true), Some(&len)) if usize::from(len) == slot.len() => Some(i),
            _ => None,
        }
    }

    /// The frame behind `slot` (empty for a handle these slots did not hand out).
    #[inline]
    pub fn frame(&self, slot: &RxSlot) -> &[u8] {
        self.valid(slot)
            .and_then(|i| self.bufs.get(i))
            .and_then(|b| b.get(..slot.len()))
            .unwrap_or(&[])
    }

    /// The offload metadata of `slot` ([`FrameMeta::NONE`] for a handle these slots did
    /// not hand out).
    #[inline]
    pub fn meta(&self, slot: &RxSlot) -> FrameMeta {
        self.valid(slot)
            .and_then(|i| self.metas.get(i).copied())
            .unwrap_or(FrameMeta::NONE)
    }

    /// Gives `slot` back; a handle these slots did not hand out frees nothing.
    #[inline]
    pub fn release(&mut self, slot: RxSlot) {
        let Some(i) = self.valid(&slot) else {
            return;
        };
        if let (Some(t), Some(f)) = (self.taken.get_mut(i), self.free.get_mut(self.nfree)) {
            *t = false;
            // Only a taken slot comes back, so the free list has room for it.
            *f = i as u8;
            self.nfree += 1;
        }
    }
}

impl<const F: usize, const K: usize> Default for RxSlots<F, K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const F: usize, const K: usize> core::fmt::Debug for RxSlots<F, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RxSlots")
            .field("slots", &K)
            .field("slot_len", &F)
            .field("free", &self.nfree)
            .finish()
    }
}
