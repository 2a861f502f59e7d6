//! BAR probing and assignment against `mock::FakeConfigSpace` with the BAR
//! layout of QEMU's e1000 (BAR0 128 KiB memory, BAR1 I/O, BARs 2–5 unimplemented) and of
//! virtio-net-pci (BAR1 4 KiB, BAR4/5 one 64-bit 16 KiB prefetchable BAR).

use nic_drivers::mock::FakeConfigSpace;
use nic_drivers::pci::{BarAllocator, MemoryBar, PciAddress, PciRoot};

/// An Intel function at 00:01.0 with BARs `(size mask, flag bits)`.
fn function(bars: [(u32, u32); 6]) -> FakeConfigSpace {
    let space = FakeConfigSpace::new();
    space.add(1, 0x100e_8086, 0x0200_0000, bars);
    space
}

const DEV: PciAddress = PciAddress::new(0, 1, 0);

#[test]
fn unimplemented_32bit_bars_are_none_and_assignment_succeeds() {
    let f = function([
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
    let f = function([
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
