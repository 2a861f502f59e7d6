//! The driver against the fake 82540EM: correct device, then a malicious one.

use super::desc::RxWriteBack;
use super::fake::{fake_e1000, E1000FakeHal as FakeHal, FakeE1000, FAKE_BAR0};
use super::regs::*;
use super::E1000;
use crate::link::{
    FrameLink, FrameMeta, LinkState, MacAddress, NicControl, RxSlot, TxSlot, MAX_FRAME,
};
use crate::Error;
use alloc::vec::Vec;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// Rounds of the wrap-around tests (more than the rings hold; fewer under Miri, where
/// every byte copied through a volatile view is slow).
const ROUNDS: u8 = if cfg!(miri) { 12 } else { 50 };
/// Largest frame the property test uses (full size natively).
const PROP_MAX: usize = if cfg!(miri) { 128 } else { MAX_FRAME };

type Dev<'h> = E1000<'h, FakeHal, 8, 8>;

fn up(hal: &FakeHal) -> Dev<'_> {
    E1000::new(hal, FAKE_BAR0).expect("driver comes up on a correct device")
}

/// A frame to us with a recognisable body.
fn frame(len: usize, tag: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ tag).collect();
    f[..6].copy_from_slice(&MAC);
    f
}

fn send(dev: &mut Dev<'_>, data: &[u8]) -> Result<(), Error> {
    let slot = dev.tx_reserve(data.len())?.expect("a free transmit buffer");
    dev.tx_write(&slot, 0, data)?;
    dev.tx_commit(slot, FrameMeta::NONE)?;
    dev.service(0)
}

fn take(dev: &mut Dev<'_>) -> Option<Vec<u8>> {
    let slot = dev.rx_take().expect("no device violation")?;
    let v = dev.rx_frame(&slot).to_vec();
    dev.rx_release(slot);
    Some(v)
}

#[test]
fn bring_up_programs_the_device_and_masks_interrupts() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    assert_eq!(dev.mac_address(), MacAddress(MAC));
    assert_eq!(dev.link_state(), LinkState::Up);
    assert_eq!(fake.register(IMS), 0, "every interrupt masked");
    assert_ne!(fake.register(RCTL) & RCTL_EN, 0);
    assert_ne!(fake.register(RCTL) & RCTL_SECRC, 0);
    assert_ne!(fake.register(TCTL) & TCTL_EN, 0);
    assert_eq!(fake.register(RDLEN), 8 * 16);
    assert_eq!(fake.register(TDLEN), 8 * 16);
    assert_eq!(
        fake.register(RDT),
        7,
        "all but one receive descriptor posted"
    );
    assert_ne!(fake.register(CTRL) & CTRL_SLU, 0);
    fake.set_link(false);
    assert_eq!(dev.link_state(), LinkState::Down);
}

#[test]
fn mac_comes_from_the_eeprom_when_ral_is_not_valid() {
    let (hal, fake) = fake_e1000(MAC);
    fake.set_ral_valid(false);
    let dev: Dev<'_> = E1000::new(&hal, FAKE_BAR0).unwrap();
    assert_eq!(dev.mac_address(), MacAddress(MAC));
    assert_eq!(
        fake.register(RAL0),
        u32::from_le_bytes([0x52, 0x54, 0x00, 0x12])
    );
    assert_eq!(
        fake.register(RAH0),
        0x5634 | RAH_AV,
        "filter entry 0 programmed"
    );
}

#[test]
fn multicast_mac_from_the_device_is_a_violation() {
    let (hal, fake) = fake_e1000(MAC);
    fake.set_ral_valid(false);
    fake.set_eeprom_word(0, 0x5401); // first byte 0x01: group bit
    let err = Dev::new(&hal, FAKE_BAR0).err().unwrap();
    assert!(
        matches!(err, Error::DeviceViolation { field: "e1000 MAC address", value } if value & 0xff == 1)
    );
    assert!(err.is_device_violation());
}

#[test]
fn a_reset_that_never_completes_times_out() {
    let (hal, fake) = fake_e1000(MAC);
    fake.set_stuck_reset(true);
    assert_eq!(
        Dev::new(&hal, FAKE_BAR0).err(),
        Some(Error::Timeout {
            what: "e1000 reset"
        })
    );
}

