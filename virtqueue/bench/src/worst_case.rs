//! The worst-case work of each bounded `DriverQueue` / `DeviceQueue` call (split and
//! packed), against the bound the crate README states: "each call is O(queue size) at
//! most (a chain walk is bounded by loop detection and the size)".
//!
//! Every [`ROWS`] entry builds a fresh ring per repetition (not measured), then makes
//! the one call inside [`measured`], whose instructions callgrind collects
//! (`--toggle-collect='*kit::measured*'`; `cargo xtask worst-case` runs it). The
//! work units are counted directly: the device side translates every buffer it walks
//! (and an indirect table) through [`SharedMemory::slice`], which [`Counting`] counts;
//! the driver side's freed descriptors are the change of `free_descriptors()`.
//! `tests/worst_case.rs` asserts each row's units against its bound (no callgrind).

use std::cell::Cell;

use crate::kit::{measured, Row};
use virtqueue::layout::packed::{PackedDescFlags, PackedDescriptor};
use virtqueue::layout::{DescFlags, Descriptor};
use virtqueue::mock::Loopback;
use virtqueue::{
    DescriptorChain, DeviceQueue, DriverQueue, Error, Features, PackedDeviceQueue, SharedMemory,
    UsedEntry, VolatileSlice,
};

/// Queue size of every row (the largest the mock's memory comfortably holds; the
/// bounds scale with it).
pub const SIZE: u16 = 256;
const N: usize = SIZE as usize;
/// Bytes of each buffer of a chain.
const BUF: u32 = 16;
/// Where the indirect table goes in the data area (the buffers are below it).
const TABLE_AT: usize = 64 * 1024;
const DATA: usize = TABLE_AT + N * 16;

/// Memory that counts its translations in the data area (one per buffer a device walk
/// validates, one per indirect table, one per buffer piece a chain reader or writer
/// copies). The ring's own parts, which a device queue translates once per call (it keeps
/// their geometry, not views of them), are constant work and not counted.
pub struct Counting<'a> {
    mem: &'a virtqueue::OwnedMemory,
    data: u64,
    slices: Cell<u32>,
}

impl<'a> Counting<'a> {
    /// Counts the translations of `lb`'s memory.
    pub fn new(lb: &'a Loopback) -> Self {
        Counting {
            mem: lb.memory(),
            data: lb.data_addr(0),
            slices: Cell::new(0),
        }
    }

    /// Translations since the last call.
    pub fn take(&self) -> u32 {
        self.slices.replace(0)
    }
}

impl SharedMemory for Counting<'_> {
    fn slice(&self, addr: u64, len: usize) -> Result<VolatileSlice<'_>, Error> {
        if addr >= self.data {
            self.slices.set(self.slices.get() + 1);
        }
        self.mem.slice(addr, len)
    }
}

fn indirect() -> Features {
    Features::VERSION_1 | Features::INDIRECT_DESC
}

/// `n` readable buffers of [`BUF`] bytes in the data area.
fn bufs(lb: &Loopback, n: usize) -> Vec<(u64, u32, bool)> {
    (0..n)
        .map(|i| (lb.data_addr(i * BUF as usize), BUF, false))
        .collect()
}

/// A split-ring table entry (or main-table descriptor) as bytes.
fn split_desc_bytes(d: (u64, u32, u16, u16)) -> Vec<u8> {
    let (addr, len, flags, next) = d;
    let mut b = addr.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&next.to_le_bytes());
    b
}

/// Writes an indirect table of `entries` at [`TABLE_AT`]; returns its address.
fn write_table(lb: &Loopback, entries: impl Iterator<Item = Vec<u8>>) -> u64 {
    let bytes: Vec<u8> = entries.flatten().collect();
    let at = lb.data_addr(TABLE_AT);
    lb.write(at, &bytes);
    at
}

