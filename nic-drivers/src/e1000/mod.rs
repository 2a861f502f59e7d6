//! Intel 82540EM (8254x, QEMU `-device e1000`) driver over the [`Hal`].
//!
//! # What it does
//!
//! - Reset, interrupts masked, MAC from `RAL0`/`RAH0` (loaded from the EEPROM by the
//!   reset) or, when that entry is not valid, from EEPROM words 0–2 through `EERD`.
//! - One receive and one transmit ring of legacy descriptors (`RX`, `TX` entries, each a
//!   multiple of 8 so the ring is a multiple of 128 bytes), 2048-byte DMA buffers, CRC
//!   stripped, broadcast accepted, no jumbo frames.
//! - [`FrameLink`]: a received frame is copied once into a private slot and its DMA
//!   buffer reposted at once; a frame to send is written straight into a DMA transmit
//!   buffer (the device only reads it) and handed over at [`FrameLink::tx_commit`];
//!   the tail register is written once per batch by [`FrameLink::service`].
//! - Polling by default; [`E1000::enable_interrupts`] / [`E1000::interrupt_causes`] for
//!   interrupt-driven use (the integrator's handler reads the causes, then polls).
//!
//! # The device is hostile
//!
//! Every descriptor write-back is copied out of DMA memory once (16 bytes) and decoded
//! from the private copy. A receive write-back must have `DD` and `EOP` set, a length in
//! `1..=MAX_FRAME` and no error bits; otherwise the descriptor is reposted, the
//! violation counted and returned as [`Error::DeviceViolation`] (frames spanning several
//! descriptors are rejected: with 2048-byte buffers and long packets disabled a correct
//! device never produces one). Device-written addresses are never used: the driver keeps
//! its own copy of every buffer address. Head registers are never trusted: ownership
//! follows the driver's own indices and the `DD` bits.
//!
//! # Sharing
//!
//! Rings are shared once (`Both`) at start and must therefore be a coherent mapping
//! (identity or IOMMU). Receive buffers are shared when posted and unshared before the
//! copy; transmit buffers are shared at commit and unshared when the device is done, so
//! a bounce-buffer [`Hal`] works for the buffers.

pub mod desc;
#[cfg(any(test, all(feature = "test-utils", feature = "alloc")))]
pub mod fake;
pub mod regs;

use crate::hal::{BufferDirection, Hal, RegisterIo};
use crate::link::{
    FilterCaps, FrameLink, FrameMeta, LinkCaps, LinkState, LinkStats, MacAddress, NicControl,
    RxSlot, TxSlot, MAX_FRAME,
};
use crate::slots::{check_station_mac, check_tx_len, counted, tx_len, RxPool};
use crate::Error;
use desc::{RxWriteBack, TxDesc, DESC_LEN};
use regs::*;
use virtqueue::SharedMemory;

/// Size of every receive and transmit DMA buffer (RCTL.BSIZE = 2048).
pub const BUFFER_LEN: usize = 2048;

/// Register polls before a reset or an EEPROM read counts as timed out.
const SPIN_LIMIT: u32 = if cfg!(miri) { 1_000 } else { 100_000 };

/// State of a transmit buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TxState {
    Free,
    Reserved(u16),
    InFlight,
}

/// The e1000 driver with `RX` receive and `TX` transmit descriptors, over the HAL `H`
/// (borrowed for `'h`, like [`crate::net::VirtioNet`]).
pub struct E1000<'h, H: Hal, const RX: usize, const TX: usize> {
    hal: &'h H,
    regs: H::Mmio,
    mac: MacAddress,
    /// Physical addresses of the two rings and the buffer areas.
    rx_ring: u64,
    tx_ring: u64,
    rx_bufs: u64,
    tx_bufs: u64,
    /// Device addresses the rings were shared at.
    rx_ring_dev: u64,
    tx_ring_dev: u64,
    /// Device address each receive buffer is shared at (for `unshare`).
    rx_dev: [u64; RX],
    /// Next receive descriptor to look at.
    rx_next: u16,
    /// Dropping the rest of a frame that spans descriptors (until `EOP`).
    rx_discarding: bool,
    /// Private copies of received frames.
    rx_private: RxPool<RX, MAX_FRAME>,
    /// Transmit buffer states.
    tx_state: [TxState; TX],
    /// Which buffer (and device address) each transmit descriptor carries.
    tx_slot_of: [u16; TX],
    tx_dev: [(u64, u16); TX],
    /// Next descriptor to fill, oldest in flight, descriptors in flight, reservations.
    tx_tail: u16,
    tx_clean: u16,
    tx_in_flight: u16,
    tx_reserved: u16,
    tx_kick: bool,
    rctl: u32,
    stats: LinkStats,
    link: crate::event::LinkWatch,
}

