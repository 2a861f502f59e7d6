//! The device implementer's chain API (`ChainReader`, `ChainWriter`) against a plain
//! model: a chain of random segments is one byte stream; every call's result, the
//! counters (`remaining`, `bytes_read`, `written`) and the bytes in guest memory must
//! match the model after every step, including at segment boundaries and past the end.

use proptest::prelude::*;
use virtqueue::mock::{Loopback, MockDriver};
use virtqueue::{DeviceQueue, Error, Features, OwnedMemory};

const F: Features = Features::VERSION_1;
type Dev<'a> = DeviceQueue<&'a OwnedMemory, 16, 8>;

#[derive(Debug, Clone)]
enum ReadOp {
    Read(usize),
    ReadExact(usize),
    ReadU32,
    Skip(usize),
}

#[derive(Debug, Clone)]
enum WriteOp {
    Write(usize),
    WriteAll(usize),
    WriteU32,
}

fn read_op() -> impl Strategy<Value = ReadOp> {
    prop_oneof![
        (0..40usize).prop_map(ReadOp::Read),
        (0..40usize).prop_map(ReadOp::ReadExact),
        Just(ReadOp::ReadU32),
        (0..40usize).prop_map(ReadOp::Skip),
    ]
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        (0..40usize).prop_map(WriteOp::Write),
        (0..40usize).prop_map(WriteOp::WriteAll),
        Just(WriteOp::WriteU32),
    ]
}

/// Segment lengths (0..=24 bytes each, empty ones included: a reader and a writer step
/// over them) laid out 64 bytes apart in the loopback's data area.
fn segments() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0..=24u32, 1..=4)
}

/// Posts a chain of `readable` then `writable` segments, fills the readable ones with
/// a known pattern and pops it on the device side.
fn chain_of<'l>(
    lb: &'l Loopback,
    readable: &[u32],
    writable: &[u32],
) -> (MockDriver<'l>, Dev<'l>, Vec<u64>) {
    let mut drv = lb.mock_driver();
    let dev = lb.device::<16, 8>(F).unwrap();
    let mut segs = Vec::new();
    let mut addrs = Vec::new();
    let mut byte = 0u8;
    for (i, &len) in readable.iter().chain(writable).enumerate() {
        let addr = lb.data_addr(64 * i);
        let write = i >= readable.len();
        if !write {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    byte = byte.wrapping_add(1);
                    byte
                })
                .collect();
            lb.write(addr, &bytes);
        } else {
            lb.write(addr, &vec![0xee; len as usize]);
        }
        segs.push((addr, len, write));
        addrs.push(addr);
    }
    drv.add_chain(0, &segs);
    drv.publish();
    (drv, dev, addrs)
}

