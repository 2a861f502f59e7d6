//! The data path of [`VirtioNet`]: receive buffers and private slots, transmit buffers,
//! and the [`FrameLink`] and [`NicControl`] implementations.

use virtqueue::{Buffer, Token, UsedBuffer};

use super::driver::{
    TxState, VirtioNet, BUFFER_LEN, NONE, RX_QUEUE, TX_FRAME_AT, TX_QUEUE, TX_STRIDE,
};
use super::header::{checksum_fits, ctrl, tx_header, NetHeader, RxHeader, HEADER_LEN};
use super::NetFeatures;
use crate::slots::tx_len;
use crate::transport::Transport;
use crate::{
    BufferDirection, ChecksumCaps, Error, FilterCaps, FrameLink, FrameMeta, Hal, LinkCaps,
    LinkState, LinkStats, MacAddress, NicControl, RxSlot, TxSlot, MAX_FRAME, MIN_FRAME,
};

impl<'h, H: Hal, T: Transport, const Q: usize, const R: usize> VirtioNet<'h, H, T, Q, R> {
    fn rx_addr(&self, b: u16) -> u64 {
        self.rx_base + u64::from(b) * BUFFER_LEN as u64
    }

    /// Offset in `tx_mem` of the header of transmit buffer `b` (the frame follows it, at a
    /// 32-byte boundary).
    fn tx_offset(&self, b: u16) -> usize {
        usize::from(b) * TX_STRIDE + TX_FRAME_AT - self.rules.len()
    }

    /// Driver address of transmit buffer `b` (its header).
    fn tx_addr(&self, b: u16) -> u64 {
        self.tx_base + self.tx_offset(b) as u64
    }

    /// One or two descriptors for a buffer at device address `dev` of `len` bytes.
    fn layout(&self, dev: u64, len: usize) -> ([Buffer; 2], usize) {
        let hdr = self.rules.len();
        if self.split_header {
            (
                [
                    Buffer::new(dev, hdr as u32),
                    Buffer::new(dev + hdr as u64, (len - hdr) as u32),
                ],
                2,
            )
        } else {
            ([Buffer::new(dev, len as u32), Buffer::new(0, 0)], 1)
        }
    }

    /// Share receive buffer `b` and post it (not yet published).
    #[inline(always)]
    pub(super) fn post_rx(&mut self, b: u16) -> Result<(), Error> {
        let paddr = self.rx_addr(b);
        let dev = self
            .hal
            .share(paddr, BUFFER_LEN, BufferDirection::DeviceToDriver)?;
        let (bufs, n) = self.layout(dev, BUFFER_LEN);
        let token = self.rx.add(&[], bufs.get(..n).unwrap_or(&[]))?;
        if let Some(slot) = self.rx_by_token.get_mut(usize::from(token.0)) {
            *slot = b;
        }
        if let Some(d) = self.rx_dev.get_mut(usize::from(b)) {
            *d = dev;
        }
        self.rx_unpublished = self.rx_unpublished.saturating_add(1);
        Ok(())
    }

    /// The receive buffer behind a used token (validated as outstanding by the queue),
    /// unshared.
    #[inline(always)]
    fn take_rx(&mut self, token: Token) -> Result<u16, Error> {
        let b = self
            .rx_by_token
            .get_mut(usize::from(token.0))
            .map(|s| core::mem::replace(s, NONE))
            .unwrap_or(NONE);
        if b >= self.rx_count {
            self.broken = true;
            return Err(Error::DeviceViolation {
                field: "receive token",
                value: u64::from(token.0),
            });
        }
        let dev = self.rx_dev.get(usize::from(b)).copied().unwrap_or(0);
        self.hal.unshare(
            dev,
            self.rx_addr(b),
            BUFFER_LEN,
            BufferDirection::DeviceToDriver,
        );
        Ok(b)
    }

    /// Copy the first `n` bytes of receive buffer `b` into `slot` at `at` (one volatile
    /// copy from the start of the buffer, whose host address is 64-aligned). `n` is at most
    /// the buffer's length: the queue checked the used length against the posted bytes,
    /// and the view checks the range once more (an error, never a panic).
    #[inline(always)]
    fn copy_rx(&mut self, slot: u16, at: usize, b: u16, n: usize) -> Result<(), Error> {
        let Some(dst) = self
            .slots
            .get_mut(usize::from(slot))
            .and_then(|s| s.get_mut(at..at + n))
        else {
            return Err(Error::DeviceViolation {
                field: "received frame length",
                value: (at + n) as u64,
            });
        };
        self.rx_mem
            .read_into(usize::from(b) * BUFFER_LEN, dst)
            .map_err(Error::from)
    }

