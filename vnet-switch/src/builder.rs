//! Building a switch: every configuration error is found here, typed, before any frame
//! moves.

use crate::error::ConfigError;
use crate::mac_table::{InsertError, MacTable};
use crate::policy::{PortConfig, Role, VlanMode, MAX_CLASSES, MAX_FRAME_LIMIT, MIN_FRAME_LIMIT};
use crate::switch::{Port, PortId, Switch};
use frame_link::FrameLink;

/// Default age of learned MAC table entries: five minutes (as the Linux bridge).
pub const DEFAULT_AGE_NS: u64 = 300_000_000_000;

/// Collects ports and their configurations; [`SwitchBuilder::build`] validates them.
pub struct SwitchBuilder<E, const P: usize> {
    ports: heapless::Vec<(E, PortConfig), P>,
    age_ns: u64,
}

impl<E: FrameLink, const P: usize> Default for SwitchBuilder<E, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: FrameLink, const P: usize> SwitchBuilder<E, P> {
    /// An empty builder.
    pub fn new() -> Self {
        SwitchBuilder {
            ports: heapless::Vec::new(),
            age_ns: DEFAULT_AGE_NS,
        }
    }

    /// Sets the age after which learned addresses are forgotten.
    pub fn learning_age_ns(&mut self, age_ns: u64) -> &mut Self {
        self.age_ns = age_ns;
        self
    }

    /// Adds a port; its id is its position. Fails only when the capacity `P` is reached
    /// (the link is dropped then).
    pub fn add_port(&mut self, link: E, config: PortConfig) -> Result<PortId, ConfigError> {
        let id = self.ports.len();
        if id >= 64 {
            return Err(ConfigError::TooManyPorts(P));
        }
        self.ports
            .push((link, config))
            .map_err(|_| ConfigError::TooManyPorts(P))?;
        Ok(PortId(id as u8))
    }

    /// Validates everything and builds the switch with a MAC table of `M` buckets (a
    /// power of two, at most 2^31) and egress queues of `Q` frames per traffic class (a power of two).
    pub fn build<const M: usize, const Q: usize>(self) -> Result<Switch<E, P, M, Q>, ConfigError> {
        if !M.is_power_of_two() || M > crate::mac_table::MAX_BUCKETS {
            return Err(ConfigError::TableSize(M));
        }
        if !Q.is_power_of_two() || Q > usize::from(u16::MAX) {
            return Err(ConfigError::QueueDepth(Q));
        }
        let mut table = MacTable::<M>::new(self.age_ns);
        let mut uplink = None;
        let mut monitor = None;
        for (i, (_, c)) in self.ports.iter().enumerate() {
            validate_port(i, c)?;
            match c.role {
                Role::Uplink if uplink.is_some() => return Err(ConfigError::SecondUplink(i)),
                Role::Uplink => uplink = Some(i as u8),
                Role::Monitor if monitor.is_some() => return Err(ConfigError::SecondMonitor(i)),
                Role::Monitor => monitor = Some(i as u8),
                Role::Partition => {
                    let (Some(mac), VlanMode::Access { vid }) = (c.mac, &c.vlan) else {
                        return Err(ConfigError::InvalidMac(i, c.mac));
                    };
                    match table.insert_static(*vid, mac.to_u64(), i as u8) {
                        Ok(()) => {}
                        Err(InsertError::Static) => return Err(ConfigError::DuplicateMac(i, mac)),
                        // Static entries have no quota: `Quota` does not happen.
                        Err(InsertError::Full | InsertError::Quota) => {
                            return Err(ConfigError::MacTableFull(i, mac))
                        }
                    }
                }
            }
        }
        let mut ports = heapless::Vec::new();
        for (ep, cfg) in self.ports {
            // Capacities are equal: this cannot fail, but never panic on it.
            if ports.push(Port::new(ep, cfg)).is_err() {
                return Err(ConfigError::TooManyPorts(P));
            }
        }
        Ok(Switch::from_parts(ports, table, uplink, monitor))
    }
}

fn validate_vid(i: usize, vid: u16) -> Result<(), ConfigError> {
    if (1..=4094).contains(&vid) {
        Ok(())
    } else {
        Err(ConfigError::InvalidVlan(i, vid))
    }
}

fn validate_port(i: usize, c: &PortConfig) -> Result<(), ConfigError> {
    match (&c.vlan, c.role) {
        (VlanMode::Access { vid }, Role::Partition | Role::Monitor) => validate_vid(i, *vid)?,
        (VlanMode::Trunk { native, allowed }, Role::Uplink) => {
            if let Some(n) = native {
                validate_vid(i, *n)?;
            }
            if allowed.has_reserved() {
                return Err(ConfigError::InvalidVlan(
                    i,
                    if allowed.contains(0) { 0 } else { 4095 },
                ));
            }
        }
        _ => return Err(ConfigError::VlanModeForRole(i)),
    }
    if c.role == Role::Partition {
        match c.mac {
            Some(m) if m.is_unicast() && m != crate::MacAddress::ZERO => {}
            other => return Err(ConfigError::InvalidMac(i, other)),
        }
    }
    if !(MIN_FRAME_LIMIT..=MAX_FRAME_LIMIT).contains(&c.max_frame) {
        return Err(ConfigError::FrameLimit(i, c.max_frame));
    }
    if !(1..=MAX_CLASSES).contains(&c.classes) {
        return Err(ConfigError::Classes(i, c.classes));
    }
    if c.default_pcp > 7 {
        return Err(ConfigError::Pcp(i, c.default_pcp));
    }
    if let Some(m) = c.max_pcp.filter(|m| *m > 7) {
        return Err(ConfigError::MaxPcp(i, m));
    }
    if let Some(r) = c.rate {
        if r.frame_burst == 0 || r.byte_burst < u64::from(c.max_frame) {
            return Err(ConfigError::RateBurst(i));
        }
    }
    if let Some(g) = c.groups.iter().find(|g| !g.is_multicast()) {
        return Err(ConfigError::Group(i, *g));
    }
    if c.learning && c.role != Role::Uplink {
        return Err(ConfigError::LearningNotOnUplink(i));
    }
    Ok(())
}
