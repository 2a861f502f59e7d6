//! A small channel table shared by the integration tests.
#![allow(dead_code)]

use queuing_port::mock::OwnedRegion;
use queuing_port::{ApexPortConfig, ChannelConfig, ChannelKind, PartitionId, QueuingDiscipline};

pub const P1: PartitionId = PartitionId(1);
pub const P2: PartitionId = PartitionId(2);
pub const P3: PartitionId = PartitionId(3);

const fn port(
    partition: PartitionId,
    name: &'static str,
    discipline: QueuingDiscipline,
) -> ApexPortConfig {
    ApexPortConfig {
        partition,
        name,
        discipline,
    }
}

static Q_DEST: [ApexPortConfig; 1] = [port(P2, "q_in", QueuingDiscipline::Fifo)];
static D_DEST: [ApexPortConfig; 1] = [port(P2, "d_in", QueuingDiscipline::Priority)];
static S_DEST: [ApexPortConfig; 2] = [
    port(P2, "s_in", QueuingDiscipline::Fifo),
    port(P3, "s_in", QueuingDiscipline::Fifo),
];

/// Channel 0: queuing 16 B x 4, P1 `q_out` → P2 `q_in`.
/// Channel 1: queuing 8 B x 2, drop on full, P1 `d_out` → P2 `d_in` (PRIORITY).
/// Channel 2: sampling 12 B, refresh 100 ns, P1 `s_out` → P2 `s_in`, P3 `s_in`.
pub static TABLE: [ChannelConfig; 3] = [
    ChannelConfig {
        kind: ChannelKind::Queuing {
            max_nb_message: 4,
            drop_on_full: false,
        },
        max_message_size: 16,
        source: port(P1, "q_out", QueuingDiscipline::Fifo),
        destinations: &Q_DEST,
    },
    ChannelConfig {
        kind: ChannelKind::Queuing {
            max_nb_message: 2,
            drop_on_full: true,
        },
        max_message_size: 8,
        source: port(P1, "d_out", QueuingDiscipline::Fifo),
        destinations: &D_DEST,
    },
    ChannelConfig {
        kind: ChannelKind::Sampling {
            refresh_period: 100,
        },
        max_message_size: 12,
        source: port(P1, "s_out", QueuingDiscipline::Fifo),
        destinations: &S_DEST,
    },
];

/// Region words big enough for every channel of [`TABLE`].
pub const WORDS: usize = 128;

/// One formatted region per channel of [`TABLE`].
pub fn regions() -> [OwnedRegion<WORDS>; 3] {
    core::array::from_fn(|i| OwnedRegion::formatted(&TABLE[i].geometry()))
}

/// Message `n` of length `len`: every byte says `n` and its position.
pub fn message(n: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (n as u8).wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

/// Proptest cases: 256 natively; under Miri the environment's `PROPTEST_CASES` (the test
/// command sets 4), which keeps the Miri run of the crate short.
pub fn cases() -> u32 {
    if cfg!(miri) {
        proptest::test_runner::Config::default().cases
    } else {
        256
    }
}