    /// Copy the first `n` bytes (at least a header) of receive buffer `b` into `slot`,
    /// then validate the header from the private copy.
    #[inline(always)]
    fn copy_first(&mut self, slot: u16, b: u16, n: usize) -> Result<RxHeader, Error> {
        let Some(dst) = self
            .slots
            .get_mut(usize::from(slot))
            .and_then(|s| s.get_mut(..n))
        else {
            return Err(Error::DeviceViolation {
                field: "received frame length",
                value: n as u64,
            });
        };
        self.rx_mem.read_into(usize::from(b) * BUFFER_LEN, dst)?;
        let h = dst.first_chunk::<HEADER_LEN>().copied().unwrap_or_default();
        let (lo, rest) = h.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
        let lo = u64::from_le_bytes(*lo);
        let hi = match rest.first_chunk::<4>() {
            Some(w) if self.rules.len() == HEADER_LEN => u32::from_le_bytes(*w),
            Some(&[a, b, _, _]) => u32::from(u16::from_le_bytes([a, b])),
            _ => 0,
        };
        // The common header: no flags, no segmentation, one buffer (or no `num_buffers`
        // field) — what `parse` returns for it, without building the whole header.
        if lo & 0xffff == 0 && (!self.rules.has_num_buffers || hi >> 16 == 1) {
            return Ok(RxHeader {
                num_buffers: 1,
                meta: FrameMeta::NONE,
            });
        }
        self.rules.parse(&NetHeader::from_words(lo, hi))
    }

    /// Assemble the frame starting with used buffer `first` into `slot`: the header and
    /// the frame are copied into private memory together, then the private header is
    /// validated. Every consumed buffer is reposted, whatever happens.
    fn receive(&mut self, first: UsedBuffer, slot: u16) -> Result<(usize, FrameMeta), Error> {
        let b = self.take_rx(first.token)?;
        let hdr_len = self.rules.len();
        let len = first.len as usize;
        let too_long = len > hdr_len + MAX_FRAME;
        let parsed = if len < hdr_len {
            Err(Error::DeviceViolation {
                field: "used length below the header",
                value: len as u64,
            })
        } else {
            // Only the header of a frame that is too long (its partners are still
            // consumed below). The copy is rounded up to whole 32-byte blocks (the buffer
            // and the slot are both `BUFFER_LEN` long): bytes past the used length are
            // copied but never used.
            let n = if too_long { hdr_len } else { len };
            self.copy_first(slot, b, n.next_multiple_of(32).min(BUFFER_LEN))
        };
        self.post_rx(b)?;
        match parsed {
            // The common frame: one buffer, long enough, no checksum to check.
            Ok(p)
                if p.num_buffers == 1
                    && !too_long
                    && len - hdr_len >= MIN_FRAME
                    && p.meta.partial_checksum().is_none() =>
            {
                Ok((len - hdr_len, p.meta))
            }
            parsed => self.receive_rest(slot, parsed, too_long, len),
        }
    }