#[test]
fn a_dead_eeprom_times_out() {
    let (hal, fake) = fake_e1000(MAC);
    fake.set_ral_valid(false);
    fake.set_eeprom_dead(true);
    assert_eq!(
        Dev::new(&hal, FAKE_BAR0).err(),
        Some(Error::Timeout {
            what: "e1000 EEPROM read"
        })
    );
}

#[test]
fn wrong_register_address_is_a_hal_error() {
    let (hal, _fake) = fake_e1000(MAC);
    assert!(matches!(Dev::new(&hal, 0x1000).err(), Some(Error::Hal(_))));
}

#[test]
fn transmitted_frames_reach_the_wire_intact() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    let a = frame(60, 1);
    let b = frame(MAX_FRAME, 2);
    send(&mut dev, &a).unwrap();
    // Built in two writes.
    let slot = dev.tx_reserve(b.len()).unwrap().unwrap();
    dev.tx_write(&slot, 700, &b[700..]).unwrap();
    dev.tx_write(&slot, 0, &b[..700]).unwrap();
    dev.tx_commit(slot, FrameMeta::NONE).unwrap();
    assert!(
        fake.take_sent().len() == 1,
        "second frame waits for the flush"
    );
    dev.service(0).unwrap();
    assert_eq!(fake.take_sent(), core::slice::from_ref(&b));
    let s = dev.stats();
    assert_eq!((s.tx_frames, s.tx_bytes), (2, (a.len() + b.len()) as u64));
    // Many more than the ring holds: buffers come back as the device writes DD.
    for i in 0..ROUNDS {
        send(&mut dev, &frame(64 + usize::from(i), i)).unwrap();
        assert_eq!(fake.take_sent(), [frame(64 + usize::from(i), i)]);
    }
    let room = dev.tx_room().unwrap();
    dev.service(8).unwrap();
    assert_eq!(
        dev.tx_room(),
        Some(room + 1),
        "the last one is taken back by service"
    );
}

#[test]
fn a_stalled_transmitter_makes_reserve_busy_not_stuck() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    fake.set_tx_write_back(false);
    for i in 0..7u8 {
        send(&mut dev, &frame(60, i)).unwrap();
    }
    assert_eq!(
        dev.tx_reserve(60).unwrap(),
        None,
        "one descriptor stays empty"
    );
    assert_eq!(dev.stats().tx_busy, 1);
    fake.set_tx_write_back(true);
    // Nothing was written back for the 7 sent: still busy until the device does.
    assert_eq!(dev.tx_reserve(60).unwrap(), None);
    assert_eq!(fake.take_sent().len(), 7);
}

