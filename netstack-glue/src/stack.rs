//! [`Stack`]: a partition's whole network stack in one value (feature `alloc`) — a
//! smoltcp interface, its sockets and the [`GlueDevice`] over any link — with the
//! boilerplate every partition writes once: socket buffers, binding, and a poll that
//! services the link.
//!
//! ```
//! use netstack_glue::frame_link::{End, PortPair};
//! use netstack_glue::smoltcp::time::Instant;
//! use netstack_glue::smoltcp::wire::{IpEndpoint, Ipv4Address, Ipv4Cidr};
//! use netstack_glue::Stack;
//!
//! // Two partitions on the two ends of an in-memory link.
//! let wire = PortPair::<8, 1536>::new();
//! let (ip_a, ip_b) = (Ipv4Address::new(10, 0, 0, 1), Ipv4Address::new(10, 0, 0, 2));
//! let mut a = Stack::new(wire.end(End::A), [2, 0, 0, 0, 0, 1], Ipv4Cidr::new(ip_a, 24)).unwrap();
//! let mut b = Stack::new(wire.end(End::B), [2, 0, 0, 0, 0, 2], Ipv4Cidr::new(ip_b, 24)).unwrap();
//! let (ua, ub) = (a.udp(1000).unwrap(), b.udp(7).unwrap());
//! a.udp_socket(ua).send_slice(b"ping", IpEndpoint::new(ip_b.into(), 7)).unwrap();
//! let mut got = None;
//! for ms in 0..100 {
//!     let now = Instant::from_millis(ms);
//!     a.poll(now).unwrap();
//!     b.poll(now).unwrap();
//!     if let Ok((data, meta)) = b.udp_socket(ub).recv() {
//!         got = Some((data.to_vec(), meta.endpoint));
//!         break;
//!     }
//! }
//! assert_eq!(got, Some((b"ping".to_vec(), IpEndpoint::new(ip_a.into(), 1000))));
//! ```

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::Ipv4Cidr;

use crate::iface::{build_interface, InterfaceConfig, SetupError};
use crate::{AdapterStats, DeviceConfig, FrameLink, GlueDevice};

/// Datagrams each UDP socket holds per direction.
pub const UDP_PACKETS: usize = 16;
/// Payload bytes each UDP socket holds per direction.
pub const UDP_BYTES: usize = UDP_PACKETS * 1500;
/// Bytes of each TCP socket buffer per direction.
pub const TCP_BYTES: usize = 16 * 1024;
/// Link buffers one [`Stack::poll`] lets the link's housekeeping handle.
pub const SERVICE_BUDGET: u16 = 64;

/// A partition's network stack over link `L`: interface, sockets, device.
pub struct Stack<L: FrameLink> {
    /// The smoltcp interface (addresses, routes, neighbour cache).
    pub iface: Interface,
    /// The device over the link (statistics, the link itself).
    pub device: GlueDevice<L>,
    /// The sockets.
    pub sockets: SocketSet<'static>,
}

impl<L: FrameLink> Stack<L> {
    /// A stack with station address `mac` and the static IPv4 address and prefix `cidr`
    /// over `link` (default device settings); fails for a MAC smoltcp cannot use.
    pub fn new(link: L, mac: [u8; 6], cidr: Ipv4Cidr) -> Result<Self, SetupError> {
        Self::with_config(
            link,
            &InterfaceConfig::ipv4(mac, cidr),
            DeviceConfig::default(),
        )
    }

    /// A stack from a full interface and device configuration.
    pub fn with_config(
        link: L,
        config: &InterfaceConfig<'_>,
        device: DeviceConfig,
    ) -> Result<Self, SetupError> {
        let mut device = GlueDevice::new(link, device);
        let iface = build_interface(config, &mut device, Instant::ZERO)?;
        Ok(Stack {
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
        })
    }

    /// Adds a UDP socket bound to `port` ([`UDP_PACKETS`] datagrams, [`UDP_BYTES`]
    /// bytes each way).
    pub fn udp(&mut self, port: u16) -> Result<SocketHandle, udp::BindError> {
        let buffer = || {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; UDP_PACKETS],
                vec![0; UDP_BYTES],
            )
        };
        let mut socket = udp::Socket::new(buffer(), buffer());
        socket.bind(port)?;
        Ok(self.sockets.add(socket))
    }

    /// Adds a TCP socket ([`TCP_BYTES`] each way), neither listening nor connected.
    pub fn tcp(&mut self) -> SocketHandle {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; TCP_BYTES]),
            tcp::SocketBuffer::new(vec![0; TCP_BYTES]),
        );
        self.sockets.add(socket)
    }

    /// The UDP socket `handle` (panics for a handle of another socket type, as smoltcp
    /// does).
    pub fn udp_socket(&mut self, handle: SocketHandle) -> &mut udp::Socket<'static> {
        self.sockets.get_mut(handle)
    }

    /// The TCP socket `handle` (panics for a handle of another socket type, as smoltcp
    /// does).
    pub fn tcp_socket(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut(handle)
    }

    /// One round at `now`: the interface polls its sockets (bounded by the link's free
    /// slots and the frames waiting), then the link does its housekeeping (publish,
    /// one notification for the batch, take back sent buffers) within
    /// [`SERVICE_BUDGET`]. Returns whether any socket's state may have changed; a link
    /// error is returned typed (also counted in [`stats`](Self::stats)).
    pub fn poll(&mut self, now: Instant) -> Result<bool, L::Error> {
        let changed = self.iface.poll(now, &mut self.device, &mut self.sockets);
        self.device.service(SERVICE_BUDGET)?;
        Ok(changed == smoltcp::iface::PollResult::SocketStateChanged)
    }

    /// The device's counters (frames, drops by reason, the last link error).
    pub fn stats(&self) -> AdapterStats {
        self.device.stats()
    }
}
