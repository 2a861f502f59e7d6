//! [`QueuingLink`]: a queuing-port channel pair (one sender, one receiver) as a
//! [`FrameLink`] (feature `queuing-port`). One Ethernet frame per message.
//!
//! Received messages are copied by the queuing-port crate (which validates the peer's
//! index and length first) into one private buffer; the frame stays there until the stack
//! has read it. A transmit reservation is a credit on the channel's free messages: the
//! sender is the only producer, so the room it saw can only grow until the send, which
//! therefore succeeds unless the peer corrupts the region.

use queuing_port::{Error as QpError, QueuingPortReceiver, QueuingPortSender};

use crate::link::{FrameLink, LinkCaps, LinkError, MAX_FRAME};

/// A received frame in the link's private buffer: its length.
#[derive(Debug, PartialEq, Eq)]
pub struct QueuingFrame(usize);

/// A transmit credit (one free message in the send channel).
#[derive(Debug, PartialEq, Eq)]
pub struct QueuingCredit(());

/// Counters of a queuing link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueuingLinkStats {
    /// Received messages flagged as overflowed (the peer's sender dropped some).
    pub rx_overflows: u64,
    /// Receives that found the region corrupt (bad index or length).
    pub rx_corrupt: u64,
    /// Sends refused at commit although a credit was held.
    pub tx_refused: u64,
}

/// A partition's side of a channel pair: frames out on `sender`, frames in on `receiver`,
/// messages of at most `MSG` bytes, queues `N` deep.
pub struct QueuingLink<'r, const MSG: usize, const N: usize> {
    sender: QueuingPortSender<'r, MSG, N>,
    receiver: QueuingPortReceiver<'r, MSG, N>,
    rx_buf: [u8; MSG],
    rx_out: bool,
    /// Free messages in the send channel, reservations already subtracted.
    room: usize,
    /// Credits handed out and not yet used or returned.
    held: usize,
    stats: QueuingLinkStats,
}

impl<const MSG: usize, const N: usize> core::fmt::Debug for QueuingLink<'_, MSG, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueuingLink")
            .field("room", &self.room)
            .field("held", &self.held)
            .field("stats", &self.stats)
            .finish()
    }
}

fn peer(e: QpError) -> LinkError {
    match e {
        QpError::Corrupt(_) => LinkError::Peer("queuing-port region corrupt"),
        _ => LinkError::Peer("queuing-port channel refused the operation"),
    }
}

impl<'r, const MSG: usize, const N: usize> QueuingLink<'r, MSG, N> {
    /// A link sending on `sender` and receiving on `receiver`.
    pub fn new(
        sender: QueuingPortSender<'r, MSG, N>,
        receiver: QueuingPortReceiver<'r, MSG, N>,
    ) -> Self {
        QueuingLink {
            sender,
            receiver,
            rx_buf: [0; MSG],
            rx_out: false,
            room: 0,
            held: 0,
            stats: QueuingLinkStats::default(),
        }
    }

    /// The link's counters.
    pub fn link_stats(&self) -> QueuingLinkStats {
        self.stats
    }

    /// Re-reads the receiver's index: free messages less the credits held.
    fn refresh(&mut self) -> Result<usize, LinkError> {
        let s = self.sender.status().map_err(peer)?;
        let used = s.nb_message as usize;
        self.room = N.saturating_sub(used).saturating_sub(self.held);
        Ok(self.room)
    }
}

impl<const MSG: usize, const N: usize> FrameLink for QueuingLink<'_, MSG, N> {
    type Rx = QueuingFrame;
    type Tx = QueuingCredit;

    fn caps(&self) -> LinkCaps {
        LinkCaps::plain(MSG.min(MAX_FRAME) as u16)
    }

    fn rx_take(&mut self) -> Result<Option<QueuingFrame>, LinkError> {
        if self.rx_out {
            return Ok(None);
        }
        match self.receiver.try_receive(&mut self.rx_buf) {
            Ok(m) => {
                self.stats.rx_overflows += u64::from(m.overflowed);
                self.rx_out = true;
                Ok(Some(QueuingFrame(m.len.min(MSG))))
            }
            Err(QpError::NotAvailable) => Ok(None),
            Err(e) => {
                self.stats.rx_corrupt += u64::from(matches!(e, QpError::Corrupt(_)));
                Err(peer(e))
            }
        }
    }

    fn rx_read<R>(&self, rx: &QueuingFrame, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.rx_buf.get(..rx.0).unwrap_or(&[]))
    }

    fn rx_release(&mut self, rx: QueuingFrame) {
        let _ = rx;
        self.rx_out = false;
    }

    fn tx_reserve(&mut self) -> Result<Option<QueuingCredit>, LinkError> {
        if self.room == 0 && self.refresh()? == 0 {
            return Ok(None);
        }
        self.room -= 1;
        self.held += 1;
        Ok(Some(QueuingCredit(())))
    }

    fn tx_send(&mut self, tx: QueuingCredit, frame: &[u8]) -> Result<(), LinkError> {
        let _ = tx;
        self.held = self.held.saturating_sub(1);
        match self.sender.try_send(frame) {
            Ok(()) => Ok(()),
            Err(QpError::NotAvailable) => {
                self.stats.tx_refused += 1;
                Err(LinkError::Refused)
            }
            Err(e) => Err(peer(e)),
        }
    }

    fn tx_abort(&mut self, tx: QueuingCredit) {
        let _ = tx;
        self.held = self.held.saturating_sub(1);
        self.room += 1;
    }

    fn tx_room(&mut self) -> Option<usize> {
        self.refresh().ok()
    }

    fn service(&mut self, budget: u16) -> Result<(), LinkError> {
        let _ = budget;
        self.sender.flush();
        self.receiver.flush();
        Ok(())
    }
}
