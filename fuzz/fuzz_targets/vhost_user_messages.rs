//! A hostile vhost-user frontend against `VhostUserPort`, in-process over a socketpair.
//!
//! The input is a sequence of steps, each an opcode byte and its little-endian fields
//! (read with `arbitrary::Unstructured`; a short input reads zeros, so seeds are easy to
//! write by hand): well-formed requests with arbitrary values (features, memory tables
//! of memfd regions with arbitrary sizes, offsets and file lengths, sealed or not, or
//! pipes, eventfds and sockets as region fds; vring num, addr, base, kick, call,
//! enable; GET_VRING_BASE; resets), raw headers whose size field lies, garbage and
//! partial messages, kicks, polls of the data path, files shrunk under the backend, and
//! hang-ups. After each step the port's `handle_socket` is called (as an event loop
//! would on a wake-up, also when nothing was sent).
//!
//! Invariants: no call blocks (a watchdog aborts after 3 s: the dispatcher behind the
//! port reads with blocking calls, so a request handed over before it is there whole
//! would hang); nothing panics; a cut-off leaves the port disconnected with nothing
//! mapped and a reason that says what was wrong; the mapped bytes never exceed the
//! port's memory budget.
#![no_main]

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use vmm_sys_util::sock_ctrl_msg::ScmSocket;
use vnet_switch::adapters::vhost_user::VhostUserPort;
use vnet_switch::FrameLink;

/// Most steps per input, most fds created per input.
const STEPS: usize = 64;
const FDS: usize = 128;
/// A call that takes longer than this has blocked.
const BLOCKED_MS: u64 = 3000;

static CALL_SINCE_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64)
        .max(1)
}

/// Aborts the process (libFuzzer keeps the input) when a port call does not return.
fn watchdog() {
    static START: Once = Once::new();
    START.call_once(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(200));
            let since = CALL_SINCE_MS.load(Ordering::Relaxed);
            if since != 0 && now_ms().saturating_sub(since) > BLOCKED_MS {
                eprintln!("a VhostUserPort call blocked for more than {BLOCKED_MS} ms");
                std::process::abort();
            }
        });
    });
}

fn guarded<T>(f: impl FnOnce() -> T) -> T {
    CALL_SINCE_MS.store(now_ms(), Ordering::Relaxed);
    let r = f();
    CALL_SINCE_MS.store(0, Ordering::Relaxed);
    r
}

struct Reader<'a>(Unstructured<'a>);

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        self.0.arbitrary().unwrap_or([0; N])
    }
    fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
}

/// The frontend's side: its socket, the fds it made (kept open for the input), its kick.
struct Frontend {
    sock: UnixStream,
    fds: Vec<OwnedFd>,
    kick: Option<RawFd>,
}

impl Frontend {
    fn connect(port: &mut VhostUserPort) -> Frontend {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("non-blocking");
        port.attach(theirs).expect("the port had no frontend");
        Frontend {
            sock: ours,
            fds: Vec::new(),
            kick: None,
        }
    }

    fn keep(&mut self, fd: RawFd) -> Option<RawFd> {
        if fd < 0 {
            return None;
        }
        // SAFETY: a fresh fd just returned by the kernel, owned by nobody else.
        self.fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
        Some(fd)
    }

    fn memfd(&mut self, len: u64, seal: bool) -> Option<RawFd> {
        // SAFETY: a valid NUL-terminated name; the result is checked by `keep`.
        let fd = unsafe { libc::memfd_create(c"fuzz-guest".as_ptr(), libc::MFD_ALLOW_SEALING) };
        let fd = self.keep(fd)?;
        // SAFETY: ftruncate/fcntl on the valid fd just kept; no memory is passed.
        unsafe {
            if libc::ftruncate(fd, len.min(i64::MAX as u64) as libc::off_t) == 0 && seal {
                libc::fcntl(
                    fd,
                    libc::F_ADD_SEALS,
                    libc::F_SEAL_SHRINK | libc::F_SEAL_GROW,
                );
            }
        }
        Some(fd)
    }

