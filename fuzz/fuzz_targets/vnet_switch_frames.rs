//! Arbitrary switch configurations and frame sequences from every port.
//!
//! Invariants checked after every poll: configuration errors are typed (never a panic);
//! every ingress frame is forwarded or counted under exactly one drop reason; a partition
//! only receives frames addressed to it (its MAC, broadcast, a multicast, or unknown
//! unicast if promiscuous), untagged, never with its own source address; the uplink never
//! gets a partition's MAC control frame or a reserved group address its policy does not
//! allow; the switch keeps serving after any input. Differential: a shadow switch with the same configuration but
//! every port mirrored on ingress (which keeps every frame off the fast path) gets the
//! same frames and polls; every port but the monitor must receive the same frames and
//! count the same (the fast path decides exactly as the full path).
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{
    MacAddress, Mirror, PortConfig, PortId, RateLimit, Role, SwitchBuilder, VlanSet,
};

type Ep = MemEndpoint<8, 1600>;

fn mac(n: u8) -> MacAddress {
    MacAddress([2, 0, 0, 0, 0, n])
}

fn addr(u: &mut Unstructured) -> Result<MacAddress> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => MacAddress::BROADCAST,
        1 => MacAddress([1, 0, 0x5e, 0, 0, u.int_in_range(0..=3)?]),
        2 => MacAddress(u.arbitrary()?),
        // The IEEE 802.1D reserved range and just past it.
        3 => MacAddress([0x01, 0x80, 0xc2, 0, 0, u.int_in_range(0..=0x10)?]),
        _ => mac(u.int_in_range(0..=7)?),
    })
}

fn port_config(u: &mut Unstructured, i: usize) -> Result<PortConfig> {
    let mut c = match (i, u.int_in_range(0..=9u8)?) {
        (0, _) => {
            let mut allowed = VlanSet::new();
            for _ in 0..u.int_in_range(0..=3u8)? {
                allowed.insert(u.int_in_range(0..=5)?);
            }
            let native = if u.arbitrary()? {
                Some(u.int_in_range(0..=4)?)
            } else {
                None
            };
            let mut c = PortConfig::uplink(native, allowed);
            c.learning = u.arbitrary()?;
            c.mac_quota = u.int_in_range(0..=4)?;
            c
        }
        (_, 0) => PortConfig::monitor(),
        _ => PortConfig::partition(mac(u.int_in_range(0..=7)?), u.int_in_range(0..=4)?),
    };
    c.isolated = u.arbitrary()?;
    c.promiscuous = u.arbitrary()?;
    c.all_multicast = u.arbitrary()?;
    c.max_frame = u.int_in_range(40..=1600)?;
    c.classes = u.int_in_range(0..=9)?;
    c.default_pcp = u.int_in_range(0..=8)?;
    c.max_pcp = u.arbitrary::<Option<u8>>()?.map(|m| m % 9);
    c.link_local = u.arbitrary()?;
    c.mirror = Mirror {
        ingress: u.arbitrary()?,
        egress: u.arbitrary()?,
    };
    if u.ratio(1, 4)? {
        c.rate = Some(RateLimit {
            bytes_per_sec: u.int_in_range(0..=1_000_000)?,
            byte_burst: u.int_in_range(0..=5000)?,
            frames_per_sec: u.int_in_range(0..=1000)?,
            frame_burst: u.int_in_range(0..=4)?,
            queue: u.int_in_range(0..=4)?,
        });
    }
    if u.arbitrary()? {
        let _ = c.groups.push(addr(u)?);
    }
    if u.ratio(1, 4)? {
        let _ = c
            .allowed_ethertypes
            .insert(heapless::Vec::new())
            .push(0x0800);
    }
    Ok(c)
}

fn frame(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut f = Vec::new();
    if u.ratio(1, 8)? {
        // Raw bytes: runts, garbage.
        let n = u.int_in_range(0..=40)?;
        f.extend_from_slice(u.bytes(n)?);
        return Ok(f);
    }
    f.extend_from_slice(&addr(u)?.0);
    f.extend_from_slice(&addr(u)?.0);
    for _ in 0..u.int_in_range(0..=2u8)? {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&u.int_in_range(0u16..=0xffff)?.to_be_bytes());
    }
    f.extend_from_slice(
        &u.choose(&[
            0x0800u16, 0x0806, 0x86dd, 0x88a8, 0x0040, 0x9100, 0x9200, 0x8808, 0x8809, 0x88cc,
        ])?
        .to_be_bytes(),
    );
    let n = u.int_in_range(0..=1560)?;
    f.resize(f.len() + n, 0x5a);
    Ok(f)
}

