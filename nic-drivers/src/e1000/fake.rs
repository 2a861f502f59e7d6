//! An in-process model of the 82540EM register file and descriptor rings, for tests
//! (`test-utils`): [`fake_e1000`] gives a [`FakeHal`] (heap DMA memory and the model's
//! registers) to build the driver with and a [`FakeE1000`] handle to play the device —
//! correctly ([`FakeE1000::deliver`], [`FakeE1000::take_sent`]) or maliciously
//! ([`FakeE1000::write_rx_descriptor`], [`FakeE1000::set_stuck_reset`], ...).
//!
//! The model reacts to register accesses synchronously (a reset completes at once, a
//! write of `TDT` transmits), which is how QEMU's e1000 behaves too.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use virtqueue::{OwnedMemory, SharedMemory};

use super::desc::{RxWriteBack, TxDesc, DESC_LEN};
use super::regs::*;
use crate::hal::{HalError, RegisterIo};
use crate::mock::{FakeHal, FakeMmio};

/// Physical address the fake's register window answers at.
pub const FAKE_BAR0: u64 = 0xfeb0_0000;
/// First physical address of the fake's DMA memory.
pub const FAKE_DMA_BASE: u64 = 0x8000_0000;
/// Registers modelled: everything below the end of `RAH0` (higher offsets read 0).
const MODELLED: u32 = RAH0 + 4;

/// Bytes of DMA memory.
pub const FAKE_DMA_LEN: usize = 512 * 1024;

struct Model {
    regs: Vec<u32>,
    mem: Rc<OwnedMemory>,
    eeprom: [u16; 64],
    /// RAL0/RAH0 valid after reset (as on a board whose EEPROM loaded them).
    ral_valid: bool,
    stuck_reset: bool,
    eeprom_dead: bool,
    link_up: bool,
    sent: Vec<Vec<u8>>,
    tx_write_back: bool,
}

impl Model {
    fn reg(&self, off: u32) -> u32 {
        self.regs.get((off / 4) as usize).copied().unwrap_or(0)
    }

    fn set(&mut self, off: u32, v: u32) {
        if let Some(r) = self.regs.get_mut((off / 4) as usize) {
            *r = v;
        }
    }

    fn reset(&mut self) {
        self.regs.fill(0);
        let status = if self.link_up {
            STATUS_LU | STATUS_FD
        } else {
            STATUS_FD
        };
        self.set(STATUS, status);
        if self.ral_valid {
            let e = self.eeprom;
            self.set(RAL0, u32::from(e[0]) | (u32::from(e[1]) << 16));
            self.set(RAH0, u32::from(e[2]) | RAH_AV);
        }
        if self.stuck_reset {
            self.set(CTRL, CTRL_RST);
        }
    }

    fn read(&mut self, off: u32) -> u32 {
        let v = self.reg(off);
        if off == ICR {
            self.set(ICR, 0);
        }
        v
    }

    fn write(&mut self, off: u32, v: u32) {
        match off {
            CTRL if v & CTRL_RST != 0 => self.reset(),
            EERD if v & EERD_START != 0 => {
                if !self.eeprom_dead {
                    let word = ((v >> 8) & 0xff) as usize;
                    let data = self.eeprom.get(word).copied().unwrap_or(0xffff);
                    self.set(EERD, (u32::from(data) << 16) | EERD_DONE | (v & 0xff00));
                }
            }
            IMS => self.set(IMS, self.reg(IMS) | v),
            IMC => self.set(IMS, self.reg(IMS) & !v),
            TDT => {
                self.set(TDT, v);
                self.transmit();
            }
            _ => self.set(off, v),
        }
    }

    fn ring(&self, bal: u32, bah: u32, len: u32) -> (u64, u32) {
        let base = u64::from(self.reg(bal)) | (u64::from(self.reg(bah)) << 32);
        (base, self.reg(len) / DESC_LEN as u32)
    }

    fn desc(&self, base: u64, i: u32) -> Option<[u8; DESC_LEN]> {
        let mut b = [0u8; DESC_LEN];
        let s = self
            .mem
            .slice(base + u64::from(i) * DESC_LEN as u64, DESC_LEN)
            .ok()?;
        s.read_into(0, &mut b).ok()?;
        Some(b)
    }

    fn put_desc(&self, base: u64, i: u32, b: &[u8; DESC_LEN]) {
        if let Ok(s) = self
            .mem
            .slice(base + u64::from(i) * DESC_LEN as u64, DESC_LEN)
        {
            let _ = s.write_from(0, b);
        }
    }

