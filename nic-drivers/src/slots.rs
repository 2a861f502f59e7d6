//! Private receive slots and frame-length checks shared by the e1000 and TAP drivers.
//!
//! A received frame is copied once into one of `N` private buffers of `LEN` bytes
//! ([`frame_link::RxSlots`]); the caller gets an [`RxSlot`] handle. A handle is honoured
//! only if its index is in range, the slot is in use and its length matches (a forged or
//! stale handle sees nothing).

use crate::link::{LinkStats, RxSlot, MAX_FRAME, MIN_FRAME};
use crate::Error;

/// `N` private receive buffers of `LEN` bytes each: the frame-link slots every link
/// implementation shares.
pub(crate) type RxPool<const N: usize, const LEN: usize> = frame_link::RxSlots<LEN, N>;

/// Counts a frame taken into a private slot.
pub(crate) fn counted(slot: Option<RxSlot>, stats: &mut LinkStats) -> Option<RxSlot> {
    if let Some(s) = &slot {
        stats.rx_frames = stats.rx_frames.wrapping_add(1);
        stats.rx_bytes = stats.rx_bytes.wrapping_add(s.len() as u64);
    }
    slot
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
