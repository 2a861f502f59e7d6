//! The device is hostile: raw used-ring writes, forged headers and bad configuration
//! against the virtio-net driver. Every violation is a typed error, never a panic; the
//! fatal ones break the driver for good, the others cost one frame.

mod harness;
use harness::*;
use nic_drivers::transport::DeviceStatus;
use nic_drivers::virtqueue::mock::MockDevice;
use nic_drivers::virtqueue::{self, SharedMemory};

fn state() -> FakeDeviceState {
    FakeDeviceState::net(modern_features(), MAC, 1500)
}

/// Raw device over queue `q`, plus a way to write into the buffer of descriptor `i`.
struct Raw<'m> {
    dev: MockDevice<'m>,
    mem: &'m nic_drivers::virtqueue::MemoryRegion<'m>,
}

impl<'m> Raw<'m> {
    fn new(
        mem: &'m nic_drivers::virtqueue::MemoryRegion<'m>,
        st: &RefCell<FakeDeviceState>,
        q: u16,
    ) -> Self {
        let cfg = st.borrow().queue(q).unwrap();
        Raw {
            dev: MockDevice::new(mem, cfg).unwrap(),
            mem,
        }
    }

    /// Write a receive header and frame into the buffer of descriptor `i`, return it
    /// with `len` (written raw into the used ring) and publish.
    fn rx(&mut self, i: u16, header: [u8; 12], frame: &[u8], len: u32) {
        let addr = self.dev.desc(i).addr.get();
        let s = self.mem.slice(addr, 12 + frame.len()).unwrap();
        s.write_from(0, &header).unwrap();
        s.write_from(12, frame).unwrap();
        self.dev.push_used(u32::from(i), len);
        self.dev.publish();
    }
}

fn hdr(flags: u8, gso: u8, csum_start: u16, csum_offset: u16, num_buffers: u16) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = flags;
    h[1] = gso;
    h[6..8].copy_from_slice(&csum_start.to_le_bytes());
    h[8..10].copy_from_slice(&csum_offset.to_le_bytes());
    h[10..12].copy_from_slice(&num_buffers.to_le_bytes());
    h
}

fn good(raw: &mut Raw<'_>, i: u16) -> Vec<u8> {
    let f = frame(100, i as u8);
    raw.rx(i, hdr(0, 0, 0, 0, 1), &f, 112);
    f
}

fn assert_broken(net: &mut Net<'_, '_>) {
    assert!(net.is_broken());
    assert_eq!(net.rx_take(), Err(Error::Broken));
    assert_eq!(net.tx_reserve(64), Err(Error::Broken));
    assert_eq!(net.service(8), Err(Error::Broken));
    assert_eq!(net.set_promiscuous(true), Err(Error::Broken));
}

#[test]
fn used_id_out_of_range_breaks_the_driver() {
    setup!(hal, st, net; state(), NetConfig::default());
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 0);
    raw.dev.push_used(64, 100);
    raw.dev.publish();
    assert_eq!(
        net.rx_take(),
        Err(Error::Queue(virtqueue::Error::UsedIdOutOfRange {
            id: 64,
            size: 64
        }))
    );
    assert_eq!(net.stats().device_errors, 1);
    assert_broken(&mut net);
}

#[test]
fn used_id_not_outstanding_on_transmit_breaks_the_driver() {
    setup!(hal, st, net; state(), NetConfig::default());
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 1);
    assert!(send(&mut net, &frame(64, 0)).unwrap()); // head 0 outstanding
    raw.dev.push_used(5, 0);
    raw.dev.publish();
    assert_eq!(
        net.service(8),
        Err(Error::Queue(virtqueue::Error::UsedIdNotOutstanding {
            id: 5
        }))
    );
    assert_broken(&mut net);
}

