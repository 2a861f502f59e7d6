//! A tiny fixed-capacity FIFO of plain values (no `Option` per element, no `unsafe`):
//! the egress queues of the switch (slot index, length and metadata of each frame).
//!
//! `N` must be a power of two (the switch checks its queue depth when it is built):
//! positions are free-running counters
//! masked with `N - 1`, so no index is ever out of bounds and no wrap test is needed.

/// A FIFO of up to `N` items.
#[derive(Debug, Clone)]
pub(crate) struct IndexRing<const N: usize, T = (u16, u16)> {
    items: [T; N],
    head: usize,
    tail: usize,
}

impl<const N: usize, T: Copy> IndexRing<N, T> {
    const MASK: usize = N.wrapping_sub(1);

    /// An empty ring (`fill` is the value of the unused items).
    pub(crate) const fn new(fill: T) -> Self {
        IndexRing {
            items: [fill; N],
            head: 0,
            tail: 0,
        }
    }

    #[cfg_attr(not(any(test, feature = "test-utils")), allow(dead_code))]
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len() >= N
    }

    /// Appends at the back; `false` if full.
    #[inline]
    pub(crate) fn push_back(&mut self, item: T) -> bool {
        if self.is_full() {
            return false;
        }
        match self.items.get_mut(self.tail & Self::MASK) {
            Some(slot) => {
                *slot = item;
                self.tail = self.tail.wrapping_add(1);
                true
            }
            None => false,
        }
    }

    /// Removes from the front.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.head == self.tail {
            return None;
        }
        let item = *self.items.get(self.head & Self::MASK)?;
        self.head = self.head.wrapping_add(1);
        Some(item)
    }

    /// Removes from the back (the newest item).
    #[inline]
    pub(crate) fn pop_back(&mut self) -> Option<T> {
        if self.head == self.tail {
            return None;
        }
        let at = self.tail.wrapping_sub(1);
        let item = *self.items.get(at & Self::MASK)?;
        self.tail = at;
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_wraps_and_bounds() {
        let mut r = IndexRing::<4>::new((0, 0));
        for i in 1..=4 {
            assert!(r.push_back((i, 0)));
        }
        assert!(!r.push_back((5, 0)) && r.is_full());
        assert_eq!(r.pop_front(), Some((1, 0)));
        assert!(r.push_back((6, 0)));
        assert_eq!(r.pop_back(), Some((6, 0)));
        for i in 2..=4 {
            assert_eq!(r.pop_front(), Some((i, 0)));
        }
        assert_eq!((r.pop_front(), r.pop_back(), r.len()), (None, None, 0));
        for i in 0..10 {
            assert!(r.push_back((i, i)));
            assert_eq!(r.pop_front(), Some((i, i)));
        }
    }
}
