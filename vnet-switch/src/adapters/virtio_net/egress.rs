//! switch → receiveq: reserve receive chains (several with `MRG_RXBUF`), copy into them
//! with bounds checks, write the header and publish them used.
//!
//! Held chains live in a fixed arena; a reserved frame is a list of arena entries linked
//! through `link`, named by its first entry (the [`TxSlot`] index). Chains popped for a
//! reservation that could not be completed, and chains of aborted frames, wait in a spare
//! list and are used first by the next reservation: a receive buffer is never returned
//! to the driver empty unless it was malformed.

use super::header::{self, NET_HDR_LEN};
use super::{NetQueue, PortState, VirtioNetError, VirtioNetPort, MAX_BAD_CHAINS, NIL};
use crate::adapters::csum::{checksum_range, Checksum};
use frame_link::{FrameMeta, LinkError, TxSlot};
use virtqueue::{MemoryHandle, UsedEntry, VolatileSlice};

/// What an arena entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChainSlot {
    /// Nothing (on the free list).
    Free,
    /// A validated receive chain waiting for a frame (on the spare list).
    Spare,
    /// The first chain of a reserved frame.
    Head {
        /// Frame bytes reserved (after the header).
        len: u16,
        /// Chains in the frame's list.
        count: u16,
    },
    /// A further chain of a reserved frame.
    Member,
}

/// A list of arena entries being collected.
#[derive(Clone, Copy)]
struct List {
    first: u16,
    last: u16,
    count: u16,
    bytes: u32,
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
    fn next_of(&self, i: u16) -> u16 {
        self.link.get(usize::from(i)).copied().unwrap_or(NIL)
    }

    fn set_link(&mut self, i: u16, next: u16) {
        if let Some(l) = self.link.get_mut(usize::from(i)) {
            *l = next;
        }
    }

    fn set_slot(&mut self, i: u16, s: ChainSlot) {
        if let Some(x) = self.slots.get_mut(usize::from(i)) {
            *x = s;
        }
    }

    fn writable_len(&self, i: u16) -> u32 {
        self.chains
            .get(usize::from(i))
            .map_or(0, |c| c.writable_len())
    }

    fn alloc_entry(&mut self) -> Option<u16> {
        let i = self.free_chains;
        if i == NIL {
            return None;
        }
        self.free_chains = self.next_of(i);
        Some(i)
    }

    fn free_entry(&mut self, i: u16) {
        self.set_slot(i, ChainSlot::Free);
        self.set_link(i, self.free_chains);
        self.free_chains = i;
    }

    /// Returns a receive chain used with length 0 (malformed).
    fn refuse_rx(&mut self, e: VirtioNetError, head: Option<u16>) {
        self.stats.rx_errors += 1;
        self.note(e);
        if let Some(h) = head {
            match self.receiveq.add_used(h, 0) {
                Ok(()) => self.used_added[0] = true,
                Err(error) => {
                    self.ring_error(NetQueue::Receive, error);
                }
            }
        }
    }

    /// Pops and validates the next receive chain into a free arena entry, refusing at
    /// most `bad_left` bad chains (the budget of the whole call, taken from).
    fn pop_receive(&mut self, bad_left: &mut usize) -> Option<u16> {
        let i = self.alloc_entry()?;
        let needed = NET_HDR_LEN as u32
            + if self.mrg {
                0
            } else {
                u32::from(self.max_frame)
            };
        while *bad_left > 0 {
            let Some(chain) = self.chains.get_mut(usize::from(i)) else {
                break;
            };
            match self.receiveq.pop_into(chain) {
                Ok(false) => break,
                Ok(true) => {
                    let (head, readable, writable) =
                        (chain.head(), chain.readable_len(), chain.writable_len());
                    if readable != 0 {
                        let e = VirtioNetError::ReadableReceiveChain {
                            head,
                            len: readable,
                        };
                        self.refuse_rx(e, Some(head));
                    } else if writable < needed {
                        let e = VirtioNetError::ReceiveChainTooSmall {
                            head,
                            len: writable,
                            needed,
                        };
                        self.refuse_rx(e, Some(head));
                    } else {
                        return Some(i);
                    }
                }
                Err(error) => {
                    let e = VirtioNetError::Ring {
                        queue: NetQueue::Receive,
                        error,
                    };
                    if e.is_fatal() {
                        self.note(e);
                        break;
                    }
                    self.refuse_rx(e, error.chain_head());
                }
            }
            // Only a refused chain gets here.
            *bad_left -= 1;
            if self.is_down() {
                break;
            }
        }
        self.free_entry(i);
        None
    }

    fn pop_spare(&mut self) -> Option<u16> {
        let i = self.spare_head;
        if i == NIL {
            return None;
        }
        self.spare_head = self.next_of(i);
        if self.spare_head == NIL {
            self.spare_tail = NIL;
        }
        Some(i)
    }