    /// The rest of [`Self::receive`] for anything but the common frame: the further
    /// buffers of a merged frame, the length and checksum checks, the errors.
    #[cold]
    #[inline(never)]
    fn receive_rest(
        &mut self,
        slot: u16,
        parsed: Result<RxHeader, Error>,
        too_long: bool,
        len: usize,
    ) -> Result<(usize, FrameMeta), Error> {
        let hdr_len = self.rules.len();
        // The buffers a valid header promises are consumed even when the frame is then
        // dropped, so the next frame starts at a header.
        let extra = parsed.as_ref().map_or(0, |p| p.num_buffers - 1);
        let mut end = len;
        let mut result = match parsed {
            Ok(_) if too_long => Err(Error::DeviceViolation {
                field: "received frame length",
                value: (len - hdr_len) as u64,
            }),
            p => p,
        };
        for _ in 0..extra {
            match self.rx.pop_used() {
                Ok(Some(u)) => {
                    let b = self.take_rx(u.token)?;
                    let n = u.len as usize;
                    let r = if end + n - hdr_len > MAX_FRAME {
                        Err(Error::DeviceViolation {
                            field: "received frame length",
                            value: (end + n - hdr_len) as u64,
                        })
                    } else {
                        self.copy_rx(slot, end, b, n)
                    };
                    end += n;
                    self.post_rx(b)?;
                    if let (Err(e), true) = (r, result.is_ok()) {
                        result = Err(e);
                    }
                }
                Ok(None) => {
                    result = Err(Error::DeviceViolation {
                        field: "num_buffers (buffers missing)",
                        value: u64::from(extra) + 1,
                    });
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let p = result?;
        let total = end - hdr_len;
        if total < MIN_FRAME {
            return Err(Error::DeviceViolation {
                field: "received frame length",
                value: total as u64,
            });
        }
        if let Some(c) = p.meta.partial_checksum() {
            if !checksum_fits(&c, total) {
                return Err(Error::DeviceViolation {
                    field: "csum_start + csum_offset",
                    value: u64::from(c.start) + u64::from(c.offset),
                });
            }
        }
        Ok((total, p.meta))
    }

    /// Take back up to `budget` transmitted buffers.
    fn reap_tx(&mut self, budget: u16) -> Result<u16, Error> {
        let mut done = 0;
        while done < budget {
            let used = match self.tx.pop_used() {
                Ok(Some(u)) => u,
                Ok(None) => break,
                Err(e) => return Err(self.device_error(e.into())),
            };
            let b = self
                .tx_by_token
                .get_mut(usize::from(used.token.0))
                .map(|s| core::mem::replace(s, NONE))
                .unwrap_or(NONE);
            if b >= self.tx_count {
                self.broken = true;
                return Err(self.device_error(Error::DeviceViolation {
                    field: "transmit token",
                    value: u64::from(used.token.0),
                }));
            }
            let dev = self.tx_dev.get(usize::from(b)).copied().unwrap_or(0);
            self.hal.unshare(
                dev,
                self.tx_addr(b),
                BUFFER_LEN,
                BufferDirection::DriverToDevice,
            );
            self.release_tx(b);
            done += 1;
        }
        Ok(done)
    }

    fn release_tx(&mut self, b: u16) {
        if let Some(s) = self.tx_state.get_mut(usize::from(b)) {
            *s = TxState::Free;
        }
        if let Some(f) = self.tx_free.get_mut(usize::from(self.tx_free_len)) {
            *f = b;
            self.tx_free_len += 1;
        }
    }

    /// The frame length of a reservation handle, checked (at most the length reserved).
    #[inline]
    fn reserved(&self, slot: &TxSlot) -> Result<usize, Error> {
        if let Some(TxState::Reserved(len)) = self.tx_state.get(usize::from(slot.index())) {
            if let Some(n) = tx_len(slot.len(), usize::from(*len)) {
                return Ok(n);
            }
        }
        Err(Error::InvalidSlot {
            index: slot.index(),
        })
    }

    /// Publish committed frames and notify the device if it asked for it.
    fn kick_tx(&mut self) {
        if self.tx_unpublished == 0 {
            return;
        }
        self.tx_unpublished = 0;
        self.tx.publish();
        if self.tx.should_notify() {
            self.transport.notify(TX_QUEUE);
        }
    }

    /// Publish reposted receive buffers and notify the device if it asked for it.
    fn kick_rx(&mut self) {
        if self.rx_unpublished == 0 {
            return;
        }
        self.rx_unpublished = 0;
        self.rx.publish();
        if self.rx.should_notify() {
            self.transport.notify(RX_QUEUE);
        }
    }

    fn set_rx_mode(&mut self, command: u8, on: bool) -> Result<(), Error> {
        if !self.features.contains(NetFeatures::CTRL_RX) {
            return Err(Error::Unsupported {
                what: "CTRL_RX (promiscuous / all-multicast) not negotiated",
            });
        }
        self.ctrl_command(ctrl::CLASS_RX, command, &[u8::from(on)])
    }
}

impl<H: Hal, T: Transport, const Q: usize, const R: usize> FrameLink for VirtioNet<'_, H, T, Q, R> {
    type Error = Error;

    fn caps(&self) -> LinkCaps {
        let mtu = usize::from(self.mtu);
        LinkCaps::new(mtu + 18)
            .with_mtu(mtu)
            .with_checksum(ChecksumCaps {
                tx_partial: self.features.contains(NetFeatures::CSUM),
                rx_offload: self.features.contains(NetFeatures::GUEST_CSUM),
            })
            .with_mac(self.mac)
    }

    fn link_state(&mut self) -> LinkState {
        self.read_link_state().unwrap_or(LinkState::Unknown)
    }

    /// Takes back at most `budget` transmitted buffers, publishes the frames committed
    /// and the receive buffers reposted since the last call, and notifies the device once
    /// per queue if it asked for it.
    fn service(&mut self, budget: u16) -> Result<(), Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        self.reap_tx(budget)?;
        self.kick_tx();
        self.kick_rx();
        Ok(())
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        let Some(slot) = self
            .slot_free_len
            .checked_sub(1)
            .and_then(|i| self.slot_free.get(usize::from(i)).copied())
        else {
            return Ok(None);
        };
        let first = match self.rx.pop_used() {
            Ok(Some(u)) => u,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.device_error(e.into())),
        };
        let r = self.receive(first, slot);
        // Reposted buffers are published in batches of a quarter of them (the device
        // keeps at least three quarters meanwhile), or by `service`.
        if self.rx_unpublished >= self.rx_kick_at {
            self.kick_rx();
        }
        match r {
            Ok((len, meta)) => {
                self.slot_free_len -= 1;
                let i = usize::from(slot);
                if let (Some(l), Some(m)) = (self.slot_len.get_mut(i), self.slot_meta.get_mut(i)) {
                    *l = len as u16;
                    *m = meta;
                }
                self.stats.rx_frames = self.stats.rx_frames.wrapping_add(1);
                self.stats.rx_bytes = self.stats.rx_bytes.wrapping_add(len as u64);
                Ok(Some(RxSlot::new(slot, len)))
            }
            Err(e) => {
                self.stats.rx_dropped = self.stats.rx_dropped.wrapping_add(1);
                Err(self.device_error(e))
            }
        }
    }

