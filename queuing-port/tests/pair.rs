//! `ChannelPair`: both directions of a channel built in one call per side, a hostile
//! peer on the attaching side, and a proptest against two plain queues.

mod common;

use std::collections::VecDeque;

use common::cases;
use proptest::prelude::*;
use queuing_port::mock::{HostilePeer, OwnedRegion};
use queuing_port::{
    AtomicU32, ChannelPair, Error, Geometry, PairRegion, Region, RegionError, Side,
};

const MSG: usize = 16;
const N: usize = 4;
const PAIR: ChannelPair<MSG, N> = ChannelPair::new(false);
const CH: usize = Geometry::queuing(MSG as u32, N as u32, false).total_words();

/// Zeroed memory for one region of `words` words.
fn words(words: usize) -> Vec<AtomicU32> {
    (0..words).map(|_| AtomicU32::new(0)).collect()
}

fn msg(seq: u8, len: usize) -> Vec<u8> {
    (0..len as u8).map(|i| i.wrapping_mul(7) ^ seq).collect()
}

#[test]
fn sizes_follow_the_geometry() {
    assert_eq!(
        PAIR.geometry(),
        Geometry::queuing(MSG as u32, N as u32, false)
    );
    assert_eq!(PAIR.channel_words(), CH);
    assert_eq!(PAIR.region_words(), 2 * CH);
    assert_eq!(PAIR.region_bytes(), 8 * CH);
}

#[test]
fn one_region_carries_both_directions_in_order() {
    let mem = words(PAIR.region_words());
    let mut a = PAIR.create(Region::new(&mem)).unwrap();
    let mut b = PAIR.attach(Region::new(&mem)).unwrap();
    assert_eq!((a.side(), b.side()), (Side::A, Side::B));
    let mut buf = [0u8; MSG];
    for round in 0..3u8 {
        for i in 0..N as u8 {
            a.try_send(&msg(round * 16 + i, 1 + usize::from(i)))
                .unwrap();
            b.try_send(&msg(round * 16 + i + 100, MSG - usize::from(i)))
                .unwrap();
        }
        // Each direction is full on its own.
        assert_eq!(a.try_send(b"x"), Err(Error::NotAvailable));
        assert_eq!(b.try_send(b"x"), Err(Error::NotAvailable));
        assert_eq!(a.sender_status().unwrap().nb_message, N as u32);
        assert_eq!(b.receiver_status().unwrap().nb_message, N as u32);
        for i in 0..N as u8 {
            let m = b.try_receive(&mut buf).unwrap();
            assert_eq!(&buf[..m.len], &msg(round * 16 + i, 1 + usize::from(i))[..]);
            let m = a.try_receive(&mut buf).unwrap();
            assert_eq!(
                &buf[..m.len],
                &msg(round * 16 + i + 100, MSG - usize::from(i))[..]
            );
        }
        assert_eq!(a.try_receive(&mut buf), Err(Error::NotAvailable));
        assert_eq!(b.try_receive(&mut buf), Err(Error::NotAvailable));
    }
}

#[test]
fn two_regions_one_per_direction() {
    let ab = OwnedRegion::<CH>::zeroed();
    let ba = OwnedRegion::<CH>::zeroed();
    let mut a = PAIR.create((ab.region(), ba.region())).unwrap();
    let mut b = PAIR
        .attach(PairRegion::Two {
            a_to_b: ab.region(),
            b_to_a: ba.region(),
        })
        .unwrap();
    a.try_send(b"to b").unwrap();
    b.try_send(b"to a!").unwrap();
    let mut buf = [0u8; MSG];
    assert_eq!(b.try_receive(&mut buf).unwrap().len, 4);
    assert_eq!(&buf[..4], b"to b");
    // A's message went into the `a_to_b` region: B's receiver emptied it.
    assert_eq!(a.sender_status().unwrap().nb_message, 0);
    assert_eq!(a.try_receive(&mut buf).unwrap().len, 5);
    assert_eq!(&buf[..5], b"to a!");
}

