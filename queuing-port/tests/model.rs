//! proptest state machine: two partitions' dynamic port services against a plain model
//! of the APEX semantics, return-code precedence included.

mod common;

use std::collections::VecDeque;

use common::*;
use proptest::prelude::*;
use queuing_port::{
    ApexPortId, ChannelKind, Partition, PartitionId, PortDirection, QueuingDiscipline, Region,
    ReturnCode, Validity,
};

const MAX_PORTS: usize = 4;
const NAMES: [&str; 7] = ["q_out", "q_in", "d_out", "d_in", "s_out", "s_in", "zz"];

#[derive(Debug, Clone)]
enum Op {
    CreateQ {
        part: usize,
        name: usize,
        size: u32,
        nb: u32,
        dir: PortDirection,
        disc: QueuingDiscipline,
    },
    CreateS {
        part: usize,
        name: usize,
        size: u32,
        dir: PortDirection,
        refresh: u64,
    },
    Normal {
        part: usize,
    },
    /// A creation with the table's own parameters (the random ones rarely match).
    CreateGood {
        part: usize,
        which: usize,
    },
    Send {
        part: usize,
        id: u32,
        len: usize,
    },
    Receive {
        part: usize,
        id: u32,
        buf: usize,
    },
    Clear {
        part: usize,
        id: u32,
    },
    Write {
        part: usize,
        id: u32,
        len: usize,
    },
    Read {
        part: usize,
        id: u32,
    },
    Status {
        part: usize,
        id: u32,
    },
    Tick {
        dt: u64,
    },
}

fn dir() -> impl Strategy<Value = PortDirection> {
    prop_oneof![
        Just(PortDirection::Source),
        Just(PortDirection::Destination)
    ]
}

fn disc() -> impl Strategy<Value = QueuingDiscipline> {
    prop_oneof![
        Just(QueuingDiscipline::Fifo),
        Just(QueuingDiscipline::Priority)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let part = 0..3usize;
    let id = 0..6u32;
    prop_oneof![
        2 => (part.clone(), 0..NAMES.len(), prop::sample::select(vec![0u32, 8, 12, 16, 17]),
              prop::sample::select(vec![0u32, 2, 4, 5]), dir(), disc())
            .prop_map(|(part, name, size, nb, dir, disc)| Op::CreateQ { part, name, size, nb, dir, disc }),
        2 => (part.clone(), 0..NAMES.len(), prop::sample::select(vec![0u32, 8, 12]), dir(),
              prop::sample::select(vec![50u64, 100]))
            .prop_map(|(part, name, size, dir, refresh)| Op::CreateS { part, name, size, dir, refresh }),
        1 => part.clone().prop_map(|part| Op::Normal { part }),
        4 => (part.clone(), 0..3usize).prop_map(|(part, which)| Op::CreateGood { part, which }),
        4 => (part.clone(), id.clone(), 0..20usize).prop_map(|(part, id, len)| Op::Send { part, id, len }),
        4 => (part.clone(), id.clone(), prop::sample::select(vec![4usize, 16, 32]))
            .prop_map(|(part, id, buf)| Op::Receive { part, id, buf }),
        1 => (part.clone(), id.clone()).prop_map(|(part, id)| Op::Clear { part, id }),
        2 => (part.clone(), id.clone(), 0..16usize).prop_map(|(part, id, len)| Op::Write { part, id, len }),
        2 => (part.clone(), id.clone()).prop_map(|(part, id)| Op::Read { part, id }),
        1 => (part, id).prop_map(|(part, id)| Op::Status { part, id }),
        1 => (0..150u64).prop_map(|dt| Op::Tick { dt }),
    ]
}

/// The plain model.
#[derive(Default)]
struct Model {
    normal: [bool; 3],
    /// Created ports per partition: (channel, direction).
    created: [Vec<(usize, PortDirection)>; 3],
    queues: [VecDeque<Vec<u8>>; 2],
    overflow: bool,
    latest: Option<(Vec<u8>, u64)>,
}

type Res = Result<(), ReturnCode>;

fn pid(part: usize) -> PartitionId {
    PartitionId(part as u16 + 1)
}

fn lookup(part: usize, name: &str) -> Option<(usize, PortDirection)> {
    TABLE.iter().enumerate().find_map(|(i, c)| {
        if c.source.partition == pid(part) && c.source.name == name {
            Some((i, PortDirection::Source))
        } else if c
            .destinations
            .iter()
            .any(|d| d.partition == pid(part) && d.name == name)
        {
            Some((i, PortDirection::Destination))
        } else {
            None
        }
    })
}

impl Model {
    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        part: usize,
        name: &str,
        size: u32,
        nb: Option<u32>,
        dir: PortDirection,
        disc: Option<QueuingDiscipline>,
        refresh: Option<u64>,
    ) -> Res {
        use ReturnCode::*;
        if self.created[part].len() == MAX_PORTS {
            return Err(InvalidConfig);
        }
        let (ch, cdir) = lookup(part, name).ok_or(InvalidConfig)?;
        if self.created[part].contains(&(ch, cdir)) {
            return Err(NoAction);
        }
        let c = &TABLE[ch];
        if size == 0 || size != c.max_message_size {
            return Err(InvalidConfig);
        }
        match (c.kind, nb, refresh) {
            (ChannelKind::Queuing { max_nb_message, .. }, Some(n), None) if n == max_nb_message => {
            }
            (ChannelKind::Sampling { refresh_period }, None, Some(r)) if r == refresh_period => {}
            _ => return Err(InvalidConfig),
        }
        if dir != cdir {
            return Err(InvalidConfig);
        }
        let port = if cdir == PortDirection::Source {
            c.source
        } else {
            *c.destinations
                .iter()
                .find(|d| d.partition == pid(part))
                .unwrap()
        };
        if disc.is_some_and(|d| d != port.discipline) {
            return Err(InvalidConfig);
        }
        if self.normal[part] {
            return Err(InvalidMode);
        }
        if ch == 1 && cdir == PortDirection::Destination {
            self.overflow = false;
        }
        self.created[part].push((ch, cdir));
        Ok(())
    }

    fn port(&self, part: usize, id: u32) -> Option<(usize, PortDirection)> {
        (id as usize)
            .checked_sub(1)
            .and_then(|i| self.created[part].get(i).copied())
    }
}

