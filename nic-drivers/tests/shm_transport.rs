//! The virtio-net driver over the shared-memory transport, against a device partition
//! this test plays by hand on the register block and the rings: a well-behaved one
//! (bring-up, a frame on the transmit ring, a kick through the doorbell, interrupts) and
//! a hostile one (an unformatted block, lies in every device-owned register).

use std::cell::Cell;

use nic_drivers::frame_link::FrameLinkExt;
use nic_drivers::net::{NetConfig, NetFeatures, VirtioNet, SUPPORTED_FEATURES};
use nic_drivers::transport::shm::{Doorbell, ShmHal, ShmTransport};
use nic_drivers::transport::{DeviceStatus, InterruptStatus, Transport};
use nic_drivers::virtqueue::shm::{self, offset, Registers, DMA_BASE, MAGIC, REG_LEN, U32, U64};
use nic_drivers::virtqueue::{
    DeviceQueue, Features, MemoryRegion, OwnedMemory, QueueConfig, SharedMemory, VolatileSlice,
};
use nic_drivers::{Error, FrameLink, MacAddress, NicControl};
use proptest::prelude::*;

const REGION: usize = REG_LEN + 64 * 1024;
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x42];
const QUEUE_MAX: u32 = 16;

/// A doorbell that counts its rings.
#[derive(Default)]
struct Bell(Cell<u32>);

impl Doorbell for Bell {
    fn ring(&self) {
        self.0.set(self.0.get() + 1);
    }
}

fn cfg() -> NetConfig {
    NetConfig {
        features: SUPPORTED_FEATURES,
        queue_size: 16,
        rx_buffers: 8,
        tx_buffers: 8,
        fallback_mac: MacAddress([2, 0, 0, 0, 0, 1]),
        ctrl_spins: 100,
    }
}

/// What the device partition writes before the driver starts: identity, features
/// (`VERSION_1 | MAC`), queue maximum, the MAC in config space.
fn format(regs: &VolatileSlice<'_>) {
    regs.fill(0, REG_LEN, 0).unwrap();
    let words = [
        (offset::MAGIC, MAGIC),
        (offset::VERSION, shm::VERSION),
        (offset::DEVICE_TYPE, 1),
        (offset::QUEUE_MAX, QUEUE_MAX),
    ];
    for (at, v) in words {
        regs.write_obj(at, &U32::new(v)).unwrap();
    }
    let features = Features::VERSION_1.bits() | NetFeatures::MAC.bits();
    regs.write_obj(offset::DEVICE_FEATURES, &U64::new(features))
        .unwrap();
    regs.write_from(offset::CONFIG, &MAC).unwrap();
}

/// The queue `q` as the driver published it, read once.
fn queue(regs: &VolatileSlice<'_>, q: usize) -> QueueConfig {
    let r: Registers = regs.read_obj(0).unwrap();
    let qr = r.queues[q];
    QueueConfig {
        size: qr.size.get() as u16,
        desc: qr.desc.get(),
        avail: qr.avail.get(),
        used: qr.used.get(),
    }
}

#[test]
fn a_driver_comes_up_sends_and_kicks_through_the_doorbell() {
    let owned = OwnedMemory::new(0, REGION);
    let view = owned.region().get(0, REGION).unwrap();
    let (regs, dma) = shm::split(view).unwrap();
    format(&regs);
    let bell = Bell::default();
    let hal = ShmHal::new(dma);
    let transport = ShmTransport::with_doorbell(regs, &bell).unwrap();
    let mut net: VirtioNet<'_, _, _, 16, 16> = VirtioNet::new(&hal, transport, cfg()).unwrap();
    assert_eq!(net.mac_address(), MacAddress(MAC));

    // What the driver wrote, as the device reads it: one snapshot.
    let r: Registers = regs.read_obj(0).unwrap();
    let status = DeviceStatus::from_bits_retain(r.status.get());
    assert!(status.contains(DeviceStatus::DRIVER_OK | DeviceStatus::FEATURES_OK));
    assert_eq!(
        r.driver_features.get(),
        Features::VERSION_1.bits() | NetFeatures::MAC.bits()
    );
    assert!(r.resets.get() >= 1, "the bring-up starts with a reset");
    for q in r.queues {
        assert_eq!(q.ready.get(), 1);
        assert!(q.size.get().is_power_of_two() && q.size.get() <= QUEUE_MAX);
        for addr in [q.desc.get(), q.avail.get(), q.used.get()] {
            assert!(dma.slice(addr, 1).is_ok(), "{addr:#x} outside the DMA area");
            assert!(addr >= DMA_BASE);
        }
    }

    // A frame: written to the transmit ring, the kick counted and the doorbell rung.
    let frame: Vec<u8> = (0..60u8).collect();
    let kicks = (regs.read_u32(offset::NOTIFY + 4).unwrap(), bell.0.get());
    assert!(net.send_frame(&frame).unwrap());
    net.service(8).unwrap();
    assert_eq!(regs.read_u32(offset::NOTIFY + 4).unwrap(), kicks.0 + 1);
    assert_eq!(bell.0.get(), kicks.1 + 1);

    // The device side takes it off the ring: header, then the frame byte for byte.
    let mem: MemoryRegion<'_> = dma;
    let mut txq: DeviceQueue<_, 16, 16> =
        DeviceQueue::attach(&mem, queue(&regs, 1), Features::VERSION_1).unwrap();
    let chain = txq.pop().unwrap().expect("a transmit chain");
    let mut got = vec![0u8; chain.readable_len() as usize];
    assert_eq!(chain.reader(txq.memory()).read(&mut got), got.len());
    assert_eq!(&got[12..], &frame[..]);
    txq.add_used(chain.head(), 0).unwrap();

    // Interrupts: the driver reads the known bits and clears the register.
    regs.write_obj(offset::INTERRUPT, &U32::new(0xffff_fff3))
        .unwrap();
    assert_eq!(
        net.ack_interrupt(),
        InterruptStatus::QUEUE | InterruptStatus::CONFIG
    );
    assert_eq!(regs.read_u32(offset::INTERRUPT).unwrap(), 0);
}

