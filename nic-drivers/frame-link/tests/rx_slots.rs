//! `RxSlots` against a model: a map from slot index to the frame it holds. Frames are
//! taken (copied in), read, released, and handles are forged (wrong index, wrong length,
//! already released); the slots answer exactly as the model says.

use std::collections::BTreeMap;

use frame_link::{FrameMeta, RxSlot, RxSlots};
use proptest::prelude::*;

const F: usize = 32;
const K: usize = 5;

#[derive(Debug, Clone)]
enum Op {
    /// Copy a frame of this length (clamped to `F + 2`: longer than a slot is refused).
    Take(usize, u8),
    /// Release the n-th held handle (modulo), if any.
    Release(usize),
    /// A forged handle: index and length.
    Forge(u16, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..F + 3, any::<u8>()).prop_map(|(l, b)| Op::Take(l, b)),
        2 => any::<usize>().prop_map(Op::Release),
        1 => (0u16..8, 0..F + 2).prop_map(|(i, l)| Op::Forge(i, l)),
    ]
}

proptest! {
    #[test]
    fn slots_follow_the_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut slots = RxSlots::<F, K>::new();
        let mut model: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
        let mut held: Vec<RxSlot> = Vec::new();
        for op in ops {
            match op {
                Op::Take(len, byte) => {
                    let frame = vec![byte; len];
                    let room = slots.next_free().is_some();
                    prop_assert_eq!(room, model.len() < K);
                    if let Some(buf) = slots.next_free() {
                        let n = len.min(F);
                        buf[..n].copy_from_slice(&frame[..n]);
                    }
                    let meta = if byte % 2 == 0 { FrameMeta::NONE } else { FrameMeta::partial(14, 16) };
                    match slots.take(len as u16, meta) {
                        Some(s) => {
                            prop_assert!(len <= F && model.len() < K);
                            prop_assert!(!model.contains_key(&s.index()));
                            prop_assert_eq!(slots.frame(&s), &frame[..]);
                            prop_assert_eq!(slots.meta(&s), meta);
                            model.insert(s.index(), frame);
                            held.push(s);
                        }
                        None => prop_assert!(len > F || model.len() == K),
                    }
                }
                Op::Release(n) => {
                    if !held.is_empty() {
                        let s = held.remove(n % held.len());
                        model.remove(&s.index());
                        slots.release(s);
                    }
                }
                Op::Forge(i, len) => {
                    let forged = RxSlot::new(i, len);
                    let real = model.get(&i).filter(|f| f.len() == len);
                    prop_assert_eq!(slots.frame(&forged), real.map_or(&[][..], |f| &f[..]));
                    if real.is_none() {
                        // A forged handle frees nothing.
                        let before = slots.free();
                        slots.release(forged);
                        prop_assert_eq!(slots.free(), before);
                    }
                }
            }
            prop_assert_eq!(slots.free(), K - model.len());
            for s in &held {
                prop_assert_eq!(slots.frame(s), &model[&s.index()][..]);
            }
        }
        for s in held.drain(..) {
            slots.release(s);
        }
        prop_assert_eq!(slots.free(), K);
    }
}
