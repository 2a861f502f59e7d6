//! Property tests: the driver against the device model (frames arrive in order and
//! unchanged, whatever the interleaving, features and buffer merging), and against a
//! hostile raw device (random used entries and headers: typed errors only, a broken
//! driver stays broken, every frame handed out is well-formed).

mod harness;
use std::collections::VecDeque;

use harness::*;
use nic_drivers::virtqueue::mock::MockDevice;
use nic_drivers::virtqueue::SharedMemory;
use nic_drivers::{RxSlot, MAX_FRAME, MIN_FRAME};
use proptest::prelude::*;

/// Miri runs the same properties on shorter sequences of shorter frames (it interprets
/// every volatile byte copy).
const MAX_OPS: usize = if cfg!(miri) { 12 } else { 120 };
const MAX_LEN: usize = if cfg!(miri) { 300 } else { 1514 };
const MAX_EVIL: usize = if cfg!(miri) { 12 } else { 60 };

#[derive(Debug, Clone)]
enum Op {
    Inject(usize, u8),
    Take,
    ReleaseOldest,
    Send(usize, u8),
    Poll(u16),
    Device,
    Promiscuous(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (14usize..=MAX_LEN, any::<u8>()).prop_map(|(l, s)| Op::Inject(l, s)),
        3 => Just(Op::Take),
        2 => Just(Op::ReleaseOldest),
        3 => (14usize..=MAX_LEN, any::<u8>()).prop_map(|(l, s)| Op::Send(l, s)),
        1 => (0u16..8).prop_map(Op::Poll),
        2 => Just(Op::Device),
        1 => any::<bool>().prop_map(Op::Promiscuous),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn frames_arrive_in_order_and_unchanged(
        ops in prop::collection::vec(op(), 1..MAX_OPS),
        merged in any::<bool>(),
        event_idx in any::<bool>(),
        packed in any::<bool>(),
        chunk in prop::option::of(MAX_LEN / 4 + 20..1600), // at most 4 buffers per frame
        rx_buffers in 4u16..64,
    ) {
        let mut f = if packed { packed_features() } else { modern_features() };
        if !merged { f &= !NetFeatures::MRG_RXBUF.bits(); }
        if !event_idx { f &= !NetFeatures::RING_EVENT_IDX.bits(); }
        let cfg = NetConfig { rx_buffers, tx_buffers: 8, ..NetConfig::default() };
        setup!(hal, st, model, net; FakeDeviceState::net(f, MAC, 1500), cfg);
        model.borrow_mut().merge_chunk = chunk;
        let mut injected: VecDeque<Vec<u8>> = VecDeque::new();
        let mut sent: Vec<Vec<u8>> = Vec::new();
        let mut held: VecDeque<(RxSlot, Vec<u8>)> = VecDeque::new();
        for op in ops {
            match op {
                Op::Inject(len, seed) => {
                    let fr = frame(len, seed);
                    injected.push_back(fr.clone());
                    model.borrow_mut().inject(&fr);
                }
                Op::Take => {
                    if let Some(slot) = net.rx_take().unwrap() {
                        let want = injected.pop_front().expect("a frame nobody injected");
                        prop_assert_eq!(net.rx_frame(&slot), &want[..]);
                        held.push_back((slot, want));
                    }
                }
                Op::ReleaseOldest => {
                    if let Some((slot, want)) = held.pop_front() {
                        prop_assert_eq!(net.rx_frame(&slot), &want[..], "slot content kept");
                        net.rx_release(slot);
                    }
                }
                Op::Send(len, seed) => {
                    let fr = frame(len, seed);
                    if send(&mut net, &fr).unwrap() {
                        sent.push(fr);
                    }
                }
                Op::Poll(b) => { net.service(b).unwrap(); }
                Op::Device => model.borrow_mut().process(),
                Op::Promiscuous(on) => {
                    net.set_promiscuous(on).unwrap();
                    prop_assert_eq!(model.borrow().promiscuous, on);
                }
            }
        }
        // Drain everything: each round delivers at most the posted buffers (as few as 4,
        // and a merged frame takes up to 4), so allow a round per injected frame.
        for (slot, _) in held.drain(..) { net.rx_release(slot); }
        for _ in 0..injected.len() + 4 {
            model.borrow_mut().process();
            net.service(64).unwrap();
            while let Some(fr) = recv(&mut net).unwrap() {
                prop_assert_eq!(Some(fr), injected.pop_front());
            }
        }
        prop_assert!(injected.is_empty(), "{} frames lost", injected.len());
        prop_assert_eq!(&model.borrow().sent, &sent);
        prop_assert_eq!(net.stats().device_errors, 0);
        prop_assert!(model.borrow().errors.is_empty());
        let _ = st;
    }
}

#[derive(Debug, Clone)]
enum Evil {
    /// Raw used entry on the receive queue with a header written into the buffer of
    /// descriptor `id % 64` (if it is one).
    Rx {
        id: u32,
        len: u32,
        header: [u8; 12],
    },
    /// Raw used entry on the transmit queue.
    Tx {
        id: u32,
        len: u32,
    },
    /// Move `used.idx` by an arbitrary amount.
    Jump(u16),
    Take,
    Send(usize),
    Poll,
}

fn small_or_any() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..80, 1 => any::<u32>()]
}

