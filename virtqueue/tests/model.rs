//! Model test: random interleavings of driver add / publish, device pop / complete (in any
//! order, or with `IN_ORDER` in order and in batches of one used entry) and driver
//! reclaim, over split rings (indices starting just below 65535 so they wrap) and packed
//! rings (small sizes, so that positions and both wrap counters go round many times).
//! Every buffer must reach the device once and unchanged, and come back to the driver
//! once with the device's length and bytes.

use std::collections::VecDeque;

use proptest::prelude::*;
use virtqueue::mock::Loopback;
use virtqueue::{
    AnyDeviceQueue, AnyDriverQueue, Buffer, DeviceQueue, DriverQueue, Error, Features, OwnedMemory,
    Token,
};

const MAX: u16 = 16;
const SLOT: usize = 256;

#[derive(Debug, Clone)]
enum Op {
    Add {
        rlen: u8,
        wsegs: u8,
        wlen: u8,
        seed: u8,
    },
    Publish,
    Pop,
    Complete {
        pick: u8,
        frac: u8,
    },
    Reclaim,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u8..64, 0u8..3, 1u8..64, any::<u8>())
            .prop_map(|(rlen, wsegs, wlen, seed)| Op::Add { rlen, wsegs, wlen, seed }),
        1 => Just(Op::Publish),
        2 => Just(Op::Pop),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(pick, frac)| Op::Complete { pick, frac }),
        2 => Just(Op::Reclaim),
    ]
}

struct Posted {
    token: Token,
    payload: Vec<u8>,
    writable: u32,
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    packed: bool,
    in_order: bool,
    event_idx: bool,
    size: u16,
    /// Split only: where both indices start.
    start: u16,
}

