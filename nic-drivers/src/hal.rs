//! The one door to the hardware: [`Hal`], which the integrator implements, and register
//! access ([`RegisterIo`], [`MmioWindow`]).
//!
//! Drivers never form a pointer to DMA memory. They allocate it with
//! [`Hal::dma_alloc`] (a *physical* address), reach it through [`Hal::memory`] — a
//! bounds-checked [`SharedMemory`] view, i.e. the physical → virtual translation — and
//! give the device the address [`Hal::share`] returns (identity without an IOMMU; an IOVA
//! with one, for `VIRTIO_F_ACCESS_PLATFORM`; a bounce buffer's address with bounce
//! buffering). Device registers are reached through [`Hal::mmio_map`].
//!
//! A bare-metal integrator with identity mapping implements it over a static pool: a
//! bump allocator for `dma_alloc`, `MemoryRegion::identity` over the pool for `memory`,
//! the default (identity) `share`/`unshare`, and [`MmioWindow::new`] for `mmio_map`.
#![allow(unsafe_code)]

use core::fmt;
use core::ptr::NonNull;

use virtqueue::SharedMemory;

/// Which way a buffer's data flows, for [`Hal::share`] / [`Hal::unshare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferDirection {
    /// The device reads it (transmit buffers, commands).
    DriverToDevice,
    /// The device writes it (receive buffers, command status).
    DeviceToDriver,
    /// Both (rings).
    Both,
}

/// Why a [`Hal`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(all(feature = "defmt", target_os = "none"), derive(defmt::Format))]
#[non_exhaustive]
pub enum HalError {
    /// No DMA memory left for an allocation of `len` bytes.
    OutOfDmaMemory {
        /// Bytes asked for.
        len: usize,
    },
    /// A range cannot be shared with the device or mapped.
    Unmappable {
        /// Start of the range (physical address).
        addr: u64,
        /// Length in bytes.
        len: usize,
    },
    /// The integrator does not provide this operation.
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
}

impl fmt::Display for HalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HalError::OutOfDmaMemory { len } => {
                write!(f, "no DMA memory left for {len} bytes")
            }
            HalError::Unmappable { addr, len } => {
                write!(f, "range {addr:#x}+{len:#x} cannot be mapped or shared")
            }
            HalError::Unsupported { what } => write!(f, "the HAL does not support {what}"),
        }
    }
}

/// Hardware access the integrator provides: DMA memory, its translation, sharing with
/// the device, and register windows.
///
/// # Safety
///
/// Implementors promise that:
///
/// - [`Hal::dma_alloc`] returns the physical address of `len` zeroed bytes, aligned to
///   `align`, that the device can reach (after [`Hal::share`]) and that nothing else uses
///   until [`Hal::dma_dealloc`];
/// - [`Hal::memory`] translates every such range (and only memory that is valid for the
///   whole lifetime of `&self` and accessed only through volatile/atomic operations) into
///   a view of the same bytes;
/// - [`Hal::share`] returns an address at which the device sees the bytes of the range
///   (copying them to a bounce buffer for `DriverToDevice` if needed), and
///   [`Hal::unshare`] makes the device's writes visible through [`Hal::memory`]
///   (copying back from a bounce buffer for `DeviceToDriver`) and revokes the mapping;
/// - [`Hal::mmio_map`] returns a window onto the device registers at that physical
///   address and nothing else.
pub unsafe trait Hal {
    /// The driver's view of DMA memory (physical address → bounds-checked view).
    type Memory: SharedMemory;
    /// A register window.
    type Mmio: RegisterIo;

    /// Allocate `len` zeroed bytes of DMA memory aligned to `align` (a power of two, at
    /// most 4096); returns their physical address.
    fn dma_alloc(&self, len: usize, align: usize) -> Result<u64, HalError>;

    /// Free an allocation (same `paddr` and `len`). The driver calls it only once the
    /// device was reset or no longer holds the memory.
    fn dma_dealloc(&self, paddr: u64, len: usize);

    /// The driver's view of DMA memory: the physical → virtual translation.
    fn memory(&self) -> &Self::Memory;

    /// Make `len` bytes at `paddr` available to the device; returns the address the
    /// device must use. Identity by default (no IOMMU, no bounce buffers).
    fn share(&self, paddr: u64, len: usize, dir: BufferDirection) -> Result<u64, HalError> {
        let _ = (len, dir);
        Ok(paddr)
    }

    /// Take a shared range back from the device (after it returned the buffer). Nothing
    /// to do by default.
    fn unshare(&self, device_addr: u64, paddr: u64, len: usize, dir: BufferDirection) {
        let _ = (device_addr, paddr, len, dir);
    }

    /// A window onto `len` bytes of device registers at physical address `paddr`.
    fn mmio_map(&self, paddr: u64, len: usize) -> Result<Self::Mmio, HalError>;
}

