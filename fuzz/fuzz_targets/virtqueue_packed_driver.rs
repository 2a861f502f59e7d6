//! The packed driver side against a malicious device that writes arbitrary used
//! descriptors (any id, length and wrap bits, anywhere in the ring) and event suppression
//! structures. Checks: no panic; every accepted used buffer is an outstanding chain
//! returned once with a length within its writable bytes (0 for buffers inferred from an
//! `IN_ORDER` batch); the free-descriptor count always matches the model; every violation
//! is a typed fatal error and the queue stays broken.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use virtqueue::layout::packed::{PackedDescFlags, PackedDescriptor};
use virtqueue::mock::Loopback;
use virtqueue::{Buffer, Error, Features, OwnedMemory, PackedDriverQueue};

#[derive(Debug, Arbitrary)]
enum Op {
    Add {
        readable: u8,
        writable: u8,
        len: u16,
    },
    Publish,
    ShouldNotify,
    /// The device writes a descriptor (any offset, id, length, flags).
    Raw {
        off: u8,
        id: u16,
        len: u32,
        flags: u16,
    },
    /// The device writes a well-formed used descriptor at the driver's next used offset.
    Used {
        id: u16,
        len: u32,
    },
    DeviceEvent {
        off_wrap: u16,
        flags: u16,
    },
    PopUsed,
    EnableNotifications,
    DisableNotifications,
    Reset,
}

#[derive(Debug, Arbitrary)]
struct Input {
    size_log2: u8,
    event_idx: bool,
    in_order: bool,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let size = 1u16 << (input.size_log2 % 5); // 1..=16
    let lb = Loopback::packed(size, 4096);
    let mut f = Features::VERSION_1 | Features::RING_PACKED;
    if input.event_idx {
        f |= Features::RING_EVENT_IDX;
    }
    if input.in_order {
        f |= Features::IN_ORDER;
    }
    let mut q: PackedDriverQueue<'_, OwnedMemory, 16> = lb.packed_driver(f).unwrap();
    let raw = lb.mock_packed();
    // Model: per id, (descriptors, writable bytes) of outstanding chains; the next used
    // position as the driver will read it (offset, wrap).
    let mut outstanding: [Option<(u16, u32)>; 16] = [None; 16];
    let mut next_used = (0u16, true);
    let mut broken = false;
    for op in input.ops.iter().take(512) {
        match *op {
            Op::Add {
                readable,
                writable,
                len,
            } => {
                let r: Vec<Buffer> = (0..readable % 4)
                    .map(|i| Buffer::new(lb.data_addr(64 * usize::from(i)), u32::from(len)))
                    .collect();
                let w: Vec<Buffer> = (0..writable % 4)
                    .map(|i| Buffer::new(lb.data_addr(1024 + 64 * usize::from(i)), u32::from(len)))
                    .collect();
                let free = q.free_descriptors();
                match q.add(&r, &w) {
                    Ok(t) => {
                        assert!(!broken);
                        let slot = &mut outstanding[usize::from(t.0)];
                        assert!(t.0 < size && slot.is_none(), "id handed out twice");
                        *slot = Some(((r.len() + w.len()) as u16, u32::from(len) * w.len() as u32));
                    }
                    Err(Error::Broken) => assert!(broken),
                    Err(Error::EmptyChain) => assert!(r.is_empty() && w.is_empty()),
                    Err(Error::QueueFull { needed, free: f2 }) => {
                        assert_eq!(f2, free);
                        assert!(usize::from(needed) > usize::from(free));
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            Op::Publish => q.publish(),
            Op::ShouldNotify => {
                q.should_notify();
            }
            Op::Raw {
                off,
                id,
                len,
                flags,
            } => {
                let d = PackedDescriptor::new(0, len, id, PackedDescFlags::from_bits_retain(flags));
                raw.write_desc(u16::from(off) % size, d);
            }
            Op::Used { id, len } => raw.push_used(next_used.0, next_used.1, id, len),
            Op::DeviceEvent { off_wrap, flags } => raw.set_device_event(off_wrap, flags),
            Op::PopUsed => match q.pop_used() {
                Ok(Some(u)) => {
                    assert!(!broken);
                    let (descs, writable) = outstanding[usize::from(u.token.0)]
                        .take()
                        .expect("returned buffer was outstanding");
                    assert!(u.len <= writable);
                    let pos = u32::from(next_used.0) + u32::from(descs);
                    next_used = if pos >= u32::from(size) {
                        ((pos - u32::from(size)) as u16, !next_used.1)
                    } else {
                        (pos as u16, next_used.1)
                    };
                }
                Ok(None) => assert!(!broken),
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    if broken {
                        assert_eq!(e, Error::Broken);
                    } else {
                        assert!(e.is_fatal(), "{e:?}");
                        assert!(matches!(
                            e,
                            Error::UsedIdOutOfRange { .. }
                                | Error::UsedIdNotOutstanding { .. }
                                | Error::UsedLengthTooLong { .. }
                        ));
                        broken = true;
                    }
                    assert!(q.is_broken());
                }
            },
            Op::EnableNotifications => {
                q.enable_used_notifications();
            }
            Op::DisableNotifications => q.disable_used_notifications(),
            Op::Reset => {
                q.reset();
                outstanding = [None; 16];
                next_used = (0, true);
                broken = false;
            }
        }
        let in_flight: u16 = outstanding.iter().flatten().map(|&(d, _)| d).sum();
        if !broken {
            assert_eq!(q.free_descriptors(), size - in_flight);
        }
    }
});