    /// Puts a list back in front of the spare list (it keeps its order).
    fn unshift_spare(&mut self, first: u16) {
        let mut i = first;
        let mut last = NIL;
        for _ in 0..CHAINS {
            if i == NIL {
                break;
            }
            self.set_slot(i, ChainSlot::Spare);
            last = i;
            i = self.next_of(i);
        }
        if last == NIL {
            return;
        }
        self.set_link(last, self.spare_head);
        if self.spare_head == NIL {
            self.spare_tail = last;
        }
        self.spare_head = first;
    }

    /// [`FrameLink::tx_reserve`](frame_link::FrameLink::tx_reserve): `Ok(None)` when the
    /// driver posted too few receive buffers, or the port is down.
    pub(super) fn reserve(&mut self, len: usize) -> Result<Option<TxSlot>, VirtioNetError> {
        if len > usize::from(self.max_frame) {
            return Err(VirtioNetError::Slot(LinkError::FrameLength {
                len,
                min: 0,
                max: usize::from(self.max_frame),
            }));
        }
        if self.is_down() {
            return Ok(None);
        }
        // len <= max_frame <= u16::MAX.
        let len16 = len as u16;
        let need = NET_HDR_LEN as u32 + u32::from(len16);
        let mut list = List {
            first: NIL,
            last: NIL,
            count: 0,
            bytes: 0,
        };
        // At most MAX_BAD_CHAINS refused for the whole call, however many chains the
        // frame takes.
        let mut bad_left = MAX_BAD_CHAINS;
        // Without MRG_RXBUF every accepted chain holds a whole frame: one suffices.
        while list.bytes < need && usize::from(list.count) < CHAINS {
            let Some(i) = self.pop_spare().or_else(|| self.pop_receive(&mut bad_left)) else {
                break;
            };
            self.set_link(i, NIL);
            self.set_slot(i, ChainSlot::Member);
            if list.first == NIL {
                list.first = i;
            } else {
                self.set_link(list.last, i);
            }
            list.last = i;
            list.count += 1;
            list.bytes = list.bytes.saturating_add(self.writable_len(i));
        }
        if list.bytes < need || self.is_down() {
            if list.first != NIL {
                self.unshift_spare(list.first);
            }
            self.stats.rx_no_buffers += 1;
            return Ok(None);
        }
        self.set_slot(
            list.first,
            ChainSlot::Head {
                len: len16,
                count: list.count,
            },
        );
        Ok(Some(TxSlot::new(list.first, len)))
    }

    /// The reserved frame a handle names: `(len, count)`.
    fn reserved(&self, slot: &TxSlot) -> Result<(u16, u16), VirtioNetError> {
        match self.slots.get(usize::from(slot.index())) {
            Some(&ChainSlot::Head { len, count }) => Ok((len, count)),
            _ => Err(VirtioNetError::Slot(LinkError::BadSlot {
                index: slot.index(),
            })),
        }
    }

