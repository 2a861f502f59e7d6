//! A partition port over two ARINC 653 queuing-port channels, one frame per message:
//! a [`QueuingPortReceiver`] for ingress (frames the partition sent) and a
//! [`QueuingPortSender`] for egress (frames for the partition).
//!
//! Ingress messages are received straight into private slots (the queuing-port crate
//! checks the peer's index and length before copying); egress frames are assembled in
//! private slots and sent on commit, so a slot reserved by the switch never exposes a
//! half-written frame. A frame with a pending checksum (`NEEDS_CSUM` from a virtio-net
//! partition) is completed in software before it is sent: a queuing-port partition has no
//! offload.
//!
//! A corrupt region (an index or a length out of range) or a refused message is counted
//! in [`QueuingStats`] and typed ([`QueuingEndpointError`]); the port goes on (a message
//! with a bad length is consumed; a bad index leaves the channel unusable until the
//! integrator reformats it, and only this port sees it).
//!
//! With [`QueuingPortEndpoint::set_publish_batch`] the indices are published every `k`
//! messages; call [`QueuingPortEndpoint::flush`] after every poll round.

use core::fmt;

use crate::adapters::csum::complete_in_place;
use frame_link::RxSlots;
use frame_link::{ErrorKind, FrameLink, FrameMeta, LinkCaps, LinkError, LinkFault, RxSlot, TxSlot};
use queuing_port::{Error as QpError, QueuingPortReceiver, QueuingPortSender, RegionError};

/// Bad (corrupt-length) messages skipped at most per `rx_take`.
pub const MAX_BAD_MESSAGES: usize = 4;

/// Why a queuing-port port refused or lost a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueuingEndpointError {
    /// Receiving from the partition's channel failed (a corrupt region, typically).
    Receive(QpError),
    /// Sending to the partition's channel failed (full, or a corrupt region).
    Send(QpError),
    /// A frame larger than the channel's message size.
    Oversized {
        /// Frame bytes.
        len: usize,
        /// The channel's maximum message size.
        max: usize,
    },
    /// A handle or a write the port refused (a caller error).
    Slot(LinkError),
}

impl LinkFault for QueuingEndpointError {
    fn kind(&self) -> ErrorKind {
        match self {
            QueuingEndpointError::Receive(QpError::Corrupt(_))
            | QueuingEndpointError::Send(QpError::Corrupt(_)) => ErrorKind::Peer,
            QueuingEndpointError::Receive(_) | QueuingEndpointError::Send(_) => ErrorKind::Other,
            QueuingEndpointError::Oversized { .. } => ErrorKind::FrameLength,
            QueuingEndpointError::Slot(e) => e.kind(),
        }
    }
}

impl fmt::Display for QueuingEndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueuingEndpointError::Receive(e) => write!(f, "receiving a frame: {e}"),
            QueuingEndpointError::Send(e) => write!(f, "sending a frame: {e}"),
            QueuingEndpointError::Oversized { len, max } => {
                write!(f, "a {len}-byte frame exceeds the {max}-byte message size")
            }
            QueuingEndpointError::Slot(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// Counters of one queuing-port port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueuingStats {
    /// Frames received from the partition.
    pub rx_frames: u64,
    /// Receives that found the region corrupt (bad index or length).
    pub rx_corrupt: u64,
    /// Received messages flagged as overflowed (the partition's sender dropped some).
    pub rx_overflows: u64,
    /// Frames sent to the partition.
    pub tx_frames: u64,
    /// Reservations refused for lack of room in the channel.
    pub tx_full: u64,
    /// Frames above the message size (refused at reservation).
    pub tx_oversized: u64,
    /// Sends that failed on commit (corrupt region, or refused by the channel).
    pub tx_errors: u64,
    /// Pending checksums completed in software.
    pub csum_completed: u64,
    /// The last error seen.
    pub last_error: Option<QueuingEndpointError>,
}

/// A switch port over a queuing-port channel pair: messages of at most `MSG` bytes, queue
/// depth `N` in both directions, `SLOTS` private ingress slots and `TX` private egress
/// slots (at most 255 each).
pub struct QueuingPortEndpoint<
    'r,
    const MSG: usize,
    const N: usize,
    const SLOTS: usize = 2,
    const TX: usize = 4,
