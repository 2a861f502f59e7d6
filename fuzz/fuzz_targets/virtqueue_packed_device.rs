//! The packed device side against arbitrary ring memory (a malicious driver that may also
//! rewrite descriptors, event areas and buffers between calls). Checks: no panic; every
//! popped chain is consistent (id in range and not already held, segments inside memory,
//! readable before writable, totals match); every per-chain error names an id that can be
//! returned; a bad id is one out of range or one the device holds; the only fatal errors
//! are the structural ones, after which the queue stays broken; with `IN_ORDER`, chains
//! go back in pop order, in batches.
#![no_main]

use std::collections::VecDeque;

#[path = "common/chain_check.rs"]
mod chain_check;

use arbitrary::Arbitrary;
use chain_check::check_chain;
use libfuzzer_sys::fuzz_target;
use virtqueue::mock::Loopback;
use virtqueue::{DescriptorChain, Error, Features, OwnedMemory, PackedDeviceQueue, SharedMemory};

#[derive(Debug, Arbitrary)]
enum Op {
    Pop,
    /// Overwrite ring or data bytes at an offset from the start of memory.
    Write {
        offset: u16,
        bytes: Vec<u8>,
    },
    /// Return `n` + 1 held chains (the oldest ones with `IN_ORDER`, in one used entry).
    Return {
        n: u8,
        len: u32,
    },
    EnableNotification,
    DisableNotification,
    NeedsNotification,
}

#[derive(Debug, Arbitrary)]
struct Input {
    size_log2: u8,
    event_idx: bool,
    indirect: bool,
    in_order: bool,
    ring: Vec<u8>,
    ops: Vec<Op>,
}

type Q<'a> = PackedDeviceQueue<&'a OwnedMemory, 32, 8>;

fuzz_target!(|input: Input| {
    let size = 1u16 << (input.size_log2 % 6); // 1..=32
    let lb = Loopback::packed(size, 4096);
    let mem = lb.memory();
    let base = mem.base();
    let ring_len = input.ring.len().min(mem.len());
    mem.slice(base, ring_len)
        .unwrap()
        .write_from(0, &input.ring[..ring_len])
        .unwrap();
    let mut f = Features::VERSION_1 | Features::RING_PACKED;
    for (on, bit) in [
        (input.event_idx, Features::RING_EVENT_IDX),
        (input.indirect, Features::INDIRECT_DESC),
        (input.in_order, Features::IN_ORDER),
    ] {
        if on {
            f |= bit;
        }
    }
    let mut q: Q<'_> = PackedDeviceQueue::attach(mem, lb.config(), f).unwrap();
    let mut chain = DescriptorChain::empty();
    // Model: held ids in pop order, with their writable bytes.
    let mut held: VecDeque<(u16, u32)> = VecDeque::new();
    let mut broken = false;
    for op in input.ops.iter().take(256) {
        match op {
            Op::Pop => match q.pop_into(&mut chain) {
                Ok(true) => {
                    assert!(!broken);
                    check_chain(&chain, size);
                    assert!(
                        held.iter().all(|&(h, _)| h != chain.head()),
                        "id popped twice"
                    );
                    let mut buf = vec![0u8; chain.readable_len() as usize];
                    chain.reader(q.memory()).read_exact(&mut buf).unwrap();
                    chain.writer(q.memory()).write(&buf);
                    held.push_back((chain.head(), chain.writable_len()));
                }
                Ok(false) => assert!(!broken),
                Err(e) => check_error(&mut q, e, &mut broken, size, &mut held),
            },
            Op::Write { offset, bytes } => {
                let off = usize::from(*offset) % mem.len();
                let n = bytes.len().min(mem.len() - off);
                mem.slice(base + off as u64, n)
                    .unwrap()
                    .write_from(0, &bytes[..n])
                    .unwrap();
            }
            Op::Return { n, len } => {
                if held.is_empty() {
                    assert!(matches!(
                        q.add_used(0, 0),
                        Err(Error::NotHeld { .. })
                            | Err(Error::NotOldest { .. })
                            | Err(Error::Broken)
                    ));
                    continue;
                }
                let k = usize::from(*n) % held.len();
                if input.in_order {
                    let batch: Vec<(u16, u32)> = held.drain(..=k).collect();
                    let (last, writable) = *batch.last().unwrap();
                    let res = q.add_used_in_order(last, *len);
                    match res {
                        _ if broken => assert_eq!(res, Err(Error::Broken)),
                        Ok(()) => assert!(*len <= writable),
                        Err(e) => {
                            assert_eq!(
                                e,
                                Error::LengthAboveWritable {
                                    id: last,
                                    len: *len,
                                    writable
                                }
                            );
                            // Nothing was returned: back in front, in order.
                            for b in batch.into_iter().rev() {
                                held.push_front(b);
                            }
                        }
                    }
                } else {
                    let (id, writable) = held.remove(k).unwrap();
                    let res = q.add_used(id, *len);
                    match res {
                        _ if broken => assert_eq!(res, Err(Error::Broken)),
                        Ok(()) => assert!(*len <= writable),
                        Err(e) => {
                            assert_eq!(
                                e,
                                Error::LengthAboveWritable {
                                    id,
                                    len: *len,
                                    writable
                                }
                            );
                            q.add_used(id, 0).unwrap();
                        }
                    }
                }
            }
            Op::EnableNotification => match q.enable_notification() {
                Ok(_) => assert!(!broken),
                Err(e) => check_error(&mut q, e, &mut broken, size, &mut held),
            },
            Op::DisableNotification => q.disable_notification(),
            Op::NeedsNotification => match q.needs_notification() {
                Ok(_) => assert!(!broken),
                Err(e) => check_error(&mut q, e, &mut broken, size, &mut held),
            },
        }
    }
});

fn check_error(
    q: &mut Q<'_>,
    e: Error,
    broken: &mut bool,
    size: u16,
    held: &mut VecDeque<(u16, u32)>,
) {
    assert!(!e.to_string().is_empty());
    if *broken {
        assert_eq!(e, Error::Broken);
        return;
    }
    if e.is_fatal() {
        assert!(
            matches!(
                e,
                Error::WrapMismatch { .. } | Error::UnterminatedChain { .. }
            ),
            "unexpected fatal error {e:?}"
        );
        assert!(q.is_broken());
        *broken = true;
        let mut c = DescriptorChain::empty();
        assert_eq!(q.pop_into(&mut c), Err(Error::Broken));
        return;
    }
    assert!(!q.is_broken());
    match e {
        Error::BufferIdOutOfRange { id, size: s } => assert!(id >= s && s == size),
        Error::BufferIdInUse { id } => assert!(held.iter().any(|&(h, _)| h == id)),
        _ => {
            // A per-chain error: the chain is held (length 0 allowed) and can go back.
            let head = e.chain_head().expect("per-chain error names its id");
            assert!(head < size);
            held.push_back((head, 0));
        }
    }
}
