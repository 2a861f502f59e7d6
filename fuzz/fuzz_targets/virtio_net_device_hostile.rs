//! The virtio-net driver against a hostile device: arbitrary configuration at bring-up
//! and later, arbitrary used-ring writes on the receive, transmit and control queues,
//! arbitrary bytes in the receive buffers. Checks: no panic; bring-up either succeeds or
//! fails with a typed error leaving no DMA allocated; every frame handed out is 14..=1518
//! bytes; every error is typed and counted when it is a device violation; a broken driver
//! stays broken; drop frees everything.
#![no_main]

use std::cell::RefCell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nic_drivers::mock::{FakeDeviceState, FakeHal, FakeTransport};
use nic_drivers::net::{NetConfig, VirtioNet, SUPPORTED_FEATURES};
use nic_drivers::virtqueue::mock::MockDevice;
use nic_drivers::virtqueue::SharedMemory;
use nic_drivers::{Error, FrameLink, FrameMeta, NicControl, MAX_FRAME, MIN_FRAME};

#[derive(Debug, Arbitrary)]
enum Op {
    /// A used element on queue `q % 3` (any id, any length), maybe published.
    Used {
        q: u8,
        id: u32,
        len: u32,
        publish: bool,
    },
    /// Any `used.idx` on queue `q % 3`.
    UsedIdx {
        q: u8,
        idx: u16,
    },
    /// Bytes written into the receive buffer of descriptor `desc`.
    RxBytes {
        desc: u8,
        offset: u16,
        bytes: Vec<u8>,
    },
    /// Bytes written into the configuration space (bumps the generation).
    Config {
        offset: u8,
        bytes: Vec<u8>,
    },
    Take {
        keep: bool,
    },
    Release,
    Send {
        len: u16,
    },
    Poll {
        budget: u8,
    },
    Link,
    Promiscuous(bool),
    Interrupts(bool),
}

#[derive(Debug, Arbitrary)]
struct Input {
    features: u64,
    legacy: bool,
    config: [u8; 16],
    queue_max: [u16; 3],
    ops: Vec<Op>,
}

type Net<'h, 'a> = VirtioNet<'h, FakeHal, FakeTransport<'a>, 32, 4>;

fuzz_target!(|input: Input| {
    let hal = FakeHal::new(0x8000_0000, 1 << 20);
    let mut st = FakeDeviceState::net(input.features, [0; 6], 0);
    st.legacy = input.legacy;
    st.config[..16].copy_from_slice(&input.config);
    st.queue_max[..3].copy_from_slice(&input.queue_max);
    let st = RefCell::new(st);
    {
        let cfg = NetConfig {
            ctrl_spins: 4,
            ..NetConfig::default()
        };
        let net: Result<Net<'_, '_>, Error> =
            VirtioNet::new(&hal, FakeTransport::new(&st, None), cfg);
        let mut net = match net {
            Ok(n) => n,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                assert_eq!(
                    hal.live_allocations(),
                    0,
                    "failed bring-up leaks DMA: {e:?}"
                );
                return;
            }
        };
        let mem = hal.device_memory();
        let mut devs: Vec<Option<MockDevice<'_>>> = (0..3u16)
            .map(|q| {
                st.borrow()
                    .queue(q)
                    .and_then(|c| MockDevice::new(&mem, c).ok())
            })
            .collect();
        let mut held = Vec::new();
        let mut violations = 0u64;
        for op in input.ops.iter().take(256) {
            let was_broken = net.is_broken();
            let r: Result<(), Error> = match op {
                Op::Used {
                    q,
                    id,
                    len,
                    publish,
                } => {
                    if let Some(d) = devs[usize::from(q % 3)].as_mut() {
                        d.push_used(*id, *len);
                        if *publish {
                            d.publish();
                        }
                    }
                    Ok(())
                }
                Op::UsedIdx { q, idx } => {
                    if let Some(d) = devs[usize::from(q % 3)].as_mut() {
                        d.set_used_idx(*idx);
                    }
                    Ok(())
                }
                Op::RxBytes {
                    desc,
                    offset,
                    bytes,
                } => {
                    if let Some(d) = devs[0].as_ref() {
                        let size = st.borrow().queue(0).map_or(1, |c| c.size);
                        let addr = d.desc(u16::from(*desc) % size).addr.get();
                        let n = bytes.len().min(2048);
                        if let Ok(s) = mem.slice(addr + u64::from(*offset % 1536), n) {
                            let _ = s.write_from(0, &bytes[..n]);
                        }
                    }
                    Ok(())
                }
                Op::Config { offset, bytes } => {
                    let n = bytes.len().min(16);
                    st.borrow_mut()
                        .write_config(usize::from(offset % 48), &bytes[..n]);
                    Ok(())
                }
                Op::Take { keep } => net.rx_take().map(|s| {
                    if let Some(s) = s {
                        let n = net.rx_frame(&s).len();
                        assert!((MIN_FRAME..=MAX_FRAME).contains(&n), "frame of {n}");
                        if *keep {
                            held.push(s);
                        } else {
                            net.rx_release(s);
                        }
                    }
                }),
                Op::Release => {
                    if let Some(s) = held.pop() {
                        net.rx_release(s);
                    }
                    Ok(())
                }
                Op::Send { len } => {
                    let len = usize::from(*len % 1600);
                    match net.tx_reserve(len) {
                        Ok(Some(slot)) => net
                            .tx_write(&slot, 0, &vec![0xa5; len])
                            .and_then(|()| net.tx_commit(slot, FrameMeta::NONE))
                            .and_then(|()| net.service(0)),
                        Ok(None) => Ok(()),
                        Err(Error::FrameLength { .. }) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
                Op::Poll { budget } => net.service(u16::from(*budget)),
                Op::Link => {
                    let _ = net.link_state();
                    Ok(())
                }
                Op::Promiscuous(on) => match net.set_promiscuous(*on) {
                    Err(
                        Error::Unsupported { .. }
                        | Error::Timeout { .. }
                        | Error::CommandFailed { .. },
                    ) => Ok(()),
                    r => r,
                },
                Op::Interrupts(on) => {
                    if *on {
                        let _ = net.enable_interrupts();
                    } else {
                        net.disable_interrupts();
                    }
                    let _ = net.ack_interrupt();
                    Ok(())
                }
            };
            if let Err(e) = r {
                assert!(!e.to_string().is_empty());
                if was_broken {
                    assert_eq!(e, Error::Broken, "a broken driver stays broken");
                } else if e.is_device_violation() {
                    violations += 1;
                }
            }
            if was_broken {
                assert!(net.is_broken());
            }
        }
        assert_eq!(net.stats().device_errors, violations);
        let caps = net.caps();
        assert!(caps.mtu >= 68 && caps.mtu <= 1500);
        assert!(net.mac_address().is_unicast());
        let _ = SUPPORTED_FEATURES;
    }
    assert_eq!(hal.live_allocations(), 0, "drop frees all DMA");
});
