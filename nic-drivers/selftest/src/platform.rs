//! The riscv64 `virt` machine: ns16550 UART, sifive test device (exit), `time` CSR.
#![allow(unsafe_code)]

use core::fmt;

/// ns16550 UART (QEMU `virt`), already set up by OpenSBI.
const UART: usize = 0x1000_0000;
/// sifive,test0: 0x5555 = pass, (code << 16) | 0x3333 = fail.
const TEST_DEVICE: usize = 0x10_0000;
/// Frequency of the `time` CSR on QEMU `virt` (`timebase-frequency` in the device tree).
pub const TIMEBASE_HZ: u64 = 10_000_000;

/// Writes one byte to the UART, waiting (bounded) for the transmit holding register.
fn putc(b: u8) {
    for _ in 0..100_000 {
        // SAFETY: UART + 5 is the line status register of the ns16550 QEMU maps here.
        let lsr = unsafe { core::ptr::read_volatile((UART + 5) as *const u8) };
        if lsr & 0x20 != 0 {
            break;
        }
    }
    // SAFETY: UART + 0 is the transmit holding register.
    unsafe { core::ptr::write_volatile(UART as *mut u8, b) };
}

/// `core::fmt` sink on the UART.
pub struct Uart;

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                putc(b'\r');
            }
            putc(b);
        }
        Ok(())
    }
}

/// Prints to the UART.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::platform::Uart, $($arg)*);
    }};
}

/// Ends the QEMU run: `Ok` exits with status 0, `Err(code)` with status `code` (QEMU's
/// exit status is `code` for the sifive test device's fail value).
pub fn exit(result: Result<(), u16>) -> ! {
    let value: u32 = match result {
        Ok(()) => 0x5555,
        Err(code) => (u32::from(code) << 16) | 0x3333,
    };
    // SAFETY: the sifive test device register QEMU `virt` maps at 0x10_0000.
    unsafe { core::ptr::write_volatile(TEST_DEVICE as *mut u32, value) };
    loop {
        core::hint::spin_loop();
    }
}

/// The `time` CSR (ticks of [`TIMEBASE_HZ`]).
pub fn now() -> u64 {
    let t: u64;
    // SAFETY: reading the `time` CSR has no side effect; OpenSBI lets S-mode read it.
    unsafe { core::arch::asm!("rdtime {0}", out(reg) t) };
    t
}

/// A deadline `ms` milliseconds from now.
pub fn deadline_ms(ms: u64) -> u64 {
    now().saturating_add(ms.saturating_mul(TIMEBASE_HZ / 1000))
}

/// Busy-waits `us` microseconds (bounded by the clock).
pub fn delay_us(us: u64) {
    let end = now().saturating_add(us.saturating_mul(TIMEBASE_HZ / 1_000_000));
    while now() < end {
        core::hint::spin_loop();
    }
}