fn evil() -> impl Strategy<Value = Evil> {
    let header = (any::<u8>(), 0u8..2, 0u16..1600, 0u16..1600, 0u16..6).prop_map(
        |(flags, gso, start, off, nb)| {
            let mut h = [0u8; 12];
            h[0] = flags & 0x83;
            h[1] = gso;
            h[6..8].copy_from_slice(&start.to_le_bytes());
            h[8..10].copy_from_slice(&off.to_le_bytes());
            h[10..12].copy_from_slice(&nb.to_le_bytes());
            h
        },
    );
    prop_oneof![
        6 => (small_or_any(), prop_oneof![0u32..1600, any::<u32>()], header)
            .prop_map(|(id, len, header)| Evil::Rx { id, len, header }),
        2 => (small_or_any(), prop_oneof![Just(0u32), any::<u32>()])
            .prop_map(|(id, len)| Evil::Tx { id, len }),
        1 => prop_oneof![0u16..3, any::<u16>()].prop_map(Evil::Jump),
        4 => Just(Evil::Take),
        2 => (14usize..200).prop_map(Evil::Send),
        1 => Just(Evil::Poll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_hostile_device_gets_typed_errors_only(ops in prop::collection::vec(evil(), 1..MAX_EVIL)) {
        setup!(hal, st, net; FakeDeviceState::net(modern_features(), MAC, 1500), NetConfig::default());
        let mem = hal.device_memory();
        let mut rx = MockDevice::new(&mem, st.borrow().queue(0).unwrap()).unwrap();
        let mut tx = MockDevice::new(&mem, st.borrow().queue(1).unwrap()).unwrap();
        let mut violations = 0u64;
        let mut rx_idx = 0u16;
        for op in ops {
            let was_broken = net.is_broken();
            let r: Result<(), Error> = match op {
                Evil::Rx { id, len, header } => {
                    let addr = rx.desc((id % 64) as u16).addr.get();
                    if let Ok(s) = mem.slice(addr, 12) {
                        s.write_from(0, &header).unwrap();
                    }
                    rx.push_used(id, len);
                    rx_idx = rx_idx.wrapping_add(1);
                    rx.publish();
                    Ok(())
                }
                Evil::Tx { id, len } => {
                    tx.push_used(id, len);
                    tx.publish();
                    Ok(())
                }
                Evil::Jump(by) => {
                    rx_idx = rx_idx.wrapping_add(by);
                    rx.set_used_idx(rx_idx);
                    Ok(())
                }
                Evil::Take => net.rx_take().map(|s| {
                    if let Some(s) = s {
                        let n = net.rx_frame(&s).len();
                        assert!((MIN_FRAME..=MAX_FRAME).contains(&n));
                        net.rx_release(s);
                    }
                }),
                Evil::Send(len) => send(&mut net, &frame(len, 0)).map(drop),
                Evil::Poll => net.service(16).map(drop),
            };
            if let Err(e) = r {
                prop_assert!(!e.to_string().is_empty());
                if was_broken {
                    prop_assert_eq!(e, Error::Broken, "a broken driver stays broken");
                } else if e.is_device_violation() {
                    violations += 1;
                }
            }
            if was_broken {
                prop_assert!(net.is_broken());
            }
        }
        prop_assert_eq!(net.stats().device_errors, violations);
    }
}
