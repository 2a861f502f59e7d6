//! PCI configuration space: access ([`ConfigAccess`] over ECAM or x86 port I/O), bus
//! enumeration, capabilities and memory BARs (probing and assignment, for platforms such
//! as QEMU's riscv64 `virt` where no firmware assigns them), and device discovery
//! ([`PciRoot::discover`]: find a function by id, class or virtio type, give it its BARs,
//! enable it, decode its BARs).
//!
//! Every value read from configuration space is treated as device-controlled: capability
//! walks are bounded, BAR sizes and addresses checked.

use crate::{Error, RegisterIo};

mod discovery;

pub use discovery::{DeviceMatch, PciDevice};

/// Bus, device and function of a PCI function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddress {
    /// Bus number.
    pub bus: u8,
    /// Device number (0..32).
    pub device: u8,
    /// Function number (0..8).
    pub function: u8,
}

impl PciAddress {
    /// A PCI address (device and function are masked to 5 and 3 bits).
    pub const fn new(bus: u8, device: u8, function: u8) -> Self {
        PciAddress {
            bus,
            device: device & 31,
            function: function & 7,
        }
    }
}

impl core::fmt::Display for PciAddress {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// 32-bit access to configuration space (offsets 4-aligned, below 256 for port I/O and
/// 4096 for ECAM; outside reads as all ones).
pub trait ConfigAccess {
    /// Read the dword at `offset`.
    fn read32(&self, addr: PciAddress, offset: u16) -> u32;
    /// Write the dword at `offset`.
    fn write32(&self, addr: PciAddress, offset: u16, value: u32);
}

/// PCIe enhanced configuration access: one 4 KiB window per function at
/// `bus << 20 | device << 15 | function << 12` inside a register window `R`.
#[derive(Debug)]
pub struct Ecam<R: RegisterIo> {
    window: R,
}

impl<R: RegisterIo> Ecam<R> {
    /// ECAM over `window` (its length bounds the buses reachable).
    pub fn new(window: R) -> Self {
        Ecam { window }
    }

    fn offset(addr: PciAddress, offset: u16) -> Option<usize> {
        if offset >= 4096 || !offset.is_multiple_of(4) {
            return None;
        }
        Some(
            usize::from(addr.bus) << 20
                | usize::from(addr.device & 31) << 15
                | usize::from(addr.function & 7) << 12
                | usize::from(offset),
        )
    }
}

impl<R: RegisterIo> ConfigAccess for Ecam<R> {
    fn read32(&self, addr: PciAddress, offset: u16) -> u32 {
        Self::offset(addr, offset).map_or(u32::MAX, |o| self.window.read32(o))
    }
    fn write32(&self, addr: PciAddress, offset: u16, value: u32) {
        if let Some(o) = Self::offset(addr, offset) {
            self.window.write32(o, value)
        }
    }
}

/// x86 port I/O, which the integrator provides (`in`/`out` instructions).
pub trait PortIo {
    /// `inl`.
    fn in32(&self, port: u16) -> u32;
    /// `outl`.
    fn out32(&self, port: u16, value: u32);
}

/// Configuration mechanism #1: address at port 0xcf8, data at 0xcfc (first 256 bytes).
#[derive(Debug)]
pub struct ConfigPorts<P: PortIo> {
    ports: P,
}

impl<P: PortIo> ConfigPorts<P> {
    /// Address port.
    pub const ADDRESS: u16 = 0xcf8;
    /// Data port.
    pub const DATA: u16 = 0xcfc;

    /// Mechanism #1 over `ports`.
    pub fn new(ports: P) -> Self {
        ConfigPorts { ports }
    }

