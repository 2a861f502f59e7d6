//! The device side against a malicious driver: one test per validation rule. Each asserts
//! the typed error and that the queue still serves the next (good) chain, except for the
//! fatal index jump, which must leave the queue broken.

use virtqueue::layout::{DescFlags, Descriptor, QueueConfig};
use virtqueue::mock::{Loopback, MockDriver};
use virtqueue::{DeviceQueue, Error, Features, OwnedMemory, SharedMemory};

const F: Features = Features::VERSION_1.union(Features::INDIRECT_DESC);
const N: DescFlags = DescFlags::NEXT;
const W: DescFlags = DescFlags::WRITE;
const R: DescFlags = DescFlags::empty();

type Dev<'a> = DeviceQueue<&'a OwnedMemory, 16, 8>;

fn setup(lb: &Loopback) -> (MockDriver<'_>, Dev<'_>) {
    (lb.mock_driver(), lb.device::<16, 8>(F).unwrap())
}

/// Post a good chain at descriptors 14..=15 after the attack, and check it is served intact.
fn assert_still_serves(lb: &Loopback, drv: &mut MockDriver<'_>, dev: &mut Dev<'_>) {
    let addr = lb.data_addr(4000);
    lb.write(addr, b"good chain");
    drv.add_chain(14, &[(addr, 10, false), (addr + 16, 32, true)]);
    drv.publish();
    let chain = dev.pop().expect("queue still works").expect("good chain");
    assert_eq!(chain.head(), 14);
    let mut buf = [0u8; 10];
    chain.reader(dev.memory()).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"good chain");
    assert_eq!(chain.writable_len(), 32);
    dev.add_used(14, 5).unwrap();
    assert_eq!(drv.used_elem(drv.used_idx().wrapping_sub(1)), (14, 5));
}

/// Pop once, expect `want`, hand the chain back if it has a valid head, then check the
/// queue still serves.
fn expect_chain_error(lb: &Loopback, mut drv: MockDriver<'_>, mut dev: Dev<'_>, want: Error) {
    drv.publish();
    let err = dev.pop().unwrap_err();
    assert_eq!(err, want);
    assert!(!err.is_fatal());
    assert!(!dev.is_broken());
    if let Some(head) = err.chain_head() {
        dev.add_used(head, 0).unwrap();
    }
    assert_still_serves(lb, &mut drv, &mut dev);
}

#[test]
fn avail_index_jump_is_fatal_and_sticky() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, mut dev) = setup(&lb);
    drv.set_avail_idx(17);
    assert_eq!(
        dev.pop().unwrap_err(),
        Error::AvailIndexJump {
            next: 0,
            published: 17
        }
    );
    assert!(dev.is_broken());
    drv.set_avail_idx(1);
    assert_eq!(dev.pop().unwrap_err(), Error::Broken);
    assert_eq!(dev.add_used(0, 0).unwrap_err(), Error::Broken);
    // A second queue in the same memory is not affected.
    let other = QueueConfig::contiguous(lb.data_addr(0), 16);
    let mut d2 = MockDriver::new(lb.memory(), other).unwrap();
    let mut q2: Dev<'_> = DeviceQueue::attach(lb.memory(), other, F).unwrap();
    d2.add_chain(0, &[(lb.data_addr(4096), 8, false)]);
    d2.publish();
    assert_eq!(q2.pop().unwrap().unwrap().readable_len(), 8);
}

#[test]
fn a_full_ring_is_not_a_jump() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, mut dev) = setup(&lb);
    for i in 0..16 {
        drv.add_chain(i, &[(lb.data_addr(usize::from(i) * 8), 8, false)]);
    }
    drv.publish();
    assert_eq!(dev.pending().unwrap(), 16);
    for i in 0..16 {
        assert_eq!(dev.pop().unwrap().unwrap().head(), i);
    }
    assert!(dev.pop().unwrap().is_none());
}

#[test]
fn head_out_of_range() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    drv.push_avail(16);
    expect_chain_error(&lb, drv, dev, Error::HeadOutOfRange { head: 16, size: 16 });
}

