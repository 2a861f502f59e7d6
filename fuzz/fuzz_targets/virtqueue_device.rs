//! The device side against arbitrary ring memory and indices (a malicious driver that
//! may also rewrite the rings between calls). Checks: no panic; every popped chain is
//! consistent (segments inside memory, readable before writable, totals match); every
//! per-chain error names a head that can be returned; a fatal error leaves the queue
//! broken for good; each call does bounded work.
#![no_main]

#[path = "common/chain_check.rs"]
mod chain_check;

use arbitrary::Arbitrary;
use chain_check::check_chain;
use libfuzzer_sys::fuzz_target;
use virtqueue::mock::Loopback;
use virtqueue::{DescriptorChain, DeviceQueue, Error, Features, OwnedMemory, SharedMemory};

#[derive(Debug, Arbitrary)]
enum Op {
    Pop,
    /// Overwrite ring or data bytes at an offset from the start of memory.
    Write {
        offset: u16,
        bytes: Vec<u8>,
    },
    SetAvailIdx(u16),
    EnableNotification,
    DisableNotification,
    NeedsNotification,
}

#[derive(Debug, Arbitrary)]
struct Input {
    size_log2: u8,
    event_idx: bool,
    indirect: bool,
    start: u16,
    ring: Vec<u8>,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let size = 1u16 << (input.size_log2 % 6); // 1..=32
    let lb = Loopback::new(size, 4096);
    let mem = lb.memory();
    let base = mem.base();
    // Initial ring memory: arbitrary.
    let ring_len = input.ring.len().min(mem.len());
    mem.slice(base, ring_len)
        .unwrap()
        .write_from(0, &input.ring[..ring_len])
        .unwrap();
    let mut f = Features::VERSION_1;
    if input.event_idx {
        f |= Features::RING_EVENT_IDX;
    }
    if input.indirect {
        f |= Features::INDIRECT_DESC;
    }
    let mut q: DeviceQueue<&'_ OwnedMemory, 32, 8> =
        DeviceQueue::attach(mem, lb.config(), f).unwrap();
    q.set_indices(input.start, input.start);
    let mut chain = DescriptorChain::empty();
    let mut broken = false;
    for op in input.ops.iter().take(256) {
        match op {
            Op::Pop => match q.pop_into(&mut chain) {
                Ok(true) => {
                    assert!(!broken);
                    check_chain(&chain, size);
                    let mut buf = vec![0u8; chain.readable_len() as usize];
                    chain.reader(q.memory()).read_exact(&mut buf).unwrap();
                    let mut w = chain.writer(q.memory());
                    let n = w.write(&buf);
                    assert!(n as u64 <= u64::from(chain.writable_len()));
                    assert_eq!(w.written() as usize, n);
                    q.add_used(chain.head(), w.written()).unwrap();
                }
                Ok(false) => assert!(!broken),
                Err(e) => check_error(&mut q, e, &mut broken, size),
            },
            Op::Write { offset, bytes } => {
                let off = usize::from(*offset) % mem.len();
                let n = bytes.len().min(mem.len() - off);
                mem.slice(base + off as u64, n)
                    .unwrap()
                    .write_from(0, &bytes[..n])
                    .unwrap();
            }
            Op::SetAvailIdx(v) => {
                let avail = lb.config().avail;
                mem.slice(avail + 2, 2)
                    .unwrap()
                    .write_from(0, &v.to_le_bytes())
                    .unwrap();
            }
            Op::EnableNotification => match q.enable_notification() {
                Ok(_) => assert!(!broken),
                Err(e) => check_error(&mut q, e, &mut broken, size),
            },
            Op::DisableNotification => q.disable_notification(),
            Op::NeedsNotification => match q.needs_notification() {
                Ok(_) => assert!(!broken),
                Err(e) => check_error(&mut q, e, &mut broken, size),
            },
        }
    }
});

fn check_error(
    q: &mut DeviceQueue<&'_ OwnedMemory, 32, 8>,
    e: Error,
    broken: &mut bool,
    size: u16,
) {
    // Display never panics and says something.
    assert!(!e.to_string().is_empty());
    if *broken {
        assert_eq!(e, Error::Broken);
        return;
    }
    if e.is_fatal() {
        assert!(
            matches!(e, Error::AvailIndexJump { .. }),
            "unexpected fatal error {e:?}"
        );
        assert!(q.is_broken());
        *broken = true;
        let mut c = DescriptorChain::empty();
        assert_eq!(q.pop_into(&mut c), Err(Error::Broken));
    } else {
        assert!(!q.is_broken());
        if let Some(head) = e.chain_head() {
            assert!(head < size);
            q.add_used(head, 0).unwrap();
        }
    }
}