    fn select(&self, addr: PciAddress, offset: u16) -> bool {
        if offset >= 256 || !offset.is_multiple_of(4) {
            return false;
        }
        let a = 0x8000_0000
            | u32::from(addr.bus) << 16
            | u32::from(addr.device & 31) << 11
            | u32::from(addr.function & 7) << 8
            | u32::from(offset);
        self.ports.out32(Self::ADDRESS, a);
        true
    }
}

impl<P: PortIo> ConfigAccess for ConfigPorts<P> {
    fn read32(&self, addr: PciAddress, offset: u16) -> u32 {
        if self.select(addr, offset) {
            self.ports.in32(Self::DATA)
        } else {
            u32::MAX
        }
    }
    fn write32(&self, addr: PciAddress, offset: u16, value: u32) {
        if self.select(addr, offset) {
            self.ports.out32(Self::DATA, value)
        }
    }
}

/// Configuration-space offsets of a type 0 header.
pub mod header {
    /// Vendor id (low 16) and device id (high 16).
    pub const ID: u16 = 0x00;
    /// Command (low 16) and status (high 16).
    pub const COMMAND_STATUS: u16 = 0x04;
    /// Revision, prog-if, subclass, class (low to high).
    pub const CLASS: u16 = 0x08;
    /// Cache line, latency, header type (byte 2), BIST.
    pub const HEADER_TYPE: u16 = 0x0c;
    /// First BAR.
    pub const BAR0: u16 = 0x10;
    /// Subsystem vendor id (low 16) and subsystem id (high 16).
    pub const SUBSYSTEM: u16 = 0x2c;
    /// Capabilities pointer (low byte).
    pub const CAPABILITIES: u16 = 0x34;
    /// Status bit: a capability list is present.
    pub const STATUS_CAP_LIST: u32 = 1 << 20;
    /// Command bit: respond to memory space accesses.
    pub const COMMAND_MEMORY: u32 = 1 << 1;
    /// Command bit: the device may master the bus (DMA).
    pub const COMMAND_BUS_MASTER: u32 = 1 << 2;
}

/// One function found by [`PciRoot::enumerate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciFunction {
    /// Where it is.
    pub address: PciAddress,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Class code.
    pub class: u8,
    /// Subclass.
    pub subclass: u8,
    /// Header type (without the multi-function bit).
    pub header_type: u8,
}

/// A memory BAR as probed by [`PciRoot::bar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBar {
    /// Its current address (0 when unassigned).
    pub address: u64,
    /// Its size in bytes (a power of two).
    pub size: u64,
    /// Whether it is a 64-bit BAR (occupies this and the next slot).
    pub is_64bit: bool,
    /// Prefetchable.
    pub prefetchable: bool,
}

/// A bump allocator over a PCI memory window, for [`PciRoot::assign_bars`].
#[derive(Debug, Clone, Copy)]
pub struct BarAllocator {
    next: u64,
    end: u64,
}

impl BarAllocator {
    /// Allocate from `start..start + len` (e.g. QEMU riscv64 `virt`: 0x4000_0000, 1 GiB).
    pub const fn new(start: u64, len: u64) -> Self {
        BarAllocator {
            next: start,
            end: start.saturating_add(len),
        }
    }

    /// `size` bytes aligned to `size` (a power of two).
    pub fn allocate(&mut self, size: u64) -> Option<u64> {
        if size == 0 || !size.is_power_of_two() {
            return None;
        }
        let (at, next) = crate::dma_pool::bump(self.next, self.end, size, size)?;
        self.next = next;
        Some(at)
    }
}

/// Configuration space of a PCI segment, through `C`.
#[derive(Debug)]
pub struct PciRoot<C: ConfigAccess> {
    access: C,
}

/// Capabilities visited at most (a hostile list may loop).
pub const MAX_CAPABILITIES: usize = 48;

impl<C: ConfigAccess> PciRoot<C> {
    /// A root over `access`.
    pub fn new(access: C) -> Self {
        PciRoot { access }
    }

    /// The configuration access.
    pub fn access(&self) -> &C {
        &self.access
    }

    /// The function at `addr`, if present.
    pub fn function(&self, addr: PciAddress) -> Option<PciFunction> {
        let id = self.access.read32(addr, header::ID);
        let vendor = id as u16;
        if vendor == 0xffff || vendor == 0 {
            return None;
        }
        let class = self.access.read32(addr, header::CLASS);
        let ht = self.access.read32(addr, header::HEADER_TYPE);
        Some(PciFunction {
            address: addr,
            vendor,
            device: (id >> 16) as u16,
            class: (class >> 24) as u8,
            subclass: (class >> 16) as u8,
            header_type: (ht >> 16) as u8 & 0x7f,
        })
    }

