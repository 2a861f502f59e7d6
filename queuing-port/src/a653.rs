//! The `a653rs` P4 port traits over these ports (feature `a653rs`).
//!
//! a653rs traits are static (no `self`): the integrator names its partition's port table
//! through [`A653Host`] and uses [`A653Ports<H>`] as the a653rs hypervisor type for
//! ports. Operations do not block: a non-zero time-out on a full/empty queue returns
//! `NOT_AVAILABLE` (wrap with [`crate::blocking`] for real waits).
//!
//! a653rs declares the receive/read functions `unsafe` (the caller promises a buffer
//! large enough); ours check the buffer length anyway, so nothing here relies on it.
#![allow(unsafe_code)]

use core::marker::PhantomData;

use a653rs::bindings::{
    ApexByte, ApexQueuingPortP4, ApexSamplingPortP4, ApexSystemTime, ErrorReturnCode, MessageRange,
    MessageSize, PortDirection as A653Direction, QueueOverflow,
    QueuingDiscipline as A653Discipline, QueuingPortId, QueuingPortName,
    QueuingPortStatus as A653QueuingStatus, SamplingPortId, SamplingPortName,
    Validity as A653Validity,
};

use crate::blocking::Timeout;
use crate::config::{PortDirection, QueuingDiscipline};
use crate::error::{Error, ReturnCode};
use crate::partition::{ApexPortId, DynPort, Partition};
use crate::queuing::check_len;
use crate::sampling::Validity;

/// Where a653rs calls find the partition's ports and the time.
pub trait A653Host {
    /// Run `f` on the partition's port table (behind the integrator's lock).
    fn with_ports<R>(f: impl FnOnce(&mut dyn ApexPorts) -> R) -> R;
    /// Monotonic time in ns (stamps and validity of sampling messages).
    fn now() -> u64;
}

/// The object-safe APEX port services of a [`Partition`], as the a653rs adapter uses them.
pub trait ApexPorts {
    /// See [`Partition::create_sampling_port`].
    fn create_sampling(
        &mut self,
        name: &str,
        size: u32,
        dir: PortDirection,
        refresh: u64,
    ) -> Result<ApexPortId, Error>;
    /// See [`Partition::write_sampling_message`].
    fn write_sampling(&mut self, id: ApexPortId, msg: &[u8], now: u64) -> Result<(), Error>;
    /// See [`Partition::read_sampling_message`]: `(validity, len)`.
    fn read_sampling(
        &mut self,
        id: ApexPortId,
        buf: &mut [u8],
        now: u64,
    ) -> Result<(Validity, usize), Error>;
    /// See [`Partition::create_queuing_port`].
    fn create_queuing(
        &mut self,
        name: &str,
        size: u32,
        nb: u32,
        dir: PortDirection,
        d: QueuingDiscipline,
    ) -> Result<ApexPortId, Error>;
    /// See [`Partition::send_queuing_message`]; `time_out` is checked after the
    /// length and direction, as APEX orders it.
    fn send_queuing(&mut self, id: ApexPortId, msg: &[u8], time_out: i64) -> Result<(), Error>;
    /// See [`Partition::receive_queuing_message`]: `(len, overflowed)`.
    fn receive_queuing(&mut self, id: ApexPortId, buf: &mut [u8]) -> Result<(usize, bool), Error>;
    /// See [`Partition::queuing_port_status`].
    fn queuing_status(&mut self, id: ApexPortId) -> Result<crate::QueuingPortStatus, Error>;
    /// See [`Partition::clear_queuing_port`].
    fn clear_queuing(&mut self, id: ApexPortId) -> Result<(), Error>;
}

impl<const P: usize> ApexPorts for Partition<'_, '_, P> {
    fn create_sampling(
        &mut self,
        name: &str,
        size: u32,
        dir: PortDirection,
        refresh: u64,
    ) -> Result<ApexPortId, Error> {
        self.create_sampling_port(name, size, dir, refresh)
    }
    fn write_sampling(&mut self, id: ApexPortId, msg: &[u8], now: u64) -> Result<(), Error> {
        self.write_sampling_message(id, msg, now)
    }
    fn read_sampling(
        &mut self,
        id: ApexPortId,
        buf: &mut [u8],
        now: u64,
    ) -> Result<(Validity, usize), Error> {
        self.read_sampling_message(id, buf, now)
            .map(|m| (m.validity, m.len))
    }
    fn create_queuing(
        &mut self,
        name: &str,
        size: u32,
        nb: u32,
        dir: PortDirection,
        d: QueuingDiscipline,
    ) -> Result<ApexPortId, Error> {
        self.create_queuing_port(name, size, nb, dir, d)
    }
    fn send_queuing(&mut self, id: ApexPortId, msg: &[u8], time_out: i64) -> Result<(), Error> {
        match self.dyn_port(id)? {
            DynPort::QueuingSource(p) => {
                check_len(msg.len(), p.max_message_size())?;
                Timeout::from_apex(time_out)?;
                p.try_send(msg)
            }
            _ => self.send_queuing_message(id, msg),
        }
    }
    fn receive_queuing(&mut self, id: ApexPortId, buf: &mut [u8]) -> Result<(usize, bool), Error> {
        self.receive_queuing_message(id, buf)
            .map(|r| (r.len, r.overflowed))
    }
    fn queuing_status(&mut self, id: ApexPortId) -> Result<crate::QueuingPortStatus, Error> {
        self.queuing_port_status(id)
    }
    fn clear_queuing(&mut self, id: ApexPortId) -> Result<(), Error> {
        self.clear_queuing_port(id)
    }
}

/// The a653rs port implementation for the partition `H` names.
#[derive(Debug)]
pub struct A653Ports<H>(PhantomData<H>);

