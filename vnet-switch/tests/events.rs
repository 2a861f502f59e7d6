//! Feature `log`: a dropped frame is reported at `debug` with its port and reason, and
//! the frames after it are forwarded as before; a vhost-user frontend cut off at `warn`
//! with its reason, a hang-up at `info`.
#![cfg(feature = "log")]

mod common;
use common::*;
use vnet_switch::{DropReason, PortConfig, VlanSet};

/// This test thread's log records so far, as `LEVEL message`, emptied.
fn take() -> Vec<String> {
    let out = std::cell::RefCell::new(Vec::new());
    testing_logger::validate(|l| {
        *out.borrow_mut() = l
            .iter()
            .map(|r| format!("{} {}", r.level, r.body))
            .collect()
    });
    out.into_inner()
}

#[test]
fn drops_and_cut_offs_are_logged_with_their_reasons() {
    testing_logger::setup();

    let mut sw = build(&[
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
    ]);
    inject(
        &mut sw,
        1,
        &frame(mac(2), mac(0x63), 0x0800, b"I am someone else"),
    );
    let good = frame(mac(2), mac(1), 0x0800, b"honest");
    inject(&mut sw, 1, &good);
    sw.poll(0, 8);
    assert_eq!(drain(&mut sw, 2), vec![good]);
    assert_eq!(sw.stats(p(1)).unwrap().drops(DropReason::Spoofed), 1);

    assert_eq!(
        take(),
        ["DEBUG vnet-switch: port 1 dropped a frame: spoofed source address"]
    );

    // A shared-memory virtio driver that accepts a feature nobody offered: refused.
    {
        use virtqueue::shm::{self, offset, REG_LEN, U32, U64};
        use vnet_switch::adapters::shm::{DeviceState, ShmDevice};
        let len = REG_LEN + 16 * 1024;
        let owned = virtqueue::OwnedMemory::new(0, len);
        let (regs, dma) = shm::split(owned.region().get(0, len).unwrap()).unwrap();
        let mut dev = ShmDevice::new(regs, &dma, [2, 0, 0, 0, 0, 1], 1500).unwrap();
        regs.write_obj(offset::DRIVER_FEATURES, &U64::new(u64::MAX))
            .unwrap();
        regs.write_obj(offset::STATUS, &U32::new(1 | 2 | 4 | 8))
            .unwrap();
        let DeviceState::Failed(e) = dev.poll() else {
            panic!("the driver is refused");
        };
        assert_eq!(
            take(),
            [format!(
                "WARN vnet-switch: shared-memory virtio driver refused: {e}"
            )]
        );
    }

    #[cfg(all(feature = "vhost-user", target_os = "linux"))]
    {
        use vnet_switch::adapters::vhost_user::{VhostUserError, VhostUserPort};
        let mut vm = VhostUserPort::new(1514);
        let bad = VhostUserError::Oversized { size: 1 << 20 };
        vm.cut_off(bad);
        vm.cut_off(VhostUserError::Disconnected);
        assert_eq!(
            take(),
            [
                format!("WARN vnet-switch: vhost-user frontend cut off: {bad}"),
                "INFO vnet-switch: vhost-user frontend disconnected".to_string(),
            ]
        );
    }
}