impl<'h, H: Hal, const RX: usize, const TX: usize> E1000<'h, H, RX, TX> {
    const RING_SIZES_OK: () = assert!(
        RX >= 8
            && RX.is_multiple_of(8)
            && RX <= 4096
            && TX >= 8
            && TX.is_multiple_of(8)
            && TX <= 4096,
        "RX and TX must be multiples of 8 in 8..=4096"
    );

    /// Brings up the device whose register window (PCI BAR0, memory) is at physical
    /// address `bar0`: reset, interrupts masked, MAC read, rings set up, receiver and
    /// transmitter enabled. The integrator has enabled memory decoding and bus mastering.
    pub fn new(hal: &'h H, bar0: u64) -> Result<Self, Error> {
        #[allow(clippy::let_unit_value)]
        let () = Self::RING_SIZES_OK;
        let regs = hal.mmio_map(bar0, WINDOW as usize)?;
        reset(&regs)?;
        let mac = read_mac(&regs)?;

        let rx_ring = hal.dma_alloc(RX * DESC_LEN, 128)?;
        let tx_ring = hal.dma_alloc(TX * DESC_LEN, 128)?;
        let rx_bufs = hal.dma_alloc(RX * BUFFER_LEN, 4096)?;
        let tx_bufs = hal.dma_alloc(TX * BUFFER_LEN, 4096)?;
        let rx_ring_dev = hal.share(rx_ring, RX * DESC_LEN, BufferDirection::Both)?;
        let tx_ring_dev = hal.share(tx_ring, TX * DESC_LEN, BufferDirection::Both)?;
        let mut dev = E1000 {
            hal,
            regs,
            mac,
            rx_ring,
            tx_ring,
            rx_bufs,
            tx_bufs,
            rx_ring_dev,
            tx_ring_dev,
            rx_dev: [0; RX],
            rx_next: 0,
            rx_discarding: false,
            rx_private: RxPool::new(),
            tx_state: [TxState::Free; TX],
            tx_slot_of: [0; TX],
            tx_dev: [(0, 0); TX],
            tx_tail: 0,
            tx_clean: 0,
            tx_in_flight: 0,
            tx_reserved: 0,
            tx_kick: false,
            rctl: RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_BSIZE_2048,
            stats: LinkStats::default(),
            link: crate::event::LinkWatch::new(),
        };
        dev.start()?;
        Ok(dev)
    }