> {
    receiver: QueuingPortReceiver<'r, MSG, N>,
    sender: QueuingPortSender<'r, MSG, N>,
    stats: QueuingStats,
    ingress: RxSlots<MSG, SLOTS>,
    pending: u32,
    tx_bufs: [[u8; MSG]; TX],
    tx_lens: [u16; TX],
    tx_reserved: [bool; TX],
    tx_free: heapless::Vec<u8, TX>,
}

impl<const MSG: usize, const N: usize, const SLOTS: usize, const TX: usize> fmt::Debug
    for QueuingPortEndpoint<'_, MSG, N, SLOTS, TX>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuingPortEndpoint")
            .field("stats", &self.stats)
            .finish()
    }
}

/// A free-slot stack holding `0..n`, lowest on top.
fn free_stack<const K: usize>() -> heapless::Vec<u8, K> {
    let mut v = heapless::Vec::new();
    for i in (0..K).rev() {
        // K <= 255 (checked at compile time by the constructor).
        let _ = v.push(i as u8);
    }
    v
}

impl<'r, const MSG: usize, const N: usize, const SLOTS: usize, const TX: usize>
    QueuingPortEndpoint<'r, MSG, N, SLOTS, TX>
{
    /// A port receiving the partition's frames on `receiver` and sending it frames on
    /// `sender`.
    pub fn new(
        receiver: QueuingPortReceiver<'r, MSG, N>,
        sender: QueuingPortSender<'r, MSG, N>,
    ) -> Self {
        const {
            assert!(MSG >= 1 && MSG <= 0xffff, "message size 1..=65535");
            assert!(
                SLOTS >= 1 && SLOTS <= 255 && TX >= 1 && TX <= 255,
                "1..=255 slots"
            );
        }
        QueuingPortEndpoint {
            receiver,
            sender,
            stats: QueuingStats::default(),
            ingress: RxSlots::new(),
            pending: 0,
            tx_bufs: [[0; MSG]; TX],
            tx_lens: [0; TX],
            tx_reserved: [false; TX],
            tx_free: free_stack(),
        }
    }

    /// The port's counters and last error.
    pub fn stats(&self) -> &QueuingStats {
        &self.stats
    }

    /// Publish both indices only every `batch` messages (see the queuing-port crate);
    /// [`FrameLink::service`] (called by every `Switch::poll`) publishes the rest.
    pub fn set_publish_batch(&mut self, batch: u32) {
        self.receiver.set_publish_batch(batch);
        self.sender.set_publish_batch(batch);
    }

    /// Publish both indices now (after a poll round).
    pub fn flush(&mut self) {
        self.receiver.flush();
        self.sender.flush();
    }

    fn rx_error(&mut self, e: QpError) -> QueuingEndpointError {
        self.stats.rx_corrupt += u64::from(matches!(e, QpError::Corrupt(_)));
        self.tx_error(QueuingEndpointError::Receive(e))
    }

    fn tx_error(&mut self, e: QueuingEndpointError) -> QueuingEndpointError {
        self.stats.last_error = Some(e);
        e
    }
}

