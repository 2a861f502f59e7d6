//! Device discovery: find a function ([`DeviceMatch`]), give it its BARs, enable it and
//! decode its BARs ([`PciDevice`]), through any [`ConfigAccess`] (ECAM or x86 port I/O).

use super::{header, BarAllocator, ConfigAccess, MemoryBar, PciAddress, PciFunction, PciRoot};
use crate::e1000::regs::{PCI_DEVICE_82540EM, PCI_VENDOR_INTEL};
use crate::transport::pci::virtio_device_type;
use crate::Error;

/// Which function [`PciRoot::find`] and [`PciRoot::discover`] look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceMatch {
    /// This vendor and device id.
    Id {
        /// Vendor id.
        vendor: u16,
        /// Device id.
        device: u16,
    },
    /// This class and subclass (`0x02`, `0x00`: an Ethernet controller).
    Class {
        /// Class code.
        class: u8,
        /// Subclass.
        subclass: u8,
    },
    /// A virtio device of this type (1: network), with a modern (`0x1040 + type`) or a
    /// transitional (`0x1000..=0x103f`, type in the subsystem id) device id.
    Virtio(u32),
}

impl DeviceMatch {
    /// Intel 82540EM (QEMU `-device e1000`), the NIC of [`crate::e1000`].
    pub const E1000: Self = DeviceMatch::Id {
        vendor: PCI_VENDOR_INTEL,
        device: PCI_DEVICE_82540EM,
    };
    /// A virtio-net device (virtio device type 1).
    pub const VIRTIO_NET: Self = DeviceMatch::Virtio(1);
    /// Any Ethernet controller (class 0x02, subclass 0x00).
    pub const ETHERNET: Self = DeviceMatch::Class {
        class: 0x02,
        subclass: 0x00,
    };

    /// Whether `f` (found on `root`) matches.
    fn matches<C: ConfigAccess>(&self, root: &PciRoot<C>, f: &PciFunction) -> bool {
        match *self {
            DeviceMatch::Id { vendor, device } => f.vendor == vendor && f.device == device,
            DeviceMatch::Class { class, subclass } => f.class == class && f.subclass == subclass,
            DeviceMatch::Virtio(t) => virtio_device_type(root, f.address) == Some(t),
        }
    }
}

/// A function found by [`PciRoot::discover`] (or made ready by [`PciRoot::claim`]):
/// memory decoding and bus mastering enabled, its memory BARs decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciDevice {
    /// The function: address, ids, class.
    pub function: PciFunction,
    /// Memory BARs by slot: `None` for an unimplemented or I/O BAR and for the upper
    /// slot of a 64-bit BAR.
    pub bars: [Option<MemoryBar>; 6],
}

impl PciDevice {
    /// Where it is.
    pub fn address(&self) -> PciAddress {
        self.function.address
    }

    /// Memory BAR `index`, if it has one there (`None` for an index above 5).
    pub fn bar(&self, index: u8) -> Option<MemoryBar> {
        self.bars.get(usize::from(index)).copied().flatten()
    }
}

impl<C: ConfigAccess> PciRoot<C> {
    /// The first function on buses `first..=last` that matches `what` (a scan of
    /// [`PciRoot::enumerate`]: at most 256 functions per bus are read).
    pub fn find(&self, first: u8, last: u8, what: DeviceMatch) -> Option<PciFunction> {
        self.enumerate(first, last).find(|f| what.matches(self, f))
    }

    /// The memory BARs of `addr`, decoded (each probed with [`PciRoot::bar`]; a 64-bit
    /// BAR fills its slot and leaves the next one `None`). A type 1 header (a bridge) has
    /// two BAR slots, other header types none.
    pub fn bars(&self, addr: PciAddress) -> Result<[Option<MemoryBar>; 6], Error> {
        let header_type = (self.access.read32(addr, header::HEADER_TYPE) >> 16) as u8 & 0x7f;
        let slots = match header_type {
            0 => 6,
            1 => 2,
            _ => 0,
        };
        let mut bars = [None; 6];
        let mut index = 0u8;
        while index < slots {
            let bar = self.bar(addr, index)?;
            bars[usize::from(index)] = bar;
            index += match bar {
                Some(b) if b.is_64bit => 2,
                _ => 1,
            };
        }
        Ok(bars)
    }

    /// Makes `function` ready: with `alloc`, gives every unassigned memory BAR an address
    /// from it (platforms without firmware that did, such as QEMU riscv64 `virt`); then
    /// enables memory decoding and bus mastering and decodes the BARs.
    pub fn claim(
        &self,
        function: PciFunction,
        alloc: Option<&mut BarAllocator>,
    ) -> Result<PciDevice, Error> {
        match alloc {
            Some(alloc) => self.assign_bars(function.address, alloc)?,
            None => self.enable(function.address),
        }
        Ok(PciDevice {
            function,
            bars: self.bars(function.address)?,
        })
    }

