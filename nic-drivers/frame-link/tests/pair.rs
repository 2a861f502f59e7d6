//! The port pair against a model (proptest), and a caller that hands back handles it
//! made up, reuses or keeps.
use std::collections::VecDeque;

use frame_link::{
    End, ErrorKind, FaultCounts, Faults, FrameLink, FrameLinkExt, FrameMeta, LinkFault, Odds,
    PortPair, RxSlot, TxSlot, PAIR_TAKEN,
};
use proptest::prelude::*;

fn frame(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

#[derive(Debug, Clone)]
enum Op {
    /// Send a frame of this length from A.
    Send(usize),
    /// Reserve at A, then abort.
    ReserveAbort,
    /// Reserve at A, build in place, commit shorter.
    Build(usize, usize),
    /// B takes a frame and holds it.
    Take,
    /// B releases its oldest held frame.
    Release,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (14usize..=64).prop_map(Op::Send),
        Just(Op::ReserveAbort),
        (14usize..=64, 14usize..=64).prop_map(|(a, b)| Op::Build(a.max(b), a.min(b))),
        Just(Op::Take),
        Just(Op::Release),
    ]
}

proptest! {
    /// Frames arrive in order, byte for byte, with their metadata; the queue holds at
    /// most N; held frames keep their bytes while later ones are sent; free slots are
    /// counted exactly.
    #[test]
    fn pair_behaves_like_a_bounded_fifo(ops in prop::collection::vec(op(), 1..200)) {
        const N: usize = 8;
        let pair = PortPair::<N, 64>::new();
        let (mut a, mut b) = pair.split();
        let mut queue: VecDeque<(Vec<u8>, FrameMeta)> = VecDeque::new();
        let mut held: VecDeque<(RxSlot, Vec<u8>)> = VecDeque::new();
        let mut tag = 0u8;
        for op in ops {
            let in_use = queue.len() + held.len();
            match op {
                Op::Send(len) => {
                    tag = tag.wrapping_add(1);
                    let f = frame(tag, len);
                    let meta = if tag.is_multiple_of(3) { FrameMeta::partial(14, 6) } else { FrameMeta::NONE };
                    let sent = a.send_frame_with(&f, meta).unwrap();
                    prop_assert_eq!(sent, in_use < N);
                    if sent {
                        queue.push_back((f, meta));
                    }
                }
                Op::ReserveAbort => {
                    let r = a.tx_reserve(20).unwrap();
                    prop_assert_eq!(r.is_some(), in_use < N);
                    if let Some(s) = r {
                        a.tx_abort(s);
                    }
                }
                Op::Build(reserve, len) => {
                    tag = tag.wrapping_add(1);
                    let f = frame(tag, len);
                    match a.tx_reserve(reserve).unwrap() {
                        Some(s) => {
                            let buf = a.tx_buffer(&s).unwrap();
                            prop_assert_eq!(buf.len(), reserve);
                            buf[..len].copy_from_slice(&f);
                            a.tx_commit(s.shrink(len), FrameMeta::NONE).unwrap();
                            queue.push_back((f, FrameMeta::NONE));
                        }
                        None => prop_assert!(in_use >= N),
                    }
                }
                Op::Take => {
                    let t = b.rx_take().unwrap();
                    if held.len() == PAIR_TAKEN {
                        prop_assert!(t.is_none());
                        continue;
                    }
                    match (t, queue.pop_front()) {
                        (Some(s), Some((f, meta))) => {
                            prop_assert_eq!(b.rx_frame(&s), &f[..]);
                            prop_assert_eq!(b.rx_meta(&s), meta);
                            held.push_back((s, f));
                        }
                        (None, None) => {}
                        (t, m) => prop_assert!(false, "take {:?} but model {:?}", t, m),
                    }
                }
                Op::Release => {
                    if let Some((s, f)) = held.pop_front() {
                        prop_assert_eq!(b.rx_frame(&s), &f[..]);
                        b.rx_release(s);
                    }
                }
            }
            // Held frames keep their bytes whatever A sends meanwhile.
            for (s, f) in &held {
                prop_assert_eq!(b.rx_frame(s), &f[..]);
            }
            prop_assert_eq!(a.tx_room(), Some(N - queue.len() - held.len()));
            prop_assert_eq!(b.rx_pending(), queue.len());
        }
    }
}

