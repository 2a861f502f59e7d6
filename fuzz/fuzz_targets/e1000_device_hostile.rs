//! The e1000 driver against a malicious 82540EM: arbitrary receive write-backs (length,
//! status, error bits, buffer contents, any descriptor), arbitrary head and status
//! registers, a stalled transmitter, interleaved with every driver call. Checks: no
//! panic; every frame handed out is 1..=MAX_FRAME bytes, matches its handle, and is
//! private (unchanged by later device writes until released); every device violation is
//! a typed `DeviceViolation` counted exactly once in `device_errors`; caller mistakes
//! get caller errors; each call's work is bounded (the fuzzer's timeout).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nic_drivers::e1000::desc::RxWriteBack;
use nic_drivers::e1000::fake::{fake_e1000, FAKE_BAR0};
use nic_drivers::e1000::regs::{RDH, STATUS, TDH};
use nic_drivers::e1000::E1000;
use nic_drivers::{Error, FrameLink, FrameMeta, NicControl, RxSlot, MAX_FRAME};

#[derive(Debug, Arbitrary)]
enum Op {
    /// The device writes a receive descriptor (and data into its posted buffer).
    WriteBack {
        index: u8,
        length: u16,
        status: u8,
        errors: u8,
        fill: u8,
        data_len: u16,
    },
    /// A correct delivery.
    Deliver {
        len: u16,
        fill: u8,
    },
    /// The device writes a register behind the driver's back.
    Poke {
        which: u8,
        value: u32,
    },
    TxWriteBack(bool),
    RxTake,
    Release(u8),
    Send {
        len: u16,
        fill: u8,
    },
    Poll(u8),
}

const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

fuzz_target!(|ops: Vec<Op>| {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev: E1000<'_, _, 8, 8> =
        E1000::new(&hal, FAKE_BAR0).expect("a correct device at first");
    let mut held: Vec<(RxSlot, Vec<u8>)> = Vec::new();
    let mut violations = 0u64;
    for op in ops.into_iter().take(256) {
        match op {
            Op::WriteBack {
                index,
                length,
                status,
                errors,
                fill,
                data_len,
            } => {
                let wb = RxWriteBack {
                    addr: 0,
                    length,
                    checksum: 0,
                    status,
                    errors,
                    special: 0,
                };
                let data = vec![fill; usize::from(data_len % 2049)];
                fake.write_rx_descriptor(u32::from(index), wb, &data);
            }
            Op::Deliver { len, fill } => {
                let mut f = vec![fill; usize::from(len).clamp(14, MAX_FRAME)];
                f[..6].copy_from_slice(&MAC);
                fake.deliver(&f);
            }
            Op::Poke { which, value } => {
                let reg = [RDH, TDH, STATUS][usize::from(which % 3)];
                fake.poke_register(reg, value);
            }
            Op::TxWriteBack(on) => fake.set_tx_write_back(on),
            Op::RxTake => match dev.rx_take() {
                Ok(Some(slot)) => {
                    let f = dev.rx_frame(&slot).to_vec();
                    assert!(!f.is_empty() && f.len() <= MAX_FRAME);
                    assert_eq!(f.len(), slot.len());
                    held.push((slot, f));
                }
                Ok(None) => {}
                Err(Error::DeviceViolation { .. }) => violations += 1,
                Err(e) => panic!("unexpected error from rx_take: {e}"),
            },
            Op::Release(i) => {
                if !held.is_empty() {
                    let (slot, _) = held.swap_remove(usize::from(i) % held.len());
                    dev.rx_release(slot);
                }
            }
            Op::Send { len, fill } => match dev.tx_reserve(usize::from(len)) {
                Ok(Some(slot)) => {
                    dev.tx_write(&slot, 0, &vec![fill; slot.len()]).unwrap();
                    dev.tx_commit(slot, FrameMeta::NONE).unwrap();
                    dev.service(0).unwrap();
                }
                Ok(None) => {}
                Err(Error::FrameLength { .. }) => {
                    assert!(!(14..=MAX_FRAME).contains(&usize::from(len)))
                }
                Err(e) => panic!("unexpected error from tx_reserve: {e}"),
            },
            Op::Poll(budget) => {
                dev.service(u16::from(budget))
                    .expect("poll has nothing to fail on");
            }
        }
        // Frames held by the caller are private: no device write changes them.
        for (slot, f) in &held {
            assert_eq!(dev.rx_frame(slot), &f[..]);
        }
    }
    assert_eq!(dev.stats().device_errors, violations);
    let _ = fake.take_sent();
});