/// Split device `pop_into` on the ring `post` writes; returns the translations of one
/// call. `expect` checks the call's result.
fn split_pop(
    reps: u32,
    features: Features,
    post: fn(&Loopback, &mut virtqueue::mock::MockDriver<'_>),
    expect: fn(&Result<bool, Error>) -> bool,
) -> u32 {
    let mut units = 0;
    for _ in 0..reps {
        let lb = Loopback::new(SIZE, DATA);
        let mut drv = lb.mock_driver();
        post(&lb, &mut drv);
        drv.publish();
        let mem = Counting::new(&lb);
        let mut dev: DeviceQueue<_, N, N> =
            DeviceQueue::attach(&mem, lb.config(), features).unwrap();
        let mut chain = DescriptorChain::<N>::empty();
        mem.take();
        let r = measured(|| dev.pop_into(&mut chain));
        units = mem.take();
        assert!(expect(&r), "unexpected result {r:?}");
    }
    units
}

/// A chain of `SIZE` descriptors `0 → 1 → … → SIZE-1`, whose last `next` is `last`
/// (with `NEXT` set) or which ends there (`last == None`).
fn split_long(lb: &Loopback, drv: &mut virtqueue::mock::MockDriver<'_>, last: Option<u16>) {
    for (i, (addr, len, _)) in bufs(lb, N).into_iter().enumerate() {
        let i = i as u16;
        let (flags, next) = match (i + 1 < SIZE, last) {
            (true, _) => (DescFlags::NEXT, i + 1),
            (false, Some(n)) => (DescFlags::NEXT, n),
            (false, None) => (DescFlags::empty(), 0),
        };
        drv.write_desc(i, Descriptor::new(addr, len, flags, next));
    }
    drv.push_avail(0);
}

/// An indirect table of `SIZE` entries chained in order, the last pointing at `last`.
fn split_indirect(lb: &Loopback, drv: &mut virtqueue::mock::MockDriver<'_>, last: Option<u16>) {
    let entries = bufs(lb, N)
        .into_iter()
        .enumerate()
        .map(|(i, (addr, len, _))| {
            let i = i as u16;
            let next = DescFlags::NEXT.bits();
            match (i + 1 < SIZE, last) {
                (true, _) => split_desc_bytes((addr, len, next, i + 1)),
                (false, Some(n)) => split_desc_bytes((addr, len, next, n)),
                (false, None) => split_desc_bytes((addr, len, 0, 0)),
            }
        });
    let table = write_table(lb, entries);
    drv.write_desc(
        0,
        Descriptor::new(table, N as u32 * 16, DescFlags::INDIRECT, 0),
    );
    drv.push_avail(0);
}

fn is_ok(r: &Result<bool, Error>) -> bool {
    matches!(r, Ok(true))
}

fn is_loop(r: &Result<bool, Error>) -> bool {
    matches!(r, Err(Error::ChainLoop { .. }))
}

fn is_out_of_range(r: &Result<bool, Error>) -> bool {
    matches!(r, Err(Error::NextOutOfRange { .. }))
}

/// Packed device `pop_into`: the ring `post` writes.
fn packed_pop(reps: u32, post: fn(&Loopback)) -> u32 {
    let mut units = 0;
    for _ in 0..reps {
        let lb = Loopback::packed(SIZE, DATA);
        post(&lb);
        let mem = Counting::new(&lb);
        let mut dev: PackedDeviceQueue<_, N, N> =
            PackedDeviceQueue::attach(&mem, lb.config(), indirect()).unwrap();
        let mut chain = DescriptorChain::<N>::empty();
        mem.take();
        let r = measured(|| dev.pop_into(&mut chain));
        units = mem.take();
        assert!(matches!(r, Ok(true)), "unexpected result {r:?}");
    }
    units
}

/// A packed one-descriptor chain.
fn packed_one(lb: &Loopback) {
    lb.mock_packed().add_chain(0, true, 0, &bufs(lb, 1));
}

/// A packed chain of `SIZE` descriptors.
fn packed_longest(lb: &Loopback) {
    lb.mock_packed().add_chain(0, true, 0, &bufs(lb, N));
}

/// A packed indirect table of `SIZE` readable entries.
fn packed_indirect(lb: &Loopback) {
    let entries = bufs(lb, N).into_iter().map(|(addr, len, _)| {
        let mut b = addr.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&[0; 4]); // id, flags
        b
    });
    let table = write_table(lb, entries);
    let flags = PackedDescFlags::avail_bits(true) | PackedDescFlags::INDIRECT;
    lb.mock_packed()
        .write_desc(0, PackedDescriptor::new(table, N as u32 * 16, 0, flags));
}