#[test]
fn an_unformatted_or_foreign_block_is_no_device() {
    let owned = OwnedMemory::new(0, REGION);
    let view = owned.region().get(0, REGION).unwrap();
    let (regs, dma) = shm::split(view).unwrap();
    let hal = ShmHal::new(dma);
    for spoil in [
        (offset::MAGIC, 0u32),
        (offset::MAGIC, u32::from_le_bytes(*b"VIRT")),
        (offset::VERSION, 2),
    ] {
        format(&regs);
        regs.write_obj(spoil.0, &U32::new(spoil.1)).unwrap();
        let t = ShmTransport::new(regs).unwrap();
        assert_eq!(t.device_type(), 0);
        let r = VirtioNet::<'_, _, _, 16, 16>::new(&hal, t, cfg());
        assert!(matches!(r, Err(Error::NoDevice { found: 0 })), "{spoil:?}");
    }
    // A view too short for the register block is refused up front.
    assert!(ShmTransport::new(regs.subslice(0, REG_LEN - 1).unwrap()).is_none());
}

#[test]
fn the_transport_stays_inside_the_block() {
    let owned = OwnedMemory::new(0, REGION);
    let view = owned.region().get(0, REGION).unwrap();
    let (regs, _dma) = shm::split(view).unwrap();
    format(&regs);
    let mut t = ShmTransport::new(regs).unwrap();
    // Queues beyond receiveq and transmitq do not exist; config reads past the space
    // read as all ones; kicks of such queues write nothing.
    assert_eq!(t.max_queue_size(2), 0);
    let q = QueueConfig {
        size: 16,
        desc: DMA_BASE,
        avail: DMA_BASE + 256,
        used: DMA_BASE + 512,
    };
    assert!(matches!(
        t.setup_queue(2, &q),
        Err(Error::Unsupported { .. })
    ));
    assert_eq!(t.read_config8(64), u8::MAX);
    assert_eq!(t.read_config8(usize::MAX), u8::MAX);
    let before: Registers = regs.read_obj(0).unwrap();
    t.notify(2);
    t.notify(u16::MAX);
    assert_eq!(regs.read_obj::<Registers>(0).unwrap(), before);
    // A queue_max beyond u16 is no queue at all.
    regs.write_obj(offset::QUEUE_MAX, &U32::new(1 << 16))
        .unwrap();
    assert_eq!(t.max_queue_size(0), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 64 }))]
    /// A device that writes anything into the registers it owns (identity, features,
    /// queue maximum, generation, interrupt, configuration space) gets a driver that
    /// either comes up within what the device said or returns a typed error, never a
    /// panic.
    #[test]
    fn a_lying_device_never_panics_the_driver(
        header in proptest::collection::vec(any::<u8>(), 0x18),
        config in proptest::collection::vec(any::<u8>(), 64),
        generation in any::<u32>(),
        keep_identity in any::<bool>(),
    ) {
        let owned = OwnedMemory::new(0, REGION);
        let view = owned.region().get(0, REGION).unwrap();
        let (regs, dma) = shm::split(view).unwrap();
        format(&regs);
        let start = if keep_identity { offset::QUEUE_MAX } else { 0 };
        regs.write_from(start, &header[start..]).unwrap();
        regs.write_from(offset::CONFIG, &config).unwrap();
        regs.write_obj(offset::GENERATION, &U32::new(generation)).unwrap();
        let hal = ShmHal::new(dma);
        let t = ShmTransport::new(regs).unwrap();
        let outcome = VirtioNet::<'_, _, _, 16, 16>::new(&hal, t, cfg()).map(drop);
        match outcome {
            Ok(()) => {
                let r: Registers = regs.read_obj(0).unwrap();
                let offered = r.device_features.get();
                prop_assert_eq!(r.driver_features.get() & !offered, 0);
                for q in r.queues {
                    prop_assert!(q.size.get() <= r.queue_max.get());
                    prop_assert!(q.size.get().is_power_of_two());
                }
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                // The driver told the device it gave up.
                let status = regs.read_u32(offset::STATUS).unwrap();
                prop_assert!(status == 0 || status & DeviceStatus::FAILED.bits() != 0);
            }
        }
    }
}
