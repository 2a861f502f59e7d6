//! The core every adapter shares: a [`FrameLink`] with its counters, and the transmit
//! scratch buffer with the one deferred transmit action.
//!
//! # Transmit
//!
//! smoltcp hands out a transmit token before it knows the frame's length, so the token
//! reserves a slot of the announced MTU and the frame is committed shorter
//! ([`TxSlot::shrink`]). A link that lends its slot's private memory
//! ([`FrameLink::tx_buffer`]: an in-memory pair, a TAP driver) gets the frame built in
//! place; any other link (a driver over device-readable DMA memory, a queuing-port
//! channel) gets it built in the scratch buffer and copied once with
//! [`FrameLink::tx_write`].
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

use frame_link::{Checksum, FrameLink, FrameMeta, RxSlot, TxSlot, MAX_FRAME, MIN_FRAME};

use crate::checksum::verify;
use crate::stats::{AdapterDrop, AdapterStats};
use crate::RxChecksum;

/// Frames skipped (dropped and counted) at most per receive call: bounded work.
pub(crate) const MAX_RX_SKIP: usize = 8;

/// A link and its counters.
pub(crate) struct Core<L: FrameLink> {
    pub(crate) link: L,
    pub(crate) stats: AdapterStats,
}

/// What the transmit path could not do while the link was borrowed.
pub(crate) enum Pending {
    None,
    Send(TxSlot, usize),
    Return(TxSlot),
}

/// The transmit scratch buffer and the pending action.
pub(crate) struct Scratch {
    pub(crate) buf: [u8; MAX_FRAME],
    pub(crate) pending: Pending,
}

/// Everything the tokens of one adapter share.
pub(crate) struct Shared<L: FrameLink> {
    pub(crate) core: RefCell<Core<L>>,
    pub(crate) scratch: RefCell<Scratch>,
    /// Ethernet MTU (header included, FCS excluded).
    pub(crate) mtu: usize,
    /// Bytes a transmit token reserves: the MTU, or less on a link that carries less
    /// (a longer frame is then refused by the link and counted).
    pub(crate) reserve_len: usize,
    pub(crate) rx_checksum: RxChecksum,
}

impl<L: FrameLink> Shared<L> {
    pub(crate) fn new(link: L, mtu: usize, reserve_len: usize, rx_checksum: RxChecksum) -> Self {
        Shared {
            core: RefCell::new(Core {
                link,
                stats: AdapterStats::default(),
            }),
            scratch: RefCell::new(Scratch {
                buf: [0; MAX_FRAME],
                pending: Pending::None,
            }),
            mtu,
            reserve_len,
            rx_checksum,
        }
    }

    /// Reserves a transmit slot for a frame of up to the MTU (counts a refusal).
    pub(crate) fn reserve(&self, core: &mut Core<L>) -> Option<TxSlot> {
        match core.link.tx_reserve(self.reserve_len) {
            Ok(Some(t)) => Some(t),
            Ok(None) => {
                core.stats.busy();
                None
            }
            Err(e) => {
                core.stats.link_error(AdapterDrop::TxLinkError, &e);
                None
            }
        }
    }

    /// Takes the next frame fit for the stack: at most [`MAX_RX_SKIP`] unfit frames are
    /// dropped and counted on the way.
    pub(crate) fn take_rx(&self, core: &mut Core<L>) -> Option<(RxSlot, usize)> {
        for _ in 0..MAX_RX_SKIP {
            let rx = match core.link.rx_take() {
                Ok(Some(rx)) => rx,
                Ok(None) => return None,
                Err(e) => {
                    core.stats.link_error(AdapterDrop::RxLinkError, &e);
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

    fn check_rx(&self, core: &Core<L>, rx: &RxSlot) -> Result<usize, AdapterDrop> {
        let checksum = core.link.rx_meta(rx).checksum;
        if let Checksum::Partial(_) = checksum {
            return Err(AdapterDrop::RxPartialChecksum);
        }
        let frame = core.link.rx_frame(rx);
        if frame.len() > self.mtu {
            return Err(AdapterDrop::RxTooLong);
        }
        if self.rx_checksum.glue_verifies() {
            verify(frame, checksum == Checksum::Verified)?;
        }
        Ok(frame.len())
    }

    /// Commits a written frame (counted), or counts why not.
    fn commit(core: &mut Core<L>, tx: TxSlot) {
        let len = tx.len();
        match core.link.tx_commit(tx, FrameMeta::NONE) {
            Ok(()) => core.stats.tx(len),
            Err(e) => core.stats.link_error(AdapterDrop::TxLinkError, &e),
        }
    }

    /// Sends `frame` in the reservation `tx` (copied once into the link).
    pub(crate) fn send(core: &mut Core<L>, tx: TxSlot, frame: &[u8]) {
        let tx = tx.shrink(frame.len());
        match core.link.tx_write(&tx, 0, frame) {
            Ok(()) => Self::commit(core, tx),
            Err(e) => {
                core.link.tx_abort(tx);
                core.stats.link_error(AdapterDrop::TxLinkError, &e);
            }
        }
    }

    /// Gives an unused reservation back.
    pub(crate) fn give_back(core: &mut Core<L>, tx: TxSlot) {
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

    /// Builds a frame of `len` bytes with `f` and sends it in `tx`: in the link's slot
    /// when it lends one, else in the scratch buffer (sent once the link is let go when
    /// a receive token holds it).
    pub(crate) fn transmit<R>(&self, tx: TxSlot, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
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
                core.stats.drop(AdapterDrop::TxBadLength);
                core.link.tx_abort(tx);
                r
            }
            Ok(mut core) => {
                // Longer than the reservation (a link below the MTU): `send` has the link
                // refuse it, counted.
                let tx = tx.shrink(n);
                match core.link.tx_buffer(&tx) {
                    Some(buf) if buf.len() == n => {
                        let r = f(buf);
                        Self::commit(&mut core, tx);
                        r
                    }
                    _ => {
                        let r = f(&mut s.buf[..n]);
                        Self::send(&mut core, tx, &s.buf[..n]);
                        r
                    }
                }
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
    pub(crate) fn return_tx(&self, tx: TxSlot) {
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
    pub(crate) fn finish_rx(&self, rx: RxSlot, consumed: bool) {
        if let Ok(mut core) = self.core.try_borrow_mut() {
            if !consumed {
                core.stats.drop(AdapterDrop::RxUnconsumed);
            }
            core.link.rx_release(rx);
            self.settle(&mut core);
        }
    }
}
