//! A virtio-net driver and a device that answers every frame: the driver sends a few
//! frames, the device (the in-process model of feature `test-utils`) sends each back with
//! the addresses swapped, and the driver receives them and prints its counters.
//!
//! `cargo run -p nic-drivers --example virtio_echo`
//!
//! On hardware only the first lines change: the driver comes from
//! `VirtioNet::new(&hal, transport, NetConfig::default())` over the platform's `Hal` and a
//! virtio-mmio or virtio-pci transport, and the device is the real one.

use nic_drivers::frame_link::FrameLinkExt;
use nic_drivers::mock::{NetDeviceModel, NetMachine};
use nic_drivers::{Error, FrameLink, MacAddress, NicControl, MAX_FRAME};

const OURS: [u8; 6] = [2, 0, 0, 0, 0, 1];
const PEER: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// Local experimental EtherType (IEEE 802 "for prototypes").
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

fn main() -> Result<(), Error> {
    let machine = NetMachine::new(OURS);
    let mut nic = machine.driver()?;
    let memory = machine.hal().device_memory();
    let mut device = NetDeviceModel::new(&memory, machine.state());
    println!(
        "driver up: mac {}, link {:?}, features {:?}",
        nic.mac_address(),
        nic.link_state(),
        nic.features()
    );

    // Send four frames in one batch: `service` notifies the device once for all of them.
    for seq in 0..4u8 {
        let payload = [seq; 46];
        let frame = [&PEER[..], &OURS, &ETHERTYPE, &payload].concat();
        if !nic.send_frame(&frame)? {
            println!("no transmit buffer free for frame {seq}");
        }
    }
    nic.service(16)?;

    // The device: take what was sent, answer each frame with the addresses swapped.
    device.process();
    for mut frame in core::mem::take(&mut device.sent) {
        let (dst, src) = frame.split_at_mut(6);
        dst.swap_with_slice(&mut src[..6]);
        device.inject(&frame);
    }
    device.process();

    // Receive the answers (each copied once into a private slot, checked, released).
    let mut buf = [0u8; MAX_FRAME];
    while let Some((len, _meta)) = nic.recv_frame(&mut buf)? {
        let from = MacAddress(buf[6..12].try_into().expect("6 bytes"));
        println!("received {len} bytes from {from}, sequence {}", buf[14]);
    }
    nic.service(16)?;

    let stats = nic.stats();
    println!(
        "tx {} frames / {} bytes, rx {} frames / {} bytes, device errors {}",
        stats.tx_frames, stats.tx_bytes, stats.rx_frames, stats.rx_bytes, stats.device_errors
    );
    Ok(())
}