fn run(setup: Setup, ops: &[Op]) -> Result<(), TestCaseError> {
    const SIZE: u16 = MAX;
    let size = setup.size;
    let lb = Loopback::with_layout(setup.packed, size, usize::from(SIZE) * SLOT);
    let mut f = Features::VERSION_1;
    if setup.event_idx {
        f |= Features::RING_EVENT_IDX;
    }
    if setup.in_order {
        f |= Features::IN_ORDER;
    }
    if setup.packed {
        f |= Features::RING_PACKED;
    }
    let (mut drv, mut dev): (
        AnyDriverQueue<'_, OwnedMemory, 16>,
        AnyDeviceQueue<&'_ OwnedMemory, 16, 4>,
    ) = if setup.packed {
        (
            AnyDriverQueue::new(lb.memory(), lb.config(), f).unwrap(),
            AnyDeviceQueue::attach(lb.memory(), lb.config(), f).unwrap(),
        )
    } else {
        let drv = DriverQueue::with_start_index(lb.memory(), lb.config(), f, setup.start).unwrap();
        let mut dev = DeviceQueue::attach(lb.memory(), lb.config(), f).unwrap();
        dev.set_indices(setup.start, setup.start);
        (AnyDriverQueue::Split(drv), AnyDeviceQueue::Split(dev))
    };

    let mut unpublished: VecDeque<Posted> = VecDeque::new();
    let mut in_ring: VecDeque<Posted> = VecDeque::new();
    let mut held: Vec<(u16, u32)> = Vec::new(); // popped by the device: (head, writable)
    let mut done: VecDeque<(Token, u32, Vec<u8>)> = VecDeque::new(); // completed, expected back
    let mut free_descs = size;
    let mut slot_of: [Option<usize>; 16] = [None; 16];
    let mut free_slots: Vec<usize> = (0..usize::from(size)).collect();
    let mut slot_by_head: [usize; 16] = [0; 16];
    let mut descs_of = [0u16; 16];

    for op in ops {
        match *op {
            Op::Add {
                rlen,
                wsegs,
                wlen,
                seed,
            } => {
                let needed = 1 + u16::from(wsegs);
                let payload: Vec<u8> = (0..rlen)
                    .map(|i| seed.wrapping_add(i.wrapping_mul(13)))
                    .collect();
                // Every chain has its own data slot (at most SIZE chains are in flight).
                let slot = free_slots.last().copied().unwrap_or(0);
                let base = lb.data_addr(slot * SLOT);
                let writable: Vec<Buffer> = (0..u64::from(wsegs))
                    .map(|k| Buffer::new(base + 128 + k * u64::from(wlen), u32::from(wlen)))
                    .collect();
                if needed <= free_descs {
                    // A slot is free (a full ring leaves none; the add then fails).
                    lb.write(base, &payload);
                }
                let res = drv.add(&[Buffer::new(base, u32::from(rlen))], &writable);
                if needed > free_descs {
                    prop_assert_eq!(
                        res,
                        Err(Error::QueueFull {
                            needed,
                            free: free_descs
                        })
                    );
                    continue;
                }
                let token = res.unwrap();
                free_slots.pop();
                let t = usize::from(token.0);
                prop_assert!(slot_of[t].is_none(), "token handed out twice");
                slot_of[t] = Some(slot);
                descs_of[t] = needed;
                free_descs -= needed;
                let writable = u32::from(wlen) * u32::from(wsegs);
                unpublished.push_back(Posted {
                    token,
                    payload,
                    writable,
                });
            }
            Op::Publish => {
                drv.publish();
                in_ring.extend(unpublished.drain(..));
            }
            Op::Pop => {
                let got = dev.pop().unwrap();
                match in_ring.pop_front() {
                    None => prop_assert!(got.is_none()),
                    Some(p) => {
                        let chain = got.expect("published chain must be delivered");
                        prop_assert_eq!(chain.head(), p.token.0);
                        prop_assert_eq!(chain.writable_len(), p.writable);
                        let mut buf = vec![0u8; chain.readable_len() as usize];
                        chain.reader(dev.memory()).read_exact(&mut buf).unwrap();
                        prop_assert_eq!(&buf, &p.payload);
                        held.push((chain.head(), p.writable));
                        slot_by_head[usize::from(chain.head())] =
                            slot_of[usize::from(p.token.0)].unwrap();
                    }
                }
            }
            Op::Complete { pick, frac } => {
                if held.is_empty() {
                    continue;
                }
                let k = usize::from(pick) % held.len();
                if setup.in_order {
                    // The k + 1 oldest chains, with one used entry naming the last.
                    let batch: Vec<(u16, u32)> = held.drain(..=k).collect();
                    let (head, writable) = *batch.last().unwrap();
                    let len = (u64::from(writable) * u64::from(frac) / 255) as u32;
                    let resp: Vec<u8> = (0..len).map(|i| (i as u8) ^ (head as u8)).collect();
                    let base = lb.data_addr(slot_by_head[usize::from(head)] * SLOT + 128);
                    lb.write(base, &resp);
                    dev.add_used_in_order(head, len).unwrap();
                    for &(h, _) in &batch[..k] {
                        done.push_back((Token(h), 0, Vec::new()));
                    }
                    done.push_back((Token(head), len, resp));
                    continue;
                }
                let (head, writable) = held.remove(k);
                let len = (u64::from(writable) * u64::from(frac) / 255) as u32;
                let resp: Vec<u8> = (0..len).map(|i| (i as u8) ^ (head as u8)).collect();
                let base = lb.data_addr(slot_by_head[usize::from(head)] * SLOT + 128);
                lb.write(base, &resp);
                dev.add_used(head, len).unwrap();
                done.push_back((Token(head), len, resp));
            }
            Op::Reclaim => {
                let got = drv.pop_used().unwrap();
                match done.pop_front() {
                    None => prop_assert!(got.is_none()),
                    Some((token, len, resp)) => {
                        let u = got.expect("completed chain must come back");
                        prop_assert_eq!(u.token, token);
                        prop_assert_eq!(u.len, len);
                        let t = usize::from(token.0);
                        let slot = slot_of[t].take().expect("returned once");
                        let mut back = vec![0u8; len as usize];
                        lb.read(lb.data_addr(slot * SLOT + 128), &mut back);
                        prop_assert_eq!(back, resp);
                        free_slots.push(slot);
                        free_descs += descs_of[t];
                    }
                }
            }
        }
        prop_assert_eq!(drv.free_descriptors(), free_descs);
    }
    Ok(())
}

/// Miri interprets every instruction: shorter interleavings there.
const OPS: usize = if cfg!(miri) { 40 } else { 300 };

proptest! {
    #[test]
    fn every_buffer_delivered_once_unchanged(
        start in 65500u16..=65535,
        event_idx in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..OPS),
    ) {
        let setup = Setup { packed: false, in_order: false, event_idx, size: MAX, start };
        run(setup, &ops)?;
    }

    #[test]
    fn packed_every_buffer_delivered_once_unchanged(
        size in prop_oneof![Just(4u16), Just(8), Just(16)],
        event_idx in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..OPS),
    ) {
        let setup = Setup { packed: true, in_order: false, event_idx, size, start: 0 };
        run(setup, &ops)?;
    }

    #[test]
    fn in_order_batches_delivered_once_unchanged(
        packed in any::<bool>(),
        size in prop_oneof![Just(4u16), Just(16)],
        start in 65500u16..=65535,
        ops in proptest::collection::vec(op(), 1..OPS),
    ) {
        let setup = Setup { packed, in_order: true, event_idx: true, size, start };
        run(setup, &ops)?;
    }
}
