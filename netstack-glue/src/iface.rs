//! Interface helpers: a partition's [`Interface`] from a small [`InterfaceConfig`], a
//! DHCP step, and [`poll_budget`], a poll that stays within a time budget so a
//! partition's time window is respected.

use core::fmt;

use smoltcp::iface::{
    Config, Interface, PollIngressSingleResult, PollResult, Route, SocketHandle, SocketSet,
};
use smoltcp::phy::Device;
use smoltcp::socket::dhcpv4;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr, Ipv6Address, Ipv6Cidr,
};

/// How the interface gets its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ipv4Setup {
    /// No IPv4 address.
    #[default]
    None,
    /// A static address and prefix.
    Static(Ipv4Cidr),
    /// DHCP: [`add_dhcp`] adds the client socket, [`dhcp_step`] applies its leases.
    Dhcp,
}

/// A partition's interface: MAC, addresses, routes.
#[derive(Debug, Clone, Copy)]
pub struct InterfaceConfig<'a> {
    /// The station address (unicast).
    pub mac: [u8; 6],
    /// IPv4.
    pub ipv4: Ipv4Setup,
    /// A static IPv6 address and prefix.
    pub ipv6: Option<Ipv6Cidr>,
    /// Default IPv4 gateway.
    pub gateway_v4: Option<Ipv4Address>,
    /// Default IPv6 gateway.
    pub gateway_v6: Option<Ipv6Address>,
    /// Further routes: destination prefix and router.
    pub routes: &'a [Route],
    /// Seed of smoltcp's generator (initial sequence numbers, ports): different per
    /// partition.
    pub random_seed: u64,
}

impl InterfaceConfig<'_> {
    /// An interface with `mac` and a static IPv4 address, nothing else.
    pub fn ipv4(mac: [u8; 6], cidr: Ipv4Cidr) -> Self {
        InterfaceConfig {
            mac,
            ipv4: Ipv4Setup::Static(cidr),
            ipv6: None,
            gateway_v4: None,
            gateway_v6: None,
            routes: &[],
            random_seed: u64::from_le_bytes([
                mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0x5a, 0xa5,
            ]),
        }
    }
}

/// An interface configuration smoltcp cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupError {
    /// The MAC is multicast or all zero: the value.
    BadMac([u8; 6]),
    /// More addresses than smoltcp's `IFACE_MAX_ADDR_COUNT`: how many were asked for.
    TooManyAddresses(usize),
    /// More routes than smoltcp's `IFACE_MAX_ROUTE_COUNT`: how many were asked for.
    TooManyRoutes(usize),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::BadMac(m) => write!(f, "{m:02x?} is not a unicast station address"),
            SetupError::TooManyAddresses(n) => {
                write!(f, "{n} addresses exceed the interface's capacity")
            }
            SetupError::TooManyRoutes(n) => {
                write!(f, "{n} routes exceed the route table's capacity")
            }
        }
    }
}

impl core::error::Error for SetupError {}

/// Builds the interface for `config` over `device`.
pub fn build_interface<D: Device + ?Sized>(
    config: &InterfaceConfig<'_>,
    device: &mut D,
    now: Instant,
) -> Result<Interface, SetupError> {
    let mac = EthernetAddress(config.mac);
    if !mac.is_unicast() {
        return Err(SetupError::BadMac(config.mac));
    }
    let mut c = Config::new(HardwareAddress::Ethernet(mac));
    c.random_seed = config.random_seed;
    let mut iface = Interface::new(c, device, now);
    let mut addrs: [Option<IpCidr>; 2] = [None, None];
    if let Ipv4Setup::Static(v4) = config.ipv4 {
        addrs[0] = Some(IpCidr::Ipv4(v4));
    }
    addrs[1] = config.ipv6.map(IpCidr::Ipv6);
    let wanted = addrs.iter().flatten().count();
    let mut fit = true;
    iface.update_ip_addrs(|a| {
        for cidr in addrs.iter().flatten() {
            fit &= a.push(*cidr).is_ok();
        }
    });
    if !fit {
        return Err(SetupError::TooManyAddresses(wanted));
    }
    let routes = usize::from(config.gateway_v4.is_some())
        + usize::from(config.gateway_v6.is_some())
        + config.routes.len();
    let mut fit = true;
    if let Some(gw) = config.gateway_v4 {
        fit &= iface.routes_mut().add_default_ipv4_route(gw).is_ok();
    }
    if let Some(gw) = config.gateway_v6 {
        fit &= iface.routes_mut().add_default_ipv6_route(gw).is_ok();
    }
    iface.routes_mut().update(|r| {
        for route in config.routes {
            fit &= r.push(*route).is_ok();
        }
    });
    if !fit {
        return Err(SetupError::TooManyRoutes(routes));
    }
    Ok(iface)
}

