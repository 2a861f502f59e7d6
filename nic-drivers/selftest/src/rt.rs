//! The riscv64 `virt` run-time both bare-metal images share (this selftest and
//! `examples/bare-metal`, which includes this file with `#[path]`): the entry point and
//! the DMA pool. The including crate defines `rust_main(hart, dtb)` at its root.
#![allow(unsafe_code)]

// The entry point: stack, zeroed `.bss`, then `rust_main(hart, dtb)`.
core::arch::global_asm!(
    r#"
    .section .text.entry
    .globl _start
_start:
    la sp, __stack_top
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call {main}
3:  j 3b
    "#,
    main = sym crate::rust_main,
);

/// The DMA pool: a static the HAL takes once.
pub mod dma {
    use core::sync::atomic::{AtomicBool, Ordering};

    use nic_drivers::IdentityHal;

    const POOL_LEN: usize = 1 << 20;

    #[repr(C, align(4096))]
    struct Pool([u8; POOL_LEN]);

    static mut POOL: Pool = Pool([0; POOL_LEN]);
    static TAKEN: AtomicBool = AtomicBool::new(false);

    /// The identity-mapped HAL over the pool; `None` on a second call.
    pub fn hal() -> Option<IdentityHal<'static>> {
        if TAKEN.swap(true, Ordering::SeqCst) {
            return None;
        }
        // SAFETY: the pool is borrowed exactly once (guarded by TAKEN); QEMU `virt` has
        // no IOMMU and runs us without an MMU, so physical = virtual for DMA and for the
        // register windows the images map (UART, virtio-mmio slots, ECAM, PCI BARs).
        Some(unsafe { IdentityHal::new(&mut (*core::ptr::addr_of_mut!(POOL)).0) })
    }
}
