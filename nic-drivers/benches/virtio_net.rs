//! virtio-net receive + transmit throughput: partnet's `VirtioNet` against rcore's
//! `virtio-drivers` 0.13 (`VirtIONetRaw`, its alloc-free core), both driven against the
//! same in-process device model (`nic_drivers::mock::NetDeviceModel`, on `virtqueue`'s
//! device side), with the same offered features and ring size 64.
//!
//! One iteration = 32 frames transmitted (the application's frame copied into a DMA
//! buffer, posted, one flush; the device takes them; the driver takes the buffers back)
//! and 32 frames received (the device writes them; the driver hands each to the
//! application, which looks at it, and reposts the buffer). Throughput is in frames.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::hint::black_box;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use nic_drivers::mock::{FakeDeviceState, FakeTransport, NetDeviceModel};
use nic_drivers::net::{NetConfig, NetFeatures, VirtioNet};
use nic_drivers::virtqueue::{MemoryRegion, QueueConfig, VolatileSlice};
use nic_drivers::{FrameLink, FrameMeta, Hal, IdentityHal};
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::{self as rt, DeviceType};
use virtio_drivers::{BufferDirection as RBufferDirection, Hal as RHal, PhysAddr};

const BATCH: usize = 32;
const RING: usize = 64;
const BUF: usize = 1536;
const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

fn offered() -> u64 {
    (NetFeatures::MAC
        | NetFeatures::STATUS
        | NetFeatures::MRG_RXBUF
        | NetFeatures::RING_EVENT_IDX
        | NetFeatures::VERSION_1)
        .bits()
}

fn frame(len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    f[..6].fill(0xff);
    f
}

fn device_state() -> RefCell<FakeDeviceState> {
    let mut s = FakeDeviceState::net(offered(), MAC, 1500);
    s.queue_max = [RING as u16; 4];
    RefCell::new(s)
}

/// Runs the iteration body it is given: under criterion, or a fixed number of times.
type Runner<'r> = &'r mut dyn FnMut(&str, usize, &mut dyn FnMut());

fn bench_partnet(run: Runner<'_>, len: usize) {
    // The bare-metal configuration: identity-mapped DMA pool, no IOMMU.
    let mut pool = vec![0u8; 1 << 20];
    // SAFETY: the pool is plain memory; the "device" is the in-process model, which
    // reaches it through the same identity view; no MMIO is mapped.
    let hal = unsafe { IdentityHal::new(&mut pool) };
    let st = device_state();
    let mut model = NetDeviceModel::new(hal.memory(), &st);
    model.keep_sent = false;
    let cfg = NetConfig {
        queue_size: RING as u16,
        rx_buffers: RING as u16,
        tx_buffers: RING as u16,
        ..NetConfig::default()
    };
    let mut net: VirtioNet<'_, IdentityHal<'_>, FakeTransport<'_>, RING, BATCH> =
        VirtioNet::new(&hal, FakeTransport::new(&st, None), cfg).unwrap();
    let f = frame(len);
    run("partnet", len, &mut || {
        for _ in 0..BATCH {
            let s = net.tx_reserve(f.len()).unwrap().unwrap();
            net.tx_write(&s, 0, &f).unwrap();
            net.tx_commit(s, FrameMeta::NONE).unwrap();
        }
        net.service(0).unwrap();
        assert_eq!(model.process_tx(), BATCH);
        net.service(BATCH as u16).unwrap();
        assert_eq!(model.deliver_batch(&f, BATCH), BATCH);
        for _ in 0..BATCH {
            let s = net.rx_take().unwrap().unwrap();
            black_box(net.rx_frame(&s));
            net.rx_release(s);
        }
    });
}

// ---- rcore virtio-drivers over the same device model ----

/// One arena for everything the rcore driver and its device share (identity addresses).
const ARENA: usize = 1 << 20;
static ARENA_BASE: AtomicUsize = AtomicUsize::new(0);
static ARENA_NEXT: AtomicUsize = AtomicUsize::new(0);

fn arena_alloc(bytes: usize) -> NonNull<u8> {
    let off = ARENA_NEXT.fetch_add(bytes.next_multiple_of(4096), Ordering::Relaxed);
    assert!(off + bytes <= ARENA, "bench arena exhausted");
    NonNull::new((ARENA_BASE.load(Ordering::Relaxed) + off) as *mut u8).unwrap()
}