#[test]
fn transmit_used_length_must_be_zero() {
    setup!(hal, st, net; state(), NetConfig::default());
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 1);
    assert!(send(&mut net, &frame(64, 0)).unwrap());
    raw.dev.push_used(0, 1);
    raw.dev.publish();
    assert!(matches!(
        net.service(8),
        Err(Error::Queue(virtqueue::Error::UsedLengthTooLong {
            len: 1,
            writable: 0,
            ..
        }))
    ));
    assert_broken(&mut net);
}

#[test]
fn oversized_used_length_breaks_the_driver() {
    setup!(hal, st, net; state(), NetConfig::default());
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 0);
    raw.rx(0, hdr(0, 0, 0, 0, 1), &frame(60, 0), 1537);
    assert_eq!(
        net.rx_take(),
        Err(Error::Queue(virtqueue::Error::UsedLengthTooLong {
            id: 0,
            len: 1537,
            writable: 1536
        }))
    );
    assert_broken(&mut net);
}

#[test]
fn used_index_jump_breaks_the_driver() {
    setup!(hal, st, net; state(), NetConfig::default());
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 0);
    raw.dev.set_used_idx(65);
    assert!(matches!(
        net.rx_take(),
        Err(Error::Queue(virtqueue::Error::UsedIndexJump { .. }))
    ));
    assert_broken(&mut net);
}

/// Each bad frame costs only itself: typed error, buffer reposted, the next good frame
/// is received.
#[test]
fn bad_headers_and_lengths_cost_one_frame() {
    setup!(hal, st, net; state(), NetConfig::default());
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 0);
    let f = frame(100, 0);
    let cases: [(&str, [u8; 12], u32); 8] = [
        ("length below header", hdr(0, 0, 0, 0, 1), 5),
        ("frame below 14 bytes", hdr(0, 0, 0, 0, 1), 12 + 5),
        ("num_buffers 0", hdr(0, 0, 0, 0, 0), 112),
        ("num_buffers 5", hdr(0, 0, 0, 0, 5), 112),
        ("num_buffers 2, one buffer used", hdr(0, 0, 0, 0, 2), 112),
        ("gso_type", hdr(0, 4, 0, 0, 1), 112),
        ("unknown flag", hdr(0x80, 0, 0, 0, 1), 112),
        ("csum beyond frame", hdr(1, 0, 90, 20, 1), 112),
    ];
    let mut next = 0u16;
    for (i, (what, h, len)) in cases.iter().enumerate() {
        raw.rx(next, *h, &f, *len);
        next += 1;
        let e = net.rx_take().expect_err(what);
        assert!(matches!(e, Error::DeviceViolation { .. }), "{what}: {e:?}");
        assert!(!e.to_string().is_empty());
        assert!(!net.is_broken(), "{what}");
        assert_eq!(net.stats().device_errors, i as u64 + 1);
        let expected = good(&mut raw, next);
        next += 1;
        assert_eq!(recv(&mut net).unwrap(), Some(expected), "after {what}");
    }
    assert_eq!(net.stats().rx_dropped, cases.len() as u64);
}

#[test]
fn merged_frames_longer_than_the_limit_are_dropped() {
    setup!(hal, st, net; state(), NetConfig::default());
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 0);
    // Two buffers: 1000 + 1000 bytes of frame, above MAX_FRAME.
    raw.rx(0, hdr(0, 0, 0, 0, 2), &frame(1000, 0), 1012);
    raw.dev.push_used(1, 1000);
    raw.dev.publish();
    assert!(matches!(
        net.rx_take(),
        Err(Error::DeviceViolation {
            field: "received frame length",
            ..
        })
    ));
    let expected = good(&mut raw, 2);
    assert_eq!(recv(&mut net).unwrap(), Some(expected));
    // A first buffer alone above the limit: its partner is consumed all the same.
    raw.rx(3, hdr(0, 0, 0, 0, 2), &frame(1524, 3), 1536);
    raw.dev.push_used(4, 10);
    raw.dev.publish();
    assert!(net.rx_take().is_err());
    let expected = good(&mut raw, 5);
    assert_eq!(recv(&mut net).unwrap(), Some(expected));
    assert!(!net.is_broken());
}