    /// An fd of the kind `sel` picks (0: none).
    fn fd(&mut self, sel: u8) -> Option<RawFd> {
        if self.fds.len() >= FDS {
            return None;
        }
        match sel % 7 {
            0 => None,
            1 | 2 => {
                let semaphore = if sel % 7 == 2 { libc::EFD_SEMAPHORE } else { 0 };
                // SAFETY: creates an fd; the result is checked by `keep`.
                self.keep(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | semaphore) })
            }
            3 => {
                let mut p = [0; 2];
                // SAFETY: `p` has room for the two fds pipe(2) writes.
                if unsafe { libc::pipe(p.as_mut_ptr()) } != 0 {
                    return None;
                }
                self.keep(p[1]);
                self.keep(p[0])
            }
            4 => {
                let (a, b) = UnixStream::pair().ok()?;
                let fd = a.as_raw_fd();
                self.fds.push(a.into());
                self.fds.push(b.into());
                Some(fd)
            }
            5 => self.memfd(1 << 20, true),
            _ => self.memfd(4096, false),
        }
    }

    fn send(&mut self, request: u32, flags: u32, body: &[u8], fds: &[RawFd]) {
        let mut m = Vec::with_capacity(12 + body.len());
        m.extend_from_slice(&request.to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&(body.len() as u32).to_le_bytes());
        m.extend_from_slice(body);
        self.raw(&m, fds);
    }

    fn raw(&mut self, bytes: &[u8], fds: &[RawFd]) {
        // A full socket (the port does not read a stalled frontend) drops the bytes.
        let _ = self.sock.send_with_fds(&[bytes], fds);
    }

    /// Reads and drops the replies, so the port's replies always find room.
    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while matches!(self.sock.read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// One region of a memory table: its 32 bytes and its fd.
fn region(r: &mut Reader<'_>, f: &mut Frontend, first_fd: Option<RawFd>) -> ([u8; 32], RawFd) {
    let (mut gpa, mut size, mut user, mut offset) = (r.u64(), r.u64(), r.u64(), r.u64());
    let mode = r.u8();
    if mode & 1 != 0 {
        // Plausible values: page-sized regions, offsets up to 32 TiB into sparse files.
        size = 4096 * (1 + size % 256);
        offset = 4096 * (offset % (1 << 33));
        gpa %= 1 << 40;
        user %= 1 << 46;
    }
    let fd = match (mode >> 1) % 4 {
        // A memfd covering the region, sealed or not, or a page short.
        0 | 1 => {
            let len = offset.saturating_add(size);
            let len = if mode & 0x10 != 0 {
                len.saturating_sub(4096)
            } else {
                len
            };
            f.memfd(len, mode & 0x20 == 0)
        }
        2 => first_fd,
        _ => f.fd(r.u8()),
    }
    .unwrap_or(-1);
    let mut b = [0u8; 32];
    for (i, v) in [gpa, size, user, offset].into_iter().enumerate() {
        b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
    }
    (b, fd)
}

fuzz_target!(|data: &[u8]| {
    watchdog();
    let mut r = Reader(Unstructured::new(data));
    let budget = (1 + u64::from(r.u8() % 64)) << 20;
    let mut port = VhostUserPort::new(1514).with_memory_budget(budget);
    let mut f = Frontend::connect(&mut port);
    let mut frames = 0;
    for _ in 0..STEPS {
        let op = r.u8();
        let flags = 1 | if op & 0x80 != 0 { 0x8 } else { 0 };
        let index = |r: &mut Reader<'_>| u32::from(r.u8() % 4);
        match op % 20 {
            0 => f.send(1, flags, &[], &[]),
            1 => f.send(2, flags, &r.u64().to_le_bytes(), &[]),
            2 => f.send(3, flags, &[], &[]),
            3 => f.send(4, flags, &[], &[]),
            4 => {
                let n = 1 + r.u8() % 9;
                let mut body = u32::from(n).to_le_bytes().to_vec();
                body.extend_from_slice(&0u32.to_le_bytes());
                let mut fds = Vec::new();
                for _ in 0..n {
                    let (b, fd) = region(&mut r, &mut f, fds.first().copied());
                    body.extend_from_slice(&b);
                    if fd >= 0 {
                        fds.push(fd);
                    }
                }
                f.send(5, flags, &body, &fds);
            }
            5 | 7 => {
                let mut b = index(&mut r).to_le_bytes().to_vec();
                b.extend_from_slice(&r.u32().to_le_bytes());
                f.send(if op % 20 == 5 { 8 } else { 10 }, flags, &b, &[]);
            }
            6 => {
                let mut b = index(&mut r).to_le_bytes().to_vec();
                b.extend_from_slice(&(r.u32() & 1).to_le_bytes());
                for _ in 0..4 {
                    b.extend_from_slice(&r.u64().to_le_bytes());
                }
                f.send(9, flags, &b, &[]);
            }
            8 => {
                let mut b = index(&mut r).to_le_bytes().to_vec();
                b.extend_from_slice(&0u32.to_le_bytes());
                f.send(11, flags, &b, &[]);
            }
            9 | 10 => {
                let i = u64::from(r.u8() % 4);
                let fd = f.fd(r.u8());
                let body = (i | if fd.is_none() { 0x100 } else { 0 }).to_le_bytes();
                let fds: Vec<RawFd> = fd.into_iter().collect();
                if op % 20 == 9 {
                    f.kick = fd;
                }
                f.send(if op % 20 == 9 { 12 } else { 13 }, flags, &body, &fds);
            }
            11 => f.send(15, flags, &[], &[]),
            12 => f.send(16, flags, &r.u64().to_le_bytes(), &[]),
            13 => {
                let mut b = index(&mut r).to_le_bytes().to_vec();
                b.extend_from_slice(&u32::from(r.u8() & 1).to_le_bytes());
                f.send(18, flags, &b, &[]);
            }
            14 => {
                // A header whose size says anything, and up to 64 bytes after it.
                let (req, fl, size) = (r.u32(), r.u32(), r.u32());
                let n = usize::from(r.u8() % 65);
                let mut m = req.to_le_bytes().to_vec();
                m.extend_from_slice(&fl.to_le_bytes());
                m.extend_from_slice(&size.to_le_bytes());
                m.extend((0..n).map(|_| r.u8()));
                let fd = f.fd(r.u8());
                f.raw(&m, &fd.into_iter().collect::<Vec<_>>());
            }
            15 => {
                let n = usize::from(r.u8() % 32);
                let m: Vec<u8> = (0..n).map(|_| r.u8()).collect();
                f.raw(&m, &[]);
            }
            16 => {
                if let Some(k) = f.kick {
                    // SAFETY: a write of 8 bytes from a local to an fd the frontend owns.
                    unsafe { libc::write(k, 1u64.to_ne_bytes().as_ptr().cast(), 8) };
                }
            }
            17 => guarded(|| {
                while let Ok(Some(slot)) = port.rx_take() {
                    port.rx_release(slot);
                    frames += 1;
                    if frames % 16 == 0 {
                        break;
                    }
                }
                if let Err(e) = port.service(16) {
                    assert!(!e.to_string().is_empty());
                    let c = port
                        .take_cut_off()
                        .expect("a failed service cut the frontend off");
                    assert_eq!(c.reason, e);
                }
                port.enable_notifications();
            }),
            18 => {
                // Hang up.
                let _ = f.sock.shutdown(std::net::Shutdown::Both);
            }
            19 => {
                // Shrink one of the frontend's files (a sealed memfd refuses; an unsealed
                // one under running rings is the backend's fault guard's business).
                if !f.fds.is_empty() {
                    let i = usize::from(r.u8()) % f.fds.len();
                    let len = r.u64() % (1 << 21);
                    // SAFETY: ftruncate on a valid fd the frontend owns; no memory is
                    // passed.
                    unsafe { libc::ftruncate(f.fds[i].as_raw_fd(), len as libc::off_t) };
                }
            }
            _ => {}
        }
        // The event loop's wake-up: the port handles what is there (also nothing).
        for _ in 0..3 {
            let res = guarded(|| port.handle_socket());
            let s = port.stats();
            assert!(
                s.mapped_bytes <= budget,
                "{} mapped, budget {budget}",
                s.mapped_bytes
            );
            if let Err(c) = res {
                assert!(!port.is_connected(), "cut off but connected");
                assert_eq!(s.mapped_bytes, 0, "cut off but memory mapped");
                assert!(!c.reason.to_string().is_empty());
                f = Frontend::connect(&mut port);
                break;
            }
            f.drain();
        }
        if r.0.is_empty() {
            break;
        }
    }
    // The frontend's fds close here; a file the port still maps stays valid (a mapping
    // keeps its file).
    drop(f);
    drop(port);
});
