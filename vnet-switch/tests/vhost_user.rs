//! The vhost-user backend against test frontends over a socketpair, with memfd guest
//! memory in two regions: a well-behaved frontend (rust-vmm's `Frontend` for the
//! protocol, our `DriverQueue` as the guest driver) passes frames both ways through the
//! switch; hostile frontends (garbage messages, an incomplete request, bad ring
//! addresses, bad sizes and queues, overlapping regions, unsealed or short region files,
//! garbage rings, a memory table changing under running rings, a disconnect) are cut off
//! with typed reasons while the other VM's port and the rest of the switch go on; a
//! spoofing guest is stopped by the switch. Packed rings: a packed-ring session (frames
//! both ways across a wrap, a stop and a resume from the reported state), and hostile
//! packed frontends (ring states with a bad wrap or offset, event suppression areas
//! outside memory, a state the ring size makes wrong).
#![cfg(all(feature = "vhost-user", target_os = "linux"))]
#![cfg_attr(miri, allow(unused))]

mod common;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{frame, mac};
use vhost::vhost_user::message::VhostUserProtocolFeatures;
use vhost::vhost_user::{Frontend, VhostUserFrontend};
use vhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use virtqueue::{AnyDriverQueue, Buffer, Features, QueueConfig, SharedMemory};
use vmm_sys_util::eventfd::EventFd;
use vnet_switch::adapters::vhost_user::{
    wait_readable, CutOff, GuestMemory, RegionInfo, VhostUserError, VhostUserPort, VmOr,
    OFFERED_FEATURES,
};
use vnet_switch::adapters::virtio_net::{NetHeader, NET_HDR_LEN};
use vnet_switch::mem::MemEndpoint;
use vnet_switch::{PortConfig, PortId, Switch, SwitchBuilder};

// ---------------------------------------------------------------------------------------
// The backend side: a switch with one in-memory partition (port 0) and two VM ports.

type Ep = VmOr<Box<MemEndpoint<8, 1600>>>;

type Sw = Switch<Ep, 4, 64, 8>;

const PART: u8 = 0;
const VM_A: u8 = 1;
const VM_B: u8 = 2;

struct Backend {
    sw: Sw,
    cutoffs: Vec<(u8, CutOff)>,
}

impl Backend {
    fn vm(&mut self, port: u8) -> &mut VhostUserPort {
        let ep = self.sw.endpoint_mut(PortId::new(port)).unwrap();
        ep.vm_mut().expect("a VM port")
    }

    fn part(&mut self) -> &mut MemEndpoint<8, 1600> {
        let ep = self.sw.endpoint_mut(PortId::new(PART)).unwrap();
        ep.other_mut().expect("the partition")
    }

    /// One round of the event loop: wait (bounded), handle requests, poll, notify.
    fn step(this: &Mutex<Backend>) {
        let mut fds = Vec::new();
        let mut owners = Vec::new();
        {
            let mut b = this.lock().unwrap();
            for p in [VM_A, VM_B] {
                let n = fds.len();
                b.vm(p).fds(&mut fds);
                owners.extend(std::iter::repeat_n(p, fds.len() - n));
            }
        }
        let mut ready = Vec::new();
        wait_readable(&fds, &mut ready, 2).unwrap();
        let mut b = this.lock().unwrap();
        for p in [VM_A, VM_B] {
            // Only the socket (the first fd of a port) carries requests; kicks are
            // drained by after_poll.
            let sock = owners.iter().position(|&o| o == p);
            if sock.is_some_and(|i| ready[i]) {
                if let Err(c) = b.vm(p).handle_socket() {
                    b.cutoffs.push((p, c));
                }
            }
        }
        b.sw.poll(0, 64);
        for p in [VM_A, VM_B] {
            if let Err(c) = b.vm(p).after_poll() {
                b.cutoffs.push((p, c));
            }
            b.vm(p).enable_notifications();
        }
    }
}