    fn start(&mut self) -> Result<(), Error> {
        let r = &self.regs;
        // Multicast table: nothing but broadcast (and all-multicast when asked).
        for i in 0..128 {
            r.write32((MTA + 4 * i) as usize, 0);
        }
        for i in 0..RX {
            self.arm_rx(i)?;
        }
        let r = &self.regs;
        r.write32(RDBAL as usize, self.rx_ring_dev as u32);
        r.write32(RDBAH as usize, (self.rx_ring_dev >> 32) as u32);
        r.write32(RDLEN as usize, (RX * DESC_LEN) as u32);
        r.write32(RDH as usize, 0);
        r.write32(RDT as usize, (RX - 1) as u32);
        r.write32(RDTR as usize, 0);
        r.write32(RCTL as usize, self.rctl);

        let mem = self.hal.memory();
        mem.slice(self.tx_ring, TX * DESC_LEN)?
            .fill(0, TX * DESC_LEN, 0)?;
        r.write32(TDBAL as usize, self.tx_ring_dev as u32);
        r.write32(TDBAH as usize, (self.tx_ring_dev >> 32) as u32);
        r.write32(TDLEN as usize, (TX * DESC_LEN) as u32);
        r.write32(TDH as usize, 0);
        r.write32(TDT as usize, 0);
        r.write32(TIPG as usize, TIPG_COPPER);
        r.write32(TCTL as usize, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
        let ctrl = r.read32(CTRL as usize);
        r.write32(
            CTRL as usize,
            (ctrl | CTRL_SLU | CTRL_ASDE) & !(CTRL_LRST | CTRL_PHY_RST),
        );
        Ok(())
    }

    /// Shares receive buffer `i` and writes a fresh descriptor for it.
    fn arm_rx(&mut self, i: usize) -> Result<(), Error> {
        let paddr = self.rx_bufs + (i * BUFFER_LEN) as u64;
        let dev = self
            .hal
            .share(paddr, BUFFER_LEN, BufferDirection::DeviceToDriver)?;
        self.rx_dev[i] = dev;
        let d = RxWriteBack::armed(dev);
        self.hal
            .memory()
            .slice(self.rx_ring + (i * DESC_LEN) as u64, DESC_LEN)?
            .write_from(0, &d)?;
        Ok(())
    }

    /// Copies descriptor `i` of the ring at `ring` out of DMA memory (the one read).
    fn read_desc(&self, ring: u64, i: usize) -> Result<[u8; DESC_LEN], Error> {
        let mut b = [0u8; DESC_LEN];
        self.hal
            .memory()
            .slice(ring + (i * DESC_LEN) as u64, DESC_LEN)?
            .read_into(0, &mut b)?;
        Ok(b)
    }

    /// Takes receive buffer `i` back from the device; returns its physical address.
    fn unshare_rx(&self, i: usize) -> u64 {
        let paddr = self.rx_bufs + (i * BUFFER_LEN) as u64;
        self.hal.unshare(
            self.rx_dev[i],
            paddr,
            BUFFER_LEN,
            BufferDirection::DeviceToDriver,
        );
        paddr
    }

    /// Takes the buffer of transmit descriptor `i` back from the device; returns its index.
    fn unshare_tx(&self, i: usize) -> usize {
        let slot = usize::from(self.tx_slot_of[i]);
        let paddr = self.tx_bufs + (slot * BUFFER_LEN) as u64;
        let (dev, len) = self.tx_dev[i];
        self.hal.unshare(
            dev,
            paddr,
            usize::from(len),
            BufferDirection::DriverToDevice,
        );
        slot
    }

    /// Reposts receive descriptor `i` and gives it back to the device.
    fn repost_rx(&mut self, i: usize) -> Result<(), Error> {
        self.arm_rx(i)?;
        self.regs.write32(RDT as usize, i as u32);
        self.rx_next = ((i + 1) % RX) as u16;
        Ok(())
    }

    fn violation(&mut self, field: &'static str, value: u64) -> Error {
        let e = Error::DeviceViolation { field, value };
        event!(warn, "nic-drivers: e1000 device violation: {}", e);
        self.stats.device_errors = self.stats.device_errors.wrapping_add(1);
        e
    }

    /// Takes back at most `budget` transmitted buffers; returns how many.
    fn reclaim_tx(&mut self, budget: u16) -> Result<u16, Error> {
        let mut done = 0;
        while done < budget && self.tx_in_flight > 0 {
            let i = usize::from(self.tx_clean);
            let d = TxDesc::decode(&self.read_desc(self.tx_ring, i)?);
            if d.status & TXD_STAT_DD == 0 {
                break;
            }
            let slot = self.unshare_tx(i);
            if let Some(s) = self.tx_state.get_mut(slot) {
                *s = TxState::Free;
            }
            self.tx_clean = ((i + 1) % TX) as u16;
            self.tx_in_flight -= 1;
            done += 1;
        }
        Ok(done)
    }

    /// Whether a received frame waits: the descriptor at `rx_next` has been written back
    /// (`DD`).
    pub fn rx_ready(&self) -> Result<bool, Error> {
        let d = RxWriteBack::decode(&self.read_desc(self.rx_ring, usize::from(self.rx_next))?);
        Ok(d.status & RXD_STAT_DD != 0)
    }

    /// Unmasks the receive, transmit-done and link-change interrupts. The integrator's
    /// handler calls [`E1000::interrupt_causes`] (which acknowledges them) and then
    /// [`FrameLink::service`] / [`FrameLink::rx_take`].
    pub fn enable_interrupts(&mut self) {
        self.regs.write32(
            IMS as usize,
            ICR_RXT0 | ICR_RXO | ICR_RXDMT0 | ICR_LSC | ICR_TXDW,
        );
    }

    /// Masks every interrupt (the state after [`E1000::new`]).
    pub fn disable_interrupts(&mut self) {
        self.regs.write32(IMC as usize, u32::MAX);
    }

    /// Reads and acknowledges the pending interrupt causes (`ICR_*` bits of [`regs`]).
    pub fn interrupt_causes(&mut self) -> u32 {
        self.regs.read32(ICR as usize)
    }

    /// Sets or clears one receive-control bit (filter modes).
    fn set_rctl_bit(&mut self, bit: u32, on: bool) {
        self.rctl = if on {
            self.rctl | bit
        } else {
            self.rctl & !bit
        };
        self.regs.write32(RCTL as usize, self.rctl);
    }

    /// The frame length of a reservation handle (at most the length reserved).
    fn tx_slot_len(&self, slot: &TxSlot) -> Option<usize> {
        match self.tx_state.get(usize::from(slot.index())) {
            Some(TxState::Reserved(l)) => tx_len(slot.len(), usize::from(*l)),
            _ => None,
        }
    }
}

/// Resets the device and masks its interrupts.
fn reset<R: RegisterIo>(r: &R) -> Result<(), Error> {
    r.write32(IMC as usize, u32::MAX);
    r.write32(RCTL as usize, 0);
    r.write32(TCTL as usize, TCTL_PSP);
    let ctrl = r.read32(CTRL as usize);
    r.write32(CTRL as usize, ctrl | CTRL_RST);
    let mut done = false;
    for _ in 0..SPIN_LIMIT {
        if r.read32(CTRL as usize) & CTRL_RST == 0 {
            done = true;
            break;
        }
    }
    if !done {
        return Err(Error::Timeout {
            what: "e1000 reset",
        });
    }
    r.write32(IMC as usize, u32::MAX);
    let _ = r.read32(ICR as usize);
    Ok(())
}

/// Reads EEPROM word `word` through `EERD`.
fn eeprom_word<R: RegisterIo>(r: &R, word: u8) -> Result<u16, Error> {
    r.write32(EERD as usize, EERD_START | (u32::from(word) << 8));
    for _ in 0..SPIN_LIMIT {
        let v = r.read32(EERD as usize);
        if v & EERD_DONE != 0 {
            return Ok((v >> 16) as u16);
        }
    }
    Err(Error::Timeout {
        what: "e1000 EEPROM read",
    })
}

/// The station address: receive address 0 when valid, else EEPROM words 0..3.
fn read_mac<R: RegisterIo>(r: &R) -> Result<MacAddress, Error> {
    let (lo, hi) = (r.read32(RAL0 as usize), r.read32(RAH0 as usize));
    let mut m = [0u8; 6];
    if hi & RAH_AV != 0 {
        m[..4].copy_from_slice(&lo.to_le_bytes());
        m[4..].copy_from_slice(&hi.to_le_bytes()[..2]);
    } else {
        for w in 0..3u8 {
            let v = eeprom_word(r, w)?.to_le_bytes();
            let at = usize::from(w) * 2;
            m[at..at + 2].copy_from_slice(&v);
        }
        // Make it the filter entry, as the reset would have.
        write_mac(r, MacAddress(m));
    }
    let mac = MacAddress(m);
    if !mac.is_unicast() {
        let mut v = [0u8; 8];
        v[..6].copy_from_slice(&m);
        return Err(Error::DeviceViolation {
            field: "e1000 MAC address",
            value: u64::from_le_bytes(v),
        });
    }
    Ok(mac)
}

fn write_mac<R: RegisterIo>(r: &R, mac: MacAddress) {
    let m = mac.0;
    r.write32(RAL0 as usize, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    r.write32(
        RAH0 as usize,
        u32::from(u16::from_le_bytes([m[4], m[5]])) | RAH_AV,
    );
}

impl<H: Hal, const RX: usize, const TX: usize> FrameLink for E1000<'_, H, RX, TX> {
    type Error = Error;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(MAX_FRAME).with_mac(self.mac)
    }

