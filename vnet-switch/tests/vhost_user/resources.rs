//! What a frontend may make the backend hold or wait for: a silent or closed socket, an
//! oversized header, memory tables (what they map, the budget), kick and call fds
//! (waited on only while the rings run, drained whole), fds of the wrong kind.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use vhost::vhost_user::Frontend;
use vhost::{VhostBackend, VhostUserMemoryRegionInfo};
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::sock_ctrl_msg::ScmSocket;
use vnet_switch::adapters::vhost_user::{
    CutOff, FdKind, FdRole, GuestMemory, Notifier, RegionInfo, VhostUserError, VhostUserPort,
    WaitList, DEFAULT_MEMORY_BUDGET,
};

use super::harness::*;

/// `handle_socket` on a thread: its result, or `None` when it did not return within
/// 5 s (it blocked).
fn handle_within(port: VhostUserPort) -> Option<(VhostUserPort, Result<(), CutOff>)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut port = port;
        let r = port.handle_socket();
        let _ = tx.send((port, r));
    });
    rx.recv_timeout(Duration::from_secs(5)).ok()
}

#[test]
#[cfg_attr(miri, ignore = "sockets")]
fn a_silent_closed_or_oversized_frontend_never_blocks_the_port() {
    // Nothing sent: the event loop may call `handle_socket` on a wake-up that was not
    // for this socket; it must return at once, the frontend still attached.
    let (mut front, back) = UnixStream::pair().unwrap();
    let mut port = VhostUserPort::new(1514);
    port.attach(back).unwrap();
    let (port, r) = handle_within(port).expect("handle_socket blocked on an empty socket");
    assert_eq!(r, Ok(()));
    assert!(port.is_connected());

    // A header announcing a body of u32::MAX bytes: cut off from the header alone.
    let mut h = 1u32.to_ne_bytes().to_vec();
    h.extend_from_slice(&1u32.to_ne_bytes());
    h.extend_from_slice(&u32::MAX.to_ne_bytes());
    front.write_all(&h).unwrap();
    let (mut port, r) = handle_within(port).expect("blocked on an oversized header");
    assert_eq!(
        r.unwrap_err().reason,
        VhostUserError::Oversized { size: u32::MAX }
    );
    assert!(!port.is_connected());

    // A frontend that closed: cut off as disconnected, without a read.
    let (front, back) = UnixStream::pair().unwrap();
    port.attach(back).unwrap();
    drop(front);
    let (port, r) = handle_within(port).expect("blocked on a closed socket");
    assert_eq!(r.unwrap_err().reason, VhostUserError::Disconnected);
    assert_eq!(port.stats().cutoffs, 2);
}

