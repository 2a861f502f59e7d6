//! [`FakeConfigSpace`]: PCI configuration space of a few functions, for discovery tests
//! and examples.

use alloc::vec::Vec;
use core::cell::RefCell;

use crate::pci::{header, ConfigAccess, PciAddress};

/// One function: its 64 configuration dwords and BAR size masks.
type Function = (PciAddress, [u32; 64], [u32; 6]);

/// Configuration space with type 0 functions on bus 0 and BARs that decode like real
/// ones (writes keep the flag bits and the bits of the size mask). Absent functions and
/// offsets read as all ones, as on hardware.
#[derive(Debug, Default)]
pub struct FakeConfigSpace {
    functions: RefCell<Vec<Function>>,
}

impl FakeConfigSpace {
    /// An empty bus: every read is all ones.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds function 0 of `device` on bus 0 with `id` (device id << 16 | vendor id), the
    /// class register `class` (class << 24 | subclass << 16 | ...) and BARs given as
    /// `(size mask, flag bits)`: mask 0 = unimplemented, `u32::MAX` = the upper half of
    /// the 64-bit BAR before it; flags bit 0 = I/O, bits 1..2 = 2 for 64-bit, bit 3 =
    /// prefetchable.
    pub fn add(&self, device: u8, id: u32, class: u32, bars: [(u32, u32); 6]) {
        let mut regs = [0u32; 64];
        regs[usize::from(header::ID / 4)] = id;
        regs[usize::from(header::CLASS / 4)] = class;
        for (i, (_, flags)) in bars.iter().enumerate() {
            regs[usize::from(header::BAR0 / 4) + i] = *flags;
        }
        let addr = PciAddress::new(0, device, 0);
        self.functions
            .borrow_mut()
            .push((addr, regs, bars.map(|(m, _)| m)));
    }

    /// Sets dword `offset` of `addr` as the device would (no BAR masking).
    pub fn poke(&self, addr: PciAddress, offset: u16, value: u32) {
        let mut functions = self.functions.borrow_mut();
        let reg = functions
            .iter_mut()
            .find(|f| f.0 == addr)
            .and_then(|f| f.1.get_mut(usize::from(offset / 4)));
        if let Some(r) = reg {
            *r = value;
        }
    }
}

impl ConfigAccess for FakeConfigSpace {
    fn read32(&self, addr: PciAddress, offset: u16) -> u32 {
        let functions = self.functions.borrow();
        functions
            .iter()
            .find(|f| f.0 == addr)
            .and_then(|f| f.1.get(usize::from(offset / 4)).copied())
            .unwrap_or(u32::MAX)
    }

    fn write32(&self, addr: PciAddress, offset: u16, value: u32) {
        let mut functions = self.functions.borrow_mut();
        let Some((_, regs, masks)) = functions.iter_mut().find(|f| f.0 == addr) else {
            return;
        };
        let i = usize::from(offset / 4);
        let bar = i.checked_sub(usize::from(header::BAR0 / 4));
        match bar.and_then(|b| masks.get(b)) {
            Some(&u32::MAX) => regs[i] = value,
            Some(&mask) => regs[i] = (value & mask & !0xf) | (regs[i] & 0xf),
            None => {
                if let Some(r) = regs.get_mut(i) {
                    *r = value;
                }
            }
        }
    }
}
