//! The core every adapter shares: a [`FrameLink`] with its counters, and the transmit
//! scratch buffer with the one deferred transmit action.
//!
//! # Why a deferred action
//!
//! smoltcp consumes the transmit token of a `receive` pair *inside* the receive token's
//! closure (an ACK or an echo reply is sent while the received frame is still borrowed).
//! The received bytes live in the link, so the link is borrowed while the reply is
//! built. The reply is built in the scratch buffer; if the link is busy, sending it (or
//! giving an unused reservation back) is recorded as the one pending action and done as
//! soon as the receive token lets the link go. No frame is copied twice for it, and the
//! reservation taken when the token was handed out guarantees the send.

use core::cell::RefCell;

use crate::checksum::verify;
use crate::link::{FrameLink, MAX_FRAME, MIN_FRAME};
use crate::stats::{DropReason, NetStats};
use crate::RxChecksum;

/// Frames skipped (dropped and counted) at most per receive call: bounded work.
pub(crate) const MAX_RX_SKIP: usize = 8;

/// A link and its counters.
pub(crate) struct Core<L: FrameLink> {
    pub(crate) link: L,
    pub(crate) stats: NetStats,
}

/// What the transmit path could not do while the link was borrowed.
pub(crate) enum Pending<T> {
    None,
    Send(T, usize),
    Return(T),
}

/// The transmit scratch buffer and the pending action.
pub(crate) struct Scratch<T> {
    pub(crate) buf: [u8; MAX_FRAME],
    pub(crate) pending: Pending<T>,
}

/// Everything the tokens of one adapter share.
pub(crate) struct Shared<L: FrameLink> {
    pub(crate) core: RefCell<Core<L>>,
    pub(crate) scratch: RefCell<Scratch<L::Tx>>,
    /// Ethernet MTU (header included, FCS excluded).
    pub(crate) mtu: usize,
    pub(crate) rx_checksum: RxChecksum,
}

impl<L: FrameLink> Shared<L> {
    pub(crate) fn new(link: L, mtu: usize, rx_checksum: RxChecksum) -> Self {
        Shared {
            core: RefCell::new(Core {
                link,
                stats: NetStats::default(),
            }),
            scratch: RefCell::new(Scratch {
                buf: [0; MAX_FRAME],
                pending: Pending::None,
            }),
            mtu,
            rx_checksum,
        }
    }

    /// Reserves a transmit slot (counts a refusal).
    pub(crate) fn reserve(core: &mut Core<L>) -> Option<L::Tx> {
        match core.link.tx_reserve() {
            Ok(Some(t)) => Some(t),
            Ok(None) => {
                core.stats.busy();
                None
            }
            Err(e) => {
                core.stats.link_error(DropReason::TxLinkError, e);
                None
            }
        }
    }

    /// Takes the next frame fit for the stack: at most [`MAX_RX_SKIP`] unfit frames are
    /// dropped and counted on the way.
    pub(crate) fn take_rx(&self, core: &mut Core<L>) -> Option<(L::Rx, usize)> {
        for _ in 0..MAX_RX_SKIP {
            let rx = match core.link.rx_take() {
                Ok(Some(rx)) => rx,
                Ok(None) => return None,
                Err(e) => {
                    core.stats.link_error(DropReason::RxLinkError, e);
                    return None;
                }
            };
            match self.check_rx(core, &rx) {
                Ok(len) => return Some((rx, len)),
                Err(reason) => {
                    core.stats.drop(reason);
                    core.link.rx_release(rx);
                }
            }
        }
        None
    }

    fn check_rx(&self, core: &Core<L>, rx: &L::Rx) -> Result<usize, DropReason> {
        let info = core.link.rx_info(rx);
        if info.checksum_partial {
            return Err(DropReason::RxPartialChecksum);
        }
        core.link.rx_read(rx, |frame| {
            if frame.len() > self.mtu {
                return Err(DropReason::RxTooLong);
            }
            if self.rx_checksum.glue_verifies() {
                verify(frame, info.checksum_verified)?;
            }
            Ok(frame.len())
        })
    }

    /// Sends `len` bytes of the scratch buffer in `tx`.
    pub(crate) fn send(core: &mut Core<L>, tx: L::Tx, frame: &[u8]) {
        match core.link.tx_send(tx, frame) {
            Ok(()) => core.stats.tx(frame.len()),
            Err(e) => core.stats.link_error(DropReason::TxLinkError, e),
        }
    }

    /// Gives an unused reservation back.
    pub(crate) fn give_back(core: &mut Core<L>, tx: L::Tx) {
        core.link.tx_abort(tx);
        core.stats.returned();
    }

    /// Does the pending transmit action, if any (call with the link free).
    pub(crate) fn settle(&self, core: &mut Core<L>) {
        let Ok(mut s) = self.scratch.try_borrow_mut() else {
            return;
        };
        match core::mem::replace(&mut s.pending, Pending::None) {
            Pending::None => {}
            Pending::Send(tx, n) => Self::send(core, tx, s.buf.get(..n).unwrap_or(&[])),
            Pending::Return(tx) => Self::give_back(core, tx),
        }
    }

    /// Builds a frame of `len` bytes with `f` and sends it in `tx`: in place when the
    /// link is free, else in the scratch buffer, sent once the link is let go.
    pub(crate) fn transmit<R>(&self, tx: L::Tx, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let n = len.min(MAX_FRAME);
        let Ok(mut s) = self.scratch.try_borrow_mut() else {
            // Unreachable with one token in use at a time; never panic on it.
            let mut junk = [0u8; MAX_FRAME];
            self.return_tx(tx);
            return f(&mut junk[..n]);
        };
        let bad = !(MIN_FRAME..=self.mtu).contains(&len);
        match self.core.try_borrow_mut() {
            Ok(mut core) if bad => {
                let r = f(&mut s.buf[..n]);
                core.stats.drop(DropReason::TxBadLength);
                core.link.tx_abort(tx);
                r
            }
            Ok(mut core) => {
                let (r, sent) = core.link.tx_build(tx, n, &mut s.buf, f);
                match sent {
                    Ok(()) => core.stats.tx(n),
                    Err(e) => core.stats.link_error(DropReason::TxLinkError, e),
                }
                r
            }
            Err(_) => {
                let r = f(&mut s.buf[..n]);
                s.pending = if bad {
                    Pending::Return(tx)
                } else {
                    Pending::Send(tx, n)
                };
                r
            }
        }
    }

    /// Gives back the reservation of a token dropped unused (now, or once the link is
    /// free).
    pub(crate) fn return_tx(&self, tx: L::Tx) {
        match self.core.try_borrow_mut() {
            Ok(mut core) => Self::give_back(&mut core, tx),
            Err(_) => {
                if let Ok(mut s) = self.scratch.try_borrow_mut() {
                    s.pending = Pending::Return(tx);
                }
            }
        }
    }

    /// Gives a received frame back (counted as received, or as dropped unread), then
    /// does the pending transmit action.
    pub(crate) fn finish_rx(&self, rx: L::Rx, consumed: bool) {
        if let Ok(mut core) = self.core.try_borrow_mut() {
            if !consumed {
                core.stats.drop(DropReason::RxUnconsumed);
            }
            core.link.rx_release(rx);
            self.settle(&mut core);
        }
    }
}
