//! The service partition: the switch with its three ports (uplink, partition A's
//! virtio-net device, partition B's queuing-port pair) and its poll loop.

use nic_drivers::NicControl;
use queuing_port::{Geometry, QueuingPortReceiver, QueuingPortSender, Region};
use virtqueue::shm::REG_LEN;
use virtqueue::{MemoryRegion, VolatileSlice};
use vnet_switch::adapters::queuing::QueuingPortEndpoint;
use vnet_switch::adapters::shm::ShmDevice;
use vnet_switch::frame_link::link_enum;
use vnet_switch::{
    MacAddress, Mirror, PortConfig, PortId, PortStats, RateLimit, Switch, SwitchBuilder, Tap,
    VlanSet,
};

/// Largest message of B's channels (one Ethernet frame).
pub const MSG: usize = 1536;
/// Depth of B's channels.
pub const DEPTH: usize = 32;
/// Geometry of each of B's channels.
pub const CHANNEL: Geometry = Geometry::queuing(MSG as u32, DEPTH as u32, false);
/// Bytes of A's shared virtio region (register page + DMA area).
pub const VIRTIO_REGION: usize = REG_LEN + 160 * 1024;
/// Frames handled per switch poll.
pub const SWITCH_BUDGET: usize = 64;

/// Switch port numbers.
pub const UPLINK: PortId = PortId::new(0);
/// Partition A's port.
pub const PORT_A: PortId = PortId::new(1);
/// Partition B's port.
pub const PORT_B: PortId = PortId::new(2);
/// Names of the ports, in order.
pub const PORT_NAMES: [&str; 3] = ["uplink", "A (virtio-net)", "B (queuing-port)"];

/// B's port type.
pub type QueuingPort<'a> = QueuingPortEndpoint<'a, MSG, DEPTH>;

link_enum! {
    /// One port of the service partition.
    pub enum ServicePort['a, D] where [D: NicControl] {
        /// The uplink NIC.
        Uplink(Box<D>),
        /// Partition A's virtio-net device.
        Virtio(Box<ShmDevice<'a>>),
        /// Partition B's channel pair.
        Queuing(Box<QueuingPort<'a>>),
    }
    /// Why a port of the service partition failed (each port's own typed error).
    pub enum ServicePortError;
}

/// Partition A's virtio-net device (the switch side) with `mac` over the shared region:
/// `virtio` is the register view, `dma` the area the driver's buffers live in. Formats
/// the register page.
pub fn device_a<'a>(
    virtio: VolatileSlice<'a>,
    dma: &'a MemoryRegion<'a>,
    mac: [u8; 6],
) -> Result<ShmDevice<'a>, SetupError> {
    ShmDevice::new(virtio, dma, mac, 1500).ok_or(SetupError::VirtioRegion(virtio.len()))
}

/// Partition B's switch port over its two channels: `b_tx` carries the frames B sends,
/// `b_rx` the frames for B (both already formatted with [`CHANNEL`]).
pub fn port_b<'a>(b_tx: Region<'a>, b_rx: Region<'a>) -> Result<QueuingPort<'a>, SetupError> {
    let receiver = QueuingPortReceiver::attach(b_tx, &CHANNEL).map_err(SetupError::Channel)?;
    let sender = QueuingPortSender::attach(b_rx, &CHANNEL).map_err(SetupError::Channel)?;
    Ok(QueuingPortEndpoint::new(receiver, sender))
}

/// The partitions' addresses and B's budget.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Partition A's MAC.
    pub mac_a: [u8; 6],
    /// Partition B's MAC.
    pub mac_b: [u8; 6],
    /// B's ingress budget (frames per second, bytes per second).
    pub b_budget: RateLimit,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            mac_a: [0x02, 0x50, 0x4e, 0, 0, 0x0a],
            mac_b: [0x02, 0x50, 0x4e, 0, 0, 0x0b],
            b_budget: RateLimit {
                bytes_per_sec: 2_000_000,
                byte_burst: 16 * 1518,
                frames_per_sec: 2_000,
                frame_burst: 16,
                queue: 4,
            },
        }
    }
}

/// Why the service partition could not be set up.
#[derive(Debug)]
pub enum SetupError {
    /// The switch refused the configuration.
    Switch(vnet_switch::ConfigError),
    /// A queuing channel could not be attached.
    Channel(queuing_port::Error),
    /// The virtio region is too small.
    VirtioRegion(usize),
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetupError::Switch(e) => write!(f, "switch configuration: {e}"),
            SetupError::Channel(e) => write!(f, "queuing channel: {e}"),
            SetupError::VirtioRegion(n) => {
                write!(
                    f,
                    "virtio region of {n} bytes is smaller than its register page"
                )
            }
        }
    }
}