    /// Visits `len` bytes of the frame list starting at `first`, from byte `pos` of its
    /// chains' writable stream (the header is at 0), as (view, offset, done, n) pieces.
    /// Bounded by the list's chains and segments.
    fn walk(
        &self,
        first: u16,
        mut pos: usize,
        len: usize,
        mut f: impl FnMut(VolatileSlice<'_>, usize, usize, usize) -> Result<(), virtqueue::Error>,
    ) -> Result<(), VirtioNetError> {
        let ring = |error| VirtioNetError::Ring {
            queue: NetQueue::Receive,
            error,
        };
        let mem = self.receiveq.memory();
        let mut done = 0;
        let mut c = first;
        for _ in 0..CHAINS {
            if done == len {
                break;
            }
            let Some(chain) = self.chains.get(usize::from(c)) else {
                break;
            };
            for seg in chain.writable() {
                if done == len {
                    break;
                }
                let seg_len = seg.len() as usize;
                if pos >= seg_len {
                    pos -= seg_len;
                    continue;
                }
                let n = (seg_len - pos).min(len - done);
                f(seg.slice(mem).map_err(ring)?, pos, done, n).map_err(ring)?;
                done += n;
                pos = 0;
            }
            c = self.next_of(c);
        }
        if done == len {
            Ok(())
        } else {
            Err(ring(virtqueue::Error::PayloadBounds {
                wanted: len,
                available: done,
            }))
        }
    }

    /// Copies `bytes` at stream position `pos` of the frame list.
    fn scatter(&self, first: u16, pos: usize, bytes: &[u8]) -> Result<(), VirtioNetError> {
        self.walk(first, pos, bytes.len(), |view, off, at, n| {
            let src = bytes
                .get(at..at + n)
                .ok_or(virtqueue::Error::PayloadBounds {
                    wanted: at + n,
                    available: bytes.len(),
                })?;
            view.write_from(off, src)
        })
    }

    /// [`FrameLink::tx_write`](frame_link::FrameLink::tx_write).
    pub(super) fn write(
        &mut self,
        slot: &TxSlot,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), VirtioNetError> {
        let (len, _) = self.reserved(slot)?;
        let reserved = usize::from(len);
        if offset
            .checked_add(bytes.len())
            .is_none_or(|end| end > reserved)
        {
            return Err(VirtioNetError::Slot(LinkError::OutOfBounds {
                offset,
                len: bytes.len(),
                reserved,
            }));
        }
        if let PortState::Down(e) = self.state {
            return Err(e);
        }
        self.scatter(slot.index(), NET_HDR_LEN + offset, bytes)
    }

    /// Completes a pending checksum inside the written chains (no `GUEST_CSUM`): reads the
    /// range back in small pieces, writes the two checksum bytes. The driver can only
    /// spoil its own frame by writing into its buffers meanwhile.
    fn complete_checksum(&mut self, first: u16, len: u16, meta: &FrameMeta) {
        let Some((start, field)) = checksum_range(meta, usize::from(len)) else {
            return;
        };
        let mut sum = Checksum::default();
        let mut piece = [0u8; 64];
        let read = self.walk(
            first,
            NET_HDR_LEN + start,
            usize::from(len) - start,
            |view, off, _, n| {
                let mut o = 0;
                while o < n {
                    let k = (n - o).min(piece.len());
                    let dst = &mut piece[..k];
                    view.read_into(off + o, dst)?;
                    sum.add(dst);
                    o += k;
                }
                Ok(())
            },
        );
        if read.is_ok()
            && self
                .scatter(first, NET_HDR_LEN + field, &sum.finish().to_be_bytes())
                .is_ok()
        {
            self.stats.csum_completed += 1;
        }
    }

    /// Frees a frame list (after commit, or when the port is down).
    fn free_list(&mut self, first: u16) {
        let mut i = first;
        for _ in 0..CHAINS {
            if i == NIL {
                break;
            }
            let next = self.next_of(i);
            self.free_entry(i);
            i = next;
        }
    }

    /// [`FrameLink::tx_commit`](frame_link::FrameLink::tx_commit): header, then the
    /// used entries of all the frame's chains with one index update. A frame committed
    /// shorter than reserved is published at that length.
    pub(super) fn commit(
        &mut self,
        slot: TxSlot,
        mut meta: FrameMeta,
    ) -> Result<(), VirtioNetError> {
        let (reserved, count) = self.reserved(&slot)?;
        // Committed shorter than reserved, never longer.
        let len = u16::try_from(slot.len()).unwrap_or(u16::MAX).min(reserved);
        let first = slot.index();
        if let PortState::Down(e) = self.state {
            self.free_list(first);
            return Err(e);
        }
        // GSO is not negotiated: a super-frame's request is not passed on.
        meta.gso = None;
        if !self.guest_csum {
            if meta.partial_checksum().is_some() {
                self.complete_checksum(first, len, &meta);
            }
            // Without GUEST_CSUM the device must write flags = 0 (VirtIO 5.1.6.4.1).
            meta = FrameMeta::NONE;
        }
        let num_buffers = if self.mrg { count } else { 1 };
        let hdr = header::rx_header(&meta, num_buffers).encode();
        if let Err(e) = self.scatter(first, 0, &hdr) {
            self.free_list(first);
            return Err(e);
        }
        let mut entries: heapless::Vec<UsedEntry, CHAINS> = heapless::Vec::new();
        let mut left = NET_HDR_LEN as u32 + u32::from(len);
        let mut i = first;
        for _ in 0..CHAINS {
            let Some(chain) = self.chains.get(usize::from(i)) else {
                break;
            };
            let used = chain.writable_len().min(left);
            left -= used;
            let _ = entries.push(UsedEntry {
                head: chain.head(),
                len: used,
            });
            i = self.next_of(i);
        }
        let added = match self.receiveq.add_used_batch(&entries) {
            Ok(_) => {
                self.used_added[0] = true;
                self.stats.rx_frames += 1;
                self.stats.rx_chains += u64::from(count);
                Ok(())
            }
            Err(error) => Err(self.ring_error(NetQueue::Receive, error)),
        };
        self.free_list(first);
        added
    }

    /// [`FrameLink::tx_abort`](frame_link::FrameLink::tx_abort): the chains wait for the
    /// next reservation.
    pub(super) fn abort(&mut self, slot: TxSlot) {
        if self.reserved(&slot).is_ok() {
            if self.is_down() {
                self.free_list(slot.index());
            } else {
                self.unshift_spare(slot.index());
            }
        }
    }
}
