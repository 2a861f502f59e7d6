//! partnet's split-ring device side against rust-vmm's `virtio-queue` (dev-dependency
//! only), over identical ring memory prepared by the same mock driver.
//!
//! `split_device`: pop 256 one-descriptor chains (64-byte readable buffer, payload read
//! once) and add them used. `split_roundtrip`: partnet driver add, device pop and
//! add_used, driver pop_used, 256 buffers in batches of 32; `packed_roundtrip`: the same
//! over a packed ring.
//!
//! Run: `cargo bench -p virtqueue-bench --bench compare -- --warm-up-time 1 --measurement-time 3`
//!
//! Each `split_device` iteration is one call of [`partnet_round`] or [`rust_vmm_round`]
//! (never inlined), so instruction counts, which do not depend on the machine's load, can
//! be taken per round with callgrind (Ir of the function divided by its calls):
//!
//! ```text
//! cargo bench -p virtqueue-bench --bench compare --no-run
//! valgrind --tool=callgrind --toggle-collect='*partnet_round*' \
//!     target/release/deps/compare-<hash> --bench --profile-time 1 split_device/partnet
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use virtqueue::layout::QueueConfig;
use virtqueue::mock::{Loopback, MockDriver};
use virtqueue::{
    Buffer, DescriptorChain, DeviceQueue, DriverQueue, Features, MemoryRegion, PackedDeviceQueue,
    PackedDriverQueue, SharedMemory, UsedEntry, VolatileSlice,
};

const SIZE: u16 = 256;
const PAYLOAD: u32 = 64;
const MEM_BYTES: usize = 1 << 20;
const DATA: u64 = 0x1_0000;

/// Guest memory at guest address 0.
fn guest_memory() -> GuestMemoryMmap {
    GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM_BYTES)]).unwrap()
}

/// Our view of the very same bytes.
fn region(gm: &GuestMemoryMmap) -> MemoryRegion<'_> {
    let host = gm.get_host_address(GuestAddress(0)).unwrap();
    // SAFETY: the mapping is MEM_BYTES long and lives as long as the borrow of `gm`; all
    // accesses from this side are volatile or atomic, and vm-memory's are volatile too.
    let view = unsafe { VolatileSlice::from_raw_parts(host, MEM_BYTES) };
    MemoryRegion::new(0, view)
}

/// The mock driver makes 256 one-descriptor chains available: descriptor i points to a
/// 64-byte readable buffer at DATA + 64 i, avail slot i holds head i.
fn prepare<'a>(region: &'a MemoryRegion<'a>, cfg: QueueConfig) -> MockDriver<'a> {
    let mut drv = MockDriver::new(region, cfg).unwrap();
    for i in 0..SIZE {
        let addr = DATA + u64::from(i) * u64::from(PAYLOAD);
        region
            .slice(addr, PAYLOAD as usize)
            .and_then(|s| s.fill(0, PAYLOAD as usize, i as u8))
            .unwrap();
        drv.add_chain(i, &[(addr, PAYLOAD, false)]);
    }
    drv
}

/// partnet's device side over everything the driver made available: pop (with full
/// validation and buffer translation), read each chain's 64-byte payload once, return it
/// used (publishing `used.idx` each time). Returns the sum of the first payload bytes.
#[inline(never)]
fn partnet_round<'m>(
    q: &mut DeviceQueue<&'m MemoryRegion<'m>, 256, 4>,
    chain: &mut DescriptorChain<4>,
) -> u32 {
    let mut sum = 0u32;
    let mut buf = [0u8; PAYLOAD as usize];
    while q.pop_into(chain).unwrap() {
        chain.reader(q.memory()).read_exact(&mut buf).unwrap();
        sum += u32::from(buf[0]);
        q.add_used(chain.head(), 0).unwrap();
    }
    sum
}

/// [`partnet_round`] in one [`virtqueue::DeviceSession`]: the ring is translated once per
/// round instead of once per call.
#[inline(never)]
fn partnet_session_round<'m>(
    q: &mut DeviceQueue<&'m MemoryRegion<'m>, 256, 4>,
    chain: &mut DescriptorChain<4>,
) -> u32 {
    let mut sum = 0u32;
    let mut buf = [0u8; PAYLOAD as usize];
    let mut s = q.session().unwrap();
    while s.pop_into(chain).unwrap() {
        chain.reader(s.memory()).read_exact(&mut buf).unwrap();
        sum += u32::from(buf[0]);
        s.add_used(chain.head(), 0).unwrap();
    }
    sum
}

/// The same round with rust-vmm: `pop_descriptor_chain`, read each descriptor's buffer
/// (up to 64 bytes) once through vm-memory, `add_used` (publishing `used.idx` each time).
#[inline(never)]
fn rust_vmm_round(q: &mut Queue, gm: &GuestMemoryMmap) -> u32 {
    let mut sum = 0u32;
    let mut buf = [0u8; PAYLOAD as usize];
    while let Some(chain) = q.pop_descriptor_chain(gm) {
        let head = chain.head_index();
        for d in chain {
            let n = (d.len() as usize).min(buf.len());
            gm.read_slice(&mut buf[..n], d.addr()).unwrap();
            sum += u32::from(buf[0]);
        }
        q.add_used(gm, head, 0).unwrap();
    }
    sum
}

