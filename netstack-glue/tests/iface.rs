//! Interface helpers: configuration to interface (addresses, routes, typed errors), a
//! DHCP client that speaks on the link, and the budgeted poll.

mod pair;
use pair::*;

use netstack_glue::{
    add_dhcp, build_interface, poll_budget, DeviceConfig, GlueDevice, InterfaceConfig, Ipv4Setup,
    PollStop, PortPair, SetupError,
};
use smoltcp::iface::{Route, SocketSet};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetFrame, IpAddress, IpCidr, Ipv4Address, Ipv4Cidr,
    Ipv4Packet, Ipv6Address, Ipv6Cidr, UdpPacket,
};
use vnet_switch::FrameLink as _;

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 5];

#[test]
fn static_v4_v6_gateways_and_routes() {
    let pair = PortPair::<4, 1536>::new();
    let mut dev = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    let v4 = Ipv4Cidr::new(Ipv4Address::new(192, 168, 7, 2), 24);
    let v6 = Ipv6Cidr::new(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2), 64);
    let cfg = InterfaceConfig {
        ipv4: Ipv4Setup::Static(v4),
        ipv6: Some(v6),
        gateway_v4: Some(Ipv4Address::new(192, 168, 7, 1)),
        ..InterfaceConfig::ipv4(MAC, v4)
    };
    let mut iface = build_interface(&cfg, &mut dev, Instant::ZERO).unwrap();
    assert_eq!(iface.ip_addrs(), &[IpCidr::Ipv4(v4), IpCidr::Ipv6(v6)]);
    assert_eq!(
        iface.hardware_addr(),
        smoltcp::wire::HardwareAddress::Ethernet(smoltcp::wire::EthernetAddress(MAC))
    );
    let mut n = 0;
    iface.routes_mut().update(|r| n = r.len());
    assert_eq!(n, 1, "the default route");

    let routes = [
        Route::new_ipv4_gateway(Ipv4Address::new(10, 9, 0, 1)),
        Route::new_ipv4_gateway(Ipv4Address::new(10, 9, 0, 2)),
    ];
    let too_many = InterfaceConfig {
        routes: &routes,
        ..cfg
    };
    assert_eq!(
        build_interface(&too_many, &mut dev, Instant::ZERO).err(),
        Some(SetupError::TooManyRoutes(3))
    );
    let bad = InterfaceConfig::ipv4([1, 0, 0, 0, 0, 1], v4);
    assert_eq!(
        build_interface(&bad, &mut dev, Instant::ZERO).err(),
        Some(SetupError::BadMac([1, 0, 0, 0, 0, 1]))
    );
}

/// An interface set up for DHCP (no address yet).
fn dhcp_interface(dev: &mut impl smoltcp::phy::Device) -> smoltcp::iface::Interface {
    let cfg = InterfaceConfig {
        ipv4: Ipv4Setup::Dhcp,
        ..InterfaceConfig::ipv4(MAC, Ipv4Cidr::new(Ipv4Address::UNSPECIFIED, 0))
    };
    build_interface(&cfg, dev, Instant::ZERO).unwrap()
}

/// The switch side hands `f` to the partition.
fn inject(port: &mut impl vnet_switch::FrameLink, f: &[u8]) {
    let t = port.tx_reserve(f.len()).unwrap().unwrap();
    port.tx_write(&t, 0, f).unwrap();
    port.tx_commit(t, vnet_switch::FrameMeta::NONE).unwrap();
}

#[test]
fn dhcp_client_discovers_on_the_link() {
    let pair = PortPair::<4, 1536>::new();
    let mut port = pair.switch_port();
    let mut dev = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    let mut iface = dhcp_interface(&mut dev);
    assert!(iface.ip_addrs().is_empty());
    let mut sockets = SocketSet::new(vec![]);
    let h = add_dhcp(&mut sockets);
    iface.poll(Instant::from_millis(1), &mut dev, &mut sockets);
    assert_eq!(
        netstack_glue::dhcp_step(&mut iface, &mut sockets, h),
        Some(netstack_glue::DhcpChange::Deconfigured)
    );
    let s = port.rx_take().unwrap().expect("a DHCP discover");
    let f = port.rx_frame(&s).to_vec();
    port.rx_release(s);
    let eth = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!(eth.dst_addr().0, [0xff; 6]);
    assert_eq!(eth.src_addr().0, MAC);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(
        IpAddress::Ipv4(ip.dst_addr()),
        IpAddress::Ipv4(Ipv4Address::BROADCAST)
    );
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((udp.src_port(), udp.dst_port()), (68, 67));
    let pkt = DhcpPacket::new_checked(udp.payload()).unwrap();
    let dhcp = DhcpRepr::parse(&pkt).unwrap();
    assert_eq!(dhcp.message_type, DhcpMessageType::Discover);
    assert_eq!(dhcp.client_hardware_address.0, MAC);
}