/// The process's virtual size in KiB (`VmSize`).
fn vm_size_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn region(i: u64, size: u64, offset: u64, fd: RawFd) -> VhostUserMemoryRegionInfo {
    VhostUserMemoryRegionInfo {
        guest_phys_addr: i << 36,
        memory_size: size,
        userspace_addr: 0x10_0000_0000 + (i << 36),
        mmap_offset: offset,
        mmap_handle: fd,
    }
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn memory_tables_map_only_their_pages_and_stay_within_the_budget() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest_a);
    assert_eq!(
        run.with(|b| b.vm(VM_A).stats().mapped_bytes),
        2 * REGION,
        "a well-behaved table is accounted"
    );

    // 1. Four one-page regions 8 TiB into sparse, sealed memfds: mapping each file from
    // its start would reserve 32 TiB of the backend's address space.
    const FAR: u64 = 8 << 40;
    let before = vm_size_kib();
    let files: Vec<File> = (0..4).map(|_| memfd(FAR + 4096, true)).collect();
    let table: Vec<_> = (0..4)
        .map(|i| region(i, 4096, FAR, files[i as usize].as_raw_fd()))
        .collect();
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    front.set_mem_table(&table).unwrap();
    run.wait_for("B's table mapped", |b| {
        b.vm(VM_B).stats().mapped_bytes == 4 * 4096
    });
    let grown = vm_size_kib().saturating_sub(before);
    assert!(grown < 1 << 30, "the address space grew by {grown} KiB");
    // The process can still reserve memory for itself.
    let mut heap = Vec::<u8>::new();
    heap.try_reserve_exact(256 << 20)
        .expect("a 256 MiB reservation");
    drop(heap);
    drop(front);
    run.wait_for("B gone", |b| !b.vm(VM_B).is_connected());
    assert_eq!(run.with(|b| b.vm(VM_B).stats().mapped_bytes), 0, "unmapped");

    // 2. Two 6 GiB regions (sparse): above the default budget, refused before mapping.
    let big = memfd(12 << 30, true);
    let table = [
        region(0, 6 << 30, 0, big.as_raw_fd()),
        region(1, 6 << 30, 6 << 30, big.as_raw_fd()),
    ];
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    let _ = front.set_mem_table(&table);
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    // 3. Offsets that overflow, or that no file offset can hold.
    for offset in [u64::MAX - 4095, 1 << 63] {
        let front = Frontend::from_stream(run.connect(VM_B), 2);
        let _ = front.set_mem_table(&[region(0, 4096, offset, big.as_raw_fd())]);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    }
    assert_eq!(
        run.cutoffs(VM_B),
        vec![
            VhostUserError::Disconnected,
            VhostUserError::MemoryBudget {
                needed: 12 << 30,
                budget: DEFAULT_MEMORY_BUDGET
            },
            // The message parser refuses the overflow; the backend the offset above
            // what a file offset can be.
            VhostUserError::Protocol,
            VhostUserError::BadRegion {
                guest_phys_addr: 0,
                memory_size: 4096,
                user_addr: 0x10_0000_0000
            },
        ]
    );
    assert_eq!(run.with(|b| b.vm(VM_B).stats().mapped_bytes), 0);

    // A well-behaved frontend on the same port maps and runs; VM A went on throughout.
    let guest_b = Guest::new();
    let _vm_b = bring_up(run.connect(VM_B), &guest_b);
    run.wait_for("B running", |b| b.vm(VM_B).is_running());
    assert_eq!(run.with(|b| b.vm(VM_B).stats().mapped_bytes), 2 * REGION);
    ping_pong(&run, &vm, &mut drv, 5);
    assert!(run.cutoffs(VM_A).is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn the_memory_budget_is_the_ports() {
    let guest = Guest::new();
    let (stream, back) = UnixStream::pair().unwrap();
    let mut port = VhostUserPort::new(1514).with_memory_budget(REGION);
    assert_eq!(port.memory_budget(), REGION);
    port.attach(back).unwrap();
    let front = Frontend::from_stream(stream, 2);
    front.set_mem_table(&guest.table()).unwrap();
    let r = port.handle_socket();
    assert_eq!(
        r.unwrap_err().reason,
        VhostUserError::MemoryBudget {
            needed: 2 * REGION,
            budget: REGION
        }
    );
    assert_eq!(port.stats().mapped_bytes, 0);
}

fn readable(fd: RawFd) -> bool {
    let mut wait = WaitList::new();
    wait.add(0, FdRole::Other, fd);
    wait.wait(0).unwrap();
    wait.is_ready(0, FdRole::Other)
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn kick_fds_are_waited_on_only_while_the_rings_run_and_drained_whole() {
    // Rings not running: a kicked fd is not in the wait list (nothing would drain it).
    let (stream, back) = UnixStream::pair().unwrap();
    let mut port = VhostUserPort::new(1514);
    port.attach(back).unwrap();
    let front = Frontend::from_stream(stream, 2);
    let kick = EventFd::new(0).unwrap();
    front.set_vring_kick(0, &kick).unwrap();
    port.handle_socket().unwrap();
    kick.write(1).unwrap();
    let mut fds = Vec::new();
    port.fds(&mut fds);
    assert_eq!(fds.len(), 1, "the socket only: {fds:?}");
    assert!(port.is_connected());

    // Running: many kicks are drained after one poll.
    let run = Running::start();
    let guest = Guest::new();
    let (vm, _drv) = vm_a_up(&run, &guest);
    let fds = run.with(|b| {
        let mut fds = Vec::new();
        b.vm(VM_A).fds(&mut fds);
        fds
    });
    assert_eq!(fds.len(), 3, "the socket and both kick fds");
    for _ in 0..1000 {
        vm.kick[1].write(1).unwrap();
    }
    run.wait_for("the kicks drained", |_| !readable(vm.kick[1].as_raw_fd()));
    assert!(run.with(|b| b.vm(VM_A).stats().kicks) >= 1);
}

/// Sends a raw request with `fds` attached.
fn raw_with_fds(s: &UnixStream, req: u32, body: &[u8], fds: &[RawFd]) {
    let mut m = req.to_le_bytes().to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&(body.len() as u32).to_le_bytes());
    m.extend_from_slice(body);
    s.send_with_fds(&[&m[..]], fds).unwrap();
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = std::io::pipe().unwrap();
    (r.into(), w.into())
}

#[test]
#[cfg_attr(miri, ignore = "sockets, memfd and mmap")]
fn fds_of_the_wrong_kind_are_refused_before_use() {
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest_a);

    let (pipe_r, _pipe_w) = pipe();
    let (sock, _sock_peer) = UnixStream::pair().unwrap();
    let eventfd = EventFd::new(0).unwrap();
    let semaphore = EventFd::new(vmm_sys_util::eventfd::EFD_SEMAPHORE).unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("vhost-user-region");
    let disk = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    disk.set_len(2 * REGION).unwrap();

    // Region fds: only memfds.
    let regions = [
        (pipe_r.as_raw_fd(), FdKind::Pipe),
        (sock.as_raw_fd(), FdKind::Socket),
        (eventfd.as_raw_fd(), FdKind::Eventfd),
        (disk.as_raw_fd(), FdKind::File),
    ];
    for (fd, _) in regions {
        let front = Frontend::from_stream(run.connect(VM_B), 2);
        let table: Vec<_> = guest_a
            .table()
            .into_iter()
            .map(|mut r| {
                r.mmap_handle = fd;
                r
            })
            .collect();
        let _ = front.set_mem_table(&table);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    }
    // Kick fds: eventfds in counting mode; call fds: eventfds.
    let notifiers = [
        (12, disk.as_raw_fd(), Notifier::Kick, FdKind::File),
        (12, pipe_r.as_raw_fd(), Notifier::Kick, FdKind::Pipe),
        (
            12,
            semaphore.as_raw_fd(),
            Notifier::Kick,
            FdKind::SemaphoreEventfd,
        ),
        (13, sock.as_raw_fd(), Notifier::Call, FdKind::Socket),
        (13, pipe_r.as_raw_fd(), Notifier::Call, FdKind::Pipe),
    ];
    for (req, fd, _, _) in notifiers {
        let s = run.connect(VM_B);
        // Queue 1, an fd attached.
        raw_with_fds(&s, req, &1u64.to_le_bytes(), &[fd]);
        run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    }
    let want: Vec<_> = regions
        .iter()
        .map(|&(_, kind)| VhostUserError::RegionFd {
            guest_phys_addr: GPA[0],
            kind,
        })
        .chain(
            notifiers
                .iter()
                .map(|&(_, _, notifier, kind)| VhostUserError::NotifierFd {
                    index: 1,
                    notifier,
                    kind,
                }),
        )
        .collect();
    assert_eq!(run.cutoffs(VM_B), want);
    for r in &want {
        assert!(!r.to_string().is_empty());
    }
    // A semaphore eventfd was not drained into a spin; VM A went on.
    ping_pong(&run, &vm, &mut drv, 6);
    assert!(run.cutoffs(VM_A).is_empty());
    let _ = std::fs::remove_file(path);
}