/// The a653rs error for one of ours.
pub fn to_a653(e: Error) -> ErrorReturnCode {
    match e.code() {
        ReturnCode::NoAction => ErrorReturnCode::NoAction,
        ReturnCode::InvalidParam => ErrorReturnCode::InvalidParam,
        ReturnCode::InvalidConfig => ErrorReturnCode::InvalidConfig,
        ReturnCode::InvalidMode => ErrorReturnCode::InvalidMode,
        ReturnCode::TimedOut => ErrorReturnCode::TimedOut,
        ReturnCode::NotAvailable | ReturnCode::NoError => ErrorReturnCode::NotAvailable,
    }
}

fn name_str(name: &[u8]) -> Result<&str, ErrorReturnCode> {
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let bytes = name.get(..end).ok_or(ErrorReturnCode::InvalidConfig)?;
    core::str::from_utf8(bytes).map_err(|_| ErrorReturnCode::InvalidConfig)
}

fn port_id(id: i64) -> Result<ApexPortId, ErrorReturnCode> {
    u32::try_from(id)
        .map(ApexPortId)
        .map_err(|_| ErrorReturnCode::InvalidParam)
}

fn direction(d: A653Direction) -> PortDirection {
    match d {
        A653Direction::Source => PortDirection::Source,
        A653Direction::Destination => PortDirection::Destination,
    }
}

fn refresh_ns(t: ApexSystemTime) -> Result<u64, ErrorReturnCode> {
    u64::try_from(t).map_err(|_| ErrorReturnCode::InvalidConfig)
}

impl<H: A653Host> ApexSamplingPortP4 for A653Ports<H> {
    fn create_sampling_port(
        sampling_port_name: SamplingPortName,
        max_message_size: MessageSize,
        port_direction: A653Direction,
        refresh_period: ApexSystemTime,
    ) -> Result<SamplingPortId, ErrorReturnCode> {
        let name = name_str(&sampling_port_name)?;
        let refresh = refresh_ns(refresh_period)?;
        H::with_ports(|p| {
            p.create_sampling(name, max_message_size, direction(port_direction), refresh)
        })
        .map(|id| i64::from(id.0))
        .map_err(to_a653)
    }

    fn write_sampling_message(
        sampling_port_id: SamplingPortId,
        message: &[ApexByte],
    ) -> Result<(), ErrorReturnCode> {
        let id = port_id(sampling_port_id)?;
        H::with_ports(|p| p.write_sampling(id, message, H::now())).map_err(to_a653)
    }

    unsafe fn read_sampling_message(
        sampling_port_id: SamplingPortId,
        message: &mut [ApexByte],
    ) -> Result<(A653Validity, MessageSize), ErrorReturnCode> {
        let id = port_id(sampling_port_id)?;
        let (v, len) =
            H::with_ports(|p| p.read_sampling(id, message, H::now())).map_err(to_a653)?;
        let v = match v {
            Validity::Valid => A653Validity::Valid,
            Validity::Invalid => A653Validity::Invalid,
        };
        Ok((v, len as MessageSize))
    }
}

impl<H: A653Host> ApexQueuingPortP4 for A653Ports<H> {
    fn create_queuing_port(
        queuing_port_name: QueuingPortName,
        max_message_size: MessageSize,
        max_nb_message: MessageRange,
        port_direction: A653Direction,
        queuing_discipline: A653Discipline,
    ) -> Result<QueuingPortId, ErrorReturnCode> {
        let name = name_str(&queuing_port_name)?;
        let d = match queuing_discipline {
            A653Discipline::Fifo => QueuingDiscipline::Fifo,
            A653Discipline::Priority => QueuingDiscipline::Priority,
        };
        H::with_ports(|p| {
            p.create_queuing(
                name,
                max_message_size,
                max_nb_message,
                direction(port_direction),
                d,
            )
        })
        .map(|id| i64::from(id.0))
        .map_err(to_a653)
    }

    fn send_queuing_message(
        queuing_port_id: QueuingPortId,
        message: &[ApexByte],
        time_out: ApexSystemTime,
    ) -> Result<(), ErrorReturnCode> {
        let id = port_id(queuing_port_id)?;
        H::with_ports(|p| p.send_queuing(id, message, time_out)).map_err(to_a653)
    }

    unsafe fn receive_queuing_message(
        queuing_port_id: QueuingPortId,
        time_out: ApexSystemTime,
        message: &mut [ApexByte],
    ) -> Result<(MessageSize, QueueOverflow), ErrorReturnCode> {
        let id = port_id(queuing_port_id)?;
        Timeout::from_apex(time_out).map_err(to_a653)?;
        H::with_ports(|p| p.receive_queuing(id, message))
            .map(|(len, over)| (len as MessageSize, over))
            .map_err(to_a653)
    }

    fn get_queuing_port_status(
        queuing_port_id: QueuingPortId,
    ) -> Result<A653QueuingStatus, ErrorReturnCode> {
        let id = port_id(queuing_port_id)?;
        let s = H::with_ports(|p| p.queuing_status(id)).map_err(to_a653)?;
        Ok(A653QueuingStatus {
            nb_message: s.nb_message,
            max_nb_message: s.max_nb_message,
            max_message_size: s.max_message_size,
            port_direction: match s.port_direction {
                PortDirection::Source => A653Direction::Source,
                PortDirection::Destination => A653Direction::Destination,
            },
            waiting_processes: i32::try_from(s.waiting_processes).unwrap_or(i32::MAX),
        })
    }

    fn clear_queuing_port(queuing_port_id: QueuingPortId) -> Result<(), ErrorReturnCode> {
        let id = port_id(queuing_port_id)?;
        H::with_ports(|p| p.clear_queuing(id)).map_err(to_a653)
    }
}
