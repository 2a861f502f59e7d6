//! Model-based: any sequence of frame lengths crosses the virtio-net port both ways byte
//! for byte; with MRG_RXBUF over buffers of any size each frame uses exactly
//! ceil((12 + len) / size) receive chains.
mod adapter_util;
mod common;

use adapter_util::*;
use common::mac;
use proptest::prelude::*;
use vnet_switch::adapters::virtio_net::{NetFeatures, NET_HDR_LEN};

fn frame_of(len: usize, dst: u8, src: u8, seed: u8) -> Vec<u8> {
    let mut f = common::frame(mac(dst), mac(src), 0x0800, &[]);
    f.resize(len, 0);
    for (i, b) in f.iter_mut().enumerate().skip(14) {
        *b = (i as u8).wrapping_mul(13) ^ seed;
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 1 } else { 64 }, ..ProptestConfig::default() })]

    #[test]
    fn frames_cross_both_ways(
        lens in prop::collection::vec(60usize..=1518, 1..4),
        // The test port holds 16 chains: a 1518-byte frame needs buffers of 96 bytes or more.
        buf in 96u32..=600,
        mrg in any::<bool>(),
    ) {
        let features = V1 | if mrg { NetFeatures::MRG_RXBUF.bits() } else { 0 };
        let buf = if mrg { buf } else { 1530 };
        let net = NetMemory::new();
        let (up, down) = (channel(), channel());
        let mut drv = net.driver(features);
        let mut sw = switch(net.port(features), queuing_port(&up, &down));
        let mut sent = Vec::new();
        for (k, &len) in lens.iter().enumerate() {
            let to_v = frame_of(len, 1, 77, k as u8);
            let from_v = frame_of(len, 77, 1, k as u8 ^ 0xff);
            let chains = (NET_HDR_LEN + len).div_ceil(buf as usize);
            drv.post_rx(chains, buf);
            sw.endpoint_mut(port(0)).unwrap().mem().inject(&to_v).unwrap();
            drv.send(&from_v);
            sw.poll(k as u64, 8);
            let (hdr, got) = drv.receive().expect("delivered");
            prop_assert_eq!(usize::from(hdr.num_buffers), chains);
            prop_assert_eq!(got, to_v);
            prop_assert_eq!(drv.reclaim_tx(), 1);
            sent.push(from_v);
        }
        let mut out = Vec::new();
        let mut b = [0u8; 1600];
        while let Some(n) = sw.endpoint_mut(port(0)).unwrap().mem().receive(&mut b) {
            out.push(b[..n].to_vec());
        }
        prop_assert_eq!(out, sent);
        let v = sw.endpoint_mut(port(1)).unwrap().virtio();
        prop_assert_eq!((v.stats().tx_errors, v.stats().rx_errors, v.stats().rx_no_buffers), (0, 0, 0));
    }
}