#[test]
fn next_out_of_range() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    drv.write_desc(0, Descriptor::new(lb.data_addr(0), 8, N, 40));
    drv.push_avail(0);
    expect_chain_error(
        &lb,
        drv,
        dev,
        Error::NextOutOfRange {
            head: 0,
            next: 40,
            table_len: 16,
        },
    );
}

#[test]
fn loop_in_the_table() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let a = lb.data_addr(0);
    drv.write_desc(2, Descriptor::new(a, 8, N, 3));
    drv.write_desc(3, Descriptor::new(a, 8, N, 4));
    drv.write_desc(4, Descriptor::new(a, 8, N, 3));
    drv.push_avail(2);
    expect_chain_error(&lb, drv, dev, Error::ChainLoop { head: 2, index: 3 });
}

#[test]
fn self_loop() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    drv.write_desc(5, Descriptor::new(lb.data_addr(0), 8, N, 5));
    drv.push_avail(5);
    expect_chain_error(&lb, drv, dev, Error::ChainLoop { head: 5, index: 5 });
}

/// Loop detection stamps descriptors with a 16-bit generation per walk of a longer chain;
/// across the generation wrap no stale stamp may fake a loop, and loops are still found.
#[test]
#[cfg_attr(miri, ignore = "90 000 pops: too slow under Miri")]
fn loop_detection_across_the_generation_wrap() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, mut dev) = setup(&lb);
    let a = lb.data_addr(0);
    // Chain 0 -> 1 -> 2 and the one-descriptor chain 3 (one walk stamps, one does not).
    drv.write_desc(0, Descriptor::new(a, 8, N, 1));
    drv.write_desc(1, Descriptor::new(a + 8, 8, N, 2));
    drv.write_desc(2, Descriptor::new(a + 16, 8, W, 0));
    drv.write_desc(3, Descriptor::new(a, 8, R, 0));
    for round in 0..90_000u32 {
        let head = if round % 8 == 7 { 3 } else { 0 };
        drv.push_avail(head);
        drv.publish();
        let chain = dev.pop().unwrap().unwrap();
        assert_eq!(chain.head(), head);
        assert_eq!(chain.segments().len(), if head == 0 { 3 } else { 1 });
        dev.add_used(head, 0).unwrap();
    }
    // Now 0 -> 1 -> 2 -> 1.
    drv.write_desc(2, Descriptor::new(a + 16, 8, W | N, 1));
    drv.push_avail(0);
    expect_chain_error(&lb, drv, dev, Error::ChainLoop { head: 0, index: 1 });
}

#[test]
fn indirect_chain_longer_than_the_queue() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    // 17 entries in an indirect table of a 16-entry queue.
    drv.write_desc(
        0,
        Descriptor::new(lb.data_addr(0), 17 * 16, DescFlags::INDIRECT, 0),
    );
    drv.push_avail(0);
    expect_chain_error(
        &lb,
        drv,
        dev,
        Error::ChainTooLong {
            head: 0,
            len: 17,
            size: 16,
        },
    );
}

#[test]
fn more_segments_than_the_chain_capacity() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let bufs: Vec<_> = (0..9).map(|i| (lb.data_addr(i * 8), 8, false)).collect();
    drv.add_chain(0, &bufs);
    expect_chain_error(
        &lb,
        drv,
        dev,
        Error::TooManySegments {
            head: 0,
            capacity: 8,
        },
    );
}

#[test]
fn buffer_outside_memory() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let end = lb.data_addr(lb.data_len());
    // Straddles the end of memory by one byte.
    drv.add_chain(0, &[(end - 7, 8, false)]);
    expect_chain_error(
        &lb,
        drv,
        dev,
        Error::BufferOutOfMemory {
            head: 0,
            addr: end - 7,
            len: 8,
        },
    );
}

#[test]
fn buffer_address_wraps() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    drv.add_chain(0, &[(u64::MAX - 3, 8, true)]);
    expect_chain_error(
        &lb,
        drv,
        dev,
        Error::BufferOutOfMemory {
            head: 0,
            addr: u64::MAX - 3,
            len: 8,
        },
    );
}

