//! The a653rs P4 traits over a partition's ports.
#![cfg(all(feature = "a653rs", feature = "std"))]

mod common;

use std::sync::{Mutex, OnceLock};

use a653rs::bindings::{
    ApexQueuingPortP4, ApexSamplingPortP4, ErrorReturnCode, PortDirection, QueuingDiscipline,
    Validity,
};
use common::*;
use queuing_port::a653::{A653Host, A653Ports, ApexPorts};
use queuing_port::{Partition, Region};

type Ports = Partition<'static, 'static, 4>;

fn partition(p: usize) -> &'static Mutex<Ports> {
    static PARTS: OnceLock<[Mutex<Ports>; 2]> = OnceLock::new();
    let parts = PARTS.get_or_init(|| {
        let owned = Box::leak(Box::new(regions()));
        let regions: &'static [Region<'static>] = Box::leak(
            owned
                .iter()
                .map(|r| r.region())
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        [
            Mutex::new(Partition::new(P1, &TABLE, regions)),
            Mutex::new(Partition::new(P2, &TABLE, regions)),
        ]
    });
    &parts[p]
}

struct Src;
struct Dst;

impl A653Host for Src {
    fn with_ports<R>(f: impl FnOnce(&mut dyn ApexPorts) -> R) -> R {
        f(&mut *partition(0).lock().unwrap())
    }
    fn now() -> u64 {
        1_000
    }
}

impl A653Host for Dst {
    fn with_ports<R>(f: impl FnOnce(&mut dyn ApexPorts) -> R) -> R {
        f(&mut *partition(1).lock().unwrap())
    }
    fn now() -> u64 {
        1_050
    }
}

fn name(s: &str) -> [u8; 32] {
    let mut n = [0u8; 32];
    n[..s.len()].copy_from_slice(s.as_bytes());
    n
}

#[test]
fn a653rs_queuing_and_sampling() {
    type S = A653Ports<Src>;
    type D = A653Ports<Dst>;
    let tx = <S as ApexQueuingPortP4>::create_queuing_port(
        name("q_out"),
        16,
        4,
        PortDirection::Source,
        QueuingDiscipline::Fifo,
    )
    .unwrap();
    let rx = <D as ApexQueuingPortP4>::create_queuing_port(
        name("q_in"),
        16,
        4,
        PortDirection::Destination,
        QueuingDiscipline::Fifo,
    )
    .unwrap();
    assert_eq!(
        <D as ApexQueuingPortP4>::create_queuing_port(
            name("q_in"),
            16,
            4,
            PortDirection::Destination,
            QueuingDiscipline::Fifo
        ),
        Err(ErrorReturnCode::NoAction)
    );
    assert_eq!(
        <S as ApexQueuingPortP4>::create_queuing_port(
            name("q_in"),
            16,
            4,
            PortDirection::Destination,
            QueuingDiscipline::Fifo
        ),
        Err(ErrorReturnCode::InvalidConfig)
    );
    // Precedence: too long before the time-out check; bad time-out before sending.
    assert_eq!(
        S::send_queuing_message(tx, &[0; 17], -5),
        Err(ErrorReturnCode::InvalidConfig)
    );
    assert_eq!(
        S::send_queuing_message(tx, &[1, 2, 3], -5),
        Err(ErrorReturnCode::InvalidParam)
    );
    // Ids are scoped per partition: both first ports are id 1, an unknown id is invalid.
    assert_eq!(rx, tx);
    assert_eq!(
        S::send_queuing_message(99, &[1], 0),
        Err(ErrorReturnCode::InvalidParam)
    );
    S::send_queuing_message(tx, b"hello", 0).unwrap();
    let st = S::get_queuing_port_status(tx).unwrap();
    assert_eq!(
        (st.nb_message, st.max_nb_message, st.max_message_size),
        (1, 4, 16)
    );
    let mut buf = [0u8; 16];
    // SAFETY: the buffer holds the maximum message size.
    let (len, overflow) = unsafe { D::receive_queuing_message(rx, 0, &mut buf) }.unwrap();
    assert_eq!((&buf[..len as usize], overflow), (&b"hello"[..], false));
    // SAFETY: as above.
    let e = unsafe { D::receive_queuing_message(rx, 0, &mut buf) };
    assert_eq!(e, Err(ErrorReturnCode::NotAvailable));
    assert_eq!(S::clear_queuing_port(tx), Err(ErrorReturnCode::InvalidMode));
    D::clear_queuing_port(rx).unwrap();

    let w = <S as ApexSamplingPortP4>::create_sampling_port(
        name("s_out"),
        12,
        PortDirection::Source,
        100,
    )
    .unwrap();
    let r = <D as ApexSamplingPortP4>::create_sampling_port(
        name("s_in"),
        12,
        PortDirection::Destination,
        100,
    )
    .unwrap();
    let mut sbuf = [0u8; 12];
    // SAFETY: the buffer holds the maximum message size.
    let empty = unsafe { D::read_sampling_message(r, &mut sbuf) };
    assert_eq!(empty, Err(ErrorReturnCode::NoAction));
    S::write_sampling_message(w, b"sample").unwrap();
    // SAFETY: as above.
    let (v, len) = unsafe { D::read_sampling_message(r, &mut sbuf) }.unwrap();
    assert_eq!(
        (v, &sbuf[..len as usize]),
        (Validity::Valid, &b"sample"[..])
    );
}
