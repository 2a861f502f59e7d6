//! A partition's view of the channel table: port creation in start-up mode, port ids,
//! and the checked dynamic APEX services.

use crate::config::{
    find_port, ChannelConfig, ChannelKind, PartitionId, PortDirection, QueuingDiscipline,
};
use crate::error::Error;
use crate::ports::{
    QueuingPortReceiver, QueuingPortSender, SamplingPortDestination, SamplingPortSource,
};
use crate::queuing::{QueueReceiver, QueueSender, QueuingPortStatus, Received};
use crate::region::Region;
use crate::sampling::{SampleReader, SampleWriter, SampledMessage, SamplingPortStatus};

/// Operating mode of the partition (APEX `OPERATING_MODE_TYPE`, without `IDLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatingMode {
    /// Cold start: ports may be created.
    ColdStart,
    /// Warm start: ports may be created.
    WarmStart,
    /// Normal: no more creation.
    Normal,
}

/// Identifier of a created port, scoped to its partition (1-based; 0 is never used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApexPortId(pub u32);

/// A created port with runtime sizes.
#[derive(Debug)]
pub enum DynPort<'r> {
    /// Queuing source.
    QueuingSource(QueueSender<'r>),
    /// Queuing destination.
    QueuingDestination(QueueReceiver<'r>),
    /// Sampling source.
    SamplingSource(SampleWriter<'r>),
    /// Sampling destination.
    SamplingDestination(SampleReader<'r>),
}

#[derive(Debug)]
struct Entry<'r> {
    channel: usize,
    direction: PortDirection,
    /// `None` once handed out as a typed handle.
    port: Option<DynPort<'r>>,
}

/// One partition's ports over the static `table`; `regions[i]` is channel `i`'s region.
/// At most `P` ports can be created.
#[derive(Debug)]
pub struct Partition<'t, 'r, const P: usize> {
    id: PartitionId,
    table: &'t [ChannelConfig],
    regions: &'t [Region<'r>],
    mode: OperatingMode,
    entries: heapless::Vec<Entry<'r>, P>,
}

/// What a creation request asks for (the APEX creation parameters).
#[derive(Debug, Clone, Copy)]
struct Request<'a> {
    name: &'a str,
    max_message_size: u64,
    max_nb_message: Option<u64>,
    direction: PortDirection,
    discipline: Option<QueuingDiscipline>,
    refresh_period: Option<u64>,
}

fn mismatch(what: &'static str, value: u64) -> Error {
    Error::InvalidConfig { what, value }
}

impl<'t, 'r, const P: usize> Partition<'t, 'r, P> {
    /// Partition `id` in cold start over `table` and its `regions` (one per channel, in
    /// table order).
    pub fn new(id: PartitionId, table: &'t [ChannelConfig], regions: &'t [Region<'r>]) -> Self {
        Self {
            id,
            table,
            regions,
            mode: OperatingMode::ColdStart,
            entries: heapless::Vec::new(),
        }
    }

    /// The partition's id.
    pub fn id(&self) -> PartitionId {
        self.id
    }

    /// Current operating mode.
    pub fn mode(&self) -> OperatingMode {
        self.mode
    }

    /// Enter normal mode: creation is over.
    pub fn set_normal(&mut self) {
        self.mode = OperatingMode::Normal;
    }

    /// The typed start context, only in a start-up mode (else `INVALID_MODE`).
    pub fn start_context(&mut self) -> Result<StartContext<'_, 't, 'r, P>, Error> {
        if self.mode == OperatingMode::Normal {
            return Err(Error::InvalidMode {
                what: "port creation in NORMAL mode",
            });
        }
        Ok(StartContext { partition: self })
    }

