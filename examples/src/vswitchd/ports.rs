//! The daemon's switch endpoint type and its in-process partitions: the hosted demo's
//! A (smoltcp on the nic-drivers virtio-net driver over the shared-memory virtio
//! transport, `ShmDevice` as its switch port) and B (smoltcp on a queuing-port channel
//! pair, `QueuingPortEndpoint` as its switch port), built with the demo's own code
//! (`service`, `hosted`, `node`), each with a TCP sink next to the node's services.

use netstack_glue::smoltcp;
use netstack_glue::{AdapterStats, FrameLink, QueuingLink};
use nic_drivers::net::{NetConfig, NetFeatures};
use nic_drivers::transport::shm::ShmHal;
use partnet_examples::hosted::{driver_a, driver_config, link_b, words, DriverA};
use partnet_examples::node::{Node, Station};
use partnet_examples::service::{
    device_a, port_b, ServicePort, CHANNEL, DEPTH, MSG, VIRTIO_REGION,
};
use partnet_examples::wire::WireEnd;
use queuing_port::{AtomicU32, Region};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::Ipv4Cidr;
use virtqueue::shm::split as split_virtio;
use virtqueue::{MemoryRegion, OwnedMemory};
use vnet_switch::adapters::vhost_user::{AsVhostUser, VhostUserPort};
use vnet_switch::frame_link::link_enum;

use super::sink::{TcpSink, Transfer};

/// A partition's switch port: the demo's service-partition port type. The daemon has
/// no uplink, so its `Uplink` variant (typed with the demo's in-memory cable) is never
/// built.
pub type Partition = ServicePort<'static, WireEnd>;

link_enum! {
    /// One switch port of the daemon: a QEMU guest or an in-process partition.
    pub enum Port {
        /// A QEMU guest.
        Vm(Box<VhostUserPort>),
        /// An in-process partition.
        Other(Partition),
    }
    /// Why a port of the daemon failed.
    pub enum PortError;
}

impl AsVhostUser for Port {
    fn as_vhost_user(&mut self) -> Option<&mut VhostUserPort> {
        match self {
            Port::Vm(v) => Some(v),
            Port::Other(_) => None,
        }
    }
}

/// Which of the demo's partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A: virtio-net over shared memory.
    Virtio,
    /// B: a queuing-port channel pair.
    Queuing,
}

/// A partition as given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct PartArg {
    /// Its kind.
    pub kind: Kind,
    /// Its MAC.
    pub mac: [u8; 6],
    /// Its address and prefix.
    pub cidr: Ipv4Cidr,
    /// The sink's TCP port.
    pub tcp_port: u16,
}

/// What the daemon's loop asks of an in-process partition (object-safe over the link).
pub trait InProcess {
    /// Its name ("A" or "B").
    fn name(&self) -> &'static str;
    /// One poll of the stack, its services and the sink; a transfer that just finished.
    fn poll(&mut self, now_ns: u64) -> Option<Transfer>;
    /// How long the stack may sleep.
    fn poll_delay(&mut self, now_ns: u64) -> Option<Duration>;
    /// The glue's counters.
    fn stats(&self) -> AdapterStats;
    /// Transfers completed so far.
    fn transfers(&self) -> usize;
}

/// A demo node with the daemon's TCP sink on it.
pub struct WithSink<L: FrameLink> {
    node: Node<L>,
    sink: TcpSink,
}

impl<L: FrameLink> WithSink<L> {
    fn new(mut node: Node<L>, port: u16) -> Self {
        let sink = TcpSink::new(&mut node.sockets, port);
        WithSink { node, sink }
    }
}

fn instant(now_ns: u64) -> Instant {
    Instant::from_micros((now_ns / 1000) as i64)
}

impl<L: FrameLink> InProcess for WithSink<L> {
    fn name(&self) -> &'static str {
        self.node.name()
    }
    fn poll(&mut self, now_ns: u64) -> Option<Transfer> {
        self.node.poll(now_ns);
        let frames = self.node.net_stats().rx_frames;
        self.sink.poll(&mut self.node.sockets, frames)
    }
    fn poll_delay(&mut self, now_ns: u64) -> Option<Duration> {
        self.node
            .iface
            .poll_delay(instant(now_ns), &self.node.sockets)
    }
    fn stats(&self) -> AdapterStats {
        self.node.net_stats()
    }
    fn transfers(&self) -> usize {
        self.sink.transfers.len()
    }
}

/// A's driver configuration: the demo's, without `GUEST_CSUM`. Guests send TCP/UDP with
/// a partial checksum (`NEEDS_CSUM`); without `GUEST_CSUM` the device completes it
/// before the frame reaches A's rings (VirtIO 5.1.6.4.1), where the glue would drop it.
pub fn daemon_driver_config() -> NetConfig {
    NetConfig {
        features: NetFeatures::SUPPORTED.difference(NetFeatures::GUEST_CSUM),
        ..driver_config()
    }
}

/// Builds a partition: its switch port and its stack. The shared memory lives as long
/// as the daemon (leaked: the port and the stack borrow it).
pub fn partition(arg: &PartArg) -> Result<(Partition, Box<dyn InProcess>), String> {
    match arg.kind {
        Kind::Virtio => {
            let owned: &'static OwnedMemory =
                Box::leak(Box::new(OwnedMemory::new(0, VIRTIO_REGION)));
            let view = owned
                .region()
                .get(0, VIRTIO_REGION)
                .map_err(|e| format!("virtio region: {e}"))?;
            let (regs, dma) = split_virtio(view).ok_or("virtio region too small")?;
            let dma: &'static MemoryRegion<'static> = Box::leak(Box::new(dma));
            let dev = device_a(regs, dma, arg.mac).map_err(|e| e.to_string())?;
            let hal: &'static ShmHal<'static> = Box::leak(Box::new(ShmHal::new(*dma)));
            let drv: DriverA<'static> =
                driver_a(hal, regs, daemon_driver_config(), arg.mac).map_err(|e| e.to_string())?;
            let node = Node::with_cidr("A", arg.mac, arg.cidr, drv)
                .map_err(|e| format!("partition A: {e}"))?;
            Ok((
                ServicePort::Virtio(Box::new(dev)),
                Box::new(WithSink::new(node, arg.tcp_port)),
            ))
        }
        Kind::Queuing => {
            let channel = || -> Result<Region<'static>, String> {
                let w: &'static [AtomicU32] = Box::leak(words().into_boxed_slice());
                let r = Region::new(w);
                CHANNEL
                    .format(&r)
                    .map_err(|e| format!("formatting B's channel: {e}"))?;
                Ok(r)
            };
            let (b_tx, b_rx) = (channel()?, channel()?);
            let port = port_b(b_tx, b_rx).map_err(|e| e.to_string())?;
            let link: QueuingLink<'static, MSG, DEPTH> =
                link_b(b_tx, b_rx).map_err(|e| e.to_string())?;
            let node = Node::with_cidr("B", arg.mac, arg.cidr, link)
                .map_err(|e| format!("partition B: {e}"))?;
            Ok((
                ServicePort::Queuing(Box::new(port)),
                Box::new(WithSink::new(node, arg.tcp_port)),
            ))
        }
    }
}