struct ArenaHal;

// SAFETY: memory comes from a leaked, zeroed, page-aligned arena that lives for the whole
// process; addresses are identity-mapped (the device model reaches the arena at the
// same addresses); nothing is freed.
unsafe impl RHal for ArenaHal {
    fn dma_alloc(pages: usize, _d: RBufferDirection) -> (PhysAddr, NonNull<u8>) {
        let p = arena_alloc(pages * 4096);
        (p.as_ptr() as u64, p)
    }
    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        0
    }
    unsafe fn mmio_phys_to_virt(_paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        unreachable!("no MMIO in the bench")
    }
    unsafe fn share(buffer: NonNull<[u8]>, _d: RBufferDirection) -> PhysAddr {
        buffer.as_ptr().cast::<u8>() as u64
    }
    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _d: RBufferDirection) {}
}

/// rcore's `Transport` over the same register state as `FakeTransport`.
struct RTransport<'a>(&'a RefCell<FakeDeviceState>);

impl rt::Transport for RTransport<'_> {
    fn device_type(&self) -> DeviceType {
        DeviceType::Network
    }
    fn read_device_features(&mut self) -> u64 {
        self.0.borrow().offered
    }
    fn write_driver_features(&mut self, f: u64) {
        self.0.borrow_mut().driver_features = f;
    }
    fn max_queue_size(&mut self, queue: u16) -> u32 {
        u32::from(self.0.borrow().queue_max[usize::from(queue)])
    }
    fn notify(&mut self, queue: u16) {
        self.0.borrow_mut().notifications[usize::from(queue)] += 1;
    }
    fn get_status(&self) -> rt::DeviceStatus {
        rt::DeviceStatus::from_bits_retain(self.0.borrow().status)
    }
    fn set_status(&mut self, status: rt::DeviceStatus) {
        self.0.borrow_mut().status = status.bits();
    }
    fn set_guest_page_size(&mut self, _size: u32) {}
    fn requires_legacy_layout(&self) -> bool {
        false
    }
    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        desc: PhysAddr,
        driver: PhysAddr,
        device: PhysAddr,
    ) {
        self.0.borrow_mut().queues[usize::from(queue)] = Some(QueueConfig {
            size: size as u16,
            desc,
            avail: driver,
            used: device,
        });
    }
    fn queue_unset(&mut self, queue: u16) {
        self.0.borrow_mut().queues[usize::from(queue)] = None;
    }
    fn queue_used(&mut self, queue: u16) -> bool {
        self.0.borrow().queues[usize::from(queue)].is_some()
    }
    fn ack_interrupt(&mut self) -> rt::InterruptStatus {
        rt::InterruptStatus::from_bits_truncate(std::mem::take(&mut self.0.borrow_mut().interrupt))
    }
    fn read_config_generation(&self) -> u32 {
        self.0.borrow().generation
    }
    fn read_config_space<T: zerocopy::FromBytes + zerocopy::IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<T> {
        let s = self.0.borrow();
        let bytes = s
            .config
            .get(offset..offset + size_of::<T>())
            .ok_or(virtio_drivers::Error::ConfigSpaceTooSmall)?;
        T::read_from_bytes(bytes).map_err(|_| virtio_drivers::Error::ConfigSpaceTooSmall)
    }
    fn write_config_space<T: zerocopy::IntoBytes + zerocopy::Immutable>(
        &mut self,
        _offset: usize,
        _value: T,
    ) -> virtio_drivers::Result<()> {
        Ok(())
    }
}