fn code<T>(r: Result<T, queuing_port::Error>) -> Res {
    r.map(|_| ()).map_err(|e| e.code())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]
    #[test]
    fn ports_follow_the_model(ops in prop::collection::vec(op(), 1..80)) {
        use ReturnCode::*;
        let rs = regions();
        let regions: Vec<Region<'_>> = rs.iter().map(|r| r.region()).collect();
        let mut parts: Vec<Partition<'_, '_, MAX_PORTS>> =
            (0..3).map(|p| Partition::new(pid(p), &TABLE, &regions)).collect();
        let mut m = Model::default();
        let mut now = 0u64;
        let mut counter = 0u32;
        for op in ops {
            match op {
                Op::CreateQ { part, name, size, nb, dir, disc } => {
                    let want = m.create(part, NAMES[name], size, Some(nb), dir, Some(disc), None);
                    let got = code(parts[part].create_queuing_port(NAMES[name], size, nb, dir, disc));
                    prop_assert_eq!(got, want, "{:?}", op);
                }
                Op::CreateS { part, name, size, dir, refresh } => {
                    let want = m.create(part, NAMES[name], size, None, dir, None, Some(refresh));
                    let got = code(parts[part].create_sampling_port(NAMES[name], size, dir, refresh));
                    prop_assert_eq!(got, want, "{:?}", op);
                }
                Op::CreateGood { part, which } => {
                    // Partition 1 has the sources, 2 and 3 the destinations.
                    let (names, dir) = if part == 0 {
                        (["q_out", "d_out", "s_out"], PortDirection::Source)
                    } else {
                        (["q_in", "d_in", "s_in"], PortDirection::Destination)
                    };
                    let name = names[which];
                    let c = &TABLE[which];
                    let (want, got) = match c.kind {
                        ChannelKind::Queuing { max_nb_message, .. } => {
                            let disc = if which == 1 && part != 0 { QueuingDiscipline::Priority } else { QueuingDiscipline::Fifo };
                            (m.create(part, name, c.max_message_size, Some(max_nb_message), dir, Some(disc), None),
                             code(parts[part].create_queuing_port(name, c.max_message_size, max_nb_message, dir, disc)))
                        }
                        ChannelKind::Sampling { refresh_period } => (
                            m.create(part, name, c.max_message_size, None, dir, None, Some(refresh_period)),
                            code(parts[part].create_sampling_port(name, c.max_message_size, dir, refresh_period)),
                        ),
                    };
                    prop_assert_eq!(got, want, "{:?}", op);
                }
                Op::Normal { part } => {
                    m.normal[part] = true;
                    parts[part].set_normal();
                }
                Op::Tick { dt } => now += dt,
                Op::Send { part, id, len } => {
                    counter += 1;
                    let msg = message(counter, len);
                    let want = match m.port(part, id) {
                        Some((ch, d)) if ch < 2 => {
                            let max = TABLE[ch].max_message_size as usize;
                            let cap = if ch == 0 { 4 } else { 2 };
                            if len > max { Err(InvalidConfig) }
                            else if len == 0 { Err(InvalidParam) }
                            else if d == PortDirection::Destination { Err(InvalidMode) }
                            else if m.queues[ch].len() == cap {
                                if ch == 1 { m.overflow = true; Ok(()) } else { Err(NotAvailable) }
                            } else { m.queues[ch].push_back(msg.clone()); Ok(()) }
                        }
                        _ => Err(InvalidParam),
                    };
                    let got = code(parts[part].send_queuing_message(ApexPortId(id), &msg));
                    prop_assert_eq!(got, want, "{:?}", op);
                }
                Op::Receive { part, id, buf } => {
                    let mut b = vec![0u8; buf];
                    let got = parts[part].receive_queuing_message(ApexPortId(id), &mut b);
                    match m.port(part, id) {
                        Some((ch, d)) if ch < 2 => {
                            if d == PortDirection::Source {
                                prop_assert_eq!(code(got), Err(InvalidMode));
                            } else if buf < TABLE[ch].max_message_size as usize {
                                prop_assert_eq!(code(got), Err(InvalidParam));
                            } else if let Some(want) = m.queues[ch].pop_front() {
                                let r = got.unwrap();
                                prop_assert_eq!(&b[..r.len], &want[..]);
                                let over = ch == 1 && std::mem::take(&mut m.overflow);
                                prop_assert_eq!(r.overflowed, over);
                            } else {
                                prop_assert_eq!(code(got), Err(NotAvailable));
                            }
                        }
                        _ => prop_assert_eq!(code(got), Err(InvalidParam)),
                    }
                }
                Op::Clear { part, id } => {
                    let want = match m.port(part, id) {
                        Some((ch, d)) if ch < 2 => {
                            if d == PortDirection::Source { Err(InvalidMode) } else {
                                m.queues[ch].clear();
                                if ch == 1 { m.overflow = false; }
                                Ok(())
                            }
                        }
                        _ => Err(InvalidParam),
                    };
                    prop_assert_eq!(code(parts[part].clear_queuing_port(ApexPortId(id))), want);
                }
                Op::Status { part, id } => {
                    let got = parts[part].queuing_port_status(ApexPortId(id));
                    match m.port(part, id) {
                        Some((ch, d)) if ch < 2 => {
                            let s = got.unwrap();
                            prop_assert_eq!(s.nb_message as usize, m.queues[ch].len());
                            prop_assert_eq!(s.port_direction, d);
                            prop_assert_eq!(s.max_message_size, TABLE[ch].max_message_size);
                        }
                        _ => prop_assert_eq!(code(got), Err(InvalidParam)),
                    }
                }
                Op::Write { part, id, len } => {
                    counter += 1;
                    let msg = message(counter, len);
                    let want = match m.port(part, id) {
                        Some((2, d)) => {
                            if len > 12 { Err(InvalidConfig) }
                            else if len == 0 { Err(InvalidParam) }
                            else if d == PortDirection::Destination { Err(InvalidMode) }
                            else { m.latest = Some((msg.clone(), now)); Ok(()) }
                        }
                        _ => Err(InvalidParam),
                    };
                    let got = code(parts[part].write_sampling_message(ApexPortId(id), &msg, now));
                    prop_assert_eq!(got, want, "{:?}", op);
                }
                Op::Read { part, id } => {
                    let mut b = [0u8; 12];
                    let got = parts[part].read_sampling_message(ApexPortId(id), &mut b, now);
                    match m.port(part, id) {
                        Some((2, PortDirection::Source)) => prop_assert_eq!(code(got), Err(InvalidMode)),
                        Some((2, _)) => match &m.latest {
                            None => prop_assert_eq!(code(got), Err(NoAction)),
                            Some((msg, t)) => {
                                let r = got.unwrap();
                                prop_assert_eq!(&b[..r.len], &msg[..]);
                                let valid = if now - t <= 100 { Validity::Valid } else { Validity::Invalid };
                                prop_assert_eq!(r.validity, valid);
                            }
                        },
                        _ => prop_assert_eq!(code(got), Err(InvalidParam)),
                    }
                }
            }
        }
    }
}