    fn link_state(&mut self) -> LinkState {
        let now = if self.regs.read32(STATUS as usize) & STATUS_LU != 0 {
            LinkState::Up
        } else {
            LinkState::Down
        };
        self.link.observe("e1000", now)
    }

    /// Writes the tail register once for the frames committed since the last call, then
    /// takes back at most `budget` transmitted buffers.
    fn service(&mut self, budget: u16) -> Result<(), Error> {
        if self.tx_kick {
            // Descriptors are written (plain stores) before the tail register (an MMIO
            // write): the fence orders them for the device.
            core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
            self.regs.write32(TDT as usize, u32::from(self.tx_tail));
            self.tx_kick = false;
        }
        self.reclaim_tx(budget).map(drop)
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, Error> {
        // At most one pass over the ring: bounded even if every descriptor is bad.
        for _ in 0..RX {
            let i = usize::from(self.rx_next);
            let d = RxWriteBack::decode(&self.read_desc(self.rx_ring, i)?);
            if d.status & RXD_STAT_DD == 0 {
                return Ok(None);
            }
            if self.rx_private.free() == 0 {
                // No private slot: leave the frame with the device for later.
                return Ok(None);
            }
            let paddr = self.unshare_rx(i);
            let eop = d.status & RXD_STAT_EOP != 0;
            if self.rx_discarding || !eop {
                // A frame spanning descriptors (never from a correct device here): drop
                // every piece up to and including the one with EOP; report the first.
                let first = !self.rx_discarding;
                self.rx_discarding = !eop;
                self.repost_rx(i)?;
                self.stats.rx_dropped = self.stats.rx_dropped.wrapping_add(1);
                if first {
                    return Err(
                        self.violation("e1000 rx descriptor without EOP", u64::from(d.status))
                    );
                }
                continue;
            }
            let len = usize::from(d.length);
            if len == 0 || len > MAX_FRAME {
                self.repost_rx(i)?;
                self.stats.rx_dropped = self.stats.rx_dropped.wrapping_add(1);
                return Err(self.violation("e1000 rx length", u64::from(d.length)));
            }
            if d.errors != 0 {
                // A frame the device flagged (CRC, symbol, ...): dropped, not a violation.
                self.repost_rx(i)?;
                self.stats.rx_dropped = self.stats.rx_dropped.wrapping_add(1);
                continue;
            }
            let copied = match self.rx_private.next_free() {
                Some(buf) => self
                    .hal
                    .memory()
                    .slice(paddr, len)
                    .and_then(|s| s.read_into(0, &mut buf[..len])),
                None => Ok(()), // not reachable: a slot is free (checked above)
            };
            self.repost_rx(i)?;
            copied?;
            let slot = self.rx_private.take(d.length, FrameMeta::NONE);
            return Ok(counted(slot, &mut self.stats));
        }
        Ok(None)
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        self.rx_private.frame(slot)
    }

    fn rx_release(&mut self, slot: RxSlot) {
        self.rx_private.release(slot);
    }

    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, Error> {
        check_tx_len(len)?;
        self.reclaim_tx(TX as u16)?;
        // One descriptor always stays empty (head == tail means an empty ring).
        let busy = usize::from(self.tx_in_flight) + usize::from(self.tx_reserved);
        let free = self.tx_state.iter().position(|s| *s == TxState::Free);
        match free {
            Some(i) if busy < TX - 1 => {
                self.tx_state[i] = TxState::Reserved(len as u16);
                self.tx_reserved += 1;
                Ok(Some(TxSlot::new(i as u16, len)))
            }
            _ => {
                self.stats.tx_busy = self.stats.tx_busy.wrapping_add(1);
                Ok(None)
            }
        }
    }

    /// Free transmit descriptors (one always stays empty), reservations subtracted.
    fn tx_room(&self) -> Option<usize> {
        let busy = usize::from(self.tx_in_flight) + usize::from(self.tx_reserved);
        Some((TX - 1).saturating_sub(busy))
    }

    fn tx_write(&mut self, slot: &TxSlot, offset: usize, data: &[u8]) -> Result<(), Error> {
        let Some(len) = self.tx_slot_len(slot) else {
            return Err(Error::InvalidSlot {
                index: slot.index(),
            });
        };
        let end = offset.checked_add(data.len());
        if end.is_none_or(|e| e > len) {
            return Err(Error::SlotBounds {
                offset,
                len: data.len(),
                slot_len: len,
            });
        }
        let paddr = self.tx_bufs + (usize::from(slot.index()) * BUFFER_LEN) as u64;
        self.hal
            .memory()
            .slice(paddr, BUFFER_LEN)?
            .write_from(offset, data)?;
        Ok(())
    }

    /// Writes the descriptor; the device sees it at the next
    /// [`service`](FrameLink::service) (one tail write per batch).
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), Error> {
        let Some(len) = self.tx_slot_len(&slot) else {
            return Err(Error::InvalidSlot {
                index: slot.index(),
            });
        };
        if !meta.is_none() {
            self.tx_abort(slot);
            return Err(Error::Unsupported {
                what: "e1000 transmit checksum or segmentation offload",
            });
        }
        let b = usize::from(slot.index());
        let paddr = self.tx_bufs + (b * BUFFER_LEN) as u64;
        let dev = match self.hal.share(paddr, len, BufferDirection::DriverToDevice) {
            Ok(d) => d,
            Err(e) => {
                self.tx_abort(slot);
                return Err(e.into());
            }
        };
        let i = usize::from(self.tx_tail);
        let d = TxDesc {
            addr: dev,
            length: len as u16,
            cso: 0,
            cmd: TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS,
            status: 0,
            css: 0,
            special: 0,
        };
        let written = self
            .hal
            .memory()
            .slice(self.tx_ring + (i * DESC_LEN) as u64, DESC_LEN)
            .and_then(|r| r.write_from(0, &d.encode()));
        if let Err(e) = written {
            self.hal
                .unshare(dev, paddr, len, BufferDirection::DriverToDevice);
            self.tx_abort(slot);
            return Err(e.into());
        }
        self.tx_slot_of[i] = slot.index();
        self.tx_dev[i] = (dev, len as u16);
        self.tx_state[b] = TxState::InFlight;
        self.tx_reserved -= 1;
        self.tx_in_flight += 1;
        self.tx_tail = ((i + 1) % TX) as u16;
        self.tx_kick = true;
        self.stats.tx_frames = self.stats.tx_frames.wrapping_add(1);
        self.stats.tx_bytes = self.stats.tx_bytes.wrapping_add(len as u64);
        Ok(())
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        if let Some(TxState::Reserved(_)) = self.tx_state.get(usize::from(slot.index())) {
            self.tx_state[usize::from(slot.index())] = TxState::Free;
            self.tx_reserved -= 1;
        }
    }
}