#[test]
fn writable_before_readable() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let a = lb.data_addr(0);
    drv.add_chain(0, &[(a, 8, false), (a, 8, true), (a, 8, false)]);
    expect_chain_error(
        &lb,
        drv,
        dev,
        Error::ReadableAfterWritable {
            head: 0,
            position: 2,
        },
    );
}

#[test]
fn more_than_4_gib() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let a = lb.data_addr(0);
    drv.add_chain(0, &[(a, 16, false), (a, u32::MAX, true)]);
    expect_chain_error(&lb, drv, dev, Error::ChainBytesOverflow { head: 0 });
}

#[test]
fn exactly_the_largest_chain_is_no_overflow() {
    // Both directions summing to u32::MAX bytes pass the size rule and fail only where
    // the memory ends.
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let a = lb.data_addr(0);
    drv.add_chain(0, &[(a, 16, false), (a, u32::MAX - 16, true)]);
    let want = Error::BufferOutOfMemory {
        head: 0,
        addr: a,
        len: u32::MAX - 16,
    };
    expect_chain_error(&lb, drv, dev, want);
}

#[test]
fn indirect_not_negotiated() {
    let lb = Loopback::new(16, 8192);
    let mut drv = lb.mock_driver();
    let dev = lb.device::<16, 8>(Features::VERSION_1).unwrap();
    drv.write_desc(
        0,
        Descriptor::new(lb.data_addr(0), 32, DescFlags::INDIRECT, 0),
    );
    drv.push_avail(0);
    expect_chain_error(&lb, drv, dev, Error::IndirectNotNegotiated { head: 0 });
}

#[test]
fn indirect_with_next_or_inside_a_chain() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let a = lb.data_addr(0);
    drv.write_desc(0, Descriptor::new(a, 32, DescFlags::INDIRECT | N, 1));
    drv.push_avail(0);
    expect_chain_error(&lb, drv, dev, Error::IndirectInChain { head: 0 });

    let (mut drv, dev) = setup(&lb);
    drv.write_desc(0, Descriptor::new(a, 8, N, 1));
    drv.write_desc(1, Descriptor::new(a, 32, DescFlags::INDIRECT, 0));
    drv.push_avail(0);
    expect_chain_error(&lb, drv, dev, Error::IndirectInChain { head: 0 });
}

#[test]
fn indirect_length() {
    for len in [0, 24, 17] {
        let lb = Loopback::new(16, 8192);
        let (mut drv, dev) = setup(&lb);
        drv.write_desc(
            0,
            Descriptor::new(lb.data_addr(0), len, DescFlags::INDIRECT, 0),
        );
        drv.push_avail(0);
        expect_chain_error(&lb, drv, dev, Error::IndirectLength { head: 0, len });
    }
}

#[test]
fn indirect_table_outside_memory() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    drv.write_desc(0, Descriptor::new(0x10, 32, DescFlags::INDIRECT, 0));
    drv.push_avail(0);
    expect_chain_error(
        &lb,
        drv,
        dev,
        Error::BufferOutOfMemory {
            head: 0,
            addr: 0x10,
            len: 32,
        },
    );
}

fn write_table(lb: &Loopback, at: u64, descs: &[Descriptor]) {
    for (i, d) in descs.iter().enumerate() {
        lb.write(at + 16 * i as u64, zerocopy::IntoBytes::as_bytes(d));
    }
}

#[test]
fn nested_indirect() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let t = lb.data_addr(1024);
    write_table(
        &lb,
        t,
        &[
            Descriptor::new(lb.data_addr(0), 8, R | N, 1),
            Descriptor::new(t, 32, DescFlags::INDIRECT, 0),
        ],
    );
    drv.write_desc(0, Descriptor::new(t, 32, DescFlags::INDIRECT, 0));
    drv.push_avail(0);
    expect_chain_error(&lb, drv, dev, Error::NestedIndirect { head: 0 });
}

