//! Shared helpers: frame builders and a small switch over in-memory endpoints.
#![allow(dead_code)]

use vnet_switch::mem::MemEndpoint;
use vnet_switch::{MacAddress, PortConfig, PortId, Switch, SwitchBuilder};

/// The endpoint used by the tests: 8 slots of 1600 bytes per direction.
pub type Ep = MemEndpoint<8, 1600>;
/// The switch used by the tests.
pub type Sw = Switch<Box<Ep>, 8, 64, 8>;

pub fn mac(n: u8) -> MacAddress {
    MacAddress([2, 0, 0, 0, 0, n])
}

/// An untagged frame; the payload is `payload` padded to at least 46 bytes.
pub fn frame(dst: MacAddress, src: MacAddress, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    while f.len() < 60 {
        f.push(0);
    }
    f
}

/// A frame with one 802.1Q tag.
pub fn tagged(
    dst: MacAddress,
    src: MacAddress,
    pcp: u8,
    vid: u16,
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = frame(dst, src, ethertype, payload);
    let tci = (u16::from(pcp) << 13) | vid;
    let mut tag = vec![0x81, 0x00];
    tag.extend_from_slice(&tci.to_be_bytes());
    f.splice(12..12, tag);
    f
}

/// Builds a switch from port configurations.
pub fn build(configs: &[PortConfig]) -> Sw {
    let mut b = SwitchBuilder::<Box<Ep>, 8>::new();
    for c in configs {
        b.add_port(Box::new(Ep::new()), c.clone()).unwrap();
    }
    b.build().unwrap()
}

pub fn p(i: usize) -> PortId {
    PortId::new(i as u8)
}

pub fn inject(sw: &mut Sw, port: usize, f: &[u8]) {
    sw.endpoint_mut(p(port)).unwrap().inject(f).unwrap();
}

/// Every frame the peer of `port` can receive now.
pub fn drain(sw: &mut Sw, port: usize) -> Vec<Vec<u8>> {
    let ep = sw.endpoint_mut(p(port)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1600];
    while let Some(n) = ep.receive(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}
