//! Partition A's virtio-net driver over the shared-memory transport, served by the
//! service partition's switch; and the device refusing a hostile driver while the other
//! ports keep working.

use nic_drivers::frame_link::FrameLinkExt;
use nic_drivers::net::{NetConfig, VirtioNet, SUPPORTED_FEATURES};
use nic_drivers::transport::shm::{ShmHal, ShmTransport};
use nic_drivers::{FrameLink, MacAddress, NicControl};
use partnet_examples::service::{Plan, Service, CHANNEL, PORT_A, VIRTIO_REGION};
use partnet_examples::wire::{cable, WireEnd};
use queuing_port::{AtomicU32, QueuingPortReceiver, QueuingPortSender, Region};
use virtqueue::shm::{self, offset};
use virtqueue::OwnedMemory;
use vnet_switch::adapters::shm::{DeviceState, ShmDeviceError};
use vnet_switch::NoTap;

const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x77];

fn frame(dst: [u8; 6], src: [u8; 6], payload: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x88b5u16.to_be_bytes());
    f.extend_from_slice(payload);
    f.resize(f.len().max(60), 0);
    f
}

fn words() -> Vec<AtomicU32> {
    (0..CHANNEL.total_words())
        .map(|_| AtomicU32::new(0))
        .collect()
}

fn send(dev: &mut impl FrameLink, f: &[u8]) {
    assert!(dev.send_frame(f).unwrap());
    dev.service(16).unwrap();
}

fn recv(dev: &mut impl FrameLink) -> Option<Vec<u8>> {
    let _ = dev.service(16);
    dev.recv_vec().ok()?
}

#[test]
#[cfg_attr(miri, ignore = "end-to-end over a 160 KiB region: too slow under Miri")]
fn a_virtio_driver_reaches_the_uplink_and_a_hostile_one_is_refused() {
    let plan = Plan::default();
    let owned = OwnedMemory::new(0, VIRTIO_REGION);
    let view = owned.region().get(0, VIRTIO_REGION).unwrap();
    let (regs, dma) = shm::split(view).unwrap();
    let (b_tx, b_rx) = (words(), words());
    let (b_tx, b_rx) = (Region::new(&b_tx), Region::new(&b_rx));
    CHANNEL.format(&b_tx).unwrap();
    CHANNEL.format(&b_rx).unwrap();
    let (up, mut host) = cable([2, 0, 0, 0, 0, 0x99], HOST_MAC);
    let mut svc: Service<'_, WireEnd> = Service::new(&plan, up, regs, &dma, b_tx, b_rx).unwrap();
    let mut b_send = QueuingPortSender::<1536, 32>::attach(b_tx, &CHANNEL).unwrap();
    let _b_recv = QueuingPortReceiver::<1536, 32>::attach(b_rx, &CHANNEL).unwrap();

    // Partition A brings its driver up on the same memory.
    let hal = ShmHal::new(dma);
    let cfg = NetConfig {
        features: SUPPORTED_FEATURES,
        queue_size: 64,
        rx_buffers: 32,
        tx_buffers: 32,
        fallback_mac: MacAddress([2, 0, 0, 0, 0, 1]),
        ctrl_spins: 1000,
    };
    let mut a: VirtioNet<'_, _, _, 64, 16> =
        VirtioNet::new(&hal, ShmTransport::new(regs).unwrap(), cfg).unwrap();
    assert_eq!(a.mac_address(), MacAddress(plan.mac_a));
    svc.step(0, &mut NoTap);
    assert_eq!(svc.device_a().unwrap().state(), DeviceState::Running);

    let out = frame(HOST_MAC, plan.mac_a, b"A to the outside");
    send(&mut a, &out);
    svc.step(1, &mut NoTap);
    assert_eq!(recv(&mut host), Some(out));
    let back = frame(plan.mac_a, HOST_MAC, b"outside to A");
    send(&mut host, &back);
    svc.step(2, &mut NoTap);
    assert_eq!(recv(&mut a), Some(back));

    // A scribbles over a device-owned register: refused, typed, NEEDS_RESET.
    regs.write_obj(0x0c, &zerocopy::little_endian::U32::new(0xdead))
        .unwrap();
    svc.step(3, &mut NoTap);
    let d = svc.device_a().unwrap();
    let err = ShmDeviceError::Layout {
        field: "queue_max",
        value: 0xdead,
    };
    assert_eq!(d.state(), DeviceState::Failed(err));
    assert_eq!(
        err.to_string(),
        "register `queue_max` overwritten with 0xdead"
    );
    assert_eq!(regs.read_u32(offset::DEVICE_STATUS).unwrap(), 0x40);

    // B still reaches the outside.
    let from_b = frame(HOST_MAC, plan.mac_b, b"B to the outside");
    b_send.try_send(&from_b).unwrap();
    svc.step(4, &mut NoTap);
    assert_eq!(recv(&mut host), Some(from_b));
    // A's frames go nowhere now.
    send(&mut a, &frame(HOST_MAC, plan.mac_a, b"ignored"));
    svc.step(5, &mut NoTap);
    assert_eq!(recv(&mut host), None);
    assert_eq!(svc.switch.stats(PORT_A).unwrap().rx_frames, 1);

    // The driver resets and comes back.
    drop(a);
    let mut a: VirtioNet<'_, _, _, 64, 16> =
        VirtioNet::new(&hal, ShmTransport::new(regs).unwrap(), cfg).unwrap();
    svc.step(6, &mut NoTap);
    svc.step(7, &mut NoTap);
    assert_eq!(svc.device_a().unwrap().state(), DeviceState::Running);
    let again = frame(HOST_MAC, plan.mac_a, b"A is back");
    send(&mut a, &again);
    svc.step(8, &mut NoTap);
    assert_eq!(recv(&mut host), Some(again));
}