#[test]
fn indirect_loop_and_next_out_of_table() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, dev) = setup(&lb);
    let t = lb.data_addr(1024);
    let a = lb.data_addr(0);
    write_table(
        &lb,
        t,
        &[Descriptor::new(a, 8, N, 1), Descriptor::new(a, 8, N, 0)],
    );
    drv.write_desc(0, Descriptor::new(t, 32, DescFlags::INDIRECT, 0));
    drv.push_avail(0);
    expect_chain_error(&lb, drv, dev, Error::ChainLoop { head: 0, index: 0 });

    let (mut drv, dev) = setup(&lb);
    write_table(
        &lb,
        t,
        &[Descriptor::new(a, 8, N, 2), Descriptor::new(a, 8, N, 0)],
    );
    drv.write_desc(0, Descriptor::new(t, 32, DescFlags::INDIRECT, 0));
    drv.push_avail(0);
    expect_chain_error(
        &lb,
        drv,
        dev,
        Error::NextOutOfRange {
            head: 0,
            next: 2,
            table_len: 2,
        },
    );
}

#[test]
fn good_indirect_chain_reads_and_writes() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, mut dev) = setup(&lb);
    let t = lb.data_addr(1024);
    let a = lb.data_addr(0);
    lb.write(a, b"hello ");
    lb.write(a + 100, b"world");
    write_table(
        &lb,
        t,
        &[
            Descriptor::new(a, 6, R | N, 1),
            Descriptor::new(a + 100, 5, R | N, 2),
            Descriptor::new(a + 200, 4, W | N, 3),
            Descriptor::new(a + 300, 8, W, 0),
        ],
    );
    drv.write_desc(9, Descriptor::new(t, 64, DescFlags::INDIRECT, 0));
    drv.push_avail(9);
    drv.publish();
    let chain = dev.pop().unwrap().unwrap();
    assert_eq!(
        (chain.head(), chain.readable_len(), chain.writable_len()),
        (9, 11, 12)
    );
    let mut buf = [0u8; 11];
    chain.reader(dev.memory()).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello world");
    let mut w = chain.writer(dev.memory());
    assert_eq!(w.write(b"0123456789abcdef"), 12);
    assert_eq!(
        w.write_all(b"x"),
        Err(Error::PayloadBounds {
            wanted: 1,
            available: 0
        })
    );
    let mut out = [0u8; 8];
    lb.read(a + 300, &mut out);
    assert_eq!(&out, b"456789ab");
    dev.add_used(9, w.written()).unwrap();
    assert_eq!(drv.used_elem(0), (9, 12));
}

#[test]
fn attach_checks_the_transport_config() {
    let lb = Loopback::new(16, 8192);
    let m = lb.memory();
    let good = lb.config();
    let attach = |cfg| DeviceQueue::<&'_ OwnedMemory, 16, 8>::attach(m, cfg, F).map(|_| ());
    assert_eq!(
        attach(QueueConfig { size: 12, ..good }),
        Err(Error::InvalidQueueSize { size: 12, max: 16 })
    );
    assert_eq!(
        attach(QueueConfig { size: 32, ..good }),
        Err(Error::InvalidQueueSize { size: 32, max: 16 })
    );
    assert_eq!(
        attach(QueueConfig { size: 0, ..good }),
        Err(Error::InvalidQueueSize { size: 0, max: 16 })
    );
    assert!(matches!(
        attach(QueueConfig {
            desc: good.desc + 8,
            ..good
        }),
        Err(Error::Misaligned {
            part: "descriptor table",
            ..
        })
    ));
    assert!(matches!(
        attach(QueueConfig {
            avail: good.avail + 1,
            ..good
        }),
        Err(Error::Misaligned {
            part: "avail ring",
            ..
        })
    ));
    assert!(matches!(
        attach(QueueConfig {
            used: good.used + 2,
            ..good
        }),
        Err(Error::Misaligned {
            part: "used ring",
            ..
        })
    ));
    let end = lb.data_addr(lb.data_len()) & !0xf;
    assert!(matches!(
        attach(QueueConfig {
            used: end - 16,
            ..good
        }),
        Err(Error::OutOfMemory { .. })
    ));
    assert!(matches!(
        attach(QueueConfig { desc: 0, ..good }),
        Err(Error::OutOfMemory { .. })
    ));
    assert!(attach(good).is_ok());
}