impl<H: Hal, const RX: usize, const TX: usize> NicControl for E1000<'_, H, RX, TX> {
    fn stats(&self) -> LinkStats {
        self.stats
    }

    fn filter_caps(&self) -> FilterCaps {
        FilterCaps {
            promiscuous: true,
            all_multicast: true,
            mac_settable: true,
        }
    }

    fn set_promiscuous(&mut self, on: bool) -> Result<(), Error> {
        self.set_rctl_bit(RCTL_UPE, on);
        Ok(())
    }

    fn set_all_multicast(&mut self, on: bool) -> Result<(), Error> {
        self.set_rctl_bit(RCTL_MPE, on);
        Ok(())
    }

    fn set_mac_address(&mut self, mac: MacAddress) -> Result<(), Error> {
        check_station_mac(&mac)?;
        write_mac(&self.regs, mac);
        self.mac = mac;
        Ok(())
    }
}

impl<H: Hal, const RX: usize, const TX: usize> Drop for E1000<'_, H, RX, TX> {
    /// Resets the device (it stops all DMA), then frees the rings and buffers.
    fn drop(&mut self) {
        if reset(&self.regs).is_err() {
            // The device may still own the memory: leak it rather than reuse it.
            return;
        }
        for i in 0..RX {
            self.unshare_rx(i);
        }
        for k in 0..usize::from(self.tx_in_flight) {
            self.unshare_tx((usize::from(self.tx_clean) + k) % TX);
        }
        self.hal.unshare(
            self.rx_ring_dev,
            self.rx_ring,
            RX * DESC_LEN,
            BufferDirection::Both,
        );
        self.hal.unshare(
            self.tx_ring_dev,
            self.tx_ring,
            TX * DESC_LEN,
            BufferDirection::Both,
        );
        self.hal.dma_dealloc(self.rx_ring, RX * DESC_LEN);
        self.hal.dma_dealloc(self.tx_ring, TX * DESC_LEN);
        self.hal.dma_dealloc(self.rx_bufs, RX * BUFFER_LEN);
        self.hal.dma_dealloc(self.tx_bufs, TX * BUFFER_LEN);
    }
}

#[cfg(test)]
mod tests;
