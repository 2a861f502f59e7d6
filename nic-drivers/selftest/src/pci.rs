//! PCIe of QEMU `virt`: ECAM at 0x3000_0000 and BAR assignment from the 32-bit MMIO
//! window at 0x4000_0000 (nothing assigns BARs before us: OpenSBI does not enumerate PCI).
#![allow(unsafe_code)]

/// ECAM base of `virt` (`/soc/pci@30000000`, 256 buses x 1 MiB).
pub const ECAM: usize = 0x3000_0000;
/// 32-bit non-prefetchable MMIO window of `virt` (`ranges` of the host bridge).
const MMIO_WINDOW: (u64, u64) = (0x4000_0000, 0x4000_0000);

/// A function on bus 0 (QEMU puts `-device`s there).
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // vendor/device: for Debug output
pub struct Function {
    /// Device number on bus 0.
    pub dev: u8,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
}

fn cfg_addr(dev: u8, off: u16) -> usize {
    ECAM + (usize::from(dev) << 15) + usize::from(off & 0xffc)
}

/// Reads a config-space dword of bus 0, `dev`, function 0.
pub fn read32(dev: u8, off: u16) -> u32 {
    // SAFETY: inside the ECAM window of `virt` (dev < 32, off < 4096), 4-byte aligned.
    unsafe { core::ptr::read_volatile(cfg_addr(dev, off) as *const u32) }
}

/// Writes a config-space dword of bus 0, `dev`, function 0.
pub fn write32(dev: u8, off: u16, v: u32) {
    // SAFETY: as in `read32`.
    unsafe { core::ptr::write_volatile(cfg_addr(dev, off) as *mut u32, v) }
}

/// Finds the first function on bus 0 with this vendor and one of these device ids.
pub fn find(vendor: u16, devices: &[u16]) -> Option<Function> {
    (0u8..32).find_map(|dev| {
        let id = read32(dev, 0);
        let (v, d) = (id as u16, (id >> 16) as u16);
        (v == vendor && devices.contains(&d)).then_some(Function {
            dev,
            vendor: v,
            device: d,
        })
    })
}

/// Sizes and assigns every memory BAR of `f` from the MMIO window, then enables memory
/// decoding and bus mastering. Returns the assigned addresses (0 = unused BAR).
pub fn assign_bars(f: Function) -> [u64; 6] {
    let mut next = MMIO_WINDOW.0 + u64::from(f.dev) * 0x10_0000; // 1 MiB per device
    let mut out = [0u64; 6];
    // Disable decoding while sizing.
    let cmd = read32(f.dev, 4);
    write32(f.dev, 4, cmd & !0x7);
    let mut i = 0;
    while i < 6 {
        let off = 0x10 + 4 * i as u16;
        let orig = read32(f.dev, off);
        if orig & 1 == 1 {
            i += 1; // I/O BAR: not used
            continue;
        }
        let is64 = (orig >> 1) & 3 == 2;
        write32(f.dev, off, 0xffff_ffff);
        let mask = read32(f.dev, off) & !0xf;
        if mask == 0 {
            i += if is64 { 2 } else { 1 };
            continue;
        }
        let size = u64::from(!mask) + 1;
        let addr = (next + size - 1) & !(size - 1);
        if addr + size > MMIO_WINDOW.0 + MMIO_WINDOW.1 {
            break;
        }
        next = addr + size;
        write32(f.dev, off, addr as u32);
        if is64 {
            write32(f.dev, off + 4, 0);
        }
        out[i] = addr;
        i += if is64 { 2 } else { 1 };
    }
    // Memory space + bus master.
    write32(f.dev, 4, (cmd & !0x7) | 0x6);
    out
}