    #[inline]
    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        let i = usize::from(slot.index());
        match (self.slot_len.get(i), self.slots.get(i)) {
            (Some(&len), Some(buf)) if len != 0 && usize::from(len) == slot.len() => {
                let hdr_len = self.rules.len();
                buf.get(hdr_len..hdr_len + slot.len()).unwrap_or(&[])
            }
            _ => &[],
        }
    }

    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        let i = usize::from(slot.index());
        match self.slot_len.get(i) {
            Some(&len) if len != 0 => self.slot_meta.get(i).copied().unwrap_or_default(),
            _ => FrameMeta::NONE,
        }
    }

    #[inline]
    fn rx_release(&mut self, slot: RxSlot) {
        let i = usize::from(slot.index());
        if let Some(l) = self.slot_len.get_mut(i) {
            if *l != 0 {
                *l = 0;
                if let Some(f) = self.slot_free.get_mut(usize::from(self.slot_free_len)) {
                    *f = slot.index();
                    self.slot_free_len += 1;
                }
            }
        }
    }

    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        let max = usize::from(self.mtu) + 18;
        if !(MIN_FRAME..=max).contains(&len) {
            return Err(Error::FrameLength {
                len,
                min: MIN_FRAME,
                max,
            });
        }
        if self.tx_free_len == 0 {
            self.reap_tx(self.tx_count)?;
        }
        let Some(b) = self
            .tx_free_len
            .checked_sub(1)
            .and_then(|i| self.tx_free.get(usize::from(i)).copied())
        else {
            self.stats.tx_busy = self.stats.tx_busy.wrapping_add(1);
            return Ok(None);
        };
        self.tx_free_len -= 1;
        if let Some(s) = self.tx_state.get_mut(usize::from(b)) {
            *s = TxState::Reserved(len as u16);
        }
        Ok(Some(TxSlot::new(b, len)))
    }

    fn tx_room(&self) -> Option<usize> {
        Some(usize::from(self.tx_free_len))
    }

    fn tx_write(&mut self, slot: &TxSlot, offset: usize, data: &[u8]) -> Result<(), Error> {
        let len = self.reserved(slot)?;
        if offset.checked_add(data.len()).is_none_or(|end| end > len) {
            return Err(Error::SlotBounds {
                offset,
                len: data.len(),
                slot_len: len,
            });
        }
        let at = usize::from(slot.index()) * TX_STRIDE + TX_FRAME_AT + offset;
        Ok(self.tx_mem.write_from(at, data)?)
    }

    /// Writes the virtio-net header and hands the buffer to the ring; the device sees it
    /// at the next [`service`](FrameLink::service).
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), Error> {
        let len = self.reserved(&slot)?;
        let checksum = meta.partial_checksum();
        if checksum.is_some() || meta.gso.is_some() {
            return self.tx_commit_offload(slot, len, meta);
        }
        self.tx_post(slot, len, 0)
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        if let Some(TxState::Reserved(_)) = self.tx_state.get(usize::from(slot.index())) {
            self.release_tx(slot.index());
        }
    }
}

