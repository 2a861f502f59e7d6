//! The test harness of the vhost-user tests: the backend (a switch with one in-memory
//! partition and two VM ports, served by an event-loop thread) and the frontend side
//! (memfd guest memory in two regions, the protocol as QEMU speaks it, a guest driver
//! over split or packed rings).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustix::fs::{MemfdFlags, SealFlags};

use super::common::{frame, mac};
use vhost::vhost_user::message::VhostUserProtocolFeatures;
use vhost::vhost_user::{Frontend, VhostUserFrontend};
use vhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use virtqueue::{AnyDriverQueue, Buffer, Features, QueueConfig, SharedMemory};
use vmm_sys_util::eventfd::EventFd;
use vnet_switch::adapters::vhost_user::{
    CutOff, FdRole, GuestMemory, RegionInfo, VhostUserError, VhostUserPort, WaitList,
    OFFERED_FEATURES,
};
use vnet_switch::adapters::virtio_net::{NetHeader, NET_HDR_LEN};
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{frame_link, PortConfig, PortId, Switch, SwitchBuilder};

// ---------------------------------------------------------------------------------------
// The backend side: a switch with one in-memory partition (port 0) and two VM ports.

frame_link::link_enum! {
    /// A VM port or the in-memory partition.
    pub(crate) enum Ep {
        Vm(Box<VhostUserPort>),
        Other(Box<MemEndpoint<8, 1600>>),
    }
    /// The error of either port.
    pub(crate) enum EpError;
}

pub(crate) type Sw = Switch<Ep, 4, 64, 8>;

pub(crate) const PART: u8 = 0;
pub(crate) const VM_A: u8 = 1;
pub(crate) const VM_B: u8 = 2;

pub(crate) struct Backend {
    pub(crate) sw: Sw,
    pub(crate) cutoffs: Vec<(u8, CutOff)>,
}

impl Backend {
    pub(crate) fn vm(&mut self, port: u8) -> &mut VhostUserPort {
        let ep = self.sw.endpoint_mut(PortId::new(port)).unwrap();
        match ep {
            Ep::Vm(v) => v,
            Ep::Other(_) => panic!("not a VM port"),
        }
    }

    pub(crate) fn part(&mut self) -> &mut MemEndpoint<8, 1600> {
        let ep = self.sw.endpoint_mut(PortId::new(PART)).unwrap();
        match ep {
            Ep::Other(m) => m,
            Ep::Vm(_) => panic!("not the partition"),
        }
    }

    /// One round of the event loop: wait (bounded), handle requests, poll, notify.
    pub(crate) fn step(this: &Mutex<Backend>, wait: &mut WaitList) {
        wait.clear();
        {
            let mut b = this.lock().unwrap();
            for p in [VM_A, VM_B] {
                wait.add_port(p.into(), b.vm(p));
            }
        }
        wait.wait(2).unwrap();
        let mut b = this.lock().unwrap();
        for p in [VM_A, VM_B] {
            // Only the socket carries requests; kicks are drained by the ports' service,
            // which the switch's poll calls.
            if wait.is_ready(p.into(), FdRole::Socket) {
                if let Err(c) = b.vm(p).handle_socket() {
                    b.cutoffs.push((p, c));
                }
            }
        }
        b.sw.poll(0, 64);
        for p in [VM_A, VM_B] {
            if let Some(c) = b.vm(p).take_cut_off() {
                b.cutoffs.push((p, c));
            }
            b.vm(p).enable_notifications();
        }
    }
}

pub(crate) struct Running {
    pub(crate) backend: Arc<Mutex<Backend>>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<thread::JoinHandle<()>>,
}

