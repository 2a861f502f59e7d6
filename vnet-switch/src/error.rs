//! Configuration errors, reported when the switch is built.

use core::fmt;

use crate::wire::MacAddress;

/// A configuration the switch refuses. Each names the offending port (index in the order
/// ports were added) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// More ports than the switch's capacity (or than 64): the capacity.
    TooManyPorts(usize),
    /// The MAC table size is not a power of two (up to 2^31): the size.
    TableSize(usize),
    /// The egress queue depth is not a power of two: the depth.
    QueueDepth(usize),
    /// A second uplink: its port index.
    SecondUplink(usize),
    /// A second monitor port: its port index.
    SecondMonitor(usize),
    /// A partition without a MAC, or with a group or zero MAC: port and address.
    InvalidMac(usize, Option<MacAddress>),
    /// Two partitions with the same MAC in the same VLAN: the second port and the address.
    DuplicateMac(usize, MacAddress),
    /// The MAC table neighbourhood of a static address is full: port and address.
    MacTableFull(usize, MacAddress),
    /// A VLAN id outside 1..=4094: port and id.
    InvalidVlan(usize, u16),
    /// A partition configured as a trunk, or an uplink as an access port: the port.
    VlanModeForRole(usize),
    /// `max_frame` outside the supported range: port and value.
    FrameLimit(usize, u16),
    /// `classes` outside 1..=8: port and value.
    Classes(usize, u8),
    /// `default_pcp` above 7: port and value.
    Pcp(usize, u8),
    /// `max_pcp` above 7: port and value.
    MaxPcp(usize, u8),
    /// A rate budget whose bursts cannot pass one maximal frame: the port.
    RateBurst(usize),
    /// A multicast group that is not a group address: port and address.
    Group(usize, MacAddress),
    /// Learning enabled on a port that is not the uplink: the port.
    LearningNotOnUplink(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TooManyPorts(c) => write!(f, "too many ports: capacity {c} (at most 64)"),
            ConfigError::TableSize(n) => {
                write!(f, "MAC table size {n} is not a power of two up to 2^31")
            }
            ConfigError::QueueDepth(n) => write!(f, "egress queue depth {n} is not a power of two"),
            ConfigError::SecondUplink(p) => write!(f, "port {p}: a second uplink"),
            ConfigError::SecondMonitor(p) => write!(f, "port {p}: a second monitor port"),
            ConfigError::InvalidMac(p, None) => write!(f, "port {p}: partition without a MAC"),
            ConfigError::InvalidMac(p, Some(m)) => {
                write!(f, "port {p}: MAC {m} is a group or zero address")
            }
            ConfigError::DuplicateMac(p, m) => {
                write!(f, "port {p}: MAC {m} already bound in its VLAN")
            }
            ConfigError::MacTableFull(p, m) => {
                write!(f, "port {p}: no MAC table bucket left for {m}")
            }
            ConfigError::InvalidVlan(p, v) => write!(f, "port {p}: VLAN id {v} outside 1..=4094"),
            ConfigError::VlanModeForRole(p) => {
                write!(
                    f,
                    "port {p}: partitions must be access ports, the uplink a trunk"
                )
            }
            ConfigError::FrameLimit(p, v) => write!(f, "port {p}: max_frame {v} outside 60..=9216"),
            ConfigError::Classes(p, v) => write!(f, "port {p}: {v} traffic classes, need 1..=8"),
            ConfigError::Pcp(p, v) => write!(f, "port {p}: default PCP {v} above 7"),
            ConfigError::MaxPcp(p, v) => write!(f, "port {p}: max_pcp {v} above 7"),
            ConfigError::RateBurst(p) => write!(
                f,
                "port {p}: rate bursts must allow one frame of max_frame bytes"
            ),
            ConfigError::Group(p, m) => write!(f, "port {p}: {m} is not a multicast group"),
            ConfigError::LearningNotOnUplink(p) => {
                write!(f, "port {p}: learning is only supported on the uplink")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// A multicast group change the switch refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupError {
    /// No such port: its index.
    NoPort(u8),
    /// The address is not a group address.
    NotGroup(MacAddress),
    /// The port's group filter is full: its capacity.
    Full(usize),
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::NoPort(p) => write!(f, "no port {p}"),
            GroupError::NotGroup(m) => write!(f, "{m} is not a multicast group"),
            GroupError::Full(n) => write!(f, "group filter full ({n} groups)"),
        }
    }
}