#[test]
fn reserve_abort_and_bad_handles() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    assert_eq!(
        dev.tx_reserve(13).err(),
        Some(Error::FrameLength {
            len: 13,
            min: 14,
            max: MAX_FRAME
        })
    );
    assert!(matches!(
        dev.tx_reserve(MAX_FRAME + 1),
        Err(Error::FrameLength { .. })
    ));
    let slots: Vec<TxSlot> = (0..7)
        .map(|_| dev.tx_reserve(100).unwrap().unwrap())
        .collect();
    assert_eq!(dev.tx_reserve(100).unwrap(), None);
    let forged = TxSlot::new(slots[0].index(), 101);
    assert_eq!(
        dev.tx_write(&forged, 0, &[1]),
        Err(Error::InvalidSlot {
            index: slots[0].index()
        })
    );
    assert_eq!(
        dev.tx_write(&slots[0], 90, &[0; 11]),
        Err(Error::SlotBounds {
            offset: 90,
            len: 11,
            slot_len: 100
        })
    );
    assert!(
        dev.tx_write(&slots[0], usize::MAX, &[0; 2]).is_err(),
        "no overflow"
    );
    dev.tx_abort(forged);
    for s in slots {
        dev.tx_abort(s);
    }
    assert!(
        dev.tx_reserve(100).unwrap().is_some(),
        "aborted buffers are free again"
    );
    assert_eq!(fake.take_sent(), Vec::<Vec<u8>>::new());
    let s = dev.tx_reserve(60).unwrap().unwrap();
    assert!(matches!(
        dev.tx_commit(s, FrameMeta::partial(34, 6)),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn received_frames_are_private_copies() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    assert_eq!(dev.rx_take().unwrap(), None);
    let f = frame(100, 7);
    assert!(fake.deliver(&f));
    dev.service(1).unwrap();
    assert!(dev.rx_ready().unwrap());
    let slot = dev.rx_take().unwrap().unwrap();
    assert_eq!(dev.rx_frame(&slot), &f[..]);
    // The device scribbles over the (reposted) DMA buffer: the private copy is unchanged.
    fake.write_rx_descriptor(0, RxWriteBack::decode(&[0; 16]), &[0xee; 100]);
    assert_eq!(dev.rx_frame(&slot), &f[..]);
    // A forged handle sees nothing.
    assert_eq!(dev.rx_frame(&RxSlot::new(slot.index(), 99)), &[] as &[u8]);
    assert_eq!(dev.rx_frame(&RxSlot::new(200, 100)), &[] as &[u8]);
    dev.rx_release(RxSlot::new(slot.index(), 99));
    assert_eq!(
        dev.rx_frame(&slot),
        &f[..],
        "a forged release frees nothing"
    );
    dev.rx_release(slot);
    let s = dev.stats();
    assert_eq!((s.rx_frames, s.rx_bytes), (1, 100));
}

#[test]
fn receive_wraps_the_ring_many_times() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    for i in 0..ROUNDS {
        let f = frame(60 + usize::from(i) * 20, i);
        assert!(fake.deliver(&f), "a buffer is posted for frame {i}");
        assert_eq!(take(&mut dev), Some(f));
    }
    // Fill the ring: the device has RX - 1 buffers, then drops.
    for i in 0..7 {
        assert!(fake.deliver(&frame(60, i)));
    }
    assert!(!fake.deliver(&frame(60, 9)), "no buffer left");
    // Private slots: 8; all frames come out in order.
    for i in 0..7 {
        assert_eq!(take(&mut dev), Some(frame(60, i)));
    }
    assert_eq!(take(&mut dev), None);
}

#[test]
fn no_private_slot_leaves_the_frame_with_the_device() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    let mut held = Vec::new();
    for i in 0..8u8 {
        assert!(fake.deliver(&frame(60, i)));
        held.push(dev.rx_take().unwrap().unwrap());
        if i == 6 {
            break;
        }
    }
    assert!(fake.deliver(&frame(60, 7)));
    assert!(fake.deliver(&frame(60, 8)));
    held.push(dev.rx_take().unwrap().unwrap());
    assert_eq!(held.len(), 8);
    assert_eq!(dev.rx_take().unwrap(), None, "all private slots held");
    dev.rx_release(held.remove(0));
    assert_eq!(take(&mut dev), Some(frame(60, 8)));
}

#[test]
fn promiscuous_and_all_multicast_change_the_filter() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    let mut other = frame(60, 1);
    other[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 9]);
    let mut mcast = frame(60, 2);
    mcast[..6].copy_from_slice(&[0x01, 0, 0x5e, 0, 0, 1]);
    assert!(!fake.deliver(&other));
    assert!(!fake.deliver(&mcast));
    dev.set_all_multicast(true).unwrap();
    assert!(fake.deliver(&mcast));
    dev.set_promiscuous(true).unwrap();
    assert!(fake.deliver(&other));
    dev.set_promiscuous(false).unwrap();
    dev.set_all_multicast(false).unwrap();
    assert!(!fake.deliver(&other));
    assert!(!fake.deliver(&mcast));
    let mut bcast = frame(60, 3);
    bcast[..6].copy_from_slice(&[0xff; 6]);
    assert!(fake.deliver(&bcast), "broadcast always accepted");
}