    /// [`PciRoot::find`] then [`PciRoot::claim`]: the first function on buses
    /// `first..=last` matching `what`, ready to use. `Ok(None)` when there is none.
    pub fn discover(
        &self,
        first: u8,
        last: u8,
        what: DeviceMatch,
        alloc: Option<&mut BarAllocator>,
    ) -> Result<Option<PciDevice>, Error> {
        match self.find(first, last, what) {
            Some(f) => self.claim(f, alloc).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::FakeConfigSpace as Space;

    const NONE: (u32, u32) = (0, 0);
    const ETHERNET: u32 = 0x0200_0000;

    /// An e1000 at 00:01.0 (BAR0 128 KiB) and a virtio-net at 00:02.0 (BAR1 4 KiB,
    /// BAR4/5 a 64-bit 16 KiB prefetchable BAR), as on QEMU `virt`.
    fn qemu_virt() -> PciRoot<Space> {
        let s = Space::new();
        let e1000 = [(0xfffe_0000, 0), NONE, NONE, NONE, NONE, NONE];
        s.add(1, 0x100e_8086, ETHERNET, e1000);
        let virtio = [
            NONE,
            (0xffff_f000, 0),
            NONE,
            NONE,
            (0xffff_c000, 0xc),
            (u32::MAX, 0),
        ];
        s.add(2, 0x1041_1af4, ETHERNET, virtio);
        PciRoot::new(s)
    }

    #[test]
    fn finds_by_id_class_and_virtio_type() {
        let root = qemu_virt();
        let at = |m| root.find(0, 0, m).map(|f| f.address);
        assert_eq!(at(DeviceMatch::E1000), Some(PciAddress::new(0, 1, 0)));
        assert_eq!(at(DeviceMatch::VIRTIO_NET), Some(PciAddress::new(0, 2, 0)));
        assert_eq!(at(DeviceMatch::ETHERNET), Some(PciAddress::new(0, 1, 0)));
        assert_eq!(at(DeviceMatch::Virtio(2)), None, "no block device");
        assert_eq!(
            at(DeviceMatch::Class {
                class: 1,
                subclass: 0
            }),
            None
        );
    }

    #[test]
    fn discover_assigns_enables_and_decodes_bars() {
        let root = qemu_virt();
        let mut window = BarAllocator::new(0x4000_0000, 0x4000_0000);
        let dev = root
            .discover(0, 0, DeviceMatch::VIRTIO_NET, Some(&mut window))
            .unwrap()
            .unwrap();
        assert_eq!(dev.bar(0), None);
        assert_eq!(
            dev.bar(1).map(|b| (b.address, b.size)),
            Some((0x4000_0000, 0x1000))
        );
        let b4 = dev.bar(4).unwrap();
        assert_eq!(
            (b4.address, b4.size, b4.is_64bit, b4.prefetchable),
            (0x4000_4000, 0x4000, true, true)
        );
        assert_eq!(dev.bar(5), None, "the upper half of BAR4");
        assert_eq!(dev.bar(6), None);
        let command = root.access().read32(dev.address(), header::COMMAND_STATUS);
        assert_ne!(command & header::COMMAND_MEMORY, 0);
        assert_ne!(command & header::COMMAND_BUS_MASTER, 0);
        // Without an allocator (firmware assigned the BARs) the addresses stay.
        let again = root.claim(dev.function, None).unwrap();
        assert_eq!(again.bars, dev.bars);
    }

    #[test]
    fn an_all_ones_space_has_no_functions() {
        let root = PciRoot::new(Space::new());
        assert_eq!(root.enumerate(0, 255).count(), 0);
        assert_eq!(root.discover(0, 255, DeviceMatch::ETHERNET, None), Ok(None));
    }

    #[test]
    fn hostile_bars_are_typed_errors_or_absent() {
        let s = Space::new();
        // BAR of size 0 (mask reads back 0): not implemented, not a zero-sized window.
        s.add(1, 0x100e_8086, ETHERNET, [NONE; 6]);
        // A 64-bit BAR in the last slot.
        s.add(
            2,
            0x1041_1af4,
            ETHERNET,
            [NONE, NONE, NONE, NONE, NONE, (0xffff_c000, 0x4)],
        );
        // A size mask with a hole (not a power of two).
        s.add(
            3,
            0x1234_5678,
            ETHERNET,
            [(0xfff0_f000, 0), NONE, NONE, NONE, NONE, NONE],
        );
        let root = PciRoot::new(s);
        let mut window = BarAllocator::new(0x4000_0000, 0x4000_0000);
        let dev = root
            .discover(0, 0, DeviceMatch::E1000, Some(&mut window))
            .unwrap()
            .unwrap();
        assert_eq!(dev.bars, [None; 6]);
        let virtio = root.find(0, 0, DeviceMatch::VIRTIO_NET).unwrap();
        assert!(matches!(
            root.claim(virtio, Some(&mut window)),
            Err(Error::ConfigInvalid {
                field: "64-bit BAR in slot 5",
                ..
            })
        ));
        assert!(matches!(
            root.bars(virtio.address),
            Err(Error::ConfigInvalid { .. })
        ));
        let holey = root.find(
            0,
            0,
            DeviceMatch::Id {
                vendor: 0x5678,
                device: 0x1234,
            },
        );
        assert!(matches!(
            root.bars(holey.unwrap().address),
            Err(Error::ConfigInvalid {
                field: "BAR size mask",
                ..
            })
        ));
    }

    #[test]
    fn a_bar_address_the_device_reports_unaligned_is_refused() {
        let s = Space::new();
        s.add(
            1,
            0x100e_8086,
            ETHERNET,
            [(0xffff_f000, 0), NONE, NONE, NONE, NONE, NONE],
        );
        let root = PciRoot::new(s);
        let addr = PciAddress::new(0, 1, 0);
        // A device that keeps low address bits its size mask says are zero.
        root.access().poke(addr, header::BAR0, 0x4000_0800);
        assert!(matches!(
            root.bars(addr),
            Err(Error::ConfigInvalid {
                value: 0x4000_0800,
                ..
            })
        ));
    }
}