proptest! {
    // 256 cases by default; the Miri step sets `PROPTEST_CASES`.
    #[test]
    fn the_reader_is_one_byte_stream(
        readable in segments(),
        writable in prop::collection::vec(1..=24u32, 0..=2),
        ops in prop::collection::vec(read_op(), 1..12),
    ) {
        let lb = Loopback::new(16, 8192);
        let (_drv, mut dev, _) = chain_of(&lb, &readable, &writable);
        let chain = dev.pop().unwrap().unwrap();
        let total: usize = readable.iter().map(|&l| l as usize).sum();
        prop_assert_eq!(chain.readable_len() as usize, total);
        // The segments as posted: lengths, directions, the readable ones first.
        prop_assert_eq!(chain.readable().len(), readable.len());
        prop_assert_eq!(chain.writable().len(), writable.len());
        prop_assert_eq!(chain.segments().len(), readable.len() + writable.len());
        for (k, seg) in chain.segments().iter().enumerate() {
            let (want_len, want_w) = match readable.get(k) {
                Some(&l) => (l, false),
                None => (writable[k - readable.len()], true),
            };
            prop_assert_eq!((seg.len(), seg.is_writable(), seg.is_empty()), (want_len, want_w, want_len == 0));
            prop_assert_eq!(seg.slice(dev.memory()).unwrap().len(), want_len as usize);
            let shown = format!("{seg:?}");
            let want_shown = format!("Segment {{ addr: {}, len: {want_len}, writable: {want_w} }}", seg.addr());
            prop_assert_eq!(shown, want_shown);
        }

        // The model: the pattern the readable segments hold, and a position.
        let stream: Vec<u8> = (1..=total).map(|i| i as u8).collect();
        let mut at = 0usize;
        let mut r = chain.reader(dev.memory());
        prop_assert_eq!((r.remaining(), r.bytes_read()), (total, 0));
        for op in ops {
            match op {
                ReadOp::Read(n) => {
                    let mut buf = vec![0x55u8; n];
                    let got = r.read(&mut buf);
                    let want = n.min(total - at);
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(&buf[..got], &stream[at..at + got]);
                    prop_assert!(buf[got..].iter().all(|&b| b == 0x55), "read past its count");
                    at += got;
                }
                ReadOp::ReadExact(n) => {
                    let mut buf = vec![0x55u8; n];
                    let res = r.read_exact(&mut buf);
                    if n <= total - at {
                        prop_assert_eq!(res, Ok(()));
                        prop_assert_eq!(&buf[..], &stream[at..at + n]);
                        at += n;
                    } else {
                        prop_assert_eq!(res, Err(Error::PayloadBounds { wanted: n, available: total - at }));
                        prop_assert!(buf.iter().all(|&b| b == 0x55), "a refused read copied");
                    }
                }
                ReadOp::ReadU32 => {
                    let res = r.read_obj::<[u8; 4]>();
                    if 4 <= total - at {
                        prop_assert_eq!(res, Ok(<[u8; 4]>::try_from(&stream[at..at + 4]).unwrap()));
                        at += 4;
                    } else {
                        prop_assert_eq!(res, Err(Error::PayloadBounds { wanted: 4, available: total - at }));
                    }
                }
                ReadOp::Skip(n) => {
                    let got = r.skip(n);
                    prop_assert_eq!(got, n.min(total - at));
                    at += got;
                }
            }
            prop_assert_eq!(r.remaining(), total - at);
            prop_assert_eq!(r.bytes_read(), at);
        }
        // What is left reads as the rest of the stream.
        let mut rest = vec![0u8; total - at];
        prop_assert_eq!(r.read(&mut rest), total - at);
        prop_assert_eq!(&rest[..], &stream[at..]);
        prop_assert_eq!(r.read(&mut [0u8; 8]), 0);
    }

    #[test]
    fn the_writer_is_one_byte_stream(
        readable in prop::collection::vec(1..=24u32, 0..=2),
        writable in segments(),
        ops in prop::collection::vec(write_op(), 1..12),
    ) {
        let lb = Loopback::new(16, 8192);
        let (_drv, mut dev, addrs) = chain_of(&lb, &readable, &writable);
        let chain = dev.pop().unwrap().unwrap();
        let total: usize = writable.iter().map(|&l| l as usize).sum();
        prop_assert_eq!(chain.writable_len() as usize, total);
        let mut model = vec![0xeeu8; total];
        let mut at = 0usize;
        let mut next = 0u8;
        let mut bytes = |n: usize| -> Vec<u8> {
            (0..n).map(|_| { next = next.wrapping_add(3); next }).collect()
        };
        let mut w = chain.writer(dev.memory());
        prop_assert_eq!((w.remaining(), w.written()), (total, 0));
        for op in ops {
            match op {
                WriteOp::Write(n) => {
                    let data = bytes(n);
                    let got = w.write(&data);
                    let want = n.min(total - at);
                    prop_assert_eq!(got, want);
                    model[at..at + got].copy_from_slice(&data[..got]);
                    at += got;
                }
                WriteOp::WriteAll(n) => {
                    let data = bytes(n);
                    let res = w.write_all(&data);
                    if n <= total - at {
                        prop_assert_eq!(res, Ok(()));
                        model[at..at + n].copy_from_slice(&data);
                        at += n;
                    } else {
                        prop_assert_eq!(res, Err(Error::PayloadBounds { wanted: n, available: total - at }));
                    }
                }
                WriteOp::WriteU32 => {
                    let data = bytes(4);
                    let v: [u8; 4] = data[..].try_into().unwrap();
                    let res = w.write_obj(&v);
                    if 4 <= total - at {
                        prop_assert_eq!(res, Ok(()));
                        model[at..at + 4].copy_from_slice(&v);
                        at += 4;
                    } else {
                        prop_assert_eq!(res, Err(Error::PayloadBounds { wanted: 4, available: total - at }));
                    }
                }
            }
            prop_assert_eq!(w.remaining(), total - at);
            prop_assert_eq!(w.written() as usize, at);
        }
        // Guest memory holds exactly the model: written bytes in order across the
        // segments, the rest untouched.
        let mut seen = Vec::new();
        for (i, &len) in writable.iter().enumerate() {
            let mut b = vec![0u8; len as usize];
            lb.read(addrs[readable.len() + i], &mut b);
            seen.extend_from_slice(&b);
        }
        prop_assert_eq!(seen, model);
    }
}
