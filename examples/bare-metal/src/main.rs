//! The four-partition system on one core of a riscv64 `virt` machine under QEMU.
//!
//! ```text
//!   NIC (virtio-net on virtio-mmio, or e1000 on PCI)  ── QEMU netdev (user or TAP)
//!    │ nic_drivers::FrameLink
//!    ▼
//!   vnet-switch ── uplink: the driver itself (a FrameLink)
//!    ├── partition A: smoltcp (own MAC, own IP), ping + TCP echo on port 7
//!    ├── partition B: smoltcp (own MAC, own IP), ping + TCP echo on port 7
//!    └── monitor port: counters per host; optional pcap records as hex on the UART
//! ```
//!
//! Boot: OpenSBI (`-bios default`) enters `_start` at 0x8020_0000 in S-mode with the
//! device tree in `a1`; the kernel command line (see [`args`]) says which NIC to bring
//! up and which addresses to use. The image runs its self-checks (each partition pings
//! the peer and the other partition, and runs a TCP echo to the other's server), then
//! optionally serves the peer, prints the monitor's table and exits QEMU through the
//! sifive test device: status 0 when every check passed, the failing step's code
//! otherwise (see [`code`]). Every wait is bounded by the `time` CSR.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod args;
mod monitor;
mod nic;
mod partition;
mod system;

/// UART, exit device and clock: the same platform layer as `nic-drivers/selftest`.
#[path = "../../../nic-drivers/selftest/src/platform.rs"]
mod platform;

/// `/chosen/bootargs` from the device tree, shared with `nic-drivers/selftest`.
#[path = "../../../nic-drivers/selftest/src/fdt.rs"]
mod fdt;

use core::panic::PanicInfo;

/// Entry point and DMA pool, shared with `nic-drivers/selftest`.
#[path = "../../../nic-drivers/selftest/src/rt.rs"]
mod rt;

/// Failure codes (QEMU exit status).
pub mod code {
    /// The kernel command line is wrong.
    pub const BOOTARGS: u16 = 2;
    /// No NIC of the requested kind.
    pub const NO_DEVICE: u16 = 3;
    /// The driver failed.
    pub const DRIVER: u16 = 4;
    /// The switch configuration was refused.
    pub const SWITCH: u16 = 5;
    /// A ping self-check failed.
    pub const PING: u16 = 6;
    /// A TCP echo self-check failed.
    pub const TCP: u16 = 7;
    /// The peer did not do what `serve` waited for in time.
    pub const SERVE: u16 = 8;
    /// A counter disagrees with what the checks did.
    pub const COUNTERS: u16 = 9;
    /// A panic.
    pub const PANIC: u16 = 10;
    /// The switch let a spoofed frame through, or did not count it.
    pub const SPOOF: u16 = 11;
}

extern "C" fn rust_main(_hart: usize, dtb: usize) -> ! {
    println!("partnet: bare-metal four-partition system");
    // SAFETY: OpenSBI passes a valid device tree in a1.
    #[allow(unsafe_code)]
    let line = unsafe { fdt::bootargs(dtb) }.unwrap_or("");
    println!("partnet: bootargs \"{line}\"");
    let args = match args::parse(line) {
        Ok(a) => a,
        Err(word) => {
            println!("partnet: FAIL bad or missing kernel command-line word \"{word}\"");
            platform::exit(Err(code::BOOTARGS));
        }
    };
    let Some(hal) = rt::dma::hal() else {
        platform::exit(Err(code::PANIC));
    };
    let result = match args.nic {
        args::NicKind::VirtioMmio => nic::virtio_mmio(&hal).and_then(|d| system::run(d, &args)),
        args::NicKind::E1000 => nic::e1000(&hal).and_then(|d| system::run(d, &args)),
    };
    match result {
        Ok(()) => println!("partnet: PASS"),
        Err(c) => println!("partnet: FAIL (code {c})"),
    }
    platform::exit(result)
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    println!("partnet: PANIC {info}");
    platform::exit(Err(code::PANIC))
}
