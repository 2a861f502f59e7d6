//! A lossy, corrupting peer (the in-memory endpoint's fault hooks) against the isolation
//! rules: whatever bytes arrive, a partition only hears frames for it, nobody hears a
//! spoofed source, and every frame is accounted for.
mod common;
use common::*;
use proptest::prelude::*;
use vnet_switch::mem::Faults;
use vnet_switch::{MacAddress, PortConfig, VlanSet};

const PARTS: u8 = 4;
/// Frames per case: fewer under Miri, which runs ~1000x slower.
const MAX_SENDS: usize = if cfg!(miri) { 10 } else { 60 };

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn corrupted_frames_never_break_isolation(
        corrupt_every in 1u32..4,
        drop_every in 0u32..5,
        sends in prop::collection::vec((0u8..=PARTS, 0u8..=PARTS + 2, 0usize..100), 1..MAX_SENDS),
    ) {
        let mut cfgs = vec![PortConfig::uplink(Some(1), VlanSet::new())];
        for k in 1..=PARTS {
            cfgs.push(PortConfig::partition(mac(k), 1 + u16::from(k % 2)));
        }
        let mut sw = build(&cfgs);
        for port in 0..=usize::from(PARTS) {
            sw.endpoint_mut(p(port)).unwrap().set_faults(Faults { drop_every, corrupt_every });
        }
        let mut injected = [0u64; PARTS as usize + 1];
        for (from, to, len) in sends {
            let dst = if to > PARTS { MacAddress::BROADCAST } else { mac(to) };
            let src = if from == 0 { mac(200) } else { mac(from) };
            let f = frame(dst, src, 0x0800, &vec![from; len]);
            if sw.endpoint_mut(p(usize::from(from))).unwrap().inject(&f).is_ok() {
                injected[usize::from(from)] += 1;
            }
            sw.poll(0, 4);
            for port in 0..=usize::from(PARTS) {
                for got in drain(&mut sw, port) {
                    let d = MacAddress::from_slice(&got[0..6]).unwrap();
                    let s = MacAddress::from_slice(&got[6..12]).unwrap();
                    if port == 0 {
                        // Out of the uplink only with a partition's own address.
                        prop_assert!((1..=PARTS).any(|k| s == mac(k)), "uplink got source {}", s);
                    } else {
                        prop_assert!(d == mac(port as u8) || d.is_multicast(), "port {} got {}", port, d);
                        prop_assert_ne!(s, mac(port as u8));
                        prop_assert_ne!(&got[12..14], &[0x81, 0x00]);
                    }
                }
            }
        }
        for (port, n) in injected.iter().enumerate() {
            let st = sw.stats(p(port)).unwrap();
            prop_assert_eq!(st.rx_frames, st.rx_forwarded + st.total_drops());
            let ep = sw.endpoint(p(port)).unwrap();
            prop_assert_eq!(st.rx_frames + ep.fault_dropped, *n);
        }
    }
}