impl Running {
    pub(crate) fn start() -> Running {
        let mut sb = SwitchBuilder::<Ep, 4>::new();
        sb.add_port(Ep::Other(Box::default()), PortConfig::partition(mac(2), 1))
            .unwrap();
        for m in [1, 3] {
            sb.add_port(
                Ep::Vm(Box::new(VhostUserPort::new(1514))),
                PortConfig::partition(mac(m), 1),
            )
            .unwrap();
        }
        let backend = Arc::new(Mutex::new(Backend {
            sw: sb.build().unwrap(),
            cutoffs: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (backend.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut wait = WaitList::new();
            while !s.load(Ordering::Relaxed) {
                Backend::step(&b, &mut wait);
            }
        });
        Running {
            backend,
            stop,
            thread: Some(thread),
        }
    }

    /// A socketpair: one end attached to VM port `port`, the other returned.
    pub(crate) fn connect(&self, port: u8) -> UnixStream {
        let (ours, theirs) = UnixStream::pair().unwrap();
        self.backend
            .lock()
            .unwrap()
            .vm(port)
            .attach(theirs)
            .unwrap();
        ours
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Backend) -> T) -> T {
        f(&mut self.backend.lock().unwrap())
    }

    /// Waits (bounded) until `cond` holds on the backend.
    pub(crate) fn wait_for(&self, what: &str, mut cond: impl FnMut(&mut Backend) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.with(&mut cond) {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
        panic!("timed out waiting for {what}");
    }

    pub(crate) fn cutoffs(&self, port: u8) -> Vec<VhostUserError> {
        self.with(|b| {
            b.cutoffs
                .iter()
                .filter(|(p, _)| *p == port)
                .map(|(_, c)| c.reason)
                .collect()
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The frontend side: memfd guest memory in two regions, the protocol, and a driver.

pub(crate) const REGION: u64 = 1 << 20;
/// Guest-physical bases of the two regions, and the frontend's (made-up) user addresses.
pub(crate) const GPA: [u64; 2] = [0, 0x1000_0000];
pub(crate) const UVA: [u64; 2] = [0x7f00_0000_0000, 0x7f10_0000_0000];
pub(crate) const QSIZE: u16 = 256;
/// Ring areas (region 0): receiveq at 0, transmitq at 16 KiB.
pub(crate) const RING: [u64; 2] = [0, 0x4000];
/// Buffer areas: receive buffers in region 0 from 64 KiB, transmit buffers in region 1.
pub(crate) const RX_BUF: u64 = 0x1_0000;
pub(crate) const TX_BUF: u64 = GPA[1];

pub(crate) struct Guest {
    pub(crate) file: File,
    pub(crate) mem: GuestMemory,
}

/// Guest RAM as QEMU's memory-backend-memfd makes it: sized, then sealed against
/// growing and shrinking (unless `seal` is false: a hostile frontend's file).
pub(crate) fn memfd(len: u64, seal: bool) -> File {
    memfd_on(MemfdFlags::empty(), len, seal).expect("memfd_create failed")
}

/// A memfd of `len` bytes with `flags` (e.g. `HUGETLB`), sealed against shrinking and
/// growing if `seal`.
pub(crate) fn memfd_on(flags: MemfdFlags, len: u64, seal: bool) -> std::io::Result<File> {
    let fd = rustix::fs::memfd_create(c"partnet-guest", flags | MemfdFlags::ALLOW_SEALING)?;
    let file = File::from(fd);
    file.set_len(len)?;
    if seal {
        rustix::fs::fcntl_add_seals(&file, SealFlags::SHRINK | SealFlags::GROW)?;
    }
    Ok(file)
}

impl Guest {
    pub(crate) fn new() -> Guest {
        Self::with_file(memfd(2 * REGION, true))
    }

    pub(crate) fn with_file(file: File) -> Guest {
        let files = [file.try_clone().unwrap(), file.try_clone().unwrap()];
        let mem = GuestMemory::map(&Self::regions(), &files, u64::MAX, false)
            .expect("a sealed guest file");
        Guest { file, mem }
    }

    pub(crate) fn regions() -> [RegionInfo; 2] {
        [0, 1].map(|i| RegionInfo {
            guest_phys_addr: GPA[i],
            memory_size: REGION,
            user_addr: UVA[i],
            mmap_offset: i as u64 * REGION,
        })
    }

    pub(crate) fn table(&self) -> Vec<VhostUserMemoryRegionInfo> {
        Self::regions()
            .iter()
            .map(|r| VhostUserMemoryRegionInfo {
                guest_phys_addr: r.guest_phys_addr,
                memory_size: r.memory_size,
                userspace_addr: r.user_addr,
                mmap_offset: r.mmap_offset,
                mmap_handle: self.file.as_raw_fd(),
            })
            .collect()
    }

    pub(crate) fn ring(q: usize) -> QueueConfig {
        QueueConfig::contiguous(RING[q], QSIZE)
    }

    /// Queue `q`'s ring in the layout `features` select.
    pub(crate) fn ring_for(q: usize, features: u64) -> QueueConfig {
        if features & Features::RING_PACKED.bits() != 0 {
            QueueConfig::contiguous_packed(RING[q], QSIZE)
        } else {
            Self::ring(q)
        }
    }

    pub(crate) fn write(&self, addr: u64, bytes: &[u8]) {
        self.mem
            .slice(addr, bytes.len())
            .unwrap()
            .write_from(0, bytes)
            .unwrap();
    }

    pub(crate) fn read(&self, addr: u64, out: &mut [u8]) {
        self.mem
            .slice(addr, out.len())
            .unwrap()
            .read_into(0, out)
            .unwrap();
    }
}

/// Guest-physical → the frontend's user address (what SET_VRING_ADDR carries).
pub(crate) fn uva(gpa: u64) -> u64 {
    if gpa >= GPA[1] {
        gpa - GPA[1] + UVA[1]
    } else {
        gpa + UVA[0]
    }
}

pub(crate) struct Vm {
    pub(crate) front: Frontend,
    /// The same socket, for requests rust-vmm's frontend cannot send (a 32-bit ring
    /// state).
    pub(crate) sock: UnixStream,
    pub(crate) kick: [EventFd; 2],
    pub(crate) call: [EventFd; 2],
}

/// Split rings: everything offered but `RING_PACKED`.
pub(crate) const FEATURES: u64 = OFFERED_FEATURES & !Features::RING_PACKED.bits();
/// Packed rings.
pub(crate) const PACKED: u64 = OFFERED_FEATURES;
/// QEMU's first `SET_VRING_BASE` of a packed ring: offsets 0, both wrap counters 1.
pub(crate) const PACKED_START: u32 = 0x8000_8000;

/// The protocol up to running rings, as QEMU does it (split rings).
pub(crate) fn bring_up(stream: UnixStream, guest: &Guest) -> Vm {
    bring_up_with(stream, guest, FEATURES)
}

/// The protocol up to running rings with `features` (packed rings if they say so).
pub(crate) fn bring_up_with(stream: UnixStream, guest: &Guest, features: u64) -> Vm {
    bring_up_at(stream, guest, features, PACKED_START)
}

/// As [`bring_up_with`], a packed ring's `SET_VRING_BASE` being `packed_base`.
pub(crate) fn bring_up_at(
    stream: UnixStream,
    guest: &Guest,
    features: u64,
    packed_base: u32,
) -> Vm {
    let mut sock = stream.try_clone().unwrap();
    let mut front = Frontend::from_stream(stream, 2);
    front.set_owner().unwrap();
    let offered = front.get_features().unwrap();
    assert_eq!(offered, OFFERED_FEATURES);
    front.set_features(features).unwrap();
    let proto = front.get_protocol_features().unwrap();
    assert!(proto.contains(VhostUserProtocolFeatures::REPLY_ACK));
    assert!(
        !proto.contains(VhostUserProtocolFeatures::MQ),
        "MQ is not announced"
    );
    front
        .set_protocol_features(VhostUserProtocolFeatures::REPLY_ACK)
        .unwrap();
    front.set_mem_table(&guest.table()).unwrap();
    let kick = [0, 1].map(|_| EventFd::new(0).unwrap());
    let call = [0, 1].map(|_| EventFd::new(0).unwrap());
    let packed = features & Features::RING_PACKED.bits() != 0;
    for q in 0..2 {
        let cfg = Guest::ring_for(q, features);
        front.set_vring_num(q, QSIZE).unwrap();
        front
            .set_vring_addr(
                q,
                &vring_data(QSIZE, uva(cfg.desc), uva(cfg.avail), uva(cfg.used)),
            )
            .unwrap();
        if packed {
            // QEMU's 32-bit packed state (rust-vmm's frontend sends 16 bits).
            set_vring_base_raw(&mut sock, q as u32, packed_base);
        } else {
            front.set_vring_base(q, 0).unwrap();
        }
        front.set_vring_call(q, &call[q]).unwrap();
        front.set_vring_kick(q, &kick[q]).unwrap();
        front.set_vring_enable(q, true).unwrap();
    }
    Vm {
        front,
        sock,
        kick,
        call,
    }
}

/// `SET_VRING_ADDR`'s content: a ring of `size` at frontend user addresses (packed:
/// `avail` / `used` are the driver / device event suppression areas).
pub(crate) fn vring_data(size: u16, desc: u64, avail: u64, used: u64) -> VringConfigData {
    VringConfigData {
        queue_max_size: size,
        queue_size: size,
        flags: 0,
        desc_table_addr: desc,
        used_ring_addr: used,
        avail_ring_addr: avail,
        log_addr: None,
    }
}

/// `SET_VRING_BASE` (10) with a 32-bit state, no reply asked.
pub(crate) fn set_vring_base_raw(s: &mut UnixStream, index: u32, num: u32) {
    let mut body = index.to_le_bytes().to_vec();
    body.extend_from_slice(&num.to_le_bytes());
    raw(s, 10, &body);
}

/// The guest's virtio-net driver over its memory.
pub(crate) struct Driver<'g> {
    pub(crate) guest: &'g Guest,
    pub(crate) rxq: AnyDriverQueue<'g, GuestMemory, 256>,
    pub(crate) txq: AnyDriverQueue<'g, GuestMemory, 256>,
    pub(crate) next_tx: u64,
}

impl<'g> Driver<'g> {
    pub(crate) fn new(guest: &'g Guest) -> Driver<'g> {
        Self::with(guest, FEATURES)
    }

    /// A driver in the layout `features` select.
    pub(crate) fn with(guest: &'g Guest, features: u64) -> Driver<'g> {
        let f = Features::from_bits_truncate(features);
        let q = |i| AnyDriverQueue::new(&guest.mem, Guest::ring_for(i, features), f).unwrap();
        Driver {
            guest,
            rxq: q(0),
            txq: q(1),
            next_tx: 0,
        }
    }

    /// Posts receive buffers 0..count of 2 KiB each.
    pub(crate) fn post_rx(&mut self, count: u16) {
        for i in 0..u64::from(count) {
            let t = self
                .rxq
                .add(&[], &[Buffer::new(RX_BUF + i * 2048, 2048)])
                .unwrap();
            assert_eq!(u64::from(t.0), i);
        }
        self.rxq.publish();
    }

    pub(crate) fn send(&mut self, vm: &Vm, f: &[u8]) {
        let addr = TX_BUF + (self.next_tx % 64) * 2048;
        self.next_tx += 1;
        self.guest.write(addr, &NetHeader::default().encode());
        self.guest.write(addr + NET_HDR_LEN as u64, f);
        self.txq
            .add(&[Buffer::new(addr, (NET_HDR_LEN + f.len()) as u32)], &[])
            .unwrap();
        self.txq.publish();
        if self.txq.should_notify() {
            vm.kick[1].write(1).unwrap();
        }
    }

    pub(crate) fn reclaim_tx(&mut self) -> usize {
        let mut n = 0;
        while self.txq.pop_used().unwrap().is_some() {
            n += 1;
        }
        n
    }

    /// The next received frame (one chain each, MRG_RXBUF with large buffers).
    pub(crate) fn receive(&mut self) -> Option<Vec<u8>> {
        let u = self.rxq.pop_used().unwrap()?;
        let mut bytes = vec![0u8; u.len as usize];
        self.guest
            .read(RX_BUF + u64::from(u.token.0) * 2048, &mut bytes);
        let hdr = NetHeader::decode(bytes[..NET_HDR_LEN].try_into().unwrap());
        assert_eq!(hdr.num_buffers, 1);
        // Repost the same buffer.
        self.rxq
            .add(
                &[],
                &[Buffer::new(RX_BUF + u64::from(u.token.0) * 2048, 2048)],
            )
            .unwrap();
        self.rxq.publish();
        Some(bytes.split_off(NET_HDR_LEN))
    }

    pub(crate) fn receive_wait(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(f) = self.receive() {
                return f;
            }
            assert!(Instant::now() < deadline, "no frame arrived");
            thread::sleep(Duration::from_millis(1));
        }
    }
}

pub(crate) fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

pub(crate) fn part_receive(b: &mut Backend) -> Option<Vec<u8>> {
    let mut buf = [0u8; 1600];
    b.part().receive(&mut buf).map(|n| buf[..n].to_vec())
}

/// Brings VM A up and checks frames cross both ways; returns its pieces for more.
pub(crate) fn vm_a_up<'g>(run: &Running, guest: &'g Guest) -> (Vm, Driver<'g>) {
    let vm = bring_up(run.connect(VM_A), guest);
    let mut drv = Driver::new(guest);
    drv.post_rx(32);
    run.wait_for("VM A running", |b| b.vm(VM_A).is_running());
    (vm, drv)
}

pub(crate) fn ping_pong(run: &Running, vm: &Vm, drv: &mut Driver<'_>, seed: u8) {
    // VM A → partition.
    let out = frame(mac(2), mac(1), 0x0800, &payload(1400, seed));
    drv.send(vm, &out);
    let mut got = None;
    run.wait_for("the partition to receive", |b| {
        got = part_receive(b);
        got.is_some()
    });
    assert_eq!(got.unwrap(), out);
    // Partition → VM A.
    let back = frame(mac(1), mac(2), 0x0800, &payload(999, seed ^ 0x55));
    run.with(|b| b.part().inject(&back).unwrap());
    assert_eq!(drv.receive_wait(), back);
    drv.reclaim_tx();
}

/// Sends a raw message: header (request, flags = version 1, size) and body.
pub(crate) fn raw(s: &mut UnixStream, req: u32, body: &[u8]) {
    let mut m = Vec::new();
    m.extend_from_slice(&req.to_le_bytes());
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&(body.len() as u32).to_le_bytes());
    m.extend_from_slice(body);
    let _ = s.write_all(&m);
}
