//! The shared-memory virtio transport with both peers hostile: the `vnet-switch` device
//! (`ShmDevice`) and the `nic-drivers` virtio-net driver (`ShmTransport`, `ShmHal`) on
//! one region, with arbitrary writes into the register block and the DMA area (rings,
//! buffers) between their calls — a driver or a device partition scribbling.
//!
//! Invariants: nothing panics; the device serves a port exactly while it is running, and
//! a failed device has said so (`DEVICE_NEEDS_RESET`) unless the scribbler cleared it;
//! afterwards a clean driver reset brings the link back: a frame from the driver reaches
//! the device byte for byte.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nic_drivers::frame_link::FrameLinkExt;
use nic_drivers::net::{NetConfig, VirtioNet, SUPPORTED_FEATURES};
use nic_drivers::transport::shm::{ShmHal, ShmTransport};
use nic_drivers::transport::Transport;
use nic_drivers::MacAddress;
use virtqueue::shm::{self, offset, REG_LEN};
use virtqueue::{DeviceStatus, OwnedMemory, SharedMemory, VolatileSlice};
use vnet_switch::adapters::shm::{DeviceState, ShmDevice};
use vnet_switch::FrameLink;

const DMA: usize = 64 * 1024;
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

#[derive(Arbitrary, Debug)]
enum Op {
    /// Bytes written anywhere in the register block.
    Registers { at: u8, bytes: Vec<u8> },
    /// A word written anywhere in the DMA area.
    Dma { at: u16, word: u32 },
    /// The driver sends a frame of `len` bytes (at least 14).
    DriverSend(u8),
    /// The driver polls and takes what arrived.
    DriverRecv,
    /// The device serves: interrupts, then the register block; takes what arrived.
    DeviceService,
    /// The device sends a frame to the driver.
    DeviceSend(u8),
    /// The driver is dropped and brought up again (a reset).
    Restart,
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<Op>,
}

fn cfg() -> NetConfig {
    NetConfig {
        features: SUPPORTED_FEATURES,
        queue_size: 16,
        rx_buffers: 8,
        tx_buffers: 8,
        fallback_mac: MacAddress([2, 0, 0, 0, 0, 9]),
        ctrl_spins: 64,
    }
}

type Driver<'h, 'r> = VirtioNet<'h, ShmHal<'r>, ShmTransport<'r>, 16, 16>;

fn driver<'h, 'r>(hal: &'h ShmHal<'r>, regs: VolatileSlice<'r>) -> Option<Driver<'h, 'r>> {
    VirtioNet::new(hal, ShmTransport::new(regs)?, cfg()).ok()
}

fn frame(len: u8, fill: u8) -> Vec<u8> {
    let mut f = vec![fill; usize::from(len).max(14)];
    f[..6].copy_from_slice(&MAC);
    f
}

fn check(dev: &ShmDevice<'_>, regs: &VolatileSlice<'_>) {
    let state = dev.state();
    assert_eq!(dev.port().is_some(), state == DeviceState::Running);
    let _ = regs.read_u32(offset::DEVICE_STATUS);
}

fuzz_target!(|input: Input| {
    let owned = OwnedMemory::new(0, REG_LEN + DMA);
    let view = owned.region().get(0, REG_LEN + DMA).unwrap();
    let (regs, dma) = shm::split(view).unwrap();
    let mut dev = ShmDevice::new(regs, &dma, MAC, 1500).unwrap();
    let hal = ShmHal::new(dma);
    let mut drv = driver(&hal, regs);
    dev.poll();

    for op in input.ops.into_iter().take(64) {
        match op {
            Op::Registers { at, bytes } => {
                let at = usize::from(at);
                let len = bytes.len().min(REG_LEN - at).min(64);
                let _ = regs.write_from(at, &bytes[..len]);
            }
            Op::Dma { at, word } => {
                let at = u64::from(at) & !3;
                if let Ok(s) = dma.slice(shm::DMA_BASE + at, 4) {
                    let _ = s.write_from(0, &word.to_le_bytes());
                }
            }
            Op::DriverSend(len) => {
                if let Some(d) = drv.as_mut() {
                    let _ = d.send_frame(&frame(len, 0xa5));
                    let _ = d.service(16);
                }
            }
            Op::DriverRecv => {
                if let Some(d) = drv.as_mut() {
                    let _ = d.service(16);
                    while let Ok(Some(f)) = d.recv_vec() {
                        assert!(f.len() <= 1536);
                    }
                }
            }
            Op::DeviceService => {
                let _ = dev.service(16);
                while let Ok(Some(slot)) = dev.rx_take() {
                    assert!(dev.rx_frame(&slot).len() <= 1536);
                    dev.rx_release(slot);
                }
                check(&dev, &regs);
                if let DeviceState::Failed(e) = dev.state() {
                    assert!(!e.to_string().is_empty());
                }
            }
            Op::DeviceSend(len) => {
                let f = frame(len, 0x5a);
                if let Ok(Some(slot)) = dev.tx_reserve(f.len()) {
                    if dev.tx_write(&slot, 0, &f).is_ok() {
                        let _ = dev.tx_commit(slot, Default::default());
                    } else {
                        dev.tx_abort(slot);
                    }
                }
            }
            Op::Restart => {
                drop(drv.take());
                drv = driver(&hal, regs);
            }
        }
    }

    // Recovery: the driver resets, the device re-formats, the driver comes up again.
    drop(drv);
    if let Some(mut t) = ShmTransport::new(regs) {
        t.set_status(DeviceStatus::empty());
    }
    dev.poll();
    let mut d = driver(&hal, regs).expect("a clean reset brings the driver up");
    dev.poll();
    assert_eq!(dev.state(), DeviceState::Running);
    let f = frame(60, 0x42);
    assert!(d.send_frame(&f).unwrap());
    d.service(16).unwrap();
    let slot = dev.rx_take().unwrap().expect("the frame arrives");
    assert_eq!(dev.rx_frame(&slot), &f[..]);
    dev.rx_release(slot);
});