#[test]
fn notification_suppression_without_event_idx() {
    let lb = Loopback::new(16, 8192);
    let (mut drv, mut dev) = setup(&lb);
    dev.disable_notification();
    assert_eq!(drv.used_flags(), 1);
    assert!(!dev.enable_notification().unwrap());
    assert_eq!(drv.used_flags(), 0);
    drv.add_chain(0, &[(lb.data_addr(0), 8, false)]);
    drv.publish();
    // Work that raced in before enabling is reported.
    dev.disable_notification();
    assert!(dev.enable_notification().unwrap());
    let c = dev.pop().unwrap().unwrap();
    dev.add_used(c.head(), 0).unwrap();
    assert!(dev.needs_notification().unwrap());
    drv.set_avail_flags(1); // NO_INTERRUPT
    assert!(!dev.needs_notification().unwrap());
}

#[test]
fn notification_with_event_idx_is_wrap_safe() {
    let lb = Loopback::new(16, 8192);
    let mut drv = lb.mock_driver();
    let mut dev = lb.device::<16, 8>(F | Features::RING_EVENT_IDX).unwrap();
    drv.set_start_index(65534);
    dev.set_indices(65534, 65534);
    // Device asks to be woken at the next avail entry.
    assert!(!dev.enable_notification().unwrap());
    assert_eq!(drv.avail_event(), 65534);
    for i in 0..4u16 {
        drv.add_chain(i, &[(lb.data_addr(0), 8, false)]);
    }
    drv.publish();
    for _ in 0..4 {
        let c = dev.pop().unwrap().unwrap();
        dev.add_used(c.head(), 0).unwrap();
    }
    // First decision always notifies; then only when used_event is crossed.
    assert!(dev.needs_notification().unwrap());
    drv.set_used_event(1); // driver wants a wake-up once entry 1 is used (wrapped)
    for i in 0..2u16 {
        drv.add_chain(i, &[(lb.data_addr(0), 8, false)]);
    }
    drv.publish();
    let c = dev.pop().unwrap().unwrap();
    dev.add_used(c.head(), 0).unwrap(); // used idx 65534+4+1 = 3 (wrapped): crosses 1? 2..3
    assert!(!dev.needs_notification().unwrap());
    drv.set_used_event(3);
    let c = dev.pop().unwrap().unwrap();
    dev.add_used(c.head(), 0).unwrap(); // used idx now 4: crosses 3
    assert!(dev.needs_notification().unwrap());
    assert_eq!(dev.next_used(), 4);
}

#[test]
fn rings_and_buffers_in_different_regions() {
    use virtqueue::{MemoryRegion, MultiRegion, VolatileSlice};
    // Guest memory of two regions (as a vhost-user memory table): rings at 0x1000, data
    // at 0x8000_0000; the gap between them is not memory.
    let mut ring_mem = vec![0u64; 1024];
    let mut data_mem = vec![0u64; 512];
    let ring_bytes: &mut [u8] = zerocopy::IntoBytes::as_mut_bytes(&mut ring_mem[..]);
    let data_bytes: &mut [u8] = zerocopy::IntoBytes::as_mut_bytes(&mut data_mem[..]);
    let mut mem = MultiRegion::<2>::new();
    mem.add(MemoryRegion::new(
        0x1000,
        VolatileSlice::from_mut_slice(ring_bytes),
    ))
    .unwrap();
    mem.add(MemoryRegion::new(
        0x8000_0000,
        VolatileSlice::from_mut_slice(data_bytes),
    ))
    .unwrap();
    let cfg = QueueConfig::contiguous(0x1000, 16);
    let mut drv = MockDriver::new(&mem, cfg).unwrap();
    let mut dev: DeviceQueue<&'_ MultiRegion<'_, 2>, 16, 4> =
        DeviceQueue::attach(&mem, cfg, F).unwrap();
    mem.slice(0x8000_0010, 5)
        .unwrap()
        .write_from(0, b"frame")
        .unwrap();
    drv.add_chain(0, &[(0x8000_0010, 5, false), (0x8000_0100, 64, true)]);
    // A buffer in the gap between the regions, and one straddling the end of the data one.
    drv.add_chain(2, &[(0x4000_0000, 8, false)]);
    drv.add_chain(3, &[(0x8000_0ffc, 8, true)]);
    drv.publish();
    let chain = dev.pop().unwrap().unwrap();
    let mut buf = [0u8; 5];
    chain.reader(dev.memory()).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"frame");
    assert_eq!(chain.writer(dev.memory()).write(b"reply"), 5);
    assert!(matches!(
        dev.pop(),
        Err(Error::BufferOutOfMemory { head: 2, .. })
    ));
    assert!(matches!(
        dev.pop(),
        Err(Error::BufferOutOfMemory { head: 3, .. })
    ));
    let mut out = [0u8; 5];
    mem.slice(0x8000_0100, 5)
        .unwrap()
        .read_into(0, &mut out)
        .unwrap();
    assert_eq!(&out, b"reply");
}