#[test]
fn poll_budget_stops_on_frames_time_and_idle() {
    let pair = PortPair::<8, 1536>::new();
    let mut port = pair.switch_port();
    let mut dev = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    let v4 = Ipv4Cidr::new(Ipv4Address::new(10, 1, 0, 2), 24);
    let mut iface =
        build_interface(&InterfaceConfig::ipv4(MAC, v4), &mut dev, Instant::ZERO).unwrap();
    let mut sockets = SocketSet::new(vec![]);
    // Five frames for somebody else's EtherType: processed (and ignored) by the stack.
    for i in 0..5u8 {
        let mut f = vec![i; 60];
        f[..6].copy_from_slice(&MAC);
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        inject(&mut port, &f);
    }
    let mut t = Instant::ZERO;
    let mut clock = || {
        t += Duration::from_micros(10);
        t
    };
    let r = poll_budget(
        &mut iface,
        &mut dev,
        &mut sockets,
        &mut clock,
        Duration::from_millis(1),
        2,
    );
    assert_eq!((r.frames_in, r.stop), (2, PollStop::FrameLimit));
    let r = poll_budget(
        &mut iface,
        &mut dev,
        &mut sockets,
        &mut clock,
        Duration::from_micros(25),
        100,
    );
    assert_eq!(r.stop, PollStop::Budget, "budget of 25 µs on a 10 µs clock");
    assert!(r.frames_in >= 1 && r.frames_in <= 2, "{r:?}");
    assert!(r.elapsed >= Duration::from_micros(25));
    let r = poll_budget(
        &mut iface,
        &mut dev,
        &mut sockets,
        &mut clock,
        Duration::from_millis(10),
        100,
    );
    assert_eq!(r.stop, PollStop::Idle);
    assert_eq!(dev.stats().rx_frames, 5);
}

/// A DHCP server's reply (`kind`) for transaction `xid`: 10.7.0.50/24, router 10.7.0.1.
fn dhcp_reply(kind: DhcpMessageType, xid: u32) -> Vec<u8> {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{EthernetAddress, IpProtocol, Ipv4Repr, UdpRepr};
    let server = Ipv4Address::new(10, 7, 0, 1);
    let repr = DhcpRepr {
        message_type: kind,
        transaction_id: xid,
        secs: 0,
        client_hardware_address: EthernetAddress(MAC),
        client_ip: Ipv4Address::UNSPECIFIED,
        your_ip: Ipv4Address::new(10, 7, 0, 50),
        server_ip: server,
        router: Some(server),
        subnet_mask: Some(Ipv4Address::new(255, 255, 255, 0)),
        relay_agent_ip: Ipv4Address::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(server),
        parameter_request_list: None,
        dns_servers: None,
        max_size: None,
        lease_duration: Some(3600),
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    let n = repr.buffer_len();
    let ip = Ipv4Repr {
        src_addr: server,
        dst_addr: Ipv4Address::BROADCAST,
        next_header: IpProtocol::Udp,
        payload_len: 8 + n,
        hop_limit: 64,
    };
    let mut f = vec![0u8; 14 + 20 + 8 + n];
    f[..6].copy_from_slice(&MAC);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0x99]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let caps = ChecksumCapabilities::default();
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut f[14..34]), &caps);
    UdpRepr {
        src_port: 67,
        dst_port: 68,
    }
    .emit(
        &mut UdpPacket::new_unchecked(&mut f[34..]),
        &IpAddress::Ipv4(server),
        &IpAddress::Ipv4(Ipv4Address::BROADCAST),
        n,
        |b| repr.emit(&mut DhcpPacket::new_unchecked(b)).unwrap(),
        &caps,
    );
    f
}

/// The DHCP message the client sent last (type and transaction id).
fn client_dhcp(port: &mut impl vnet_switch::FrameLink) -> Option<(DhcpMessageType, u32)> {
    let mut last = None;
    while let Some(s) = port.rx_take().unwrap() {
        let f = port.rx_frame(&s).to_vec();
        port.rx_release(s);
        let eth = EthernetFrame::new_checked(&f[..]).ok()?;
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        let udp = UdpPacket::new_checked(ip.payload()).ok()?;
        let pkt = DhcpPacket::new_checked(udp.payload()).ok()?;
        let r = DhcpRepr::parse(&pkt).ok()?;
        last = Some((r.message_type, r.transaction_id));
    }
    last
}

#[test]
fn dhcp_lease_is_applied_to_the_interface() {
    let pair = PortPair::<4, 1536>::new();
    let mut port = pair.switch_port();
    let mut dev = GlueDevice::new(pair.partition_link(), DeviceConfig::default());
    let mut iface = dhcp_interface(&mut dev);
    let mut sockets = SocketSet::new(vec![]);
    let h = add_dhcp(&mut sockets);
    let mut now = Instant::from_millis(1);
    let mut change = None;
    for _ in 0..50 {
        iface.poll(now, &mut dev, &mut sockets);
        if let Some(c) = netstack_glue::dhcp_step(&mut iface, &mut sockets, h) {
            change = Some(c);
        }
        match client_dhcp(&mut port) {
            Some((DhcpMessageType::Discover, xid)) => {
                inject(&mut port, &dhcp_reply(DhcpMessageType::Offer, xid))
            }
            Some((DhcpMessageType::Request, xid)) => {
                inject(&mut port, &dhcp_reply(DhcpMessageType::Ack, xid))
            }
            _ => {}
        }
        now += Duration::from_millis(10);
    }
    let addr = Ipv4Cidr::new(Ipv4Address::new(10, 7, 0, 50), 24);
    assert_eq!(
        change,
        Some(netstack_glue::DhcpChange::Configured(
            addr,
            Some(Ipv4Address::new(10, 7, 0, 1))
        ))
    );
    assert_eq!(iface.ip_addrs(), &[IpCidr::Ipv4(addr)]);
    let mut routes = 0;
    iface.routes_mut().update(|r| routes = r.len());
    assert_eq!(routes, 1, "the default route via the DHCP router");
}