#[test]
fn a_third_party_formats_and_both_sides_open() {
    let mem = words(PAIR.region_words());
    PAIR.format(Region::new(&mem)).unwrap();
    let mut b = PAIR.open(Region::new(&mem), Side::B).unwrap();
    let mut a = PAIR.open(Region::new(&mem), Side::A).unwrap();
    b.try_send(b"b first").unwrap();
    let mut buf = [0u8; MSG];
    assert_eq!(a.try_receive(&mut buf).unwrap().len, 7);
    let (mut tx, mut rx) = a.into_parts();
    tx.try_send(b"parts").unwrap();
    assert_eq!(b.try_receive(&mut buf).unwrap().len, 5);
    assert_eq!(rx.try_receive(&mut buf), Err(Error::NotAvailable));
}

#[test]
fn attaching_before_the_creator_formats_is_refused() {
    let mem = words(PAIR.region_words());
    let e = PAIR.attach(Region::new(&mem)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Corrupt(RegionError::HeaderMismatch { field: "magic", .. })
        ),
        "{e:?}"
    );
}

#[test]
fn short_regions_get_a_typed_error() {
    for len in [0, 1, CH, 2 * CH - 1] {
        let mem = words(len);
        for e in [
            PAIR.create(Region::new(&mem)).unwrap_err(),
            PAIR.attach(Region::new(&mem)).unwrap_err(),
            PAIR.format(Region::new(&mem)).unwrap_err(),
        ] {
            assert!(
                matches!(e, Error::Corrupt(RegionError::TooSmall { .. })),
                "{len} words: {e:?}"
            );
        }
    }
    // Two regions, the second too short.
    let ab = words(CH);
    let ba = words(CH - 1);
    let e = PAIR
        .create((Region::new(&ab), Region::new(&ba)))
        .unwrap_err();
    assert!(matches!(e, Error::Corrupt(RegionError::TooSmall { .. })));
}

#[test]
fn the_two_sides_must_agree_on_the_configuration() {
    let mem = words(PAIR.region_words());
    PAIR.create(Region::new(&mem)).unwrap();
    let e = ChannelPair::<MSG, N>::new(true)
        .attach(Region::new(&mem))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Corrupt(RegionError::HeaderMismatch { field: "flags", .. })
        ),
        "{e:?}"
    );
    // Smaller messages: the header says otherwise.
    let e = ChannelPair::<8, N>::new(false)
        .attach(Region::new(&mem))
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::HeaderMismatch {
            field: "max_message_size",
            ..
        })
    ));
}

#[test]
fn sizes_beyond_the_layout_limits_are_refused() {
    let mem = words(1024);
    let e = ChannelPair::<0, 4>::new(false)
        .create(Region::new(&mem))
        .unwrap_err();
    assert!(matches!(
        e,
        Error::InvalidConfig {
            what: "max_message_size",
            ..
        }
    ));
    let e = ChannelPair::<16, 0>::new(false)
        .create(Region::new(&mem))
        .unwrap_err();
    assert!(matches!(
        e,
        Error::InvalidConfig {
            what: "max_nb_message",
            ..
        }
    ));
}

#[test]
fn drop_on_full_pairs_tell_the_receiver() {
    let pair = ChannelPair::<MSG, N>::new(true);
    let mem = words(pair.region_words());
    let mut a = pair.create(Region::new(&mem)).unwrap();
    let mut b = pair.attach(Region::new(&mem)).unwrap();
    for i in 0..=N as u8 {
        a.try_send(&[i]).unwrap();
    }
    let mut buf = [0u8; MSG];
    let first = b.try_receive(&mut buf).unwrap();
    assert!(first.overflowed);
    assert_eq!(buf[0], 0);
}

/// The hostile peer holds side B: it writes the header of the channel side A sends on.
/// A's ports read the header once, on attach: they keep working on what they
/// validated, and a new attach of that channel is refused with a typed error.
#[test]
fn a_peer_scribbling_the_other_directions_header_gets_a_typed_error() {
    let mem = words(PAIR.region_words());
    let mut a = PAIR.create(Region::new(&mem)).unwrap();
    let mut b = PAIR.attach(Region::new(&mem)).unwrap();
    let a_to_b = HostilePeer::new(Region::new(&mem[..CH]));
    for w in 0..16 {
        a_to_b.poke(w, 0xdead_beef);
    }
    a.try_send(b"still").unwrap();
    let mut buf = [0u8; MSG];
    assert_eq!(b.try_receive(&mut buf).unwrap().len, 5);
    let e = PAIR.open(Region::new(&mem), Side::A).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Corrupt(RegionError::HeaderMismatch { field: "magic", .. })
        ),
        "{e:?}"
    );
    let e = PAIR.attach(Region::new(&mem)).unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::HeaderMismatch { .. })
    ));
    // Forging the lengths of the header alone (magic intact) is caught field by field.
    PAIR.format(Region::new(&mem)).unwrap();
    a_to_b.poke(6, u32::MAX); // total_words
    let e = PAIR.open(Region::new(&mem), Side::A).unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::HeaderMismatch {
            field: "total_words",
            expected,
            found: u32::MAX,
        }) if expected == CH as u32
    ));
}