    /// The checks of `CREATE_*_PORT` in the standard's order; returns the channel index.
    fn check_create(&self, r: &Request<'_>) -> Result<usize, Error> {
        if self.entries.is_full() {
            return Err(mismatch("ports per partition", P as u64));
        }
        let Some(e) = find_port(self.table, self.id, r.name) else {
            return Err(mismatch("port name (length)", r.name.len() as u64));
        };
        if self
            .entries
            .iter()
            .any(|x| x.channel == e.channel && x.direction == e.direction)
        {
            return Err(Error::NoAction);
        }
        let Some(c) = self.table.get(e.channel) else {
            return Err(mismatch("channel index", e.channel as u64));
        };
        if r.max_message_size == 0 || r.max_message_size != u64::from(c.max_message_size) {
            return Err(mismatch("max_message_size", r.max_message_size));
        }
        match (c.kind, r.max_nb_message, r.refresh_period) {
            (ChannelKind::Queuing { max_nb_message, .. }, Some(n), None) => {
                if n != u64::from(max_nb_message) {
                    return Err(mismatch("max_nb_message", n));
                }
            }
            (ChannelKind::Sampling { refresh_period }, None, Some(p)) => {
                if p != refresh_period {
                    return Err(mismatch("refresh_period", p));
                }
            }
            _ => return Err(mismatch("port kind", e.channel as u64)),
        }
        if r.direction != e.direction {
            return Err(mismatch("port_direction", r.direction as u64));
        }
        if let Some(d) = r.discipline {
            if d != e.port.discipline {
                return Err(mismatch("queuing_discipline", d as u64));
            }
        }
        if self.mode == OperatingMode::Normal {
            return Err(Error::InvalidMode {
                what: "port creation in NORMAL mode",
            });
        }
        c.check()?;
        Ok(e.channel)
    }

    fn region(&self, channel: usize) -> Result<(Region<'r>, crate::layout::Geometry), Error> {
        let region = *self
            .regions
            .get(channel)
            .ok_or(mismatch("region for channel", channel as u64))?;
        let c = self
            .table
            .get(channel)
            .ok_or(mismatch("channel index", channel as u64))?;
        Ok((region, c.geometry()))
    }

    fn register(
        &mut self,
        r: &Request<'_>,
        port: impl FnOnce(Region<'r>, &crate::layout::Geometry) -> Result<Option<DynPort<'r>>, Error>,
    ) -> Result<ApexPortId, Error> {
        let channel = self.check_create(r)?;
        let (region, g) = self.region(channel)?;
        let port = port(region, &g)?;
        self.entries
            .push(Entry {
                channel,
                direction: r.direction,
                port,
            })
            .map_err(|_| mismatch("ports per partition", P as u64))?;
        Ok(ApexPortId(self.entries.len() as u32))
    }

    /// APEX `CREATE_QUEUING_PORT` (dynamic): checks in the standard's order, then
    /// attaches the channel's region.
    pub fn create_queuing_port(
        &mut self,
        name: &str,
        max_message_size: u32,
        max_nb_message: u32,
        direction: PortDirection,
        discipline: QueuingDiscipline,
    ) -> Result<ApexPortId, Error> {
        let r = Request {
            name,
            max_message_size: max_message_size.into(),
            max_nb_message: Some(max_nb_message.into()),
            direction,
            discipline: Some(discipline),
            refresh_period: None,
        };
        self.register(&r, |region, g| {
            Ok(Some(match direction {
                PortDirection::Source => DynPort::QueuingSource(QueueSender::attach(region, g)?),
                PortDirection::Destination => {
                    DynPort::QueuingDestination(QueueReceiver::attach(region, g)?)
                }
            }))
        })
    }

    /// APEX `CREATE_SAMPLING_PORT` (dynamic).
    pub fn create_sampling_port(
        &mut self,
        name: &str,
        max_message_size: u32,
        direction: PortDirection,
        refresh_period: u64,
    ) -> Result<ApexPortId, Error> {
        let r = Request {
            name,
            max_message_size: max_message_size.into(),
            max_nb_message: None,
            direction,
            discipline: None,
            refresh_period: Some(refresh_period),
        };
        self.register(&r, |region, g| {
            Ok(Some(match direction {
                PortDirection::Source => DynPort::SamplingSource(SampleWriter::attach(region, g)?),
                PortDirection::Destination => {
                    DynPort::SamplingDestination(SampleReader::attach(region, g)?)
                }
            }))
        })
    }

    /// The id of the created port `name` (APEX `GET_*_PORT_ID`), `INVALID_CONFIG` if none.
    pub fn port_id(&self, name: &str) -> Result<ApexPortId, Error> {
        let e = find_port(self.table, self.id, name)
            .ok_or(mismatch("port name (length)", name.len() as u64))?;
        self.entries
            .iter()
            .position(|x| x.channel == e.channel && x.direction == e.direction)
            .map(|i| ApexPortId(i as u32 + 1))
            .ok_or(mismatch("port name (length)", name.len() as u64))
    }

    fn port(&mut self, id: ApexPortId) -> Result<&mut DynPort<'r>, Error> {
        let bad = Error::InvalidParam {
            what: "port id",
            value: id.0.into(),
        };
        let i = (id.0 as usize).checked_sub(1).ok_or(bad)?;
        self.entries
            .get_mut(i)
            .and_then(|e| e.port.as_mut())
            .ok_or(bad)
    }

