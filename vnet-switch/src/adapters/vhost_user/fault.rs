//! The guard that lets the backend map guest memory files the frontend could still shrink.
//!
//! A mapped page beyond the end of its file faults (`SIGBUS`) on access, and by default
//! that ends the process: one frontend truncating its memory file under running rings
//! would kill every other port of the backend. A memfd sealed against shrinking cannot
//! shrink, but DPDK's virtio-user frontend and QEMU guests on `/dev/shm` or hugetlbfs
//! files do not seal their memory.
//!
//! So every mapping of guest memory is registered here while it exists. A `SIGBUS`
//! handler (installed once, on the first registration) looks the faulting address up: if
//! it lies in a registered mapping, the handler maps anonymous zero pages over the rest of
//! that mapping (`MAP_FIXED`; the file's pages past its new end are gone anyway), marks the
//! mapping faulted and returns, so the access completes reading zeros or writing into the
//! private pages. The port sees the mark after its call and cuts the frontend off
//! ([`VhostUserError::RegionTruncated`](super::VhostUserError::RegionTruncated)); every
//! other port goes on. A fault anywhere else goes to the handler that was installed
//! before (the default: the process ends, as without this module).
//!
//! The handler does only what is safe in a signal handler: atomic loads and stores on a
//! fixed table, and one `mmap` system call.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Mappings guarded at once, over every port of the process (a port maps at most
/// [`MAX_REGIONS`](super::MAX_REGIONS) regions; 64 ports with full tables).
pub(crate) const SLOTS: usize = 512;

struct Slot {
    /// First byte (0: the slot is free).
    start: AtomicUsize,
    /// One past the last byte.
    end: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [FREE; SLOTS];
static INSTALL: Once = Once::new();
/// Whether the handler is installed (installing can fail; then nothing is guarded).
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The `SIGBUS` action before ours, to hand foreign faults to.
static mut PREVIOUS: core::mem::MaybeUninit<libc::sigaction> = core::mem::MaybeUninit::uninit();

/// A registered mapping; unregistered on drop (before the mapping goes: the owner drops
/// its guard first).
#[derive(Debug)]
pub(crate) struct Guard {
    slot: usize,
}

impl Guard {
    /// Guard `len` bytes at `start`; `None` when the handler cannot be installed or the
    /// table is full (the caller then refuses a file that is not sealed).
    pub(crate) fn register(start: *mut u8, len: usize) -> Option<Guard> {
        INSTALL.call_once(install);
        if !INSTALLED.load(Ordering::Acquire) || len == 0 {
            return None;
        }
        let start = start as usize;
        let end = start.checked_add(len)?;
        for (i, s) in TABLE.iter().enumerate() {
            // Claim the slot with its end first: a handler that sees `start` also sees
            // `end` (both stored before `start` is published with Release).
            if s.start.load(Ordering::Relaxed) != 0 {
                continue;
            }
            if s.end
                .compare_exchange(0, end, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            s.faulted.store(false, Ordering::Relaxed);
            s.start.store(start, Ordering::Release);
            return Some(Guard { slot: i });
        }
        None
    }

    /// Whether an access faulted in this mapping (its file shrank under it).
    pub(crate) fn faulted(&self) -> bool {
        TABLE
            .get(self.slot)
            .is_some_and(|s| s.faulted.load(Ordering::Acquire))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(s) = TABLE.get(self.slot) {
            s.start.store(0, Ordering::Release);
            s.end.store(0, Ordering::Release);
        }
    }
}

fn install() {
    // SAFETY: `sigaction` with a zeroed, then filled `struct sigaction` whose handler is
    // an `extern "C"` function of the right signature (SA_SIGINFO); `PREVIOUS` is written
    // here once, inside `Once`, before `INSTALLED` is published, and only read after.
    unsafe {
        let mut act: libc::sigaction = core::mem::zeroed();
        act.sa_sigaction = on_sigbus as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut act.sa_mask);
        let prev = core::ptr::addr_of_mut!(PREVIOUS).cast::<libc::sigaction>();
        if libc::sigaction(libc::SIGBUS, &act, prev) == 0 {
            INSTALLED.store(true, Ordering::Release);
        }
    }
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t` for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    for s in &TABLE {
        let start = s.start.load(Ordering::Acquire);
        if start == 0 || addr < start {
            continue;
        }
        let end = s.end.load(Ordering::Acquire);
        if addr >= end {
            continue;
        }
        // SAFETY: `sysconf` is async-signal-safe.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096);
        let from = addr & !(page - 1);
        // SAFETY: `from..end` lies inside a live mapping of guest memory that this
        // process owns (registered until its owner unmaps it); replacing its pages with
        // private anonymous ones keeps the range mapped, so every view into it stays
        // valid. Nothing but volatile accesses ever reach this memory.
        let r = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if r != libc::MAP_FAILED {
            s.faulted.store(true, Ordering::Release);
            return;
        }
    }
    // Not ours: the previous action decides.
    // SAFETY: `PREVIOUS` was written before the handler could run (see `install`).
    unsafe {
        let prev = &*core::ptr::addr_of!(PREVIOUS).cast::<libc::sigaction>();
        let h = prev.sa_sigaction;
        if prev.sa_flags & libc::SA_SIGINFO != 0 && h > libc::SIG_IGN {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                core::mem::transmute(h);
            f(sig, info, ctx);
        } else if h > libc::SIG_IGN {
            let f: extern "C" fn(libc::c_int) = core::mem::transmute(h);
            f(sig);
        } else {
            // The default action: restore it and return; the access faults again and the
            // process ends as it would have without us.
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
        }
    }
}