#[test]
fn set_mac_address_programs_the_filter() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    let new = MacAddress([0x02, 1, 2, 3, 4, 5]);
    dev.set_mac_address(new).unwrap();
    assert_eq!(dev.mac_address(), new);
    assert_eq!(fake.register(RAL0), u32::from_le_bytes([2, 1, 2, 3]));
    assert!(dev.set_mac_address(MacAddress([1, 0, 0, 0, 0, 0])).is_err());
    assert!(dev.set_mac_address(MacAddress([0; 6])).is_err());
    assert_eq!(dev.mac_address(), new);
}

#[test]
fn interrupts_can_be_enabled_and_acknowledged() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    dev.enable_interrupts();
    assert_eq!(
        fake.register(IMS) & (ICR_RXT0 | ICR_TXDW | ICR_LSC),
        ICR_RXT0 | ICR_TXDW | ICR_LSC
    );
    assert!(fake.deliver(&frame(60, 0)));
    assert_ne!(dev.interrupt_causes() & ICR_RXT0, 0);
    assert_eq!(dev.interrupt_causes(), 0, "reading acknowledges");
    dev.disable_interrupts();
    assert_eq!(fake.register(IMS), 0);
}

#[test]
fn drop_resets_the_device_and_unshares_everything() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    send(&mut dev, &frame(60, 0)).unwrap();
    assert!(fake.deliver(&frame(60, 1)));
    assert_eq!(take(&mut dev), Some(frame(60, 1)));
    dev.service(8).unwrap();
    assert!(hal.outstanding_shares() > 0);
    drop(dev);
    assert_eq!(hal.outstanding_shares(), 0);
    assert_eq!(fake.register(RCTL) & RCTL_EN, 0, "receiver off after reset");
}

#[test]
fn drop_unshares_frames_still_in_flight() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    fake.set_tx_write_back(false);
    send(&mut dev, &frame(60, 0)).unwrap();
    send(&mut dev, &frame(70, 1)).unwrap();
    dev.service(8).unwrap();
    assert_eq!(dev.tx_room(), Some(5), "both still in flight");
    drop(dev);
    assert_eq!(hal.outstanding_shares(), 0);
}

// ---- malicious device -------------------------------------------------------------

fn wb(length: u16, status: u8, errors: u8) -> RxWriteBack {
    RxWriteBack {
        addr: 0xdead_beef_0000,
        length,
        checksum: 0,
        status,
        errors,
        special: 0,
    }
}

/// After each violation the driver goes on: a correct frame still comes through.
fn still_works(dev: &mut Dev<'_>, fake: &FakeE1000) {
    let f = frame(90, 0x42);
    assert!(fake.deliver(&f));
    assert_eq!(take(dev), Some(f));
}

#[test]
fn oversized_and_empty_lengths_are_violations() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    for (i, len) in [(0u32, 1519u16), (1, 2048), (2, 0xffff), (3, 0)] {
        fake.write_rx_descriptor(i, wb(len, RXD_STAT_DD | RXD_STAT_EOP, 0), &[0; 8]);
        assert_eq!(
            dev.rx_take(),
            Err(Error::DeviceViolation {
                field: "e1000 rx length",
                value: u64::from(len)
            })
        );
    }
    assert_eq!(dev.stats().device_errors, 4);
    assert_eq!(dev.stats().rx_dropped, 4);
    still_works(&mut dev, &fake);
}

#[test]
fn frames_without_eop_are_dropped_up_to_the_end_of_the_frame() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    fake.write_rx_descriptor(0, wb(2048, RXD_STAT_DD, 0), &[1; 16]);
    fake.write_rx_descriptor(1, wb(2048, RXD_STAT_DD, 0), &[2; 16]);
    fake.write_rx_descriptor(2, wb(100, RXD_STAT_DD | RXD_STAT_EOP, 0), &[3; 16]);
    assert!(matches!(
        dev.rx_take(),
        Err(Error::DeviceViolation {
            field: "e1000 rx descriptor without EOP",
            ..
        })
    ));
    assert_eq!(
        dev.rx_take().unwrap(),
        None,
        "rest of the frame dropped silently"
    );
    assert_eq!(dev.stats().rx_dropped, 3);
    assert_eq!(dev.stats().device_errors, 1);
    still_works(&mut dev, &fake);
}

