//! The service side of the shared-memory virtio transport against a hostile driver that
//! writes the register page by hand: every refusal is typed, sets `DEVICE_NEEDS_RESET`,
//! serves nothing, and a reset brings the device back. Random pages never panic it.

use proptest::prelude::*;
use virtqueue::shm::{self, offset, DMA_BASE, REG_LEN, U32, U64};
use virtqueue::{DeviceStatus, OwnedMemory, VolatileSlice};
use vnet_switch::adapters::shm::{DeviceState, ShmDevice, ShmDeviceError, OFFERED, QUEUE_MAX};
use vnet_switch::FrameLink;

/// Register page and a DMA area for two queues of 16.
const REGION: usize = REG_LEN + 16 * 1024;

const OK_STATUS: u32 = 1 | 2 | 4 | 8;

fn w32(regs: &VolatileSlice<'_>, at: usize, v: u32) {
    regs.write_obj(at, &U32::new(v)).unwrap();
}

/// A well-formed driver configuration: both queues of 16 in the DMA area.
fn configure(regs: &VolatileSlice<'_>) {
    regs.write_obj(offset::DRIVER_FEATURES, &U64::new(OFFERED))
        .unwrap();
    for q in 0..2u64 {
        let base = DMA_BASE + q * 0x1000;
        let at = offset::QUEUES + 32 * q as usize;
        regs.write_obj(at, &U64::new(base)).unwrap();
        regs.write_obj(at + 8, &U64::new(base + 256)).unwrap();
        regs.write_obj(at + 16, &U64::new(base + 512)).unwrap();
        w32(regs, at + 24, 16);
        w32(regs, at + 28, 1);
    }
}

fn reset(regs: &VolatileSlice<'_>) {
    w32(regs, offset::STATUS, 0);
    w32(regs, offset::DEVICE_STATUS, 0);
    let n = regs.read_u32(offset::RESETS).unwrap();
    w32(regs, offset::RESETS, n + 1);
}