/// Split driver `pop_used` of a chain of `len` descriptors, the used ring full (every
/// other descriptor posted as a one-descriptor chain and returned too); returns the
/// descriptors freed.
fn split_pop_used(reps: u32, len: usize) -> u32 {
    let mut units = 0;
    for _ in 0..reps {
        let lb = Loopback::new(SIZE, DATA);
        let mut drv: DriverQueue<'_, _, N> = lb.driver(Features::VERSION_1).unwrap();
        let first: Vec<_> = bufs(&lb, len)
            .iter()
            .map(|&(a, l, _)| virtqueue::Buffer::new(a, l))
            .collect();
        let mut heads = vec![drv.add(&first, &[]).unwrap().0];
        while drv.free_descriptors() > 0 {
            let b = virtqueue::Buffer::new(lb.data_addr(0), BUF);
            heads.push(drv.add(&[b], &[]).unwrap().0);
        }
        drv.publish();
        let mut dev = lb.mock_device();
        for h in heads {
            dev.push_used(u32::from(h), 0);
        }
        dev.publish();
        let before = drv.free_descriptors();
        let r = measured(|| drv.pop_used());
        assert!(matches!(r, Ok(Some(_))), "unexpected result {r:?}");
        units = u32::from(drv.free_descriptors() - before);
    }
    units
}

/// Split device `add_used` (one entry, published) after popping a chain of `len`.
fn split_add_used(reps: u32, len: usize) -> u32 {
    for _ in 0..reps {
        let lb = Loopback::new(SIZE, DATA);
        let mut drv = lb.mock_driver();
        drv.add_chain(0, &bufs(&lb, len));
        drv.publish();
        let mut dev: DeviceQueue<_, N, N> = lb.device(Features::VERSION_1).unwrap();
        let head = dev.pop().unwrap().unwrap().head();
        let r = measured(|| dev.add_used(head, 0));
        assert!(r.is_ok(), "unexpected result {r:?}");
    }
    1
}

/// Packed device `add_used` of the held id of a chain of `len` descriptors.
fn packed_add_used(reps: u32, len: usize) -> u32 {
    for _ in 0..reps {
        let lb = Loopback::packed(SIZE, DATA);
        lb.mock_packed().add_chain(0, true, 0, &bufs(&lb, len));
        let mut dev: PackedDeviceQueue<_, N, N> = lb.packed_device(Features::VERSION_1).unwrap();
        dev.pop().unwrap().unwrap();
        let r = measured(|| dev.add_used_batch(&[UsedEntry { head: 0, len: 0 }]));
        assert!(r.is_ok(), "unexpected result {r:?}");
    }
    1
}

const POP_BOUND: &str = "≤ queue size (256) descriptors";
const INDIRECT_BOUND: &str = "≤ 1 table + queue size (256) entries";