#[test]
fn error_bits_drop_the_frame_without_a_violation() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    fake.write_rx_descriptor(0, wb(60, RXD_STAT_DD | RXD_STAT_EOP, 0x01), &[0; 60]);
    assert_eq!(dev.rx_take().unwrap(), None);
    assert_eq!(dev.stats().rx_dropped, 1);
    assert_eq!(dev.stats().device_errors, 0);
    still_works(&mut dev, &fake);
}

#[test]
fn device_written_addresses_are_never_used() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    let posted = fake.rx_buffer_addr(0);
    fake.write_rx_descriptor(0, wb(64, RXD_STAT_DD | RXD_STAT_EOP, 0), &frame(64, 5));
    assert_eq!(
        take(&mut dev),
        Some(frame(64, 5)),
        "read from the posted buffer"
    );
    assert_eq!(
        fake.rx_buffer_addr(0),
        posted,
        "reposted with the driver's own address"
    );
}

#[test]
fn dd_on_every_descriptor_is_bounded() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    // Every descriptor claims a frame with error bits: one rx_take walks the ring once.
    for i in 0..8 {
        fake.write_rx_descriptor(i, wb(60, RXD_STAT_DD | RXD_STAT_EOP, 0x80), &[]);
    }
    assert_eq!(dev.rx_take().unwrap(), None);
    assert_eq!(dev.stats().rx_dropped, 8);
}

#[test]
fn hostile_head_registers_are_ignored() {
    let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
    // Head registers out of range: the driver never reads them; ownership follows its
    // own indices and the DD bits.
    fake.poke_register(RDH, 0x1234_5678); // the model reduces it to descriptor 0
    fake.poke_register(TDH, 0xffff_ffff); // descriptor 7: an empty one is "sent" first
    let f = frame(80, 9);
    assert!(fake.deliver(&f));
    assert_eq!(take(&mut dev), Some(f));
    send(&mut dev, &frame(60, 1)).unwrap();
    assert!(fake.take_sent().contains(&frame(60, 1)));
    for i in 0..ROUNDS {
        send(&mut dev, &frame(60, i)).unwrap();
        assert_eq!(fake.take_sent(), [frame(60, i)]);
    }
    assert_eq!(dev.stats().device_errors, 0);
}

mod model {
    //! Property: any interleaving of deliveries and takes yields the delivered frames
    //! in order, unchanged, minus exactly those the device dropped for lack of buffers.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Deliver(usize, u8),
        Take,
        Send(usize, u8),
        Poll,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (14usize..=PROP_MAX, any::<u8>()).prop_map(|(l, t)| Op::Deliver(l, t)),
            Just(Op::Take),
            (14usize..=PROP_MAX, any::<u8>()).prop_map(|(l, t)| Op::Send(l, t)),
            Just(Op::Poll),
        ]
    }

    proptest! {
        #[test]
        fn frames_in_order(ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 16 } else { 60 })) {
            let (hal, fake) = fake_e1000(MAC);
    let mut dev = up(&hal);
            let mut expect_rx = alloc::collections::VecDeque::new();
            let mut expect_tx = Vec::new();
            for op in ops {
                match op {
                    Op::Deliver(l, t) => {
                        let f = frame(l, t);
                        if fake.deliver(&f) {
                            expect_rx.push_back(f);
                        }
                    }
                    Op::Take => prop_assert_eq!(take(&mut dev), expect_rx.pop_front()),
                    Op::Send(l, t) => {
                        let f = frame(l, t);
                        if let Some(slot) = dev.tx_reserve(l).unwrap() {
                            dev.tx_write(&slot, 0, &f).unwrap();
                            dev.tx_commit(slot, FrameMeta::NONE).unwrap();
                            dev.service(0).unwrap();
                            expect_tx.push(f);
                        }
                    }
                    Op::Poll => { dev.service(4).unwrap(); }
                }
            }
            prop_assert_eq!(fake.take_sent(), expect_tx);
            prop_assert_eq!(dev.stats().device_errors, 0);
        }
    }
}