/// Register access inside one window (MMIO region, PCI BAR, port range), by offset.
///
/// Accesses outside the window read as all ones and are ignored on write (like an
/// unclaimed bus access), so a bad offset (e.g. from a hostile PCI capability) can never
/// touch other memory.
pub trait RegisterIo {
    /// Read a byte.
    fn read8(&self, offset: usize) -> u8;
    /// Read a little-endian 16-bit register.
    fn read16(&self, offset: usize) -> u16;
    /// Read a little-endian 32-bit register.
    fn read32(&self, offset: usize) -> u32;
    /// Write a byte.
    fn write8(&self, offset: usize, value: u8);
    /// Write a little-endian 16-bit register.
    fn write16(&self, offset: usize, value: u16);
    /// Write a little-endian 32-bit register.
    fn write32(&self, offset: usize, value: u32);
    /// Window length in bytes.
    fn len(&self) -> usize;
    /// Whether the window is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<R: RegisterIo + ?Sized> RegisterIo for &R {
    fn read8(&self, offset: usize) -> u8 {
        (**self).read8(offset)
    }
    fn read16(&self, offset: usize) -> u16 {
        (**self).read16(offset)
    }
    fn read32(&self, offset: usize) -> u32 {
        (**self).read32(offset)
    }
    fn write8(&self, offset: usize, value: u8) {
        (**self).write8(offset, value)
    }
    fn write16(&self, offset: usize, value: u16) {
        (**self).write16(offset, value)
    }
    fn write32(&self, offset: usize, value: u32) {
        (**self).write32(offset, value)
    }
    fn len(&self) -> usize {
        (**self).len()
    }
}

/// Memory-mapped registers: volatile, naturally aligned accesses at `base + offset`,
/// bounds-checked against the window length.
#[derive(Debug, Clone, Copy)]
pub struct MmioWindow {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: register accesses are volatile; the window is just an address range.
unsafe impl Send for MmioWindow {}
// SAFETY: as for `Send`.
unsafe impl Sync for MmioWindow {}

impl MmioWindow {
    /// A window of `len` bytes of registers at virtual address `base`.
    ///
    /// # Safety
    ///
    /// `base..base + len` must be mapped device registers (or memory) valid for volatile
    /// reads and writes of 1, 2 and 4 bytes at naturally aligned offsets for as long as
    /// the window (or a copy) is used, and nothing else may rely on its contents.
    pub unsafe fn new(base: NonNull<u8>, len: usize) -> Self {
        MmioWindow { base, len }
    }

    /// The register pointer for an access of `size` bytes, if inside and aligned.
    fn at(&self, offset: usize, size: usize) -> Option<*mut u8> {
        let end = offset.checked_add(size)?;
        if end > self.len || !offset.is_multiple_of(size) {
            return None;
        }
        // SAFETY: offset + size <= len, so the pointer stays inside the window.
        Some(unsafe { self.base.as_ptr().add(offset) })
    }
}

macro_rules! mmio_access {
    ($read:ident, $write:ident, $t:ty) => {
        fn $read(&self, offset: usize) -> $t {
            match self.at(offset, core::mem::size_of::<$t>()) {
                // SAFETY: inside the window and naturally aligned (checked by `at`); the
                // window is valid for volatile accesses (contract of `MmioWindow::new`).
                Some(p) => <$t>::from_le(unsafe { core::ptr::read_volatile(p.cast::<$t>()) }),
                None => <$t>::MAX,
            }
        }
        fn $write(&self, offset: usize, value: $t) {
            if let Some(p) = self.at(offset, core::mem::size_of::<$t>()) {
                // SAFETY: as for the read.
                unsafe { core::ptr::write_volatile(p.cast::<$t>(), value.to_le()) }
            }
        }
    };
}

impl RegisterIo for MmioWindow {
    mmio_access!(read8, write8, u8);
    mmio_access!(read16, write16, u16);
    mmio_access!(read32, write32, u32);
    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmio_window_is_bounds_checked_and_little_endian() {
        let mut regs = [0u32; 4];
        let base = NonNull::new(regs.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: `regs` outlives the window and is only accessed through it below.
        let w = unsafe { MmioWindow::new(base, 16) };
        w.write32(4, 0x1234_5678);
        assert_eq!(w.read32(4), 0x1234_5678);
        assert_eq!(w.read8(4), 0x78);
        assert_eq!(w.read16(6), 0x1234);
        assert_eq!(w.read32(16), u32::MAX, "outside reads as all ones");
        assert_eq!(w.read32(2), u32::MAX, "misaligned reads as all ones");
        w.write32(14, 7); // ignored
        w.write32(usize::MAX - 1, 7); // ignored, no overflow
        assert_eq!(w.read16(14), 0);
        assert_eq!(regs[1], u32::from_le(0x1234_5678));
    }
}