/// Adds a DHCPv4 client socket for an interface set up with [`Ipv4Setup::Dhcp`].
pub fn add_dhcp(sockets: &mut SocketSet<'_>) -> SocketHandle {
    sockets.add(dhcpv4::Socket::new())
}

/// What a [`dhcp_step`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpChange {
    /// A lease was applied: the address and the router.
    Configured(Ipv4Cidr, Option<Ipv4Address>),
    /// The lease was lost: the address was removed.
    Deconfigured,
}

/// Applies the DHCP client's latest event to the interface (call after each poll).
pub fn dhcp_step(
    iface: &mut Interface,
    sockets: &mut SocketSet<'_>,
    dhcp: SocketHandle,
) -> Option<DhcpChange> {
    match sockets.get_mut::<dhcpv4::Socket>(dhcp).poll()? {
        dhcpv4::Event::Configured(cfg) => {
            let addr = cfg.address;
            iface.update_ip_addrs(|a| {
                a.retain(|c| !matches!(c, IpCidr::Ipv4(_)));
                let _ = a.push(IpCidr::Ipv4(addr));
            });
            match cfg.router {
                Some(r) => {
                    let _ = iface.routes_mut().add_default_ipv4_route(r);
                }
                None => {
                    let _ = iface.routes_mut().remove_default_ipv4_route();
                }
            }
            Some(DhcpChange::Configured(addr, cfg.router))
        }
        dhcpv4::Event::Deconfigured => {
            iface.update_ip_addrs(|a| a.retain(|c| !matches!(c, IpCidr::Ipv4(_))));
            let _ = iface.routes_mut().remove_default_ipv4_route();
            Some(DhcpChange::Deconfigured)
        }
    }
}

/// Why [`poll_budget`] stopped taking frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStop {
    /// No frame was waiting.
    Idle,
    /// The time budget was spent.
    Budget,
    /// The frame limit was reached.
    FrameLimit,
}

/// What one [`poll_budget`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollReport {
    /// Frames processed by `poll_ingress_single`.
    pub frames_in: usize,
    /// Some socket's state may have changed (check the sockets).
    pub sockets_changed: bool,
    /// Why the ingress loop stopped.
    pub stop: PollStop,
    /// Time spent, by `clock`.
    pub elapsed: Duration,
}

/// Polls within a time budget: one received frame at a time
/// (`Interface::poll_ingress_single`) while frames wait, `clock()` is before `start +
/// budget` and fewer than `max_frames` were taken; then one `poll_egress` (bounded by the
/// device's transmit slots) and `poll_maintenance`. Call the device's housekeeping
/// (e.g. [`GlueDevice::service`](crate::GlueDevice::service)) before it.
pub fn poll_budget<D: Device + ?Sized>(
    iface: &mut Interface,
    device: &mut D,
    sockets: &mut SocketSet<'_>,
    clock: &mut dyn FnMut() -> Instant,
    budget: Duration,
    max_frames: usize,
) -> PollReport {
    let start = clock();
    let deadline = start + budget;
    let mut frames_in = 0;
    let mut changed = false;
    let stop = loop {
        if frames_in >= max_frames {
            break PollStop::FrameLimit;
        }
        let now = clock();
        if now >= deadline {
            break PollStop::Budget;
        }
        match iface.poll_ingress_single(now, device, sockets) {
            PollIngressSingleResult::None => break PollStop::Idle,
            PollIngressSingleResult::PacketProcessed => frames_in += 1,
            PollIngressSingleResult::SocketStateChanged => {
                frames_in += 1;
                changed = true;
            }
        }
    };
    let now = clock();
    changed |= iface.poll_egress(now, device, sockets) == PollResult::SocketStateChanged;
    iface.poll_maintenance(now);
    PollReport {
        frames_in,
        sockets_changed: changed,
        stop,
        elapsed: clock() - start,
    }
}