/// Every measured call and input.
pub const ROWS: &[Row] = &[
    Row::new(
        "split DeviceQueue::pop_into",
        "typical",
        POP_BOUND,
        N as u32,
        "descriptors",
        |r| {
            split_pop(
                r,
                Features::VERSION_1,
                |lb, d| split_long_n(lb, d, 1),
                is_ok,
            )
        },
    ),
    Row::new(
        "split DeviceQueue::pop_into",
        "longest valid chain (256)",
        POP_BOUND,
        N as u32,
        "descriptors",
        |r| {
            split_pop(
                r,
                Features::VERSION_1,
                |lb, d| split_long(lb, d, None),
                is_ok,
            )
        },
    ),
    Row::new(
        "split DeviceQueue::pop_into",
        "256 descriptors, last loops to head",
        POP_BOUND,
        N as u32,
        "descriptors",
        |r| {
            split_pop(
                r,
                Features::VERSION_1,
                |lb, d| split_long(lb, d, Some(0)),
                is_loop,
            )
        },
    ),
    Row::new(
        "split DeviceQueue::pop_into",
        "256 descriptors, last next out of range",
        POP_BOUND,
        N as u32,
        "descriptors",
        |r| {
            split_pop(
                r,
                Features::VERSION_1,
                |lb, d| split_long(lb, d, Some(999)),
                is_out_of_range,
            )
        },
    ),
    Row::new(
        "split DeviceQueue::pop_into (indirect)",
        "typical",
        INDIRECT_BOUND,
        N as u32 + 1,
        "translations",
        |r| split_pop(r, indirect(), |lb, d| split_long_n(lb, d, 1), is_ok),
    ),
    Row::new(
        "split DeviceQueue::pop_into (indirect)",
        "table of 256 entries",
        INDIRECT_BOUND,
        N as u32 + 1,
        "translations",
        |r| split_pop(r, indirect(), |lb, d| split_indirect(lb, d, None), is_ok),
    ),
    Row::new(
        "split DeviceQueue::pop_into (indirect)",
        "table of 256, last loops to 0",
        INDIRECT_BOUND,
        N as u32 + 1,
        "translations",
        |r| {
            split_pop(
                r,
                indirect(),
                |lb, d| split_indirect(lb, d, Some(0)),
                is_loop,
            )
        },
    ),
    Row::new(
        "packed PackedDeviceQueue::pop_into",
        "typical",
        POP_BOUND,
        N as u32,
        "descriptors",
        |r| packed_pop(r, packed_one),
    ),
    Row::new(
        "packed PackedDeviceQueue::pop_into",
        "longest valid chain (256)",
        POP_BOUND,
        N as u32,
        "descriptors",
        |r| packed_pop(r, packed_longest),
    ),
    Row::new(
        "packed PackedDeviceQueue::pop_into (indirect)",
        "typical",
        INDIRECT_BOUND,
        N as u32 + 1,
        "translations",
        |r| packed_pop(r, packed_one),
    ),
    Row::new(
        "packed PackedDeviceQueue::pop_into (indirect)",
        "table of 256 entries",
        INDIRECT_BOUND,
        N as u32 + 1,
        "translations",
        |r| packed_pop(r, packed_indirect),
    ),
    Row::new(
        "split DeviceQueue::add_used",
        "typical",
        "O(1): 1 used entry",
        1,
        "entries",
        |r| split_add_used(r, 1),
    ),
    Row::new(
        "split DeviceQueue::add_used",
        "after a 256-descriptor chain",
        "O(1): 1 used entry",
        1,
        "entries",
        |r| split_add_used(r, N),
    ),
    Row::new(
        "packed PackedDeviceQueue::add_used_batch",
        "typical",
        "≤ entries given (1)",
        1,
        "entries",
        |r| packed_add_used(r, 1),
    ),
    Row::new(
        "packed PackedDeviceQueue::add_used_batch",
        "id of a 256-descriptor chain",
        "≤ entries given (1)",
        1,
        "entries",
        |r| packed_add_used(r, N),
    ),
    Row::new(
        "split DriverQueue::pop_used",
        "typical",
        POP_BOUND,
        N as u32,
        "descriptors freed",
        |r| split_pop_used(r, 1),
    ),
    Row::new(
        "split DriverQueue::pop_used",
        "used ring full, 256-descriptor chain first",
        POP_BOUND,
        N as u32,
        "descriptors freed",
        |r| split_pop_used(r, N),
    ),
];

/// A valid chain of `n` descriptors at 0.
fn split_long_n(lb: &Loopback, drv: &mut virtqueue::mock::MockDriver<'_>, n: usize) {
    drv.add_chain(0, &bufs(lb, n));
}