fn run(u: &mut Unstructured) -> Result<()> {
    let ports = u.int_in_range(1..=6usize)?;
    let mut cfgs = Vec::new();
    let mut b = SwitchBuilder::<Box<Ep>, 6>::new();
    let mut shadow = SwitchBuilder::<Box<Ep>, 6>::new();
    for i in 0..ports {
        let c = port_config(u, i)?;
        b.add_port(Box::new(Ep::new()), c.clone())
            .expect("capacity is 6");
        let mut full = c.clone();
        full.mirror.ingress = true;
        shadow
            .add_port(Box::new(Ep::new()), full)
            .expect("capacity is 6");
        cfgs.push(c);
    }
    let mut sw = match b.build::<16, 4>() {
        Ok(sw) => sw,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return Ok(());
        }
    };
    let mut shadow = shadow
        .build::<16, 4>()
        .expect("mirroring does not change validity");
    let mut now = 0u64;
    let mut injected = vec![0u64; ports];
    let mut buf = vec![0u8; 1600];
    for _ in 0..u.int_in_range(1..=64u8)? {
        if u.ratio(3, 4)? {
            let p = u.int_in_range(0..=ports - 1)?;
            let f = frame(u)?;
            let id = PortId::new(p as u8);
            let ok = sw.endpoint_mut(id).unwrap().inject(&f);
            assert_eq!(ok, shadow.endpoint_mut(id).unwrap().inject(&f));
            if ok.is_ok() {
                injected[p] += 1;
            }
            continue;
        }
        now += u.int_in_range(0..=10_000_000u64)?;
        let budget = u.int_in_range(0..=16usize)?;
        let handled = sw.poll(now, budget);
        assert!(handled <= budget);
        assert_eq!(handled, shadow.poll(now, budget));
        for (i, c) in cfgs.iter().enumerate() {
            let id = PortId::new(i as u8);
            let s = sw.stats(id).unwrap().clone();
            assert_eq!(
                s.rx_frames,
                s.rx_forwarded + s.total_drops(),
                "port {i}: {s:?}"
            );
            assert!(s.rx_frames <= injected[i]);
            if c.role != Role::Monitor {
                assert_eq!(
                    &s,
                    shadow.stats(id).unwrap(),
                    "port {i}: fast and full path"
                );
            }
            let ep = sw.endpoint_mut(id).unwrap();
            let mut got = Vec::new();
            while let Some(n) = ep.receive(&mut buf) {
                got.push(buf[..n].to_vec());
            }
            let ep = shadow.endpoint_mut(id).unwrap();
            let mut want = Vec::new();
            while let Some(n) = ep.receive(&mut buf) {
                want.push(buf[..n].to_vec());
            }
            if c.role != Role::Monitor {
                assert_eq!(got, want, "port {i}: fast and full path");
            }
            for f in &got {
                // No link control from a partition leaves on the uplink (the reserved
                // range only where the sender's `link_local` allows it).
                if c.role == Role::Uplink && f.len() >= 14 {
                    let tag = usize::from(f[12..14] == [0x81, 0x00]) * 4;
                    let et = f
                        .get(12 + tag..14 + tag)
                        .map(|t| u16::from_be_bytes([t[0], t[1]]));
                    let src = MacAddress::from_slice(&f[6..12]).unwrap();
                    // Every frame on the uplink comes from a partition with its own MAC
                    // (several partitions may share one in different VLANs).
                    let mut from = cfgs
                        .iter()
                        .filter(|p| p.role == Role::Partition && p.mac == Some(src));
                    assert!(et != Some(0x8808) && et != Some(0x8809), "MAC control left");
                    if f[0..5] == [0x01, 0x80, 0xc2, 0, 0] && f[5] <= 0x0f {
                        assert!(
                            from.any(|p| p.link_local & (1 << f[5]) != 0),
                            "link-local {:#04x} left",
                            f[5]
                        );
                    }
                }
                if c.role != Role::Partition {
                    continue;
                }
                let n = f.len();
                assert!(
                    n >= 14 && n <= usize::from(c.max_frame),
                    "port {i}: {n} bytes"
                );
                let dst = MacAddress::from_slice(&f[0..6]).unwrap();
                let src = MacAddress::from_slice(&f[6..12]).unwrap();
                assert!(
                    Some(dst) == c.mac || dst.is_multicast() || c.promiscuous,
                    "port {i} got {dst}"
                );
                assert_ne!(Some(src), c.mac, "port {i} got its own frame back");
                assert_ne!(
                    &f[12..14],
                    &[0x81, 0x00],
                    "access port {i} got a tagged frame"
                );
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