fn bench_rcore(run: Runner<'_>, len: usize) {
    if ARENA_BASE.load(Ordering::Relaxed) == 0 {
        let arena: &'static mut [u64] = Vec::leak(vec![0u64; ARENA / 8 + 512]);
        let base = (arena.as_mut_ptr() as usize).next_multiple_of(4096);
        ARENA_BASE.store(base, Ordering::Relaxed);
    }
    ARENA_NEXT.store(0, Ordering::Relaxed);
    let base = ARENA_BASE.load(Ordering::Relaxed);
    // SAFETY: the arena is leaked (lives forever); the model reaches it through volatile
    // accesses only, like a device doing DMA into the driver's buffers.
    let view = unsafe { VolatileSlice::from_raw_parts(base as *mut u8, ARENA) };
    let dev_mem = MemoryRegion::identity(view);
    let st = device_state();
    let mut model = NetDeviceModel::new(&dev_mem, &st);
    model.keep_sent = false;
    let mut net = VirtIONetRaw::<ArenaHal, RTransport<'_>, RING>::new(RTransport(&st)).unwrap();
    let bufs = |n: usize| -> Vec<&'static mut [u8]> {
        (0..n)
            .map(|_| {
                let p = arena_alloc(BUF);
                // SAFETY: a fresh, exclusive range of the leaked arena.
                unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), BUF) }
            })
            .collect()
    };
    let mut tx = bufs(BATCH);
    let mut rx = bufs(RING);
    let mut rx_of_token = [usize::MAX; RING];
    for (i, b) in rx.iter_mut().enumerate() {
        // SAFETY: the buffer is only touched again after `receive_complete`.
        let t = unsafe { net.receive_begin(b) }.unwrap();
        rx_of_token[usize::from(t)] = i;
    }
    let f = frame(len);
    let mut tx_of_token = [usize::MAX; RING];
    run("virtio-drivers", len, &mut || {
        for (i, buf) in tx.iter_mut().enumerate() {
            let h = net.fill_buffer_header(buf).unwrap();
            buf[h..h + f.len()].copy_from_slice(&f);
            // SAFETY: the buffer is not touched until `transmit_complete`.
            let t = unsafe { net.transmit_begin(&buf[..h + f.len()]) }.unwrap();
            tx_of_token[usize::from(t)] = i;
        }
        assert_eq!(model.process_tx(), BATCH);
        while let Some(t) = net.poll_transmit() {
            let buf = &tx[tx_of_token[usize::from(t)]];
            // SAFETY: the same buffer as given to `transmit_begin` for this token.
            unsafe { net.transmit_complete(t, &buf[..12 + f.len()]) }.unwrap();
        }
        assert_eq!(model.deliver_batch(&f, BATCH), BATCH);
        for _ in 0..BATCH {
            let t = net.poll_receive().unwrap();
            let i = rx_of_token[usize::from(t)];
            let buf = &mut rx[i];
            // SAFETY: the same buffer as given to `receive_begin` for this token.
            let (h, n) = unsafe { net.receive_complete(t, buf) }.unwrap();
            black_box(&buf[h..h + n]);
            // SAFETY: as above.
            let t = unsafe { net.receive_begin(buf) }.unwrap();
            rx_of_token[usize::from(t)] = i;
        }
    });
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("virtio_net_rx_tx");
    group.throughput(Throughput::Elements(2 * BATCH as u64));
    let mut run = |name: &str, len: usize, body: &mut dyn FnMut()| {
        group.bench_with_input(BenchmarkId::new(name, len), &len, |b, _| b.iter(&mut *body));
    };
    for len in [64, 1514] {
        bench_partnet(&mut run, len);
        bench_rcore(&mut run, len);
    }
    group.finish();
}

/// `VIRTIO_NET_COUNT=<function>/<len>:<iterations>` runs only that function's body that
/// many times, without criterion: for instruction counts under Cachegrind (the count of a
/// run with 0 iterations is the set-up to subtract).
fn count(spec: &str) {
    let (id, iters) = spec.split_once(':').expect("<function>/<len>:<iterations>");
    let (name, len) = id.split_once('/').expect("<function>/<len>");
    let len: usize = len.parse().expect("frame length");
    let iters: usize = iters.parse().expect("iterations");
    let mut run = |n: &str, l: usize, body: &mut dyn FnMut()| {
        if n == name && l == len {
            for _ in 0..iters {
                body();
            }
        }
    };
    match name {
        "partnet" => bench_partnet(&mut run, len),
        "virtio-drivers" => bench_rcore(&mut run, len),
        _ => panic!("unknown function {name}"),
    }
}

criterion_group!(virtio_net, benches);

fn main() {
    match std::env::var("VIRTIO_NET_COUNT") {
        Ok(spec) => count(&spec),
        Err(_) => {
            virtio_net();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
