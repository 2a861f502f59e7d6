//! [`QueuingLink`]: a queuing-port channel pair (one sender, one receiver) as a
//! [`FrameLink`] (feature `queuing-port`). One Ethernet frame per message.
//!
//! Received messages are copied by the queuing-port crate (which validates the peer's
//! index and length first) into one private buffer; the frame stays there until it is
//! released, so one frame is taken at a time. A transmit reservation is a credit on the
//! channel's free messages plus the link's private transmit buffer (one reservation at
//! a time), lent for building the frame in place ([`FrameLink::tx_buffer`]); the commit
//! copies it into the channel. The sender is the only producer, so the room it saw can
//! only grow until the commit, which therefore succeeds unless the peer corrupts the
//! region.

use core::fmt;

use frame_link::{ErrorKind, FrameLink, FrameMeta, LinkCaps, LinkError, LinkFault, RxSlot, TxSlot};
use frame_link::{MAX_FRAME, MIN_FRAME};
use queuing_port::{Error as QpError, QueuingPortReceiver, QueuingPortSender};

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

/// Why a [`QueuingLink`] call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueuingLinkError {
    /// The channel refused the operation or found the region corrupt (queuing-port's
    /// typed error).
    Channel(QpError),
    /// A send was refused although a credit was held (the peer took room back): the
    /// frame was lost.
    Refused,
    /// The caller's mistake (a frame length, a write outside the reservation, a handle
    /// this link did not hand out), as every link reports it.
    Caller(LinkError),
}

impl fmt::Display for QueuingLinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueuingLinkError::Channel(e) => write!(f, "queuing-port channel: {e}"),
            QueuingLinkError::Refused => write!(f, "a send was refused although room was held"),
            QueuingLinkError::Caller(e) => e.fmt(f),
        }
    }
}

impl LinkFault for QueuingLinkError {
    fn kind(&self) -> ErrorKind {
        match self {
            QueuingLinkError::Channel(_) | QueuingLinkError::Refused => ErrorKind::Peer,
            QueuingLinkError::Caller(e) => e.kind(),
        }
    }
}

/// A partition's side of a channel pair: frames out on `sender`, frames in on `receiver`,
/// messages of at most `MSG` bytes, queues `N` deep.
pub struct QueuingLink<'r, const MSG: usize, const N: usize> {
    sender: QueuingPortSender<'r, MSG, N>,
    receiver: QueuingPortReceiver<'r, MSG, N>,
    rx_buf: [u8; MSG],
    /// Length of the frame taken and not yet released.
    rx_out: Option<usize>,
    tx_buf: [u8; MSG],
    /// Length of the reservation held.
    tx_out: Option<usize>,
    /// Free messages in the send channel, the reservation already subtracted.
    room: usize,
    stats: QueuingLinkStats,
}

impl<const MSG: usize, const N: usize> fmt::Debug for QueuingLink<'_, MSG, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuingLink")
            .field("room", &self.room)
            .field("tx_out", &self.tx_out)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<'r, const MSG: usize, const N: usize> QueuingLink<'r, MSG, N> {
    /// The largest frame: a message, at most [`MAX_FRAME`].
    const MAX: usize = if MSG < MAX_FRAME { MSG } else { MAX_FRAME };

    /// A link sending on `sender` and receiving on `receiver`.
    pub fn new(
        sender: QueuingPortSender<'r, MSG, N>,
        receiver: QueuingPortReceiver<'r, MSG, N>,
    ) -> Self {
        let mut link = QueuingLink {
            sender,
            receiver,
            rx_buf: [0; MSG],
            rx_out: None,
            tx_buf: [0; MSG],
            tx_out: None,
            room: 0,
            stats: QueuingLinkStats::default(),
        };
        // The room is known from the start (a corrupt region reads as none).
        let _ = link.refresh();
        link
    }

    /// The link's counters.
    pub fn link_stats(&self) -> QueuingLinkStats {
        self.stats
    }

    /// Re-reads the receiver's index: free messages less the reservation held.
    fn refresh(&mut self) -> Result<usize, QueuingLinkError> {
        let s = self.sender.status().map_err(QueuingLinkError::Channel)?;
        let used = s.nb_message as usize;
        let held = usize::from(self.tx_out.is_some());
        self.room = N.saturating_sub(used).saturating_sub(held);
        Ok(self.room)
    }

    /// The reservation behind a handle: its length, at most the length reserved.
    fn reserved(&self, slot: &TxSlot) -> Result<usize, QueuingLinkError> {
        match self.tx_out {
            Some(len) if slot.index() == 0 && (MIN_FRAME..=len).contains(&slot.len()) => {
                Ok(slot.len())
            }
            _ => Err(QueuingLinkError::Caller(LinkError::BadSlot {
                index: slot.index(),
            })),
        }
    }

    /// Gives the held reservation back.
    fn unreserve(&mut self) {
        if self.tx_out.take().is_some() {
            self.room += 1;
        }
    }
}

