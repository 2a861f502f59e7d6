//! A tiny fixed-capacity FIFO of slot indices and lengths (no `Option` per element, no
//! `unsafe`): the egress queues of the switch and the rings of the in-memory endpoint.

/// A FIFO of up to `N` `(index, len)` pairs.
#[derive(Debug, Clone)]
pub(crate) struct IndexRing<const N: usize> {
    items: [(u16, u16); N],
    head: usize,
    len: usize,
}

impl<const N: usize> IndexRing<N> {
    pub(crate) const fn new() -> Self {
        IndexRing {
            items: [(0, 0); N],
            head: 0,
            len: 0,
        }
    }

    #[cfg_attr(not(any(test, feature = "test-utils")), allow(dead_code))]
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len >= N
    }

    /// Appends at the back; `false` if full.
    #[inline]
    pub(crate) fn push_back(&mut self, item: (u16, u16)) -> bool {
        if self.len >= N {
            return false;
        }
        let mut at = self.head + self.len;
        if at >= N {
            at -= N;
        }
        if let Some(slot) = self.items.get_mut(at) {
            *slot = item;
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// Removes from the front.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<(u16, u16)> {
        if self.len == 0 {
            return None;
        }
        let item = *self.items.get(self.head)?;
        self.head += 1;
        if self.head >= N {
            self.head = 0;
        }
        self.len -= 1;
        Some(item)
    }

    /// Removes from the back (the newest item).
    #[inline]
    pub(crate) fn pop_back(&mut self) -> Option<(u16, u16)> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        let mut at = self.head + self.len;
        if at >= N {
            at -= N;
        }
        self.items.get(at).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_wraps_and_bounds() {
        let mut r = IndexRing::<3>::new();
        assert!(r.push_back((1, 0)) && r.push_back((2, 0)) && r.push_back((3, 0)));
        assert!(!r.push_back((4, 0)) && r.is_full());
        assert_eq!(r.pop_front(), Some((1, 0)));
        assert!(r.push_back((5, 0)));
        assert_eq!(r.pop_back(), Some((5, 0)));
        assert_eq!(r.pop_front(), Some((2, 0)));
        assert_eq!(r.pop_front(), Some((3, 0)));
        assert_eq!((r.pop_front(), r.pop_back(), r.len()), (None, None, 0));
    }
}
