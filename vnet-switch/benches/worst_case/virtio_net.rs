//! The worst-case work of the virtio-net device port's `rx_take` / `tx_reserve` against
//! a hostile driver, against the bound of the adapter's docs: at most `MAX_BAD_CHAINS`
//! (8) bad chains skipped per call, each chain walk at most `S` (16) descriptors.
//!
//! A split driver may name the same head in every avail entry, so one 16-descriptor bad
//! chain can be offered again and again. The units are the translations of the driver's
//! buffers, counted by `virtqueue_bench::worst_case::Counting`: one per descriptor the
//! device walked, and one per buffer piece it copied (the queue translates a chain's
//! buffers again when it reads or writes them).

use virtqueue::layout::{DescFlags, Descriptor};
use virtqueue::mock::{Loopback, MockDriver};
use virtqueue::{AnyDeviceQueue, Features};
use virtqueue_bench::kit::{measured, Row};
use virtqueue_bench::worst_case::Counting;
use vnet_switch::adapters::virtio_net::{NetFeatures, VirtioNetPort, MAX_BAD_CHAINS, NET_HDR_LEN};
use vnet_switch::frame_link::FrameLink;

/// Queue size, segments per chain and chains held of the rows' port.
const QSIZE: u16 = 256;
const S: usize = 16;
const CHAINS: usize = 16;
const MAX_FRAME: u16 = 1514;
/// Head of the bad 16-descriptor chain and of the good chain.
const BAD: u16 = 0;
const GOOD: u16 = 16;

type Port<'m> = VirtioNetPort<&'m Counting<'m>, 1536, 2, CHAINS, { QSIZE as usize }, S>;

/// The driver's side of both queues.
struct Net {
    rx: Loopback,
    tx: Loopback,
}

/// Writes a chain of `lens.len()` descriptors at `first..`, each `lens[k]` bytes in the
/// data area, `writable` or not.
fn chain(lb: &Loopback, drv: &MockDriver<'_>, first: u16, lens: &[u32], writable: bool) {
    let mut off = 0;
    for (k, &len) in lens.iter().enumerate() {
        let i = first + k as u16;
        let mut flags = if writable {
            DescFlags::WRITE
        } else {
            DescFlags::empty()
        };
        if k + 1 < lens.len() {
            flags |= DescFlags::NEXT;
        }
        drv.write_desc(i, Descriptor::new(lb.data_addr(off), len, flags, i + 1));
        off += len as usize;
    }
}

/// Makes the call `reps` times on the rings `post` writes; the descriptors one call
/// walked.
fn run(
    reps: u32,
    negotiated: u64,
    post: fn(&Net, &mut MockDriver<'_>, &mut MockDriver<'_>),
    call: fn(&mut Port<'_>) -> bool,
) -> u32 {
    let mut units = 0;
    for _ in 0..reps {
        let net = Net {
            rx: Loopback::new(QSIZE, 64 * 1024),
            tx: Loopback::new(QSIZE, 64 * 1024),
        };
        let (mut rxd, mut txd) = (net.rx.mock_driver(), net.tx.mock_driver());
        post(&net, &mut rxd, &mut txd);
        rxd.publish();
        txd.publish();
        let (crx, ctx) = (Counting::new(&net.rx), Counting::new(&net.tx));
        let generic = Features::from_bits_truncate(negotiated);
        let mut port: Box<Port<'_>> = Box::new(
            VirtioNetPort::new(
                AnyDeviceQueue::attach(&crx, net.rx.config(), generic).unwrap(),
                AnyDeviceQueue::attach(&ctx, net.tx.config(), generic).unwrap(),
                negotiated,
                MAX_FRAME,
            )
            .unwrap(),
        );
        crx.take();
        ctx.take();
        let got = measured(|| call(&mut port));
        assert!(got, "the call did not do what the row expects");
        units = crx.take() + ctx.take();
    }
    units
}

const V1: u64 = Features::VERSION_1.bits();
const MRG: u64 = V1 | NetFeatures::MRG_RXBUF.bits();
const HDR: u32 = NET_HDR_LEN as u32;

/// A 16-descriptor transmit chain whose frame is too long (refused after the walk).
fn bad_tx(net: &Net, txd: &MockDriver<'_>) {
    chain(&net.tx, txd, BAD, &[200; S], false);
}

/// A good transmit chain: the header and a maximum-size frame over 16 descriptors.
fn good_tx(net: &Net, txd: &MockDriver<'_>, segments: usize) {
    let total = HDR + u32::from(MAX_FRAME);
    let mut lens = vec![total / segments as u32; segments];
    lens[0] += total % segments as u32;
    chain(&net.tx, txd, GOOD, &lens, false);
}

