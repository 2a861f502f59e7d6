//! A hostile switch (or peer partition) sends arbitrary frames to a partition's smoltcp
//! stack through a `PortPair`. Invariants: no panic; every frame the link delivered is
//! either handed to the stack or dropped and counted; no transmit slot leaks (after the
//! switch side drains the partition's frames, every slot is free again).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netstack_glue::smoltcp::iface::SocketSet;
use netstack_glue::smoltcp::socket::{tcp, udp};
use netstack_glue::smoltcp::time::Instant;
use netstack_glue::smoltcp::wire::{Ipv4Address, Ipv4Cidr};
use netstack_glue::{
    build_interface, DeviceConfig, FrameLink, GlueDevice, InterfaceConfig, PortPair, RxChecksum,
};
use vnet_switch::FrameLink as _;

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

#[derive(Arbitrary, Debug)]
struct Input {
    frames: Vec<Frame>,
    stack_checks: bool,
}

#[derive(Arbitrary, Debug)]
struct Frame {
    /// Address the frame to the partition's MAC and IPv4 (so it reaches the stack's
    /// protocol code) rather than leaving the header arbitrary.
    addressed: bool,
    bytes: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let pair = PortPair::<8, 1536>::new();
    let mut port = pair.switch_port();
    let cfg = DeviceConfig {
        rx_checksum: if input.stack_checks {
            RxChecksum::Both
        } else {
            RxChecksum::Adapter
        },
        ..DeviceConfig::default()
    };
    let mut dev = GlueDevice::new(pair.partition_link(), cfg);
    let v4 = Ipv4Cidr::new(Ipv4Address::new(10, 0, 0, 1), 24);
    let mut iface =
        build_interface(&InterfaceConfig::ipv4(MAC, v4), &mut dev, Instant::ZERO).unwrap();
    let mut storage: [_; 2] = Default::default();
    let mut sockets = SocketSet::new(&mut storage[..]);
    let (mut tx_a, mut rx_a) = ([0u8; 4096], [0u8; 4096]);
    let mut t = tcp::Socket::new(
        tcp::SocketBuffer::new(&mut rx_a[..]),
        tcp::SocketBuffer::new(&mut tx_a[..]),
    );
    t.listen(80).unwrap();
    sockets.add(t);
    let (mut um, mut ud, mut tm, mut td) = (
        [udp::PacketMetadata::EMPTY; 4],
        [0u8; 2048],
        [udp::PacketMetadata::EMPTY; 4],
        [0u8; 2048],
    );
    let mut u = udp::Socket::new(
        udp::PacketBuffer::new(&mut um[..], &mut ud[..]),
        udp::PacketBuffer::new(&mut tm[..], &mut td[..]),
    );
    u.bind(53).unwrap();
    sockets.add(u);

    let mut delivered = 0u64;
    for (i, f) in input.frames.iter().take(64).enumerate() {
        let mut bytes = f.bytes.clone();
        if f.addressed && bytes.len() >= 34 {
            bytes[..6].copy_from_slice(&MAC);
            bytes[12..14].copy_from_slice(&[0x08, 0x00]);
            bytes[30..34].copy_from_slice(&[10, 0, 0, 1]);
        }
        if let Ok(Some(slot)) = port.tx_reserve(bytes.len()) {
            port.tx_write(&slot, 0, &bytes).unwrap();
            port.tx_commit(slot, vnet_switch::FrameMeta::NONE).unwrap();
            delivered += 1;
        }
        iface.poll(Instant::from_millis(i as i64), &mut dev, &mut sockets);
        while let Ok(Some(s)) = port.rx_take() {
            port.rx_release(s);
        }
    }
    for k in 0..4 {
        iface.poll(Instant::from_millis(1000 + k), &mut dev, &mut sockets);
        while let Ok(Some(s)) = port.rx_take() {
            port.rx_release(s);
        }
    }
    let st = dev.stats();
    assert_eq!(st.rx_frames + st.drops.rx_total(), delivered, "{st:?}");
    assert_eq!(dev.link_mut().tx_room(), Some(8), "no transmit slot leaked");
});