#[test]
fn every_bad_configuration_is_refused_typed_and_a_reset_recovers() {
    let owned = OwnedMemory::new(0, REGION);
    let view = owned.region().get(0, REGION).unwrap();
    let (regs, dma) = shm::split(view).unwrap();
    let mut dev = ShmDevice::new(regs, &dma, [2, 0, 0, 0, 0, 1], 1500).unwrap();

    type Spoil = fn(&VolatileSlice<'_>);
    let cases: [(Spoil, ShmDeviceError); 7] = [
        (
            |r| {
                r.write_obj(offset::DRIVER_FEATURES, &U64::new(OFFERED | 1 << 15))
                    .unwrap()
            },
            ShmDeviceError::Features {
                driver: OFFERED | 1 << 15,
                offered: OFFERED,
            },
        ),
        (
            |r| {
                r.write_obj(offset::DRIVER_FEATURES, &U64::new(OFFERED & !(1 << 32)))
                    .unwrap()
            },
            ShmDeviceError::Features {
                driver: OFFERED & !(1 << 32),
                offered: OFFERED,
            },
        ),
        (
            |r| w32(r, offset::QUEUES + 32 + 28, 0),
            ShmDeviceError::QueueNotReady { queue: 1 },
        ),
        (
            |r| w32(r, offset::QUEUES + 24, 12),
            ShmDeviceError::QueueSize { queue: 0, size: 12 },
        ),
        (
            |r| w32(r, offset::QUEUES + 24, 128),
            ShmDeviceError::QueueSize {
                queue: 0,
                size: u32::from(QUEUE_MAX) * 2,
            },
        ),
        (
            // The used ring of queue 1 pointing into the register page (not DMA).
            |r| {
                r.write_obj(offset::QUEUES + 32 + 16, &U64::new(DMA_BASE - 4096))
                    .unwrap()
            },
            ShmDeviceError::Ring {
                queue: 1,
                error: virtqueue::Error::OutOfMemory {
                    addr: DMA_BASE - 4096,
                    len: 0,
                },
            },
        ),
        (
            |r| w32(r, 0, 0x1234_5678),
            ShmDeviceError::Layout {
                field: "magic",
                value: 0x1234_5678,
            },
        ),
    ];
    for (spoil, expected) in cases {
        reset(&regs);
        assert_eq!(dev.poll(), DeviceState::Waiting);
        configure(&regs);
        spoil(&regs);
        w32(&regs, offset::STATUS, OK_STATUS);
        let state = dev.poll();
        let DeviceState::Failed(got) = state else {
            panic!("accepted a bad configuration ({expected})");
        };
        match (got, expected) {
            // The ring's byte length is the virtqueue crate's business: compare the rest.
            (
                ShmDeviceError::Ring {
                    queue,
                    error: virtqueue::Error::OutOfMemory { addr, .. },
                },
                ShmDeviceError::Ring {
                    queue: want_queue,
                    error: virtqueue::Error::OutOfMemory { addr: want, .. },
                },
            ) => assert_eq!((queue, addr), (want_queue, want)),
            _ => assert_eq!(got, expected, "{got}"),
        }
        assert!(!got.to_string().is_empty());
        assert_eq!(
            regs.read_u32(offset::DEVICE_STATUS).unwrap(),
            DeviceStatus::DEVICE_NEEDS_RESET.bits()
        );
        // Nothing is served while failed.
        assert!(dev.rx_take().unwrap().is_none());
        assert!(dev.tx_reserve(60).unwrap().is_none());
        // And it stays failed until the driver resets.
        assert_eq!(dev.poll(), state);
    }

    // A good configuration after a reset runs; changing it while running is refused.
    reset(&regs);
    dev.poll();
    configure(&regs);
    w32(&regs, offset::STATUS, OK_STATUS);
    assert_eq!(dev.poll(), DeviceState::Running);
    assert_eq!(dev.stats().attaches, 1);
    w32(&regs, offset::QUEUES + 24, 8);
    assert_eq!(
        dev.poll(),
        DeviceState::Failed(ShmDeviceError::Reconfigured { field: "queues" })
    );
    reset(&regs);
    dev.poll();
    configure(&regs);
    w32(&regs, offset::STATUS, OK_STATUS | 0x80);
    assert_eq!(
        dev.poll(),
        DeviceState::Failed(ShmDeviceError::DriverFailed)
    );
    assert!(dev.stats().failures >= 9);
    assert!(dev.stats().resets >= 8);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 8 } else { 64 }))]
    /// Any register page, any number of polls: no panic, and the device either waits,
    /// runs a configuration it validated, or says why not.
    #[test]
    fn random_register_pages_never_panic(
        pages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0xc0), 1..4),
        keep_header in any::<bool>(),
    ) {
        let owned = OwnedMemory::new(0, REGION);
        let view = owned.region().get(0, REGION).unwrap();
        let (regs, dma) = shm::split(view).unwrap();
        let mut dev = ShmDevice::new(regs, &dma, [2, 0, 0, 0, 0, 1], 1500).unwrap();
        // The device-owned words (identity, features) and config space as formatted.
        let mut header = [0u8; 0x18];
        regs.read_into(0, &mut header).unwrap();
        let mut config = [0u8; 64];
        regs.read_into(offset::CONFIG, &mut config).unwrap();
        for page in &pages {
            regs.write_from(0, page).unwrap();
            if keep_header {
                // Past the layout check: the driver's own fields are random.
                regs.write_from(0, &header).unwrap();
                regs.write_from(offset::CONFIG, &config).unwrap();
            }
            match dev.poll() {
                DeviceState::Running => prop_assert!(dev.port().is_some()),
                DeviceState::Waiting | DeviceState::Failed(_) => prop_assert!(dev.port().is_none()),
            }
            let _ = dev.rx_take();
        }
    }
}

/// A doorbell that counts its rings.
#[derive(Default)]
struct Bell(std::cell::Cell<u32>);

impl shm::Doorbell for Bell {
    fn ring(&self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn a_refusal_raises_the_configuration_interrupt_and_rings_the_doorbell() {
    let owned = OwnedMemory::new(0, REGION);
    let view = owned.region().get(0, REGION).unwrap();
    let (regs, dma) = shm::split(view).unwrap();
    let bell = Bell::default();
    let mut dev = ShmDevice::with_doorbell(regs, &dma, [2, 0, 0, 0, 0, 1], 1500, &bell).unwrap();
    // A driver that accepts a feature nobody offered.
    configure(&regs);
    regs.write_obj(offset::DRIVER_FEATURES, &U64::new(u64::MAX))
        .unwrap();
    w32(&regs, offset::INTERRUPT, 0xffff_ff00);
    w32(&regs, offset::STATUS, OK_STATUS);
    assert!(matches!(
        dev.poll(),
        DeviceState::Failed(ShmDeviceError::Features { .. })
    ));
    assert_eq!(bell.0.get(), 1);
    // The interrupt bits the driver finds: the configuration changed (NEEDS_RESET), and
    // nothing the driver had written there survives as an unknown bit.
    assert_eq!(
        regs.read_u32(offset::INTERRUPT).unwrap(),
        virtqueue::InterruptStatus::CONFIG.bits()
    );
    // Polls while failed ring nothing more.
    dev.poll();
    assert_eq!(bell.0.get(), 1);
    // A clean reset and configuration runs, without a ring (nothing to tell the driver).
    reset(&regs);
    assert_eq!(dev.poll(), DeviceState::Waiting);
    configure(&regs);
    w32(&regs, offset::STATUS, OK_STATUS);
    assert_eq!(dev.poll(), DeviceState::Running);
    assert_eq!(bell.0.get(), 1);
}
