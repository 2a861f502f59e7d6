//! BAR probing and assignment against a small configuration-space model with the BAR
//! layout of QEMU's e1000 (BAR0 128 KiB memory, BAR1 I/O, BARs 2–5 unimplemented) and of
//! virtio-net-pci (BAR1 4 KiB, BAR4/5 one 64-bit 16 KiB prefetchable BAR).

use std::cell::RefCell;

use nic_drivers::pci::{BarAllocator, ConfigAccess, MemoryBar, PciAddress, PciRoot};

/// One function: BAR size masks (0 = unimplemented) and their flag bits.
struct Function {
    regs: RefCell<[u32; 64]>,
    masks: [u32; 6],
}

impl Function {
    fn new(bars: [(u32, u32); 6]) -> Self {
        let mut regs = [0u32; 64];
        regs[0] = 0x100e_8086;
        for (i, (_, flags)) in bars.iter().enumerate() {
            regs[4 + i] = *flags;
        }
        Function {
            regs: RefCell::new(regs),
            masks: bars.map(|(m, _)| m),
        }
    }
}

impl ConfigAccess for Function {
    fn read32(&self, addr: PciAddress, offset: u16) -> u32 {
        if addr != PciAddress::new(0, 1, 0) {
            return u32::MAX;
        }
        self.regs
            .borrow()
            .get(usize::from(offset / 4))
            .copied()
            .unwrap_or(0)
    }
    fn write32(&self, addr: PciAddress, offset: u16, value: u32) {
        if addr != PciAddress::new(0, 1, 0) {
            return;
        }
        let i = usize::from(offset / 4);
        let mut regs = self.regs.borrow_mut();
        if (4..10).contains(&i) {
            let flags = regs[i] & 0xf;
            let mask = self.masks[i - 4];
            regs[i] = if mask == u32::MAX {
                value // high half of a 64-bit BAR: no flag bits
            } else if flags & 1 == 1 {
                (value & mask) | flags
            } else {
                (value & mask & !0xf) | flags
            };
        } else if let Some(r) = regs.get_mut(i) {
            *r = value;
        }
    }
}

const DEV: PciAddress = PciAddress::new(0, 1, 0);

#[test]
fn unimplemented_32bit_bars_are_none_and_assignment_succeeds() {
    let f = Function::new([
        (0xfffe_0000, 0),
        (0xffff_ffc0, 1),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
    ]);
    let root = PciRoot::new(f);
    assert_eq!(
        root.bar(DEV, 0).unwrap(),
        Some(MemoryBar {
            address: 0,
            size: 0x2_0000,
            is_64bit: false,
            prefetchable: false
        })
    );
    assert_eq!(root.bar(DEV, 1).unwrap(), None, "I/O BAR");
    for i in 2..6 {
        assert_eq!(root.bar(DEV, i).unwrap(), None, "BAR{i} is not implemented");
    }
    let mut alloc = BarAllocator::new(0x4000_0000, 0x4000_0000);
    root.assign_bars(DEV, &mut alloc).unwrap();
    assert_eq!(root.bar(DEV, 0).unwrap().unwrap().address, 0x4000_0000);
}

#[test]
fn a_64bit_bar_gets_both_halves() {
    let f = Function::new([
        (0, 0),
        (0xffff_f000, 0),
        (0, 0),
        (0, 0),
        (0xffff_c000, 0xc), // 64-bit, prefetchable
        (0xffff_ffff, 0),   // its high half
    ]);
    let root = PciRoot::new(f);
    let b = root.bar(DEV, 4).unwrap().unwrap();
    assert_eq!((b.size, b.is_64bit, b.prefetchable), (0x4000, true, true));
    let mut alloc = BarAllocator::new(0x4000_0000, 0x4000_0000);
    root.assign_bars(DEV, &mut alloc).unwrap();
    assert_eq!(root.bar(DEV, 1).unwrap().unwrap().address, 0x4000_0000);
    assert_eq!(root.bar(DEV, 4).unwrap().unwrap().address, 0x4000_4000);
}
