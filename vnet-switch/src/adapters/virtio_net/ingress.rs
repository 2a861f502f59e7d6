//! transmitq → switch: one chain at a time, header read once, frame copied into a private
//! slot, chain returned at once.

use super::header::{self, NET_HDR_LEN};
use super::{NetQueue, VirtioNetError, VirtioNetPort, MAX_BAD_CHAINS};
use frame_link::{FrameMeta, RxSlot};
use virtqueue::{DescriptorChain, MemoryHandle, SharedMemory};

/// Validates a popped transmit chain and copies its frame into `slot`; returns the frame
/// length and its offload metadata.
fn read_chain<M: SharedMemory + ?Sized, const S: usize>(
    mem: &M,
    chain: &DescriptorChain<S>,
    slot: &mut [u8],
    max_frame: u16,
    csum: bool,
) -> Result<(u16, FrameMeta), VirtioNetError> {
    let head = chain.head();
    if chain.writable_len() != 0 {
        return Err(VirtioNetError::WritableTransmitChain {
            head,
            len: chain.writable_len(),
        });
    }
    let total = chain.readable_len();
    let Some(frame_len) = total.checked_sub(NET_HDR_LEN as u32) else {
        return Err(VirtioNetError::ShortHeader { head, len: total });
    };
    let too_long = VirtioNetError::FrameTooLong {
        head,
        len: frame_len,
        max: max_frame,
    };
    let len = u16::try_from(frame_len).map_err(|_| too_long)?;
    if len > max_frame {
        return Err(too_long);
    }
    let ring = |error| VirtioNetError::Ring {
        queue: NetQueue::Transmit,
        error,
    };
    let mut reader = chain.reader(mem);
    // The header is read once, into private memory, and only that copy is used.
    let mut hdr = [0u8; NET_HDR_LEN];
    reader.read_exact(&mut hdr).map_err(ring)?;
    let meta = header::parse_tx(&hdr, csum, head, frame_len)?;
    let dst = slot.get_mut(..usize::from(len)).ok_or(too_long)?;
    reader.read_exact(dst).map_err(ring)?;
    Ok((len, meta))
}

impl<
        H: MemoryHandle,
        const FRAME: usize,
        const SLOTS: usize,
        const CHAINS: usize,
        const N: usize,
        const S: usize,
    > VirtioNetPort<H, FRAME, SLOTS, CHAINS, N, S>
{
    /// Returns a transmit chain used with length 0 (the device writes nothing into it).
    fn return_tx(&mut self, head: u16) {
        match self.transmitq.add_used(head, 0) {
            Ok(()) => self.used_added[1] = true,
            Err(error) => {
                self.ring_error(NetQueue::Transmit, error);
            }
        }
    }

    fn refused_tx(&mut self, e: VirtioNetError, head: Option<u16>) {
        self.stats.tx_errors += 1;
        self.note(e);
        if let Some(h) = head {
            self.return_tx(h);
        }
    }

    /// [`FrameLink::rx_take`](frame_link::FrameLink::rx_take): the next good frame of the
    /// transmitq, skipping at most [`MAX_BAD_CHAINS`] bad ones.
    pub(super) fn take_frame(&mut self) -> Option<RxSlot> {
        if self.is_down() {
            return None;
        }
        self.ingress.next_free()?;
        for _ in 0..MAX_BAD_CHAINS {
            match self.transmitq.pop_into(&mut self.scratch) {
                Ok(false) => {
                    self.pending = 0;
                    return None;
                }
                Ok(true) => {
                    let head = self.scratch.head();
                    let buf = self.ingress.next_free()?;
                    match read_chain(
                        self.transmitq.memory(),
                        &self.scratch,
                        buf,
                        self.max_frame,
                        self.csum,
                    ) {
                        Ok((len, meta)) => {
                            self.return_tx(head);
                            self.stats.tx_frames += 1;
                            self.refresh_pending();
                            return self.ingress.take(len, meta);
                        }
                        Err(e) => self.refused_tx(e, Some(head)),
                    }
                }
                Err(error) => {
                    let e = VirtioNetError::Ring {
                        queue: NetQueue::Transmit,
                        error,
                    };
                    if e.is_fatal() {
                        self.note(e);
                        return None;
                    }
                    self.refused_tx(e, error.chain_head());
                }
            }
            if self.is_down() {
                return None;
            }
        }
        None
    }

    /// Re-reads how many chains the driver has made available (for the rate queue).
    fn refresh_pending(&mut self) {
        match self.transmitq.pending() {
            Ok(n) => self.pending = n,
            Err(error) => {
                self.ring_error(NetQueue::Transmit, error);
                self.pending = 0;
            }
        }
    }
}
