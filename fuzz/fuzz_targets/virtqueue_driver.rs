//! The driver side against arbitrary used-ring writes (a malicious device). Checks: no
//! panic; every accepted used buffer is an outstanding chain returned once with a length
//! within its writable bytes; the free-descriptor count always matches the model; any
//! violation is a typed fatal error and the queue stays broken.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use virtqueue::mock::Loopback;
use virtqueue::{Buffer, DriverQueue, Error, Features, OwnedMemory};

#[derive(Debug, Arbitrary)]
enum Op {
    Add {
        readable: u8,
        writable: u8,
        len: u16,
    },
    Publish,
    ShouldNotify,
    /// The device writes a used element (any id, any length) and maybe publishes.
    Used {
        id: u32,
        len: u32,
        publish: bool,
    },
    /// The device writes any used index.
    SetUsedIdx(u16),
    /// The device writes its notification fields.
    DeviceFields {
        flags: u16,
        avail_event: u16,
    },
    PopUsed,
    EnableNotifications,
    DisableNotifications,
}

#[derive(Debug, Arbitrary)]
struct Input {
    event_idx: bool,
    start: u16,
    ops: Vec<Op>,
}

const SIZE: u16 = 16;

fuzz_target!(|input: Input| {
    let lb = Loopback::new(SIZE, 4096);
    let mut f = Features::VERSION_1;
    if input.event_idx {
        f |= Features::RING_EVENT_IDX;
    }
    let mut q: DriverQueue<'_, OwnedMemory, 16> =
        DriverQueue::with_start_index(lb.memory(), lb.config(), f, input.start).unwrap();
    let mut dev = lb.mock_device();
    // Model: per head, (descriptors, writable bytes) of outstanding chains.
    let mut outstanding: [Option<(u16, u32)>; 16] = [None; 16];
    let mut broken = false;
    for op in input.ops.iter().take(512) {
        match *op {
            Op::Add {
                readable,
                writable,
                len,
            } => {
                let r =
                    vec![Buffer::new(lb.data_addr(0), u32::from(len)); usize::from(readable % 5)];
                let w =
                    vec![Buffer::new(lb.data_addr(64), u32::from(len)); usize::from(writable % 5)];
                match q.add(&r, &w) {
                    Ok(t) => {
                        assert!(!broken);
                        let slot = &mut outstanding[usize::from(t.0)];
                        assert!(slot.is_none(), "token reused while outstanding");
                        *slot = Some(((r.len() + w.len()) as u16, u32::from(len) * w.len() as u32));
                    }
                    Err(Error::Broken) => assert!(broken),
                    Err(Error::EmptyChain) => assert!(r.is_empty() && w.is_empty()),
                    Err(Error::QueueFull { needed, free }) => {
                        assert_eq!(usize::from(needed), r.len() + w.len());
                        assert!(needed > free);
                    }
                    Err(e) => panic!("unexpected add error {e:?}"),
                }
            }
            Op::Publish => q.publish(),
            Op::ShouldNotify => {
                let _ = q.should_notify();
            }
            Op::Used { id, len, publish } => {
                dev.push_used(id, len);
                if publish {
                    dev.publish();
                }
            }
            Op::SetUsedIdx(v) => dev.set_used_idx(v),
            Op::DeviceFields { flags, avail_event } => {
                dev.set_used_flags(flags);
                dev.set_avail_event(avail_event);
            }
            Op::PopUsed => match q.pop_used() {
                Ok(Some(u)) => {
                    assert!(!broken);
                    let (_, writable) = outstanding[usize::from(u.token.0)]
                        .take()
                        .expect("returned chain was outstanding");
                    assert!(u.len <= writable);
                }
                Ok(None) => assert!(!broken),
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    if broken {
                        assert_eq!(e, Error::Broken);
                    } else {
                        assert!(e.is_fatal(), "non-fatal error from pop_used: {e:?}");
                        broken = true;
                    }
                    assert!(q.is_broken());
                }
            },
            Op::EnableNotifications => {
                let _ = q.enable_used_notifications();
            }
            Op::DisableNotifications => q.disable_used_notifications(),
        }
        let in_flight: u16 = outstanding.iter().flatten().map(|(d, _)| d).sum();
        assert_eq!(q.free_descriptors() + in_flight, SIZE);
    }
});