struct Running {
    backend: Arc<Mutex<Backend>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Running {
    fn start() -> Running {
        let mut sb = SwitchBuilder::<Ep, 4>::new();
        sb.add_port(
            VmOr::Other(Box::default()),
            PortConfig::partition(mac(2), 1),
        )
        .unwrap();
        for m in [1, 3] {
            sb.add_port(
                VmOr::Vm(Box::new(VhostUserPort::new(1514))),
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
            while !s.load(Ordering::Relaxed) {
                Backend::step(&b);
            }
        });
        Running {
            backend,
            stop,
            thread: Some(thread),
        }
    }

    /// A socketpair: one end attached to VM port `port`, the other returned.
    fn connect(&self, port: u8) -> UnixStream {
        let (ours, theirs) = UnixStream::pair().unwrap();
        self.backend
            .lock()
            .unwrap()
            .vm(port)
            .attach(theirs)
            .unwrap();
        ours
    }

    fn with<T>(&self, f: impl FnOnce(&mut Backend) -> T) -> T {
        f(&mut self.backend.lock().unwrap())
    }

    /// Waits (bounded) until `cond` holds on the backend.
    fn wait_for(&self, what: &str, mut cond: impl FnMut(&mut Backend) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.with(&mut cond) {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
        panic!("timed out waiting for {what}");
    }

    fn cutoffs(&self, port: u8) -> Vec<VhostUserError> {
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

const REGION: u64 = 1 << 20;
/// Guest-physical bases of the two regions, and the frontend's (made-up) user addresses.
const GPA: [u64; 2] = [0, 0x1000_0000];
const UVA: [u64; 2] = [0x7f00_0000_0000, 0x7f10_0000_0000];
const QSIZE: u16 = 256;
/// Ring areas (region 0): receiveq at 0, transmitq at 16 KiB.
const RING: [u64; 2] = [0, 0x4000];
/// Buffer areas: receive buffers in region 0 from 64 KiB, transmit buffers in region 1.
const RX_BUF: u64 = 0x1_0000;
const TX_BUF: u64 = GPA[1];

struct Guest {
    file: File,
    mem: GuestMemory,
}

/// Guest RAM as QEMU's memory-backend-memfd makes it: sized, then sealed against
/// growing and shrinking (unless `seal` is false: a hostile frontend's file).
fn memfd(len: u64, seal: bool) -> File {
    let name = c"partnet-guest";
    // SAFETY: a valid NUL-terminated name; the returned fd (checked) is owned by `File`.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_ALLOW_SEALING) };
    assert!(fd >= 0, "memfd_create failed");
    // SAFETY: `fd` is a fresh fd owned by nobody else.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(len).unwrap();
    if seal {
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
        // SAFETY: fcntl on the valid fd owned by `file`; no memory is passed.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) };
        assert_eq!(r, 0);
    }
    file
}

impl Guest {
    fn new() -> Guest {
        Self::with_file(memfd(2 * REGION, true))
    }

    fn with_file(file: File) -> Guest {
        let files = [file.try_clone().unwrap(), file.try_clone().unwrap()];
        let mem = GuestMemory::map(&Self::regions(), &files).expect("a sealed guest file");
        Guest { file, mem }
    }

    fn regions() -> [RegionInfo; 2] {
        [0, 1].map(|i| RegionInfo {
            guest_phys_addr: GPA[i],
            memory_size: REGION,
            user_addr: UVA[i],
            mmap_offset: i as u64 * REGION,
        })
    }

    fn table(&self) -> Vec<VhostUserMemoryRegionInfo> {
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

    fn ring(q: usize) -> QueueConfig {
        QueueConfig::contiguous(RING[q], QSIZE)
    }

    /// Queue `q`'s ring in the layout `features` select.
    fn ring_for(q: usize, features: u64) -> QueueConfig {
        if features & Features::RING_PACKED.bits() != 0 {
            QueueConfig::contiguous_packed(RING[q], QSIZE)
        } else {
            Self::ring(q)
        }
    }

    fn write(&self, addr: u64, bytes: &[u8]) {
        self.mem
            .slice(addr, bytes.len())
            .unwrap()
            .write_from(0, bytes)
            .unwrap();
    }

    fn read(&self, addr: u64, out: &mut [u8]) {
        self.mem
            .slice(addr, out.len())
            .unwrap()
            .read_into(0, out)
            .unwrap();
    }
}

/// Guest-physical → the frontend's user address (what SET_VRING_ADDR carries).
fn uva(gpa: u64) -> u64 {
    if gpa >= GPA[1] {
        gpa - GPA[1] + UVA[1]
    } else {
        gpa + UVA[0]
    }
}

struct Vm {
    front: Frontend,
    /// The same socket, for requests rust-vmm's frontend cannot send (a 32-bit ring
    /// state).
    sock: UnixStream,
    kick: [EventFd; 2],
    call: [EventFd; 2],
}

/// Split rings: everything offered but `RING_PACKED`.
const FEATURES: u64 = OFFERED_FEATURES & !Features::RING_PACKED.bits();
/// Packed rings.
const PACKED: u64 = OFFERED_FEATURES;
/// QEMU's first `SET_VRING_BASE` of a packed ring: offsets 0, both wrap counters 1.
const PACKED_START: u32 = 0x8000_8000;

/// The protocol up to running rings, as QEMU does it (split rings).
fn bring_up(stream: UnixStream, guest: &Guest) -> Vm {
    bring_up_with(stream, guest, FEATURES)
}

/// The protocol up to running rings with `features` (packed rings if they say so).
fn bring_up_with(stream: UnixStream, guest: &Guest, features: u64) -> Vm {
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
                &VringConfigData {
                    queue_max_size: QSIZE,
                    queue_size: QSIZE,
                    flags: 0,
                    desc_table_addr: uva(cfg.desc),
                    used_ring_addr: uva(cfg.used),
                    avail_ring_addr: uva(cfg.avail),
                    log_addr: None,
                },
            )
            .unwrap();
        if packed {
            // QEMU's 32-bit packed state (rust-vmm's frontend sends 16 bits).
            set_vring_base_raw(&mut sock, q as u32, PACKED_START);
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

/// `SET_VRING_BASE` (10) with a 32-bit state, no reply asked.
fn set_vring_base_raw(s: &mut UnixStream, index: u32, num: u32) {
    let mut body = index.to_le_bytes().to_vec();
    body.extend_from_slice(&num.to_le_bytes());
    raw(s, 10, &body);
}

/// The guest's virtio-net driver over its memory.
struct Driver<'g> {
    guest: &'g Guest,
    rxq: AnyDriverQueue<'g, GuestMemory, 256>,
    txq: AnyDriverQueue<'g, GuestMemory, 256>,
    next_tx: u64,
}

impl<'g> Driver<'g> {
    fn new(guest: &'g Guest) -> Driver<'g> {
        Self::with(guest, FEATURES)
    }

    /// A driver in the layout `features` select.
    fn with(guest: &'g Guest, features: u64) -> Driver<'g> {
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
    fn post_rx(&mut self, count: u16) {
        for i in 0..u64::from(count) {
            let t = self
                .rxq
                .add(&[], &[Buffer::new(RX_BUF + i * 2048, 2048)])
                .unwrap();
            assert_eq!(u64::from(t.0), i);
        }
        self.rxq.publish();
    }

    fn send(&mut self, vm: &Vm, f: &[u8]) {
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

    fn reclaim_tx(&mut self) -> usize {
        let mut n = 0;
        while self.txq.pop_used().unwrap().is_some() {
            n += 1;
        }
        n
    }

    /// The next received frame (one chain each, MRG_RXBUF with large buffers).
    fn receive(&mut self) -> Option<Vec<u8>> {
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

    fn receive_wait(&mut self) -> Vec<u8> {
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

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

fn part_receive(b: &mut Backend) -> Option<Vec<u8>> {
    let mut buf = [0u8; 1600];
    b.part().receive(&mut buf).map(|n| buf[..n].to_vec())
}

/// Brings VM A up and checks frames cross both ways; returns its pieces for more.
fn vm_a_up<'g>(run: &Running, guest: &'g Guest) -> (Vm, Driver<'g>) {
    let vm = bring_up(run.connect(VM_A), guest);
    let mut drv = Driver::new(guest);
    drv.post_rx(32);
    run.wait_for("VM A running", |b| b.vm(VM_A).is_running());
    (vm, drv)
}

fn ping_pong(run: &Running, vm: &Vm, drv: &mut Driver<'_>, seed: u8) {
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

// ---------------------------------------------------------------------------------------

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn well_behaved_frontend_passes_frames_both_ways() {
    let run = Running::start();
    let guest = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest);
    for seed in 0..20 {
        ping_pong(&run, &vm, &mut drv, seed);
    }
    // The backend signalled the receiveq call eventfd for the frames it delivered.
    assert!(vm.call[0].read().unwrap() >= 1);
    let s = run.with(|b| b.vm(VM_A).stats());
    assert_eq!((s.net.tx_frames, s.net.rx_frames), (20, 20));
    assert_eq!(s.starts, 1);
    assert!(run.cutoffs(VM_A).is_empty());

    // Stop (GET_VRING_BASE) returns the used index; the rings stop.
    let base = vm.front.get_vring_base(1).unwrap();
    assert_eq!(base, 20, "every transmit chain was returned");
    run.wait_for("VM A stopped", |b| !b.vm(VM_A).is_running());
    drop(vm);
    run.wait_for("the disconnect", |b| !b.vm(VM_A).is_connected());
    assert_eq!(run.cutoffs(VM_A), vec![VhostUserError::Disconnected]);
}

/// Sends a raw message: header (request, flags = version 1, size) and body.
fn raw(s: &mut UnixStream, req: u32, body: &[u8]) {
    let mut m = Vec::new();
    m.extend_from_slice(&req.to_le_bytes());
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&(body.len() as u32).to_le_bytes());
    m.extend_from_slice(body);
    let _ = s.write_all(&m);
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn hostile_frontends_are_cut_off_and_vm_a_goes_on() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest_a);
    ping_pong(&run, &vm, &mut drv, 1);

    // 1. Garbage messages: an unknown request code, then a size above the limit.
    for (req, body) in [
        (9999u32, vec![0u8; 8]),
        (5 /* SET_MEM_TABLE */, vec![0xff; 64]),
    ] {
        let mut s = run.connect(VM_B);
        raw(&mut s, req, &body);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
        ping_pong(&run, &vm, &mut drv, 2);
    }
    // A partial header, then silence: cut off after the request timeout, the event loop
    // is not blocked meanwhile for longer than that.
    let mut s = run.connect(VM_B);
    let _ = s.write_all(&[1, 0, 0]);
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    ping_pong(&run, &vm, &mut drv, 4);
    drop(s);
    // 2. A ring address outside the memory table.
    let guest_b = Guest::new();
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    front.set_owner().unwrap();
    front.set_features(FEATURES).unwrap();
    front.set_mem_table(&guest_b.table()).unwrap();
    front.set_vring_num(0, QSIZE).unwrap();
    let bad = VringConfigData {
        queue_max_size: QSIZE,
        queue_size: QSIZE,
        flags: 0,
        desc_table_addr: 0xdead_0000,
        used_ring_addr: uva(0x2000),
        avail_ring_addr: uva(0x1000),
        log_addr: None,
    };
    let _ = front.set_vring_addr(0, &bad);
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    // 3. A queue size that is not a power of two, and a queue that does not exist.
    for (q, num) in [(0usize, 100u16), (5, 256)] {
        let front = Frontend::from_stream(run.connect(VM_B), 8);
        front.set_owner().unwrap();
        let _ = front.set_vring_num(q, num);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    }
    // 4. Two regions that overlap in guest-physical addresses.
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    let mut table = guest_b.table();
    table[1].guest_phys_addr = 0x8_0000;
    let _ = front.set_mem_table(&table);
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    // 5. A region file the frontend could still shrink, and one shorter than the region:
    // either could make the backend fault on a vanished page.
    let loose = memfd(2 * REGION, false);
    let short = memfd(REGION, true);
    for file in [&loose, &short] {
        let front = Frontend::from_stream(run.connect(VM_B), 2);
        let table: Vec<_> = guest_b
            .table()
            .into_iter()
            .map(|mut r| {
                r.mmap_handle = file.as_raw_fd();
                r
            })
            .collect();
        let _ = front.set_mem_table(&table);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    }
    // 6. Features not offered.
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    let _ = front.set_features(FEATURES | (1 << 22));
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    ping_pong(&run, &vm, &mut drv, 3);

    let reasons = run.cutoffs(VM_B);
    assert_eq!(reasons.len(), 10, "{reasons:?}");
    assert_eq!(reasons[0], VhostUserError::Protocol);
    assert_eq!(reasons[1], VhostUserError::Protocol);
    assert_eq!(reasons[2], VhostUserError::Stalled { bytes: 3 });
    assert!(matches!(
        reasons[3],
        VhostUserError::BadRingAddress {
            index: 0,
            user_addr: 0xdead_0000
        }
    ));
    assert_eq!(
        reasons[4],
        VhostUserError::BadQueueSize { index: 0, num: 100 }
    );
    assert_eq!(reasons[5], VhostUserError::BadQueue { index: 5 });
    assert!(matches!(
        reasons[6],
        VhostUserError::BadRegion {
            guest_phys_addr: 0x8_0000,
            ..
        }
    ));
    assert!(matches!(
        reasons[7],
        VhostUserError::RegionFile { sealed: false, .. }
    ));
    assert_eq!(
        reasons[8],
        VhostUserError::RegionFile {
            guest_phys_addr: GPA[1],
            file_size: REGION,
            needed: 2 * REGION,
            sealed: true
        }
    );
    assert_eq!(reasons[9], VhostUserError::Features { bits: 1 << 22 });
    // Every reason says what was wrong.
    for r in &reasons {
        assert!(!r.to_string().is_empty());
    }
    assert!(run.cutoffs(VM_A).is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn garbage_rings_and_a_changing_memory_table_cut_the_guest_off() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm_a, mut drv_a) = vm_a_up(&run, &guest_a);

    // VM B brings its rings up properly, then its guest writes garbage: an avail index
    // far ahead of what the ring holds (a fatal ring error).
    let guest_b = Guest::new();
    let vm_b = bring_up(run.connect(VM_B), &guest_b);
    run.wait_for("B running", |b| b.vm(VM_B).is_running());
    let tx = Guest::ring(1);
    // Random descriptors, then avail.idx = 1000 (more than the 256 entries).
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    guest_b.write(tx.desc, &junk);
    guest_b.write(tx.avail + 2, &1000u16.to_le_bytes());
    vm_b.kick[1].write(1).unwrap();
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    let r = run.cutoffs(VM_B);
    assert!(matches!(r.as_slice(), [VhostUserError::Ring(_)]), "{r:?}");
    ping_pong(&run, &vm_a, &mut drv_a, 7);

    // VM B again, with garbage descriptors behind a valid index: per-chain errors are
    // counted, the chains returned, the port stays up; frames from A still reach B's
    // good receive buffers.
    let guest_b = Guest::new();
    let vm_b = bring_up(run.connect(VM_B), &guest_b);
    run.wait_for("B running again", |b| b.vm(VM_B).is_running());
    let mut drv_b = Driver::new(&guest_b);
    drv_b.post_rx(8);
    // A transmit chain whose buffer points outside the guest memory.
    drv_b
        .txq
        .add(&[Buffer::new(0x7000_0000, 100)], &[])
        .unwrap();
    drv_b.txq.publish();
    vm_b.kick[1].write(1).unwrap();
    run.wait_for("the bad chain returned", |_| drv_b.reclaim_tx() == 1);
    let to_b = frame(mac(3), mac(1), 0x0800, &payload(500, 9));
    drv_a.send(&vm_a, &to_b);
    assert_eq!(drv_b.receive_wait(), to_b);
    let s = run.with(|b| b.vm(VM_B).stats());
    assert!(s.net.last_error.is_some(), "the bad chain was noted");

    // B's guest spoofs A's MAC towards the partition: dropped by the switch, counted;
    // B's own frame right after it arrives alone.
    let spoofed = frame(mac(2), mac(1), 0x0800, &payload(200, 10));
    let own = frame(mac(2), mac(3), 0x0800, &payload(200, 11));
    drv_b.send(&vm_b, &spoofed);
    drv_b.send(&vm_b, &own);
    let mut got = None;
    run.wait_for("B's own frame at the partition", |b| {
        got = part_receive(b);
        got.is_some()
    });
    assert_eq!(got.unwrap(), own);
    let spoof_drops = run.with(|b| {
        b.sw.stats(PortId::new(VM_B))
            .unwrap()
            .drops(vnet_switch::DropReason::Spoofed)
    });
    assert_eq!(spoof_drops, 1);
    assert!(run.with(part_receive).is_none());
    assert!(run.with(|b| b.vm(VM_B).is_running()));

    // The memory table changes under the running rings: cut off.
    let mut table = guest_b.table();
    table[1].guest_phys_addr += 0x100_0000;
    let _ = vm_b.front.set_mem_table(&table);
    run.wait_for("B cut off again", |b| !b.vm(VM_B).is_connected());
    assert_eq!(
        run.cutoffs(VM_B)[1],
        VhostUserError::MemTableChanged { regions: 2 }
    );
    // An identical table is accepted while running (QEMU re-sends it).
    vm_a.front.set_mem_table(&guest_a.table()).unwrap();
    ping_pong(&run, &vm_a, &mut drv_a, 8);
    assert!(run.cutoffs(VM_A).is_empty());
}

// ---------------------------------------------------------------------------------------
// Packed rings (`VIRTIO_F_RING_PACKED`).

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn packed_rings_pass_frames_both_ways_and_resume_from_their_state() {
    let run = Running::start();
    let guest = Guest::new();
    let mut vm = bring_up_with(run.connect(VM_A), &guest, PACKED);
    let mut drv = Driver::with(&guest, PACKED);
    assert!(drv.rxq.is_packed() && drv.txq.is_packed());
    drv.post_rx(32);
    run.wait_for("VM A running", |b| b.vm(VM_A).is_running());
    assert_eq!(run.with(|b| b.vm(VM_A).packed_rings()), Some(true));
    // 270 frames each way: both rings (256 positions, one per chain) wrap once.
    for seed in 0..270u32 {
        ping_pong(&run, &vm, &mut drv, seed as u8);
    }
    let s = run.with(|b| b.vm(VM_A).stats());
    assert_eq!((s.net.tx_frames, s.net.rx_frames), (270, 270));

    // GET_VRING_BASE: vhost-user's packed state, next position 270 = offset 14 of the
    // second lap (wrap counter 0) for avail (bits 0..=15) and used (bits 16..=31).
    let lap2_14 = 14 | 14 << 16;
    assert_eq!(vm.front.get_vring_base(1).unwrap(), lap2_14);
    assert_eq!(vm.front.get_vring_base(0).unwrap(), lap2_14);
    run.wait_for("VM A stopped", |b| !b.vm(VM_A).is_running());

    // Restart from that state, as QEMU does after a stop: the rings go on where they were.
    for q in 0..2 {
        set_vring_base_raw(&mut vm.sock, q as u32, lap2_14);
        vm.front.set_vring_kick(q, &vm.kick[q]).unwrap();
    }
    run.wait_for("VM A running again", |b| b.vm(VM_A).is_running());
    for seed in 0..20 {
        ping_pong(&run, &vm, &mut drv, seed);
    }
    let s = run.with(|b| b.vm(VM_A).stats());
    assert_eq!(s.starts, 2);
    assert_eq!(s.net.tx_frames, 20, "counters of the second data path");
    assert!(run.cutoffs(VM_A).is_empty());

    // A split-ring frontend on the other port, next to it.
    let guest_b = Guest::new();
    let _vm_b = bring_up(run.connect(VM_B), &guest_b);
    run.wait_for("VM B running", |b| b.vm(VM_B).is_running());
    assert_eq!(run.with(|b| b.vm(VM_B).packed_rings()), Some(false));
    ping_pong(&run, &vm, &mut drv, 99);
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn hostile_packed_frontends_are_cut_off_and_vm_a_goes_on() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest_a);
    let guest_b = Guest::new();
    // A packed frontend up to its memory table; its raw socket too.
    let connect = || {
        let stream = run.connect(VM_B);
        let sock = stream.try_clone().unwrap();
        let front = Frontend::from_stream(stream, 2);
        front.set_owner().unwrap();
        front.set_features(PACKED).unwrap();
        front.set_mem_table(&guest_b.table()).unwrap();
        (front, sock)
    };
    // 1. Ring states the ring cannot have: the used position ahead of the avail one
    // (a wrong wrap state), an avail offset outside the ring.
    for (q, state) in [(1u32, 0x8001_8000u32), (0, 0x8000_ffff)] {
        let (front, mut sock) = connect();
        front.set_vring_num(q as usize, QSIZE).unwrap();
        set_vring_base_raw(&mut sock, q, state);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
        ping_pong(&run, &vm, &mut drv, 1);
    }
    // 2. Event suppression areas outside the guest memory: the driver's (in the avail
    // field) across the end of region 0, the device's (in the used field) nowhere.
    let ring = QueueConfig::contiguous_packed(RING[1], QSIZE);
    for (avail, used) in [
        (uva(REGION - 2), uva(ring.used)),
        (uva(ring.avail), 0xdead_0000),
    ] {
        let (front, _sock) = connect();
        front.set_vring_num(1, QSIZE).unwrap();
        let cfg = VringConfigData {
            queue_max_size: QSIZE,
            queue_size: QSIZE,
            flags: 0,
            desc_table_addr: uva(ring.desc),
            used_ring_addr: used,
            avail_ring_addr: avail,
            log_addr: None,
        };
        let _ = front.set_vring_addr(1, &cfg);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
        ping_pong(&run, &vm, &mut drv, 2);
    }
    // 3. A state set before the size, that the size then makes wrong (offset 100 of a
    // ring of 64): refused when the rings start.
    let (front, mut sock) = connect();
    let kick = [0, 1].map(|_| EventFd::new(0).unwrap());
    for q in 0..2 {
        set_vring_base_raw(&mut sock, q as u32, 0x8064_8064);
        front.set_vring_num(q, 64).unwrap();
        let r = QueueConfig::contiguous_packed(RING[q], 64);
        let cfg = VringConfigData {
            queue_max_size: 64,
            queue_size: 64,
            flags: 0,
            desc_table_addr: uva(r.desc),
            used_ring_addr: uva(r.used),
            avail_ring_addr: uva(r.avail),
            log_addr: None,
        };
        front.set_vring_addr(q, &cfg).unwrap();
        front.set_vring_kick(q, &kick[q]).unwrap();
    }
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    ping_pong(&run, &vm, &mut drv, 3);

    let reasons = run.cutoffs(VM_B);
    let bad_base = |index, base| VhostUserError::BadRingBase {
        index,
        base,
        packed: true,
    };
    assert_eq!(
        reasons,
        vec![
            bad_base(1, 0x8001_8000),
            bad_base(0, 0x8000_ffff),
            VhostUserError::BadRingAddress {
                index: 1,
                user_addr: uva(REGION - 2)
            },
            VhostUserError::BadRingAddress {
                index: 1,
                user_addr: 0xdead_0000
            },
            bad_base(0, 0x8064_8064),
        ]
    );
    assert!(reasons[0].to_string().contains("used offset 1"));
    assert!(run.cutoffs(VM_A).is_empty());
}