    fn transmit(&mut self) {
        let (base, n) = self.ring(TDBAL, TDBAH, TDLEN);
        if self.reg(TCTL) & TCTL_EN == 0 || n == 0 {
            return;
        }
        let tail = self.reg(TDT) % n;
        let mut head = self.reg(TDH) % n;
        while head != tail {
            let Some(raw) = self.desc(base, head) else {
                break;
            };
            let mut d = TxDesc::decode(&raw);
            let mut frame = alloc::vec![0u8; usize::from(d.length)];
            if let Ok(s) = self.mem.slice(d.addr, frame.len()) {
                let _ = s.read_into(0, &mut frame);
                self.sent.push(frame);
            }
            if d.cmd & TXD_CMD_RS != 0 && self.tx_write_back {
                d.status |= TXD_STAT_DD;
                self.put_desc(base, head, &d.encode());
            }
            head = (head + 1) % n;
        }
        self.set(TDH, head);
        self.set(ICR, self.reg(ICR) | ICR_TXDW);
    }

    fn accepts(&self, frame: &[u8]) -> bool {
        let rctl = self.reg(RCTL);
        let Some(dst) = frame.get(..6) else {
            return false;
        };
        let ral = self.reg(RAL0).to_le_bytes();
        let rah = self.reg(RAH0).to_le_bytes();
        let ours = [ral[0], ral[1], ral[2], ral[3], rah[0], rah[1]];
        if dst == ours || rctl & RCTL_UPE != 0 {
            return true;
        }
        if dst == [0xff; 6] {
            return rctl & RCTL_BAM != 0;
        }
        dst[0] & 1 != 0 && rctl & RCTL_MPE != 0
    }

    fn deliver(&mut self, frame: &[u8]) -> bool {
        let (base, n) = self.ring(RDBAL, RDBAH, RDLEN);
        if self.reg(RCTL) & RCTL_EN == 0 || n == 0 || !self.link_up || !self.accepts(frame) {
            return false;
        }
        let head = self.reg(RDH) % n;
        if head == self.reg(RDT) % n {
            return false; // no buffer
        }
        let Some(raw) = self.desc(base, head) else {
            return false;
        };
        let mut d = RxWriteBack::decode(&raw);
        let Ok(buf) = self.mem.slice(d.addr, frame.len()) else {
            return false;
        };
        if buf.write_from(0, frame).is_err() {
            return false;
        }
        d.length = frame.len() as u16;
        d.status = RXD_STAT_DD | RXD_STAT_EOP;
        d.errors = 0;
        self.put_desc(base, head, &d.encode());
        self.set(RDH, (head + 1) % n);
        self.set(ICR, self.reg(ICR) | ICR_RXT0);
        true
    }
}

/// The register window of the fake (what `FakeHal::mmio_map` returns).
pub struct FakeRegisters(Rc<RefCell<Model>>);

impl RegisterIo for FakeRegisters {
    fn read8(&self, offset: usize) -> u8 {
        (self.read32(offset & !3) >> (8 * (offset & 3))) as u8
    }
    fn read16(&self, offset: usize) -> u16 {
        (self.read32(offset & !3) >> (8 * (offset & 2))) as u16
    }
    fn read32(&self, offset: usize) -> u32 {
        match u32::try_from(offset) {
            Ok(o) if o < WINDOW && o % 4 == 0 => self.0.borrow_mut().read(o),
            _ => u32::MAX,
        }
    }
    fn write8(&self, _offset: usize, _value: u8) {}
    fn write16(&self, _offset: usize, _value: u16) {}
    fn write32(&self, offset: usize, value: u32) {
        if let Ok(o) = u32::try_from(offset) {
            if o < WINDOW && o % 4 == 0 {
                self.0.borrow_mut().write(o, value);
            }
        }
    }
    fn len(&self) -> usize {
        WINDOW as usize
    }
}

/// The fake's register window at [`FAKE_BAR0`], for [`FakeHal`]'s `mmio_map`.
#[derive(Clone)]
pub struct FakeBar0(Rc<RefCell<Model>>);

impl FakeMmio for FakeBar0 {
    type Window = FakeRegisters;
    fn map(&self, paddr: u64, len: usize) -> Result<FakeRegisters, HalError> {
        if paddr != FAKE_BAR0 || len > WINDOW as usize {
            return Err(HalError::Unmappable { addr: paddr, len });
        }
        Ok(FakeRegisters(self.0.clone()))
    }
}

impl core::fmt::Debug for FakeBar0 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FakeBar0")
    }
}

/// The HAL the fake device is reached through: heap DMA memory and the fake's registers.
pub type E1000FakeHal = FakeHal<FakeBar0>;