    /// APEX `SEND_QUEUING_MESSAGE` with a zero time-out (blocking: [`crate::blocking`]).
    pub fn send_queuing_message(&mut self, id: ApexPortId, msg: &[u8]) -> Result<(), Error> {
        match self.port(id)? {
            DynPort::QueuingSource(p) => p.try_send(msg),
            DynPort::QueuingDestination(p) => {
                crate::queuing::check_len(msg.len(), p.max_message_size())?;
                Err(Error::InvalidMode {
                    what: "send on a destination port",
                })
            }
            _ => Err(Error::InvalidParam {
                what: "port id (not a queuing port)",
                value: id.0.into(),
            }),
        }
    }

    /// APEX `RECEIVE_QUEUING_MESSAGE` with a zero time-out.
    pub fn receive_queuing_message(
        &mut self,
        id: ApexPortId,
        buf: &mut [u8],
    ) -> Result<Received, Error> {
        match self.port(id)? {
            DynPort::QueuingDestination(p) => p.try_receive(buf),
            DynPort::QueuingSource(_) => Err(Error::InvalidMode {
                what: "receive on a source port",
            }),
            _ => Err(Error::InvalidParam {
                what: "port id (not a queuing port)",
                value: id.0.into(),
            }),
        }
    }

    /// APEX `CLEAR_QUEUING_PORT`.
    pub fn clear_queuing_port(&mut self, id: ApexPortId) -> Result<(), Error> {
        match self.port(id)? {
            DynPort::QueuingDestination(p) => p.clear(),
            DynPort::QueuingSource(_) => Err(Error::InvalidMode {
                what: "clear on a source port",
            }),
            _ => Err(Error::InvalidParam {
                what: "port id (not a queuing port)",
                value: id.0.into(),
            }),
        }
    }

    /// APEX `GET_QUEUING_PORT_STATUS`.
    pub fn queuing_port_status(&mut self, id: ApexPortId) -> Result<QueuingPortStatus, Error> {
        match self.port(id)? {
            DynPort::QueuingDestination(p) => p.status(),
            DynPort::QueuingSource(p) => p.status(),
            _ => Err(Error::InvalidParam {
                what: "port id (not a queuing port)",
                value: id.0.into(),
            }),
        }
    }

    /// APEX `WRITE_SAMPLING_MESSAGE`, stamped `now` (ns).
    pub fn write_sampling_message(
        &mut self,
        id: ApexPortId,
        msg: &[u8],
        now: u64,
    ) -> Result<(), Error> {
        match self.port(id)? {
            DynPort::SamplingSource(p) => p.write(msg, now),
            DynPort::SamplingDestination(p) => {
                crate::queuing::check_len(msg.len(), p.max_message_size())?;
                Err(Error::InvalidMode {
                    what: "write on a destination port",
                })
            }
            _ => Err(Error::InvalidParam {
                what: "port id (not a sampling port)",
                value: id.0.into(),
            }),
        }
    }

