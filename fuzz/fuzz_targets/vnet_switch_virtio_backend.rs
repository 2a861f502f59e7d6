//! A hostile virtio-net driver against the `vnet-switch` virtio-net device port, inside a
//! switch with an uplink and another partition.
//!
//! The driver side is a real `DriverQueue` pair (so valid traffic gets far) mixed with
//! arbitrary raw writes anywhere in the driver's ring and buffer memory (descriptors,
//! avail ring, indices, event fields, headers, frames). Invariants: nothing panics; a port
//! that went down reports a fatal, typed error; the switch keeps serving: afterwards a
//! frame from the uplink to the other partition arrives byte for byte.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use virtqueue::mock::Loopback;
use virtqueue::{Buffer, DriverQueue, Features, OwnedMemory, SharedMemory};
use vnet_switch::adapters::virtio_net::{NetFeatures, PortState, VirtioNetPort};
use vnet_switch::frame_link::link_enum;
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{FrameMeta, MacAddress, PortConfig, PortId, SwitchBuilder, VlanSet};

const QSIZE: u16 = 8;
const DATA: usize = 8192;

type Virtio<'m> = VirtioNetPort<&'m OwnedMemory, 1536, 2, 8, 8, 4>;

link_enum! {
    /// The switch's ports: in-memory ones and the virtio-net device port under attack.
    enum Ep['m] {
        Mem(Box<MemEndpoint<8, 1600>>),
        Virtio(Box<Virtio<'m>>),
    }
    /// Either port's error.
    enum EpError;
}

impl Ep<'_> {
    fn mem(&mut self) -> &mut MemEndpoint<8, 1600> {
        match self {
            Ep::Mem(m) => m,
            Ep::Virtio(_) => unreachable!("port 0 and 2 are memory endpoints"),
        }
    }
}

fn mac(n: u8) -> MacAddress {
    MacAddress([2, 0, 0, 0, 0, n])
}

fn frame(dst: MacAddress, src: MacAddress, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60 + body.len());
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(body);
    f.resize(f.len().max(60), 0);
    f
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Raw bytes anywhere in the receiveq (`rx`) or transmitq memory.
    Raw {
        rx: bool,
        at: u16,
        bytes: Vec<u8>,
    },
    /// The driver sends a frame with an arbitrary header.
    Send {
        hdr: [u8; 12],
        to: u8,
        len: u16,
    },
    /// The driver posts receive buffers.
    PostRx {
        count: u8,
        len: u16,
    },
    /// The driver takes back used chains.
    Reclaim,
    /// The uplink sends to the virtio partition (with offload metadata).
    Uplink {
        len: u16,
        csum: bool,
        start: u16,
        offset: u16,
    },
    Poll,
}

fn raw(lb: &Loopback, at: u16, bytes: &[u8]) {
    let mem = lb.memory();
    let off = usize::from(at) % mem.len();
    let n = bytes.len().min(mem.len() - off);
    if let Ok(s) = mem.slice(mem.base() + off as u64, n) {
        let _ = s.write_from(0, &bytes[..n]);
    }
}