impl<const MSG: usize, const N: usize> FrameLink for QueuingLink<'_, MSG, N> {
    type Error = QueuingLinkError;

    fn caps(&self) -> LinkCaps {
        // `MSG` may be below an Ethernet header: the stack then refuses every frame.
        LinkCaps::new(Self::MAX)
    }

    /// Flushes both ports' cached indices and re-reads the room in the send channel.
    fn service(&mut self, budget: u16) -> Result<(), QueuingLinkError> {
        let _ = budget;
        self.sender.flush();
        self.receiver.flush();
        self.refresh().map(drop)
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, QueuingLinkError> {
        if self.rx_out.is_some() {
            return Ok(None);
        }
        match self.receiver.try_receive(&mut self.rx_buf) {
            Ok(m) => {
                self.stats.rx_overflows += u64::from(m.overflowed);
                let len = m.len.min(MSG);
                self.rx_out = Some(len);
                Ok(Some(RxSlot::new(0, len)))
            }
            Err(QpError::NotAvailable) => Ok(None),
            Err(e) => {
                self.stats.rx_corrupt += u64::from(matches!(e, QpError::Corrupt(_)));
                Err(QueuingLinkError::Channel(e))
            }
        }
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        match self.rx_out {
            Some(len) if slot.index() == 0 && slot.len() == len => {
                self.rx_buf.get(..len).unwrap_or(&[])
            }
            _ => &[],
        }
    }

    fn rx_release(&mut self, slot: RxSlot) {
        if slot.index() == 0 && self.rx_out == Some(slot.len()) {
            self.rx_out = None;
        }
    }

    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, QueuingLinkError> {
        if !(MIN_FRAME..=Self::MAX).contains(&len) {
            return Err(QueuingLinkError::Caller(LinkError::FrameLength {
                len,
                min: MIN_FRAME,
                max: Self::MAX,
            }));
        }
        if self.tx_out.is_some() || (self.room == 0 && self.refresh()? == 0) {
            return Ok(None);
        }
        self.room -= 1;
        self.tx_out = Some(len);
        Ok(Some(TxSlot::new(0, len)))
    }

    /// The room seen at the last [`service`](FrameLink::service) (or reservation that
    /// found none), less the reservation held: the peer may have made more since.
    fn tx_room(&self) -> Option<usize> {
        Some(self.room)
    }

    fn tx_write(
        &mut self,
        slot: &TxSlot,
        offset: usize,
        data: &[u8],
    ) -> Result<(), QueuingLinkError> {
        let reserved = self.reserved(slot)?;
        let dst = offset
            .checked_add(data.len())
            .filter(|&end| end <= reserved)
            .and_then(|end| self.tx_buf.get_mut(offset..end));
        match dst {
            Some(dst) => {
                dst.copy_from_slice(data);
                Ok(())
            }
            None => Err(QueuingLinkError::Caller(LinkError::OutOfBounds {
                offset,
                len: data.len(),
                reserved,
            })),
        }
    }

    /// The private transmit buffer: nothing reaches the channel before the commit.
    fn tx_buffer(&mut self, slot: &TxSlot) -> Option<&mut [u8]> {
        let len = self.reserved(slot).ok()?;
        self.tx_buf.get_mut(..len)
    }

    /// Copies the frame into the channel (offload metadata is not carried).
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), QueuingLinkError> {
        let _ = meta;
        let len = self.reserved(&slot)?;
        self.tx_out = None;
        let frame = self.tx_buf.get(..len).unwrap_or(&[]);
        match self.sender.try_send(frame) {
            Ok(()) => Ok(()),
            Err(QpError::NotAvailable) => {
                self.stats.tx_refused += 1;
                Err(QueuingLinkError::Refused)
            }
            Err(e) => Err(QueuingLinkError::Channel(e)),
        }
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        if slot.index() == 0 {
            self.unreserve();
        }
    }
}
