//! Private ingress slots shared by the adapters: a frame is copied out of shared memory
//! into one of them on `rx_take`, and the switch reads it from there.

use frame_link::{FrameMeta, RxSlot};

/// `K` private slots of `F` bytes, each with its length and offload metadata, and a free
/// list. `K` is at most 255 (checked by the adapters' constructors).
pub(crate) struct RxSlots<const F: usize, const K: usize> {
    bufs: [[u8; F]; K],
    lens: [u16; K],
    metas: [FrameMeta; K],
    taken: [bool; K],
    free: heapless::Vec<u8, K>,
}

impl<const F: usize, const K: usize> RxSlots<F, K> {
    pub(crate) fn new() -> Self {
        let mut free = heapless::Vec::new();
        for i in (0..K).rev() {
            // K <= 255, and the vector has room for all of them.
            let _ = free.push(i as u8);
        }
        RxSlots {
            bufs: [[0; F]; K],
            lens: [0; K],
            metas: [FrameMeta::NONE; K],
            taken: [false; K],
            free,
        }
    }

    /// The buffer of the next free slot (to receive into), without taking it.
    pub(crate) fn next_free(&mut self) -> Option<&mut [u8; F]> {
        let i = usize::from(*self.free.last()?);
        self.bufs.get_mut(i)
    }

    /// Takes the slot [`next_free`](Self::next_free) returned, now holding `len` bytes.
    pub(crate) fn take(&mut self, len: u16, meta: FrameMeta) -> Option<RxSlot> {
        let i = self.free.pop()?;
        let s = usize::from(i);
        if let (Some(l), Some(m), Some(t)) = (
            self.lens.get_mut(s),
            self.metas.get_mut(s),
            self.taken.get_mut(s),
        ) {
            *l = len;
            *m = meta;
            *t = true;
        }
        Some(RxSlot::new(u16::from(i), usize::from(len)))
    }

    /// The bytes of a taken slot (empty for a handle that names none).
    pub(crate) fn frame(&self, slot: &RxSlot) -> &[u8] {
        let i = usize::from(slot.index());
        match (self.taken.get(i), self.lens.get(i), self.bufs.get(i)) {
            (Some(true), Some(&len), Some(b)) => {
                b.get(..usize::from(len).min(slot.len())).unwrap_or(&[])
            }
            _ => &[],
        }
    }

    /// The offload metadata of a taken slot.
    #[cfg(feature = "virtqueue")]
    pub(crate) fn meta(&self, slot: &RxSlot) -> FrameMeta {
        let i = usize::from(slot.index());
        match (self.taken.get(i), self.metas.get(i)) {
            (Some(true), Some(m)) => *m,
            _ => FrameMeta::NONE,
        }
    }

    /// Gives a taken slot back (a handle that names none is ignored).
    pub(crate) fn release(&mut self, slot: RxSlot) {
        let i = usize::from(slot.index());
        if let Some(t) = self.taken.get_mut(i) {
            if *t {
                *t = false;
                // Only a taken slot goes back: the free list never overflows.
                let _ = self.free.push(i as u8);
            }
        }
    }
}