    /// Every function on buses `first..=last` (a brute-force scan: 32 devices × 8
    /// functions per bus, functions 1..8 only for multi-function devices), in order.
    pub fn enumerate(&self, first: u8, last: u8) -> impl Iterator<Item = PciFunction> + '_ {
        (first..=last)
            .flat_map(|bus| (0u8..32).map(move |dev| (bus, dev)))
            .flat_map(move |(bus, dev)| {
                let f0 = PciAddress::new(bus, dev, 0);
                let multi = self.function(f0).is_some()
                    && (self.access.read32(f0, header::HEADER_TYPE) >> 16) & 0x80 != 0;
                let n = if multi { 8 } else { 1 };
                (0..n).filter_map(move |f| self.function(PciAddress::new(bus, dev, f)))
            })
    }

    /// Walk the capability list: `(id, offset)` pairs, at most [`MAX_CAPABILITIES`],
    /// each offset inside the 256-byte header (a hostile list cannot loop or escape).
    pub fn capabilities(&self, addr: PciAddress) -> impl Iterator<Item = (u8, u16)> + '_ {
        let status = self.access.read32(addr, header::COMMAND_STATUS);
        let mut next = if status & header::STATUS_CAP_LIST != 0 {
            (self.access.read32(addr, header::CAPABILITIES) & 0xfc) as u16
        } else {
            0
        };
        let mut left = MAX_CAPABILITIES;
        core::iter::from_fn(move || {
            if next < 0x40 || left == 0 {
                return None;
            }
            left -= 1;
            let at = next;
            let v = self.access.read32(addr, at);
            next = ((v >> 8) & 0xfc) as u16;
            Some((v as u8, at))
        })
    }

    /// Read `len` bytes (≤ 4) of configuration space at any offset (little-endian).
    pub fn read(&self, addr: PciAddress, offset: u16, len: u8) -> u32 {
        let word = self.access.read32(addr, offset & !3);
        let shifted = word >> ((offset & 3) * 8);
        match len {
            1 => shifted & 0xff,
            2 => shifted & 0xffff,
            _ => shifted,
        }
    }

    /// Probe memory BAR `index` (0..6) by writing all ones (the BAR is restored).
    /// `Ok(None)` for an unimplemented or I/O BAR.
    pub fn bar(&self, addr: PciAddress, index: u8) -> Result<Option<MemoryBar>, Error> {
        if index >= 6 {
            return Ok(None);
        }
        let off = header::BAR0 + 4 * u16::from(index);
        let orig = self.access.read32(addr, off);
        if orig & 1 != 0 {
            return Ok(None); // I/O space
        }
        let is_64bit = (orig >> 1) & 3 == 2;
        if is_64bit && index == 5 {
            return Err(Error::ConfigInvalid {
                field: "64-bit BAR in slot 5",
                value: u64::from(orig),
            });
        }
        self.access.write32(addr, off, u32::MAX);
        let mask_lo = self.access.read32(addr, off);
        self.access.write32(addr, off, orig);
        let (orig_hi, mask_hi) = if is_64bit {
            let orig_hi = self.access.read32(addr, off + 4);
            self.access.write32(addr, off + 4, u32::MAX);
            let m = self.access.read32(addr, off + 4);
            self.access.write32(addr, off + 4, orig_hi);
            (orig_hi, m)
        } else {
            (0, u32::MAX)
        };
        let lo = mask_lo & !0xf;
        if lo == 0 && (!is_64bit || mask_hi == 0) {
            return Ok(None); // not implemented
        }
        let mask = u64::from(mask_hi) << 32 | u64::from(lo);
        let size = (!mask).wrapping_add(1);
        if !size.is_power_of_two() {
            return Err(Error::ConfigInvalid {
                field: "BAR size mask",
                value: mask,
            });
        }
        let address = u64::from(orig_hi) << 32 | u64::from(orig & !0xf);
        if address & (size - 1) != 0 || address.checked_add(size).is_none() {
            return Err(Error::ConfigInvalid {
                field: "BAR address (unaligned or past the end of the address space)",
                value: address,
            });
        }
        Ok(Some(MemoryBar {
            address,
            size,
            is_64bit,
            prefetchable: orig & 8 != 0,
        }))
    }

    /// Set memory BAR `index` to `address`.
    pub fn set_bar(&self, addr: PciAddress, index: u8, bar: &MemoryBar, address: u64) {
        let off = header::BAR0 + 4 * u16::from(index);
        self.access.write32(addr, off, address as u32);
        if bar.is_64bit {
            self.access.write32(addr, off + 4, (address >> 32) as u32);
        }
    }

    /// Give every unassigned memory BAR of `addr` an address from `alloc`, then enable
    /// memory decoding and bus mastering.
    pub fn assign_bars(&self, addr: PciAddress, alloc: &mut BarAllocator) -> Result<(), Error> {
        let mut index = 0u8;
        while index < 6 {
            let bar = self.bar(addr, index)?;
            let mut step = 1;
            if let Some(b) = bar {
                if b.is_64bit {
                    step = 2;
                }
                if b.address == 0 {
                    let at = alloc
                        .allocate(b.size)
                        .filter(|&a| b.is_64bit || a + b.size <= 1 << 32)
                        .ok_or(Error::Unsupported {
                            what: "BAR larger than the PCI memory window left",
                        })?;
                    self.set_bar(addr, index, &b, at);
                }
            }
            index += step;
        }
        self.enable(addr);
        Ok(())
    }

    /// Enable memory decoding and bus mastering.
    pub fn enable(&self, addr: PciAddress) {
        let cs = self.access.read32(addr, header::COMMAND_STATUS);
        let cmd = (cs & 0xffff) | header::COMMAND_MEMORY | header::COMMAND_BUS_MASTER;
        self.access.write32(addr, header::COMMAND_STATUS, cmd);
    }
}