/// A memfd on hugetlbfs of `len` bytes (no huge page is taken until it is touched),
/// sealed against shrinking and growing as QEMU seals its guest memory.
fn hugetlb_memfd(len: u64) -> File {
    memfd_on(rustix::fs::MemfdFlags::HUGETLB, len, true)
        .expect("memfd_create(MFD_HUGETLB) failed: this test needs a kernel with hugetlbfs")
}

#[test]
#[cfg_attr(miri, ignore = "memfd_create: a system call Miri does not run")]
fn hugetlbfs_regions_are_refused_unless_the_port_allows_them() {
    // Sealed against shrinking, a hugetlbfs file still takes FALLOC_FL_PUNCH_HOLE: the
    // frontend could free a page under the backend, whose next access then needs a huge
    // page from a pool the frontend may have emptied (SIGBUS). Refused by default.
    let region = [RegionInfo {
        guest_phys_addr: 0,
        memory_size: 2 << 20,
        user_addr: 0x7f00_0000_0000,
        mmap_offset: 0,
    }];
    let files = [hugetlb_memfd(2 << 20)];
    let err = GuestMemory::map(&region, &files, u64::MAX, false).unwrap_err();
    assert_eq!(err, VhostUserError::HugetlbfsRegion { guest_phys_addr: 0 });
    assert!(err.to_string().contains("hugetlbfs"));
    // Allowed, the same table passes the check (mapping it then needs huge pages in the
    // pool, which this machine may not have reserved: any outcome but the refusal).
    if let Err(e) = GuestMemory::map(&region, &files, u64::MAX, true) {
        assert!(matches!(e, VhostUserError::Map { .. }), "{e:?}");
    }

    // Over the socket: a frontend sending such a table is cut off with that reason and
    // the other VM goes on.
    let run = Running::start();
    let guest_a = Guest::new();
    let (vm, mut drv) = vm_a_up(&run, &guest_a);
    let huge = hugetlb_memfd(2 * REGION.next_multiple_of(2 << 20));
    let front = Frontend::from_stream(run.connect(VM_B), 2);
    let table: Vec<_> = guest_a
        .table()
        .into_iter()
        .map(|mut r| {
            r.mmap_handle = huge.as_raw_fd();
            r.mmap_offset = 0;
            r
        })
        .collect();
    let _ = front.set_mem_table(&table[..1]);
    run.wait_for("B cut off", |b| !b.vm(VM_B).is_connected());
    assert_eq!(
        run.cutoffs(VM_B),
        vec![VhostUserError::HugetlbfsRegion {
            guest_phys_addr: GPA[0]
        }]
    );
    ping_pong(&run, &vm, &mut drv, 4);
    assert!(run.cutoffs(VM_A).is_empty());
}