fn split_device(c: &mut Criterion) {
    let mut g = c.benchmark_group("split_device");
    g.throughput(Throughput::Elements(u64::from(SIZE)));
    let cfg = QueueConfig::contiguous(0, SIZE);

    {
        let gm = guest_memory();
        let region = region(&gm);
        let mut drv = prepare(&region, cfg);
        let mut q: DeviceQueue<_, 256, 4> =
            DeviceQueue::attach(&region, cfg, Features::VERSION_1).unwrap();
        let mut avail = 0u16;
        let mut chain = DescriptorChain::empty();
        g.bench_function("partnet", |b| {
            b.iter(|| {
                avail = avail.wrapping_add(SIZE);
                drv.set_avail_idx(avail);
                black_box(partnet_round(&mut q, &mut chain))
            })
        });
        g.bench_function("partnet-session", |b| {
            b.iter(|| {
                avail = avail.wrapping_add(SIZE);
                drv.set_avail_idx(avail);
                black_box(partnet_session_round(&mut q, &mut chain))
            })
        });
    }

    {
        let gm = guest_memory();
        let region = region(&gm);
        let mut drv = prepare(&region, cfg);
        let mut q = Queue::new(SIZE).unwrap();
        q.set_size(SIZE);
        q.set_desc_table_address(Some(cfg.desc as u32), Some((cfg.desc >> 32) as u32));
        q.set_avail_ring_address(Some(cfg.avail as u32), Some((cfg.avail >> 32) as u32));
        q.set_used_ring_address(Some(cfg.used as u32), Some((cfg.used >> 32) as u32));
        q.set_ready(true);
        assert!(q.is_valid(&gm));
        let mut avail = 0u16;
        g.bench_function("rust-vmm", |b| {
            b.iter(|| {
                avail = avail.wrapping_add(SIZE);
                drv.set_avail_idx(avail);
                black_box(rust_vmm_round(&mut q, &gm))
            })
        });
    }
    g.finish();
}

/// One roundtrip iteration (256 buffers in batches of 32) over any driver/device pair with
/// the split API shape: driver add + publish, device `pop_into` + payload read +
/// `add_used_batch`, driver `pop_used_batch`.
macro_rules! roundtrip {
    ($lb:expr, $drv:expr, $dev:expr, $chain:expr) => {{
        let mut sum = 0u32;
        let mut buf = [0u8; PAYLOAD as usize];
        for batch in 0..SIZE / 32 {
            for k in 0..32u16 {
                let at = usize::from(batch * 32 + k) * PAYLOAD as usize;
                $drv.add(&[Buffer::new($lb.data_addr(at), PAYLOAD)], &[])
                    .unwrap();
            }
            $drv.publish();
            let mut used = [UsedEntry { head: 0, len: 0 }; 32];
            let mut n = 0;
            while $dev.pop_into($chain).unwrap() {
                $chain.reader($dev.memory()).read_exact(&mut buf).unwrap();
                sum += u32::from(buf[0]);
                used[n] = UsedEntry {
                    head: $chain.head(),
                    len: 0,
                };
                n += 1;
            }
            $dev.add_used_batch(&used[..n]).unwrap();
            $drv.pop_used_batch(32, |u| sum += u32::from(u.token.0))
                .unwrap();
        }
        sum
    }};
}

fn split_roundtrip(c: &mut Criterion) {
    let mut g = c.benchmark_group("split_roundtrip");
    g.throughput(Throughput::Elements(u64::from(SIZE)));
    let lb = Loopback::new(SIZE, usize::from(SIZE) * PAYLOAD as usize);
    let mut drv: DriverQueue<'_, _, 256> = lb.driver(Features::VERSION_1).unwrap();
    let mut dev: DeviceQueue<_, 256, 4> = lb.device(Features::VERSION_1).unwrap();
    let mut chain = DescriptorChain::empty();
    g.bench_function("partnet", |b| {
        b.iter(|| black_box(roundtrip!(lb, drv, dev, &mut chain)))
    });
    g.finish();
}

/// The same workload as `split_roundtrip` over a packed ring.
fn packed_roundtrip(c: &mut Criterion) {
    let mut g = c.benchmark_group("packed_roundtrip");
    g.throughput(Throughput::Elements(u64::from(SIZE)));
    let f = Features::VERSION_1 | Features::RING_PACKED;
    let lb = Loopback::packed(SIZE, usize::from(SIZE) * PAYLOAD as usize);
    let mut drv: PackedDriverQueue<'_, _, 256> = lb.packed_driver(f).unwrap();
    let mut dev: PackedDeviceQueue<_, 256, 4> = lb.packed_device(f).unwrap();
    let mut chain = DescriptorChain::empty();
    g.bench_function("partnet", |b| {
        b.iter(|| black_box(roundtrip!(lb, drv, dev, &mut chain)))
    });
    g.finish();
}

criterion_group!(benches, split_device, split_roundtrip, packed_roundtrip);
criterion_main!(benches);