fn run(u: &mut Unstructured) -> Result<()> {
    let mut negotiated = Features::VERSION_1.bits();
    for bit in [
        NetFeatures::MRG_RXBUF.bits(),
        NetFeatures::CSUM.bits(),
        NetFeatures::GUEST_CSUM.bits(),
        Features::RING_EVENT_IDX.bits(),
        Features::INDIRECT_DESC.bits(),
    ] {
        if u.arbitrary()? {
            negotiated |= bit;
        }
    }
    let generic = Features::from_bits_truncate(negotiated);
    let (rxm, txm) = (Loopback::new(QSIZE, DATA), Loopback::new(QSIZE, DATA));
    let mut rxq: DriverQueue<'_, OwnedMemory, 8> = rxm.driver(generic).expect("ring");
    let mut txq: DriverQueue<'_, OwnedMemory, 8> = txm.driver(generic).expect("ring");
    let port: Virtio<'_> = VirtioNetPort::new(
        rxm.device(generic).expect("ring"),
        txm.device(generic).expect("ring"),
        negotiated,
        1518,
    )
    .expect("valid port configuration");

    let mut b = SwitchBuilder::<Ep<'_>, 3>::new();
    b.add_port(
        Ep::Mem(Box::new(MemEndpoint::new())),
        PortConfig::uplink(Some(1), VlanSet::new()),
    )
    .expect("port");
    b.add_port(Ep::Virtio(Box::new(port)), PortConfig::partition(mac(1), 1))
        .expect("port");
    b.add_port(
        Ep::Mem(Box::new(MemEndpoint::new())),
        PortConfig::partition(mac(2), 1),
    )
    .expect("port");
    let mut sw = b.build::<16, 8>().expect("switch");
    let (up, other) = (PortId::new(0), PortId::new(2));
    let mut now = 0;
    let mut next_buf = 0usize;

    let ops: Vec<Op> = u.arbitrary()?;
    for op in ops.into_iter().take(64) {
        match op {
            Op::Raw { rx, at, bytes } => raw(if rx { &rxm } else { &txm }, at, &bytes),
            Op::Send { hdr, to, len } => {
                let f = frame(mac(to % 4), mac(1), &vec![0x5a; usize::from(len % 1600)]);
                let off = (next_buf % 4) * 2048;
                next_buf += 1;
                let addr = txm.data_addr(off);
                raw(&txm, (addr - txm.memory().base()) as u16, &hdr);
                let flen = f.len().min(2048 - 12);
                if let Ok(s) = txm.memory().slice(addr + 12, flen) {
                    let _ = s.write_from(0, &f[..flen]);
                }
                if txq
                    .add(&[Buffer::new(addr, (12 + flen) as u32)], &[])
                    .is_ok()
                {
                    txq.publish();
                }
            }
            Op::PostRx { count, len } => {
                for k in 0..usize::from(count % 8) {
                    let l = u32::from(len % 2048).max(1);
                    let addr = rxm.data_addr((k % 4) * 2048);
                    let _ = rxq.add(&[], &[Buffer::new(addr, l)]);
                }
                rxq.publish();
            }
            Op::Reclaim => {
                while let Ok(Some(_)) = rxq.pop_used() {}
                while let Ok(Some(_)) = txq.pop_used() {}
            }
            Op::Uplink {
                len,
                csum,
                start,
                offset,
            } => {
                let f = frame(mac(1), mac(77), &vec![0xa5; usize::from(len % 1500)]);
                let meta = if csum {
                    FrameMeta::partial(start % 1600, offset % 64)
                } else {
                    FrameMeta::VERIFIED
                };
                let _ = sw
                    .endpoint_mut(up)
                    .expect("uplink")
                    .mem()
                    .inject_with_meta(&f, meta);
            }
            Op::Poll => {
                now += 1000;
                sw.poll(now, 16);
                if let Some(Ep::Virtio(v)) = sw.endpoint_mut(PortId::new(1)) {
                    let _ = v.interrupts();
                    let _ = v.enable_notifications();
                }
            }
        }
    }

    // The switch still serves the others: the uplink reaches the other partition.
    for _ in 0..4 {
        now += 1000;
        sw.poll(now, 64);
    }
    sw.endpoint_mut(other).expect("other").mem().clear_tx();
    sw.endpoint_mut(up).expect("uplink").mem().clear_tx();
    let probe = frame(mac(2), mac(77), b"still served");
    sw.endpoint_mut(up)
        .expect("uplink")
        .mem()
        .inject(&probe)
        .expect("room");
    now += 1000;
    sw.poll(now, 64);
    let mut got = Vec::new();
    let mut buf = [0u8; 1600];
    while let Some(n) = sw
        .endpoint_mut(other)
        .expect("other")
        .mem()
        .receive(&mut buf)
    {
        got.push(buf[..n].to_vec());
    }
    assert!(got.contains(&probe), "the other partition lost the probe");

    if let Some(Ep::Virtio(v)) = sw.endpoint_mut(PortId::new(1)) {
        if let PortState::Down(e) = v.state() {
            assert!(e.is_fatal(), "down for a non-fatal error: {e}");
        }
        if let Some(e) = v.stats().last_error {
            assert!(!e.to_string().is_empty());
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