/// The hostile peer writes the indices and lengths of both channels: A gets typed
/// errors, never a panic, and each direction fails on its own.
#[test]
fn a_peer_forging_indices_and_lengths_gets_typed_errors() {
    let mem = words(PAIR.region_words());
    let mut a = PAIR.create(Region::new(&mem)).unwrap();
    let mut b = PAIR.attach(Region::new(&mem)).unwrap();
    let a_to_b = HostilePeer::new(Region::new(&mem[..CH]));
    let b_to_a = HostilePeer::new(Region::new(&mem[CH..]));
    let mut buf = [0u8; MSG];

    // b → a: a tail far beyond the window.
    b_to_a.poke(HostilePeer::TAIL, 1000);
    let e = a.try_receive(&mut buf).unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::IndexOutOfRange { .. })
    ));
    // a → b still works.
    a.try_send(b"ok").unwrap();
    assert_eq!(b.try_receive(&mut buf).unwrap().len, 2);

    // a → b: B's head moved past A's tail. The sender reads it when it runs out of
    // the room it saw last, or for its status.
    a_to_b.poke(HostilePeer::HEAD, 7);
    let e = a.sender_status().unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::IndexOutOfRange { .. })
    ));
    let e = (0..=N).find_map(|_| a.try_send(b"x").err()).unwrap();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::IndexOutOfRange { .. })
    ));

    // b → a, reformatted: one message whose length the peer then forges.
    PAIR.format((Region::new(&mem[..CH]), Region::new(&mem[CH..])))
        .unwrap();
    let mut a = PAIR.open(Region::new(&mem), Side::A).unwrap();
    let mut b = PAIR.open(Region::new(&mem), Side::B).unwrap();
    b.try_send(b"len").unwrap();
    b_to_a.poke(PAIR.geometry().length_word(0), MSG as u32 + 1);
    let e = a.try_receive(&mut buf).unwrap_err();
    assert!(matches!(
        e,
        Error::Corrupt(RegionError::LengthOutOfRange { .. })
    ));

    // Everything scribbled: every call returns, typed.
    a_to_b.scribble_channel(&PAIR.geometry(), u32::MAX);
    b_to_a.scribble_channel(&PAIR.geometry(), 0x8000_0001);
    for _ in 0..3 {
        let _ = a.try_send(b"x");
        let _ = a.try_receive(&mut buf);
        let _ = a.sender_status();
        let _ = a.receiver_status();
    }
    assert!(PAIR.attach(Region::new(&mem)).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Send { side: Side, len: usize },
    Receive { side: Side },
    Flush { side: Side },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::A), Just(Side::B)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (side(), 1..=MSG).prop_map(|(side, len)| Op::Send { side, len }),
        side().prop_map(|side| Op::Receive { side }),
        side().prop_map(|side| Op::Flush { side }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]
    /// Both ends against two bounded FIFO queues, with publication batches on the
    /// receivers (their index published at multiples of `batch` and on `flush`).
    #[test]
    fn a_pair_behaves_as_two_bounded_queues(
        ops in prop::collection::vec(op(), 1..if cfg!(miri) { 24 } else { 120 }),
        two_regions in any::<bool>(),
        batch in prop_oneof![Just(1u32), Just(2u32)],
    ) {
        let mem = words(PAIR.region_words());
        let region: PairRegion<'_> = if two_regions {
            (Region::new(&mem[..CH]), Region::new(&mem[CH..])).into()
        } else {
            Region::new(&mem).into()
        };
        let mut ends = [PAIR.create(region).unwrap(), PAIR.attach(region).unwrap()];
        for e in &mut ends {
            e.receiver().set_publish_batch(batch);
        }
        // Model: the queue each side sends on; each side's received count and the
        // part of it published (at multiples of `batch`, on empty and on flush).
        let mut queues: [VecDeque<Vec<u8>>; 2] = [VecDeque::new(), VecDeque::new()];
        let mut head = [0usize; 2];
        let mut published = [0usize; 2];
        let mut seq = 0u8;
        let ix = |s: Side| match s { Side::A => 0, Side::B => 1 };
        let mut buf = [0u8; MSG];
        for op in ops {
            match op {
                Op::Send { side, len } => {
                    let me = ix(side);
                    let other = 1 - me;
                    seq = seq.wrapping_add(1);
                    let m = msg(seq, len);
                    let room = queues[me].len() + head[other] - published[other] < N;
                    let got = ends[me].try_send(&m);
                    if room {
                        prop_assert_eq!(got, Ok(()));
                        queues[me].push_back(m);
                    } else {
                        prop_assert_eq!(got, Err(Error::NotAvailable));
                    }
                }
                Op::Receive { side } => {
                    let me = ix(side);
                    let other = 1 - me;
                    match queues[other].pop_front() {
                        Some(want) => {
                            let got = ends[me].try_receive(&mut buf).unwrap();
                            prop_assert!(!got.overflowed);
                            prop_assert_eq!(&buf[..got.len], &want[..]);
                            head[me] += 1;
                            if head[me] % batch as usize == 0 {
                                published[me] = head[me];
                            }
                        }
                        None => {
                            prop_assert_eq!(
                                ends[me].try_receive(&mut buf),
                                Err(Error::NotAvailable)
                            );
                            // A receiver that sees empty publishes its index.
                            published[me] = head[me];
                        }
                    }
                }
                Op::Flush { side } => {
                    let me = ix(side);
                    ends[me].receiver().flush();
                    published[me] = head[me];
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Hostile {
    /// Side A sends a message of this length.
    Send(usize),
    /// Side A receives.
    Receive,
    /// Side A reads both statuses.
    Status,
    /// The peer writes `value` at word `index` of the whole region.
    Poke { index: usize, value: u32 },
    /// Side A attaches again.
    Reopen,
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let values = prop_oneof![
        Just(0u32),
        Just(1),
        Just(N as u32),
        Just(MSG as u32 + 1),
        Just(u32::MAX),
        any::<u32>(),
    ];
    prop_oneof![
        (1..=MSG).prop_map(Hostile::Send),
        Just(Hostile::Receive),
        Just(Hostile::Status),
        (0..2 * CH, values).prop_map(|(index, value)| Hostile::Poke { index, value }),
        Just(Hostile::Reopen),
    ]
}

/// What side A may see, whatever the peer writes: success, an empty or full queue, or a
/// corrupt region.
fn allowed<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Ok(_) | Err(Error::NotAvailable | Error::Corrupt(_)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]
    /// A peer writing any word of either channel (headers, indices, lengths, data) at
    /// any time: side A never panics, and every call ends in success, `NOT_AVAILABLE` or
    /// a typed corruption error.
    #[test]
    fn a_hostile_peer_only_causes_typed_errors(
        ops in prop::collection::vec(hostile(), 1..if cfg!(miri) { 16 } else { 80 }),
    ) {
        let mem = words(PAIR.region_words());
        let mut a = PAIR.create(Region::new(&mem)).unwrap();
        let peer = HostilePeer::new(Region::new(&mem));
        let mut buf = [0u8; MSG];
        for op in ops {
            match op {
                Hostile::Send(len) => prop_assert!(allowed(&a.try_send(&msg(1, len)))),
                Hostile::Receive => {
                    let r = a.try_receive(&mut buf);
                    prop_assert!(allowed(&r));
                    if let Ok(m) = r {
                        prop_assert!((1..=MSG).contains(&m.len));
                    }
                }
                Hostile::Status => {
                    prop_assert!(allowed(&a.sender_status()));
                    prop_assert!(allowed(&a.receiver_status()));
                }
                // Data slots are written at the width the ports copy them with.
                Hostile::Poke { index, value } if index % CH >= PAIR.geometry().slot_word(0) => {
                    peer.poke_data(index & !1, u64::from(value) * 0x1_0000_0001);
                }
                Hostile::Poke { index, value } => peer.poke(index, value),
                Hostile::Reopen => match PAIR.open(Region::new(&mem), Side::A) {
                    Ok(end) => a = end,
                    Err(e) => prop_assert!(matches!(e, Error::Corrupt(_)), "{:?}", e),
                },
            }
        }
    }
}