/// The service partition.
pub struct Service<'a, D: NicControl> {
    /// The switch.
    pub switch: Switch<ServicePort<'a, D>, 4, 64, 32>,
}

impl<'a, D: NicControl> Service<'a, D> {
    /// Builds the switch: `uplink`, A's device over `virtio` (register view and DMA
    /// area), B's port over `b_tx` (frames B sends) and `b_rx` (frames for B). Formats
    /// nothing but A's register page: the channels must be formatted by their creator.
    pub fn new(
        plan: &Plan,
        uplink: D,
        virtio: VolatileSlice<'a>,
        dma: &'a MemoryRegion<'a>,
        b_tx: Region<'a>,
        b_rx: Region<'a>,
    ) -> Result<Self, SetupError> {
        let dev = device_a(virtio, dma, plan.mac_a)?;
        let port_b = port_b(b_tx, b_rx)?;
        let mirror = Mirror {
            ingress: true,
            egress: false,
        };
        let mut b = SwitchBuilder::new();
        let mut up = PortConfig::uplink(Some(1), VlanSet::new());
        up.mirror = mirror;
        let mut pa = PortConfig::partition(MacAddress(plan.mac_a), 1);
        pa.mirror = mirror;
        let mut pb = PortConfig::partition(MacAddress(plan.mac_b), 1);
        pb.mirror = mirror;
        pb.rate = Some(plan.b_budget);
        b.add_port(ServicePort::Uplink(Box::new(uplink)), up)
            .map_err(SetupError::Switch)?;
        b.add_port(ServicePort::Virtio(Box::new(dev)), pa)
            .map_err(SetupError::Switch)?;
        b.add_port(ServicePort::Queuing(Box::new(port_b)), pb)
            .map_err(SetupError::Switch)?;
        let switch = b.build().map_err(SetupError::Switch)?;
        Ok(Service { switch })
    }

    /// One round: the switch forwards at most [`SWITCH_BUDGET`] frames (mirrored to
    /// `tap`) and ends with each port's housekeeping (its `service`: A's device raises
    /// its interrupt and reads its registers, B's port publishes its channel, the uplink
    /// kicks and polls its NIC). Returns the frames handled.
    pub fn step<T: Tap>(&mut self, now_ns: u64, tap: &mut T) -> usize {
        self.switch.poll_tap(now_ns, SWITCH_BUDGET, tap)
    }

    /// A's device.
    pub fn device_a(&self) -> Option<&ShmDevice<'a>> {
        match self.switch.endpoint(PORT_A) {
            Some(ServicePort::Virtio(d)) => Some(d),
            _ => None,
        }
    }

    /// B's port.
    pub fn port_b(&self) -> Option<&QueuingPort<'a>> {
        match self.switch.endpoint(PORT_B) {
            Some(ServicePort::Queuing(q)) => Some(q),
            _ => None,
        }
    }

    /// The uplink port.
    pub fn uplink(&self) -> Option<&D> {
        match self.switch.endpoint(UPLINK) {
            Some(ServicePort::Uplink(u)) => Some(u),
            _ => None,
        }
    }

    /// Per-port switch statistics, in port order.
    pub fn stats(&self) -> Vec<PortStats> {
        (0..self.switch.port_count())
            .filter_map(|i| self.switch.stats(PortId::new(i as u8)).cloned())
            .collect()
    }
}

/// The per-port statistics table.
pub fn stats_table(stats: &[PortStats]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<18} {:>8} {:>10} {:>9} {:>8} {:>8} {:>6} {:>8} {:>8}",
        "port", "rx", "rx bytes", "forwarded", "spoofed", "rate", "other", "tx", "tx bytes"
    );
    for (i, p) in stats.iter().enumerate() {
        let spoofed = p.drops(vnet_switch::DropReason::Spoofed);
        let rate = p.drops(vnet_switch::DropReason::Rate);
        let other = p.total_drops() - spoofed - rate;
        let _ = writeln!(
            s,
            "{:<18} {:>8} {:>10} {:>9} {:>8} {:>8} {:>6} {:>8} {:>8}",
            PORT_NAMES.get(i).copied().unwrap_or("?"),
            p.rx_frames,
            p.rx_bytes,
            p.rx_forwarded,
            spoofed,
            rate,
            other,
            p.tx_frames,
            p.tx_bytes
        );
    }
    s
}
