//! x86 port I/O (`in` / `out`) for PCI configuration mechanism #1
//! ([`crate::pci::ConfigPorts`]).
#![allow(unsafe_code)]

use crate::pci::PortIo;

/// The CPU's I/O ports, through `inl` / `outl`.
#[derive(Debug)]
pub struct X86Ports {
    _private: (),
}

impl X86Ports {
    /// Port access for this CPU.
    ///
    /// # Safety
    ///
    /// The caller runs with I/O privilege (ring 0 or an I/O permission bitmap allowing
    /// ports 0xcf8..0xd00), and nothing else uses ports 0xcf8 / 0xcfc concurrently.
    pub unsafe fn new() -> Self {
        X86Ports { _private: () }
    }
}

impl PortIo for X86Ports {
    fn in32(&self, port: u16) -> u32 {
        let value: u32;
        // SAFETY: I/O privilege and exclusive use of the configuration ports are the
        // contract of `X86Ports::new`; `in` touches no memory.
        unsafe {
            core::arch::asm!("in eax, dx", out("eax") value, in("dx") port, options(nomem, nostack, preserves_flags));
        }
        value
    }

    fn out32(&self, port: u16, value: u32) {
        // SAFETY: as for `in32`.
        unsafe {
            core::arch::asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags));
        }
    }
}