/// Memory whose translation can be withdrawn: a `MemoryHandle` promises it is not, but
/// if it were, every call fails with a typed error instead of panicking.
struct Revocable<'a> {
    mem: &'a OwnedMemory,
    revoked: std::cell::Cell<bool>,
}

impl SharedMemory for Revocable<'_> {
    fn slice(&self, addr: u64, len: usize) -> Result<virtqueue::VolatileSlice<'_>, Error> {
        if self.revoked.get() {
            return Err(Error::OutOfMemory {
                addr,
                len: len as u64,
            });
        }
        self.mem.slice(addr, len)
    }
}

#[test]
fn memory_withdrawn_after_attach_gives_typed_errors() {
    let lb = Loopback::new(16, 4096);
    let mut drv = lb.mock_driver();
    drv.add_chain(0, &[(lb.data_addr(0), 8, false)]);
    drv.publish();
    let mem = Revocable {
        mem: lb.memory(),
        revoked: std::cell::Cell::new(false),
    };
    let mut dev: DeviceQueue<_, 16, 4> = DeviceQueue::attach(&mem, lb.config(), F).unwrap();
    let chain = dev.pop().unwrap().expect("a chain");
    mem.revoked.set(true);
    let mut buf = [0u8; 8];
    assert!(matches!(
        chain.reader(dev.memory()).read_exact(&mut buf),
        Err(Error::OutOfMemory { .. })
    ));
    assert_eq!(chain.reader(dev.memory()).read(&mut buf), 0);
    assert!(matches!(dev.pop(), Err(Error::OutOfMemory { .. })));
    assert!(matches!(dev.add_used(0, 0), Err(Error::OutOfMemory { .. })));
    assert!(matches!(dev.session(), Err(Error::OutOfMemory { .. })));
    assert!(matches!(
        dev.needs_notification(),
        Err(Error::OutOfMemory { .. })
    ));
    dev.disable_notification();
    // Nothing was consumed by the failed calls: the memory back, the queue goes on.
    mem.revoked.set(false);
    assert!(!dev.is_broken());
    dev.add_used(chain.head(), 0).unwrap();
    assert_eq!(drv.used_elem(0), (0, 0));
}

#[test]
fn an_owning_handle_keeps_the_memory_alive() {
    use std::sync::Arc;
    let lb = Loopback::new(16, 4096);
    let mem = Arc::new(OwnedMemory::new(lb.memory().base(), lb.memory().len()));
    let mut drv = MockDriver::new(&*mem, lb.config()).unwrap();
    drv.add_chain(3, &[(lb.data_addr(0), 8, true)]);
    drv.publish();
    let mut dev: DeviceQueue<Arc<OwnedMemory>, 16, 4> =
        DeviceQueue::attach(Arc::clone(&mem), lb.config(), F).unwrap();
    let chain = dev.pop().unwrap().expect("a chain");
    assert_eq!(chain.writer(dev.memory()).write(b"12345678"), 8);
    dev.add_used(chain.head(), 8).unwrap();
    assert_eq!(drv.used_elem(0), (3, 8));
    assert_eq!(Arc::strong_count(dev.handle()), 2);
}
