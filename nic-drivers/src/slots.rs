//! Private receive slots and frame-length checks shared by the e1000 and TAP drivers.
//!
//! A received frame is copied once into one of `N` private buffers of `LEN` bytes; the
//! caller gets an [`RxSlot`] handle. A handle is honoured only if its index is in range,
//! the slot is in use and its length matches (a forged or stale handle sees nothing).

use crate::link::{LinkStats, RxSlot, MAX_FRAME, MIN_FRAME};
use crate::Error;

/// `N` private receive buffers of `LEN` bytes each.
pub(crate) struct RxPool<const N: usize, const LEN: usize> {
    len: [Option<u16>; N],
    buf: [[u8; LEN]; N],
}

impl<const N: usize, const LEN: usize> RxPool<N, LEN> {
    /// All slots free.
    pub(crate) const fn new() -> Self {
        RxPool {
            len: [None; N],
            buf: [[0; LEN]; N],
        }
    }

    /// A free slot, if any.
    pub(crate) fn free(&self) -> Option<usize> {
        self.len.iter().position(Option::is_none)
    }

    /// The buffer of slot `i` to copy a frame into (before [`RxPool::fill`]).
    pub(crate) fn buffer(&mut self, i: usize) -> Option<&mut [u8; LEN]> {
        self.buf.get_mut(i)
    }

    /// Marks slot `i` as holding a frame of `len` bytes, counts it, returns its handle.
    pub(crate) fn fill(&mut self, i: usize, len: u16, stats: &mut LinkStats) -> RxSlot {
        if let Some(l) = self.len.get_mut(i) {
            *l = Some(len);
        }
        stats.rx_frames = stats.rx_frames.wrapping_add(1);
        stats.rx_bytes = stats.rx_bytes.wrapping_add(u64::from(len));
        RxSlot::new(i as u16, usize::from(len))
    }

    fn valid(&self, slot: &RxSlot) -> Option<usize> {
        match self.len.get(usize::from(slot.index())) {
            Some(Some(l)) if usize::from(*l) == slot.len() && slot.len() <= LEN => Some(slot.len()),
            _ => None,
        }
    }

    /// The frame behind a handle; empty for a handle this pool did not hand out.
    pub(crate) fn frame(&self, slot: &RxSlot) -> &[u8] {
        match (self.valid(slot), self.buf.get(usize::from(slot.index()))) {
            (Some(len), Some(b)) => b.get(..len).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Frees the slot of a valid handle (a forged one frees nothing).
    pub(crate) fn release(&mut self, slot: RxSlot) {
        if self.valid(&slot).is_some() {
            if let Some(l) = self.len.get_mut(usize::from(slot.index())) {
                *l = None;
            }
        }
    }
}

/// A transmit length must be `MIN_FRAME..=MAX_FRAME`.
pub(crate) fn check_tx_len(len: usize) -> Result<(), Error> {
    if (MIN_FRAME..=MAX_FRAME).contains(&len) {
        Ok(())
    } else {
        Err(Error::FrameLength {
            len,
            min: MIN_FRAME,
            max: MAX_FRAME,
        })
    }
}

/// Refuses a multicast or all-zero station address set by the caller.
pub(crate) fn check_station_mac(mac: &crate::MacAddress) -> Result<(), Error> {
    if mac.is_unicast() {
        Ok(())
    } else {
        Err(Error::Unsupported {
            what: "a multicast or zero station address",
        })
    }
}

/// The frame length of a reservation handle: at most the `reserved` length (a stack may
/// commit a shorter frame than it reserved, [`TxSlot::shrink`](crate::TxSlot::shrink))
/// and at least an Ethernet header; `None` for a handle that cannot be this reservation.
#[inline]
pub(crate) fn tx_len(slot_len: usize, reserved: usize) -> Option<usize> {
    (MIN_FRAME..=reserved)
        .contains(&slot_len)
        .then_some(slot_len)
}