    /// APEX `READ_SAMPLING_MESSAGE` at `now` (ns).
    pub fn read_sampling_message(
        &mut self,
        id: ApexPortId,
        buf: &mut [u8],
        now: u64,
    ) -> Result<SampledMessage, Error> {
        match self.port(id)? {
            DynPort::SamplingDestination(p) => p.read(buf, now),
            DynPort::SamplingSource(_) => Err(Error::InvalidMode {
                what: "read on a source port",
            }),
            _ => Err(Error::InvalidParam {
                what: "port id (not a sampling port)",
                value: id.0.into(),
            }),
        }
    }

    /// APEX `GET_SAMPLING_PORT_STATUS`.
    pub fn sampling_port_status(&mut self, id: ApexPortId) -> Result<SamplingPortStatus, Error> {
        match self.port(id)? {
            DynPort::SamplingDestination(p) => Ok(p.status()),
            DynPort::SamplingSource(p) => Ok(p.status()),
            _ => Err(Error::InvalidParam {
                what: "port id (not a sampling port)",
                value: id.0.into(),
            }),
        }
    }

    /// Direct access to a created dynamic port.
    pub fn dyn_port(&mut self, id: ApexPortId) -> Result<&mut DynPort<'r>, Error> {
        self.port(id)
    }
}

/// Proof of a start-up mode: typed port creation happens only through it.
#[derive(Debug)]
pub struct StartContext<'p, 't, 'r, const P: usize> {
    partition: &'p mut Partition<'t, 'r, P>,
}

impl<'t, 'r, const P: usize> StartContext<'_, 't, 'r, P> {
    fn typed(&mut self, r: Request<'_>) -> Result<(Region<'r>, crate::layout::Geometry), Error> {
        let mut out = None;
        self.partition.register(&r, |region, g| {
            g.validate(&region)?;
            out = Some((region, *g));
            Ok(None)
        })?;
        out.ok_or(Error::NotAvailable)
    }

    /// Create the sampling source `name` with messages of at most `MSG` bytes.
    pub fn create_sampling_source<const MSG: usize>(
        &mut self,
        name: &str,
        refresh_period: u64,
    ) -> Result<SamplingPortSource<'r, MSG>, Error> {
        let (region, g) = self.typed(Request {
            name,
            max_message_size: MSG as u64,
            max_nb_message: None,
            direction: PortDirection::Source,
            discipline: None,
            refresh_period: Some(refresh_period),
        })?;
        SamplingPortSource::attach(region, &g)
    }

    /// Create the sampling destination `name`.
    pub fn create_sampling_destination<const MSG: usize>(
        &mut self,
        name: &str,
        refresh_period: u64,
    ) -> Result<SamplingPortDestination<'r, MSG>, Error> {
        let (region, g) = self.typed(Request {
            name,
            max_message_size: MSG as u64,
            max_nb_message: None,
            direction: PortDirection::Destination,
            discipline: None,
            refresh_period: Some(refresh_period),
        })?;
        SamplingPortDestination::attach(region, &g)
    }

    /// Create the queuing source `name`: messages of at most `MSG` bytes, depth `N`.
    pub fn create_queuing_sender<const MSG: usize, const N: usize>(
        &mut self,
        name: &str,
        discipline: QueuingDiscipline,
    ) -> Result<QueuingPortSender<'r, MSG, N>, Error> {
        let (region, g) = self.typed(Request {
            name,
            max_message_size: MSG as u64,
            max_nb_message: Some(N as u64),
            direction: PortDirection::Source,
            discipline: Some(discipline),
            refresh_period: None,
        })?;
        QueuingPortSender::attach(region, &g)
    }

    /// Create the queuing destination `name`.
    pub fn create_queuing_receiver<const MSG: usize, const N: usize>(
        &mut self,
        name: &str,
        discipline: QueuingDiscipline,
    ) -> Result<QueuingPortReceiver<'r, MSG, N>, Error> {
        let (region, g) = self.typed(Request {
            name,
            max_message_size: MSG as u64,
            max_nb_message: Some(N as u64),
            direction: PortDirection::Destination,
            discipline: Some(discipline),
            refresh_period: None,
        })?;
        QueuingPortReceiver::attach(region, &g)
    }

    /// Dynamic creation (see [`Partition::create_queuing_port`]).
    pub fn partition(&mut self) -> &mut Partition<'t, 'r, P> {
        self.partition
    }
}