#[test]
fn num_buffers_above_one_needs_mrg_rxbuf() {
    let features = modern_features() & !NetFeatures::MRG_RXBUF.bits();
    setup!(hal, st, net; FakeDeviceState::net(features, MAC, 1500), NetConfig::default());
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 0);
    raw.rx(0, hdr(0, 0, 0, 0, 2), &frame(100, 0), 112);
    raw.dev.push_used(1, 112);
    raw.dev.publish();
    assert_eq!(
        net.rx_take(),
        Err(Error::DeviceViolation {
            field: "virtio-net header num_buffers",
            value: 2
        })
    );
    assert!(!net.is_broken());
}

#[test]
fn a_control_answer_with_a_forged_id_breaks_the_driver() {
    setup!(hal, st, net; state(), NetConfig { ctrl_spins: 4, ..NetConfig::default() });
    let mem = hal.device_memory();
    let mut raw = Raw::new(&mem, &st, 2);
    raw.dev.push_used(3, 1);
    raw.dev.publish();
    assert!(matches!(
        net.set_promiscuous(true),
        Err(Error::Queue(virtqueue::Error::UsedIdNotOutstanding {
            id: 3
        }))
    ));
    assert_broken(&mut net);
}

fn bring_up(st: FakeDeviceState) -> (Result<(), Error>, u32, usize) {
    let hal = FakeHal::new(DMA_BASE, DMA_LEN);
    let st = RefCell::new(st);
    let r = {
        let t = FakeTransport::new(&st, None);
        let r: Result<Net<'_, '_>, Error> = VirtioNet::new(&hal, t, NetConfig::default());
        r.map(drop)
    };
    let status = st.borrow().status;
    (r, status, hal.live_allocations())
}

#[test]
fn bad_configuration_fails_bring_up_cleanly() {
    let mut multicast_mac = state();
    multicast_mac.config[0] = 0x01;
    let mut zero_mac = state();
    zero_mac.config[..6].fill(0);
    let mut tiny_mtu = state();
    tiny_mtu.config[10..12].copy_from_slice(&20u16.to_le_bytes());
    let mut unstable = state();
    unstable.unstable_config = true;
    let mut rejects = state();
    rejects.accept_features = false;
    let no_v1 = FakeDeviceState::net(
        modern_features() & !NetFeatures::VERSION_1.bits(),
        MAC,
        1500,
    );
    let mut block = state();
    block.device_type = 2;
    let mut no_queue = state();
    no_queue.queue_max[1] = 0;
    let cases = [
        (multicast_mac, "ConfigInvalid"),
        (zero_mac, "ConfigInvalid"),
        (tiny_mtu, "ConfigInvalid"),
        (unstable, "ConfigUnstable"),
        (rejects, "FeaturesRejected"),
        (no_v1, "Unsupported"),
        (block, "NoDevice"),
        (no_queue, "Unsupported"),
    ];
    for (st, want) in cases {
        let (r, status, live) = bring_up(st);
        let e = r.expect_err(want);
        assert!(format!("{e:?}").starts_with(want), "{e:?} is not {want}");
        assert_ne!(
            status & DeviceStatus::FAILED.bits(),
            0,
            "{want}: FAILED set"
        );
        assert_eq!(live, 0, "{want}: DMA freed");
    }
}

#[test]
fn mtu_above_1500_is_capped() {
    let (r, _, _) = bring_up(FakeDeviceState::net(modern_features(), MAC, 9000));
    assert!(r.is_ok());
    setup!(hal, st, net; FakeDeviceState::net(modern_features(), MAC, 9000), NetConfig::default());
    assert_eq!(net.caps().mtu, 1500);
    assert_eq!(net.caps().max_frame, 1518);
}