/// A 16-descriptor receive chain with a readable part (refused after the walk).
fn bad_rx(net: &Net, rxd: &MockDriver<'_>) {
    chain(&net.rx, rxd, BAD, &[200; S], false);
}

/// `bad` avail entries naming the bad chain, then one naming the good chain.
fn bad_then_good(d: &mut MockDriver<'_>, bad: usize) {
    for _ in 0..bad {
        d.push_avail(BAD);
    }
    d.push_avail(GOOD);
}

fn rx_take(port: &mut Port<'_>) -> bool {
    matches!(port.rx_take(), Ok(Some(_)))
}

fn rx_take_none(port: &mut Port<'_>) -> bool {
    matches!(port.rx_take(), Ok(None))
}

fn reserve(port: &mut Port<'_>) -> bool {
    matches!(port.tx_reserve(usize::from(MAX_FRAME)), Ok(Some(_)))
}

fn reserve_none(port: &mut Port<'_>) -> bool {
    matches!(port.tx_reserve(usize::from(MAX_FRAME)), Ok(None))
}

const TAKE: &str = "VirtioNetPort::rx_take (transmitq)";
const RESERVE: &str = "VirtioNetPort::tx_reserve(1514) (receiveq)";
/// The documented bound: 8 chains of at most 16 descriptors walked, and the taken chain's
/// buffers copied in two reads (header, frame) over its ≤ 16 segments: ≤ 17 pieces.
const TAKE_LIMIT: u32 = (MAX_BAD_CHAINS * S + S + 1) as u32;
/// 8 bad chains, and the chains of one frame (at most `CHAINS`), each ≤ 16 descriptors.
const RESERVE_LIMIT: u32 = ((MAX_BAD_CHAINS + CHAINS) * S) as u32;

const fn row(
    call: &'static str,
    input: &'static str,
    bound: &'static str,
    limit: u32,
    run: fn(u32) -> u32,
) -> Row {
    Row::new(call, input, bound, limit, "translations", run)
}

const TAKE_BOUND: &str = "≤ 8 chains of ≤ S (16) descriptors + ≤ S + 1 copied pieces";
const RESERVE_BOUND: &str = "≤ 8 bad chains + ≤ CHAINS (16) chains, ≤ 16 descriptors each";

/// Every measured call and input.
pub const ROWS: &[Row] = &[
    row(TAKE, "typical", TAKE_BOUND, TAKE_LIMIT, |r| {
        run(
            r,
            V1,
            |n, _, t| {
                good_tx(n, t, 1);
                bad_then_good(t, 0);
            },
            rx_take,
        )
    }),
    row(
        TAKE,
        "7 bad 16-descriptor chains, then a max frame over 16",
        TAKE_BOUND,
        TAKE_LIMIT,
        |r| {
            run(
                r,
                V1,
                |n, _, t| {
                    bad_tx(n, t);
                    good_tx(n, t, S);
                    bad_then_good(t, MAX_BAD_CHAINS - 1);
                },
                rx_take,
            )
        },
    ),
    row(
        TAKE,
        "only bad 16-descriptor chains",
        TAKE_BOUND,
        TAKE_LIMIT,
        |r| {
            run(
                r,
                V1,
                |n, _, t| {
                    bad_tx(n, t);
                    for _ in 0..QSIZE {
                        t.push_avail(BAD);
                    }
                },
                rx_take_none,
            )
        },
    ),
    row(RESERVE, "typical", RESERVE_BOUND, RESERVE_LIMIT, |r| {
        run(
            r,
            V1,
            |n, d, _| {
                chain(&n.rx, d, GOOD, &[HDR + u32::from(MAX_FRAME)], true);
                bad_then_good(d, 0);
            },
            reserve,
        )
    }),
    row(
        RESERVE,
        "7 bad 16-descriptor chains, then a good one",
        RESERVE_BOUND,
        RESERVE_LIMIT,
        |r| {
            run(
                r,
                V1,
                |n, d, _| {
                    bad_rx(n, d);
                    chain(&n.rx, d, GOOD, &[HDR + u32::from(MAX_FRAME)], true);
                    bad_then_good(d, MAX_BAD_CHAINS - 1);
                },
                reserve,
            )
        },
    ),
    row(
        RESERVE,
        "MRG_RXBUF: 7 bad chains before each of 16 header-size chains",
        RESERVE_BOUND,
        RESERVE_LIMIT,
        |r| {
            run(
                r,
                MRG,
                |n, d, _| {
                    bad_rx(n, d);
                    chain(&n.rx, d, GOOD, &[HDR], true);
                    for _ in 0..CHAINS {
                        bad_then_good(d, MAX_BAD_CHAINS - 1);
                    }
                    for _ in CHAINS * MAX_BAD_CHAINS..usize::from(QSIZE) {
                        d.push_avail(BAD);
                    }
                },
                reserve_none,
            )
        },
    ),
];