/// The test's handle on the fake device.
pub struct FakeE1000 {
    model: Rc<RefCell<Model>>,
}

/// A fake 82540EM with station address `mac` (in its EEPROM and, after reset, in
/// `RAL0`/`RAH0`), link up; returns the HAL to build the driver with (`E1000::new(hal,
/// FAKE_BAR0)`) and the device handle.
pub fn fake_e1000(mac: [u8; 6]) -> (E1000FakeHal, FakeE1000) {
    let mem = Rc::new(OwnedMemory::new(FAKE_DMA_BASE, FAKE_DMA_LEN));
    let mut eeprom = [0u16; 64];
    for (w, pair) in mac.chunks_exact(2).enumerate() {
        eeprom[w] = u16::from_le_bytes([pair[0], pair[1]]);
    }
    let mut model = Model {
        regs: alloc::vec![0; (MODELLED / 4) as usize],
        mem: mem.clone(),
        eeprom,
        ral_valid: true,
        stuck_reset: false,
        eeprom_dead: false,
        link_up: true,
        sent: Vec::new(),
        tx_write_back: true,
    };
    model.reset();
    let model = Rc::new(RefCell::new(model));
    let hal = FakeHal::over(mem, FakeBar0(model.clone()));
    (hal, FakeE1000 { model })
}

impl FakeE1000 {
    /// Receives `frame` from the wire: `false` when the receiver is off, the link down,
    /// the address filter rejects it, or no buffer is posted (as the hardware drops it).
    pub fn deliver(&self, frame: &[u8]) -> bool {
        self.model.borrow_mut().deliver(frame)
    }

    /// Frames transmitted so far (taken out).
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.model.borrow_mut().sent)
    }

    /// A register value.
    pub fn register(&self, offset: u32) -> u32 {
        self.model.borrow().reg(offset)
    }

    /// Overwrites a register without side effects (e.g. a hostile `RDH`).
    pub fn poke_register(&self, offset: u32, value: u32) {
        self.model.borrow_mut().set(offset, value);
    }

    /// Sets the link state (reported in `STATUS.LU`; a link-down device receives nothing).
    pub fn set_link(&self, up: bool) {
        let mut m = self.model.borrow_mut();
        m.link_up = up;
        let s = m.reg(STATUS);
        m.set(STATUS, if up { s | STATUS_LU } else { s & !STATUS_LU });
    }

    /// Malicious: the reset bit never clears.
    pub fn set_stuck_reset(&self, stuck: bool) {
        self.model.borrow_mut().stuck_reset = stuck;
    }

    /// Whether `RAL0`/`RAH0` are loaded (valid) on reset; when not, the driver must use
    /// the EEPROM.
    pub fn set_ral_valid(&self, valid: bool) {
        self.model.borrow_mut().ral_valid = valid;
    }

    /// Overwrites an EEPROM word (e.g. a multicast MAC).
    pub fn set_eeprom_word(&self, word: usize, value: u16) {
        if let Some(w) = self.model.borrow_mut().eeprom.get_mut(word) {
            *w = value;
        }
    }

    /// Malicious: EEPROM reads never complete.
    pub fn set_eeprom_dead(&self, dead: bool) {
        self.model.borrow_mut().eeprom_dead = dead;
    }

    /// Whether transmitted descriptors get `DD` written back (a stalled device: not).
    pub fn set_tx_write_back(&self, on: bool) {
        self.model.borrow_mut().tx_write_back = on;
    }

    /// Malicious: writes `data` into the buffer of receive descriptor `index` (at the
    /// address the driver posted), then the raw write-back `wb` over the descriptor
    /// (whatever its address field says), and advances `RDH` past it.
    pub fn write_rx_descriptor(&self, index: u32, wb: RxWriteBack, data: &[u8]) {
        let mut m = self.model.borrow_mut();
        let (base, n) = m.ring(RDBAL, RDBAH, RDLEN);
        if n == 0 {
            return;
        }
        let index = index % n;
        if let Some(raw) = m.desc(base, index) {
            let posted = RxWriteBack::decode(&raw).addr;
            if let Ok(s) = m.mem.slice(posted, data.len()) {
                let _ = s.write_from(0, data);
            }
        }
        m.put_desc(base, index, &wb.encode());
        m.set(RDH, (index + 1) % n);
    }

    /// The buffer address the driver posted in receive descriptor `index`.
    pub fn rx_buffer_addr(&self, index: u32) -> u64 {
        let m = self.model.borrow();
        let (base, _) = m.ring(RDBAL, RDBAH, RDLEN);
        m.desc(base, index)
            .map(|d| RxWriteBack::decode(&d).addr)
            .unwrap_or(0)
    }
}