impl<const MSG: usize, const N: usize, const SLOTS: usize, const TX: usize> FrameLink
    for QueuingPortEndpoint<'_, MSG, N, SLOTS, TX>
{
    type Error = QueuingEndpointError;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(MSG)
    }

    /// Publishes both indices (with [`set_publish_batch`](QueuingPortEndpoint::set_publish_batch)).
    fn service(&mut self, _budget: u16) -> Result<(), QueuingEndpointError> {
        self.flush();
        Ok(())
    }

    /// The next good message: a message with a corrupt length is skipped (counted), at
    /// most [`MAX_BAD_MESSAGES`] per call; any other receive error is returned.
    fn rx_take(&mut self) -> Result<Option<RxSlot>, QueuingEndpointError> {
        for _ in 0..MAX_BAD_MESSAGES {
            let Some(buf) = self.ingress.next_free() else {
                return Ok(None);
            };
            match self.receiver.try_receive(buf) {
                Ok(m) => {
                    self.stats.rx_frames += 1;
                    self.stats.rx_overflows += u64::from(m.overflowed);
                    // m.len <= MSG <= 0xffff.
                    let len = m.len.min(MSG) as u16;
                    self.pending = match self.receiver.status() {
                        Ok(s) => s.nb_message,
                        Err(e) => {
                            self.rx_error(e);
                            0
                        }
                    };
                    return Ok(self.ingress.take(len, FrameMeta::NONE));
                }
                Err(QpError::NotAvailable) => {
                    self.pending = 0;
                    return Ok(None);
                }
                // A bad length consumed its message: the next one may be good.
                Err(e @ QpError::Corrupt(RegionError::LengthOutOfRange { .. })) => {
                    self.rx_error(e);
                }
                Err(e) => return Err(self.rx_error(e)),
            }
        }
        Ok(None)
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        self.ingress.frame(slot)
    }

    fn rx_release(&mut self, slot: RxSlot) {
        self.ingress.release(slot)
    }

    fn rx_pending(&self) -> usize {
        self.pending as usize
    }

    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, QueuingEndpointError> {
        if len > MSG || len == 0 {
            self.stats.tx_oversized += u64::from(len > MSG);
            return Err(self.tx_error(QueuingEndpointError::Oversized { len, max: MSG }));
        }
        let Some(&slot) = self.tx_free.last() else {
            return Ok(None);
        };
        let slot = usize::from(slot);
        let in_flight = TX - self.tx_free.len();
        match self.sender.status() {
            Ok(s) if (s.nb_message as usize).saturating_add(in_flight) < N => {}
            Ok(_) => {
                self.stats.tx_full += 1;
                return Ok(None);
            }
            Err(e) => {
                self.stats.tx_errors += 1;
                return Err(self.tx_error(QueuingEndpointError::Send(e)));
            }
        }
        self.tx_free.pop();
        if let (Some(r), Some(l)) = (self.tx_reserved.get_mut(slot), self.tx_lens.get_mut(slot)) {
            *r = true;
            *l = len as u16;
        }
        Ok(Some(TxSlot::new(slot as u16, len)))
    }

    fn tx_write(
        &mut self,
        slot: &TxSlot,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), QueuingEndpointError> {
        let i = usize::from(slot.index());
        let (Some(true), Some(&len)) = (self.tx_reserved.get(i), self.tx_lens.get(i)) else {
            return Err(QueuingEndpointError::Slot(LinkError::BadSlot {
                index: slot.index(),
            }));
        };
        let reserved = usize::from(len);
        let out_of_bounds = QueuingEndpointError::Slot(LinkError::OutOfBounds {
            offset,
            len: bytes.len(),
            reserved,
        });
        let end = offset
            .checked_add(bytes.len())
            .filter(|&e| e <= reserved)
            .ok_or(out_of_bounds)?;
        let dst = self
            .tx_bufs
            .get_mut(i)
            .and_then(|b| b.get_mut(offset..end))
            .ok_or(out_of_bounds)?;
        dst.copy_from_slice(bytes);
        Ok(())
    }

    /// Sends the frame, its pending checksum completed first (the channel carries no
    /// metadata). A frame committed shorter than reserved is sent at that length.
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), QueuingEndpointError> {
        let i = usize::from(slot.index());
        let bad = QueuingEndpointError::Slot(LinkError::BadSlot {
            index: slot.index(),
        });
        let (Some(r), Some(&len), Some(buf)) = (
            self.tx_reserved.get_mut(i),
            self.tx_lens.get(i),
            self.tx_bufs.get_mut(i),
        ) else {
            return Err(bad);
        };
        if !core::mem::take(r) {
            return Err(bad);
        }
        let len = usize::from(len).min(slot.len());
        let frame = buf.get_mut(..len).unwrap_or(&mut []);
        if meta.partial_checksum().is_some() && complete_in_place(frame, &meta) {
            self.stats.csum_completed += 1;
        }
        let sent = self.sender.try_send(frame);
        let _ = self.tx_free.push(i as u8);
        match sent {
            Ok(()) => {
                self.stats.tx_frames += 1;
                Ok(())
            }
            Err(e) => {
                self.stats.tx_errors += 1;
                Err(self.tx_error(QueuingEndpointError::Send(e)))
            }
        }
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        let i = usize::from(slot.index());
        if let Some(r) = self.tx_reserved.get_mut(i) {
            if core::mem::take(r) {
                let _ = self.tx_free.push(i as u8);
            }
        }
    }
}