impl<'h, H: Hal, T: Transport, const Q: usize, const R: usize> VirtioNet<'h, H, T, Q, R> {
    /// [`FrameLink::tx_commit`] of a frame with offload requests: checked, then posted
    /// with its header.
    #[cold]
    #[inline(never)]
    fn tx_commit_offload(
        &mut self,
        slot: TxSlot,
        len: usize,
        meta: FrameMeta,
    ) -> Result<(), Error> {
        let checksum = meta.partial_checksum();
        if let Some(c) = checksum {
            if !self.features.contains(NetFeatures::CSUM) || !checksum_fits(&c, len) {
                self.tx_abort(slot);
                return Err(Error::Unsupported {
                    what: "transmit checksum offload (not negotiated, or outside the frame)",
                });
            }
        }
        if meta.gso.is_some() {
            self.tx_abort(slot);
            return Err(Error::Unsupported {
                what: "transmit segmentation offload",
            });
        }
        let hdr_len = self.rules.len();
        let mut words = [0u8; 16];
        let h = tx_header(checksum);
        if let (Some(d), Some(s)) = (
            words.get_mut(16 - hdr_len..),
            zerocopy::IntoBytes::as_bytes(&h).get(..hdr_len),
        ) {
            d.copy_from_slice(s);
        }
        self.tx_post(slot, len, u128::from_le_bytes(words))
    }

    /// Write the header of a reserved transmit buffer and hand it to the ring. The header
    /// ends at a 32-byte boundary: `words` are the 16 bytes before that boundary (zero
    /// padding in front of the header, outside the descriptor), written as two 8-byte
    /// stores; without a checksum request they are all zero.
    #[inline(always)]
    fn tx_post(&mut self, slot: TxSlot, len: usize, words: u128) -> Result<(), Error> {
        let b = slot.index();
        let total = self.rules.len() + len;
        let at = usize::from(b) * TX_STRIDE + TX_FRAME_AT - 16;
        let shared = self
            .tx_mem
            .write_u64(at, words as u64)
            .and_then(|()| self.tx_mem.write_u64(at + 8, (words >> 64) as u64))
            .map_err(Error::from)
            .and_then(|()| {
                Ok(self
                    .hal
                    .share(self.tx_addr(b), total, BufferDirection::DriverToDevice)?)
            });
        let dev = match shared {
            Ok(dev) => dev,
            Err(e) => return self.tx_post_failed(slot, e),
        };
        if let Some(d) = self.tx_dev.get_mut(usize::from(b)) {
            *d = dev;
        }
        let (bufs, n) = self.layout(dev, total);
        let token = match self.tx.add(bufs.get(..n).unwrap_or(&[]), &[]) {
            Ok(token) => token,
            Err(e) => return self.tx_post_failed(slot, e.into()),
        };
        if let Some(s) = self.tx_by_token.get_mut(usize::from(token.0)) {
            *s = b;
        }
        if let Some(s) = self.tx_state.get_mut(usize::from(b)) {
            *s = TxState::InFlight;
        }
        self.tx_unpublished = self.tx_unpublished.saturating_add(1);
        self.stats.tx_frames = self.stats.tx_frames.wrapping_add(1);
        self.stats.tx_bytes = self.stats.tx_bytes.wrapping_add(len as u64);
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn tx_post_failed(&mut self, slot: TxSlot, e: Error) -> Result<(), Error> {
        self.tx_abort(slot);
        Err(self.device_error(e))
    }
}

impl<H: Hal, T: Transport, const Q: usize, const R: usize> NicControl
    for VirtioNet<'_, H, T, Q, R>
{
    fn stats(&self) -> LinkStats {
        self.stats
    }

    fn filter_caps(&self) -> FilterCaps {
        let ctrl_rx = self.features.contains(NetFeatures::CTRL_RX);
        FilterCaps {
            promiscuous: ctrl_rx,
            all_multicast: ctrl_rx,
            mac_settable: self.features.contains(NetFeatures::CTRL_MAC_ADDR),
        }
    }

    fn set_promiscuous(&mut self, on: bool) -> Result<(), Error> {
        self.set_rx_mode(ctrl::RX_PROMISC, on)?;
        self.promiscuous = on;
        Ok(())
    }

    fn set_all_multicast(&mut self, on: bool) -> Result<(), Error> {
        self.set_rx_mode(ctrl::RX_ALLMULTI, on)?;
        self.all_multicast = on;
        Ok(())
    }

    fn set_mac_address(&mut self, mac: MacAddress) -> Result<(), Error> {
        if !mac.is_unicast() {
            return Err(Error::ConfigInvalid {
                field: "mac (caller)",
                value: mac.0.iter().fold(0u64, |a, &b| a << 8 | u64::from(b)),
            });
        }
        if !self.features.contains(NetFeatures::CTRL_MAC_ADDR) {
            return Err(Error::Unsupported {
                what: "CTRL_MAC_ADDR not negotiated",
            });
        }
        self.ctrl_command(ctrl::CLASS_MAC, ctrl::MAC_ADDR_SET, &mac.0)?;
        self.mac = mac;
        Ok(())
    }
}
