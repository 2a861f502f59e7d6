//! The static channel table: which partition owns which port of which channel.

use crate::error::Error;
use crate::layout::Geometry;

/// APEX `PORT_DIRECTION_TYPE`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortDirection {
    /// The writing/sending end.
    Source = 0,
    /// A reading/receiving end.
    Destination = 1,
}

/// APEX `QUEUING_DISCIPLINE_TYPE`: order of the processes blocked on a port.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueuingDiscipline {
    /// First come, first served.
    Fifo = 0,
    /// Highest priority first (FIFO among equal priorities).
    Priority = 1,
}

/// A partition identifier; port names and port ids are scoped per partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId(pub u16);

/// Kind-specific attributes of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// Sampling: one source, any number of destinations.
    Sampling {
        /// Refresh period in ns (validity bound of a message).
        refresh_period: u64,
    },
    /// Queuing: one source, exactly one destination.
    Queuing {
        /// Queue depth.
        max_nb_message: u32,
        /// Drop on full and tell the receiver (overflow flag) instead of returning
        /// `NOT_AVAILABLE` to the sender: the sender learns nothing of the receiver's
        /// state, closing the covert channel Nickel (OSDI'18) found in ARINC 653 queues.
        drop_on_full: bool,
    },
}

/// One end of a channel: a named port of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApexPortConfig {
    /// Owning partition.
    pub partition: PartitionId,
    /// Port name (unique within the partition).
    pub name: &'static str,
    /// Discipline of the processes blocked on this port.
    pub discipline: QueuingDiscipline,
}

/// One channel of the static table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Sampling or queuing, with the kind's attributes.
    pub kind: ChannelKind,
    /// Maximum message size in bytes.
    pub max_message_size: u32,
    /// The source port.
    pub source: ApexPortConfig,
    /// The destination ports (exactly one for queuing channels).
    pub destinations: &'static [ApexPortConfig],
}

impl ChannelConfig {
    /// The shared-region geometry of this channel.
    pub const fn geometry(&self) -> Geometry {
        match self.kind {
            ChannelKind::Sampling { refresh_period } => {
                Geometry::sampling(self.max_message_size, refresh_period)
            }
            ChannelKind::Queuing {
                max_nb_message,
                drop_on_full,
            } => Geometry::queuing(self.max_message_size, max_nb_message, drop_on_full),
        }
    }

    /// Check the channel is well formed (sizes within limits; a queuing channel has
    /// exactly one destination).
    pub fn check(&self) -> Result<(), Error> {
        self.geometry().check()?;
        if matches!(self.kind, ChannelKind::Queuing { .. }) && self.destinations.len() != 1 {
            return Err(Error::InvalidConfig {
                what: "queuing channel destinations",
                value: self.destinations.len() as u64,
            });
        }
        Ok(())
    }
}

/// A port found in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortEntry {
    /// Index of the channel in the table.
    pub channel: usize,
    /// Direction of the port.
    pub direction: PortDirection,
    /// The port's configuration.
    pub port: ApexPortConfig,
}

/// Find the port `name` of `partition` in `table` (bounded by the table length).
pub fn find_port(table: &[ChannelConfig], partition: PartitionId, name: &str) -> Option<PortEntry> {
    for (channel, c) in table.iter().enumerate() {
        if c.source.partition == partition && c.source.name == name {
            return Some(PortEntry {
                channel,
                direction: PortDirection::Source,
                port: c.source,
            });
        }
        if let Some(p) = c
            .destinations
            .iter()
            .find(|p| p.partition == partition && p.name == name)
        {
            return Some(PortEntry {
                channel,
                direction: PortDirection::Destination,
                port: *p,
            });
        }
    }
    None
}