#[test]
fn handles_made_up_reused_or_foreign_are_refused_without_panic() {
    let pair = PortPair::<4, 64>::new();
    let (mut a, mut b) = pair.split();
    // Made-up transmit handles.
    for h in [
        TxSlot::new(0, 20),
        TxSlot::new(3, 20),
        TxSlot::new(9, 20),
        TxSlot::new(u16::MAX, 20),
    ] {
        let i = h.index();
        assert_eq!(
            a.tx_write(&h, 0, &[1; 4]).unwrap_err().kind(),
            ErrorKind::BadSlot
        );
        assert!(a.tx_buffer(&h).is_none());
        assert_eq!(
            a.tx_commit(TxSlot::new(i, 20), FrameMeta::NONE)
                .unwrap_err()
                .kind(),
            ErrorKind::BadSlot
        );
        a.tx_abort(TxSlot::new(i, 20));
    }
    assert_eq!(b.rx_take().unwrap(), None, "nothing was sent");
    // A real reservation: writes past it, a grown handle, then a double commit.
    let s = a.tx_reserve(20).unwrap().unwrap();
    let i = s.index();
    assert_eq!(
        a.tx_write(&s, 10, &[0; 11]).unwrap_err().kind(),
        ErrorKind::OutOfBounds
    );
    assert_eq!(
        a.tx_write(&s, usize::MAX, &[0; 2]).unwrap_err().kind(),
        ErrorKind::OutOfBounds
    );
    assert_eq!(
        a.tx_write(&TxSlot::new(i, 1000), 0, &[0; 100])
            .unwrap_err()
            .kind(),
        ErrorKind::BadSlot,
        "a handle longer than the slot"
    );
    a.tx_write(&s, 0, &frame(1, 20)).unwrap();
    a.tx_commit(s, FrameMeta::NONE).unwrap();
    assert_eq!(
        a.tx_commit(TxSlot::new(i, 20), FrameMeta::NONE)
            .unwrap_err()
            .kind(),
        ErrorKind::BadSlot,
        "committed twice"
    );
    // Receive side: made-up handles read nothing and release nothing.
    for k in [0u16, 1, 3, 4, 100] {
        assert_eq!(b.rx_frame(&RxSlot::new(k, 20)), &[] as &[u8]);
        b.rx_release(RxSlot::new(k, 20));
    }
    let r = b.rx_take().unwrap().unwrap();
    assert_eq!(b.rx_frame(&r), &frame(1, 20)[..]);
    let k = r.index();
    b.rx_release(r);
    b.rx_release(RxSlot::new(k, 20)); // released twice: ignored
    assert_eq!(a.tx_room(), Some(4), "every slot is free again");
}

#[test]
fn lengths_outside_the_slot_are_refused() {
    let pair = PortPair::<4, 64>::new();
    let (mut a, _b) = pair.split();
    assert_eq!(a.tx_reserve(13).unwrap_err().kind(), ErrorKind::FrameLength);
    assert_eq!(a.tx_reserve(65).unwrap_err().kind(), ErrorKind::FrameLength);
    assert!(a.tx_reserve(64).unwrap().is_some());
}

#[test]
fn a_held_frame_cannot_be_rewritten_by_the_sender() {
    let pair = PortPair::<2, 64>::new();
    let (mut a, mut b) = pair.split();
    a.send_frame(&frame(1, 30)).unwrap();
    let held = b.rx_take().unwrap().unwrap();
    // The sender fills every slot it can get: never the held one.
    while a.send_frame(&frame(9, 30)).unwrap() {}
    assert_eq!(b.rx_frame(&held), &frame(1, 30)[..]);
    b.rx_release(held);
}

#[test]
fn faults_lose_and_corrupt_what_they_say() {
    let pair = PortPair::<64, 128>::new();
    let (mut a, mut b) = pair.split();
    pair.set_faults(
        End::B,
        Faults {
            drop: Odds::Every(4),
            corrupt: Odds::Every(3),
            corrupt_anywhere: true,
            seed: 7,
        },
    );
    let mut sent = Vec::new();
    for t in 0..40u8 {
        let f = frame(t, 60);
        assert!(a.send_frame(&f).unwrap());
        sent.push(f);
    }
    let mut got = Vec::new();
    while let Some(f) = b.recv_vec().unwrap() {
        got.push(f);
    }
    let counts = pair.fault_counts(End::B);
    assert_eq!(counts.dropped, 10);
    assert_eq!(got.len() as u64, 40 - counts.dropped);
    let changed = got.iter().filter(|f| !sent.contains(f)).count() as u64;
    assert_eq!(changed, counts.corrupted);
    assert!(counts.corrupted > 0);
    assert_eq!(
        pair.fault_counts(End::A),
        FaultCounts::default(),
        "the other way is clean"
    );
}

#[test]
fn checksum_safe_corruption_only_touches_ipv4_payload() {
    let pair = PortPair::<8, 128>::new();
    let (mut a, mut b) = pair.split();
    pair.set_faults(
        End::B,
        Faults {
            corrupt: Odds::PerMille(1000),
            seed: 3,
            ..Faults::default()
        },
    );
    let mut ipv4 = frame(0, 80);
    ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
    let mut arp = frame(0, 80);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    a.send_frame(&ipv4).unwrap();
    a.send_frame(&arp).unwrap();
    let g1 = b.recv_vec().unwrap().unwrap();
    let g2 = b.recv_vec().unwrap().unwrap();
    assert_eq!(g1[..14], ipv4[..14], "header intact");
    assert_ne!(g1, ipv4);
    assert_eq!(g2, arp, "not IPv4: left alone");
    assert_eq!(pair.fault_counts(End::B).corrupted, 1);
}

#[test]
fn recycle_and_discard_make_frames_circulate() {
    let pair = PortPair::<4, 64>::new();
    let (mut a, mut b) = pair.split();
    a.send_frame(&frame(1, 20)).unwrap();
    pair.set_recycle(End::B, true);
    for _ in 0..10 {
        let s = b.rx_take().unwrap().unwrap();
        assert_eq!(b.rx_frame(&s), &frame(1, 20)[..]);
        b.rx_release(s);
    }
    pair.set_discard(End::A, true);
    for _ in 0..10 {
        assert!(b.send_frame(&frame(2, 20)).unwrap());
    }
    assert_eq!(a.rx_take().unwrap(), None);
}
