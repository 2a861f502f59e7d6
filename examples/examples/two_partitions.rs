//! Two smoltcp partitions on a switch: a UDP request and reply, a spoofed frame dropped.
use netstack_glue::frame_link::{End, FrameLinkExt, PortPair};
use netstack_glue::smoltcp::time::Instant;
use netstack_glue::smoltcp::wire::{IpEndpoint, Ipv4Address, Ipv4Cidr};
use netstack_glue::Stack;
use vnet_switch::{DropReason::Spoofed, PortConfig, PortId, SwitchBuilder};

pub(crate) fn main() {
    let pairs = [PortPair::<16>::new(), PortPair::new()]; // switch side A, partition side B
    let macs = [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]];
    let mut builder = SwitchBuilder::<_, 2>::new();
    for (pair, mac) in pairs.iter().zip(macs) {
        let partition = PortConfig::partition(mac.into(), 1);
        builder.add_port(pair.end(End::A), partition).unwrap();
    }
    let mut switch = builder.build::<64, 16>().unwrap();
    let ip = |i: usize| Ipv4Address::new(10, 0, 0, 1 + i as u8);
    let stack = |i: usize| Stack::new(pairs[i].end(End::B), macs[i], Ipv4Cidr::new(ip(i), 24));
    let (mut a, mut b) = (stack(0).unwrap(), stack(1).unwrap());
    let (ua, ub) = (a.udp(1000).unwrap(), b.udp(7).unwrap());
    let to_b = IpEndpoint::new(ip(1).into(), 7);
    a.udp_socket(ua).send_slice(b"hello", to_b).unwrap();
    let spoof = [&[0xff; 6][..], &macs[1], &[8, 0], &[0; 46]].concat(); // B's address, from A
    pairs[0].end(End::B).send_frame(&spoof).unwrap();
    for now in (0..200).map(Instant::from_millis) {
        a.poll(now).unwrap();
        b.poll(now).unwrap();
        switch.poll(now.total_micros() as u64 * 1000, 64);
        if let Ok((data, meta)) = b.udp_socket(ub).recv() {
            let (reply, to) = (data.to_ascii_uppercase(), meta.endpoint);
            b.udp_socket(ub).send_slice(&reply, to).unwrap();
        }
        if let Ok((reply, _)) = a.udp_socket(ua).recv() {
            assert_eq!(reply, b"HELLO");
            assert_eq!(switch.stats(PortId::new(0)).unwrap().drops(Spoofed), 1);
            return println!("A got HELLO from B; the spoofed frame was dropped");
        }
    }
    panic!("no reply from B");
}
