//! Linux TAP driver (`std`): a [`FrameLink`] over `/dev/net/tun` opened with
//! `IFF_TAP | IFF_NO_PI`, non-blocking.
//!
//! The peer is the host kernel's interface of the same name. Frames read from it are
//! copied into private slots (one `read` per frame, length checked); frames to send are
//! built in private buffers (or in place, [`FrameLink::tx_buffer`]) and written at
//! [`FrameLink::service`]
//! in commit order (a full kernel queue, `EAGAIN`, keeps them queued). Every call does
//! bounded work and never blocks.
//!
//! [`Tap::open_in_namespace`] creates the interface inside a network namespace (the
//! descriptor then works from any thread), which is how the tests keep all traffic
//! private.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::string::String;

use crate::link::{
    FilterCaps, FrameLink, FrameMeta, LinkCaps, LinkState, LinkStats, MacAddress, NicControl,
    RxSlot, TxSlot, MAX_FRAME, MIN_FRAME,
};
use crate::slots::{check_station_mac, check_tx_len, tx_len, RxPool};
use crate::Error;

/// `TUNSETIFF` = `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// Longest interface name (without the terminating NUL).
pub const MAX_NAME_LEN: usize = libc::IFNAMSIZ - 1;
/// A private slot holds one byte more than the largest frame, to detect longer ones.
const SLOT_LEN: usize = MAX_FRAME + 1;

/// `struct ifreq` with the `ifr_flags` member of its union (40 bytes on 64-bit Linux).
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl IfReq {
    fn new(name: &str) -> Self {
        let mut r = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: 0,
            _pad: [0; 22],
        };
        for (d, s) in r.name.iter_mut().zip(name.bytes().take(MAX_NAME_LEN)) {
            *d = s as libc::c_char;
        }
        r
    }

    fn name(&self) -> String {
        let bytes: std::vec::Vec<u8> = self
            .name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn last_os_error() -> Error {
    Error::Os {
        errno: std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TxState {
    Free,
    Reserved(u16),
    Queued(u16),
}

/// A TAP interface with `R` private receive slots and `T` transmit buffers.
pub struct Tap<const R: usize = 16, const T: usize = 16> {
    fd: OwnedFd,
    /// An `AF_INET` datagram socket in the namespace of the interface, for its flags.
    ctl: OwnedFd,
    name: String,
    mac: MacAddress,
    rx: RxPool<R, SLOT_LEN>,
    tx_state: [TxState; T],
    tx: [[u8; MAX_FRAME]; T],
    /// Committed buffers in commit order (a ring of `tx_count` entries from `tx_head`).
    tx_queue: [u16; T],
    tx_head: usize,
    tx_count: usize,
    stats: LinkStats,
}

impl<const R: usize, const T: usize> Tap<R, T> {
    /// Creates (or attaches to) the TAP interface `name` in the calling thread's network
    /// namespace; our station address is `mac` (the interface has its own).
    pub fn open(name: &str, mac: MacAddress) -> Result<Self, Error> {
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.bytes().any(|b| b == 0 || b == b'/')
        {
            return Err(Error::Unsupported {
                what: "TAP name: 1 to 15 bytes, no NUL or '/'",
            });
        }
        check_station_mac(&mac)?;
        // SAFETY: a NUL-terminated path literal; the result is checked.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(last_os_error());
        }
        // SAFETY: `raw` is a descriptor we just opened and own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = IfReq::new(name);
        req.flags = IFF_TAP | IFF_NO_PI;
        // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `req` is (repr(C),
        // full size).
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) } < 0 {
            return Err(last_os_error());
        }
        // SAFETY: plain socket(2) call; the result is checked.
        let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if s < 0 {
            return Err(last_os_error());
        }
        // SAFETY: `s` is a descriptor we just opened and own.
        let ctl = unsafe { OwnedFd::from_raw_fd(s) };
        Ok(Tap {
            fd,
            ctl,
            name: req.name(),
            mac,
            rx: RxPool::new(),
            tx_state: [TxState::Free; T],
            tx: [[0; MAX_FRAME]; T],
            tx_queue: [0; T],
            tx_head: 0,
            tx_count: 0,
            stats: LinkStats::default(),
        })
    }

    /// [`Tap::open`] inside the network namespace `netns` (e.g. `/var/run/netns/NAME`):
    /// a helper thread enters it, creates the interface and returns; the descriptor keeps
    /// the interface in that namespace. The calling thread's namespace is not changed.
    pub fn open_in_namespace(netns: &Path, name: &str, mac: MacAddress) -> Result<Self, Error> {
        let path =
            CString::new(netns.as_os_str().as_encoded_bytes()).map_err(|_| Error::Unsupported {
                what: "namespace path with a NUL byte",
            })?;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: NUL-terminated path; the result is checked.
                    let ns = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
                    if ns < 0 {
                        return Err(last_os_error());
                    }
                    // SAFETY: `ns` is a descriptor we just opened and own.
                    let ns = unsafe { OwnedFd::from_raw_fd(ns) };
                    // SAFETY: setns(2) on a namespace descriptor; it changes only this
                    // helper thread, which ends right after.
                    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
                        return Err(last_os_error());
                    }
                    Self::open(name, mac).map(std::boxed::Box::new)
                })
                .join()
                .unwrap_or(Err(Error::Unsupported {
                    what: "namespace helper thread panicked",
                }))
        })
        .map(|b| *b)
    }

    /// The interface name the kernel gave.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame into private slot `slot`: `Ok(None)` when the kernel has none.
    fn read_frame(&mut self, slot: usize) -> Result<Option<usize>, Error> {
        let Some(buf) = self.rx.buffer(slot) else {
            return Ok(None);
        };
        // SAFETY: `buf` is a writable buffer of `SLOT_LEN` bytes we own.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), SLOT_LEN) };
        if n < 0 {
            let e = last_os_error();
            return match e {
                Error::Os { errno } if errno == libc::EAGAIN || errno == libc::EINTR => Ok(None),
                e => Err(e),
            };
        }
        Ok(usize::try_from(n).ok().filter(|&n| n > 0))
    }

    /// Writes queued frames in order, at most `budget`; returns how many were written.
    fn flush(&mut self, budget: usize) -> Result<u16, Error> {
        let mut sent = 0;
        while self.tx_count > 0 && sent < budget {
            let b = usize::from(self.tx_queue[self.tx_head]);
            let TxState::Queued(len) = self.tx_state[b] else {
                // Not reachable: only queued buffers are in the queue. Drop the entry.
                self.pop_queue();
                continue;
            };
            let len = usize::from(len);
            // SAFETY: `tx[b][..len]` is initialised memory we own (len <= MAX_FRAME).
            let n = unsafe { libc::write(self.fd.as_raw_fd(), self.tx[b].as_ptr().cast(), len) };
            if n < 0 {
                match last_os_error() {
                    Error::Os { errno } if errno == libc::EAGAIN || errno == libc::EINTR => break,
                    e => {
                        // The kernel refused this frame: drop it, keep the rest.
                        self.pop_queue();
                        return Err(e);
                    }
                }
            }
            self.pop_queue();
            sent += 1;
        }
        Ok(sent as u16)
    }

    fn pop_queue(&mut self) {
        let b = usize::from(self.tx_queue[self.tx_head]);
        if let Some(s) = self.tx_state.get_mut(b) {
            *s = TxState::Free;
        }
        self.tx_head = (self.tx_head + 1) % T;
        self.tx_count -= 1;
    }

    fn reserved_len(&self, slot: &TxSlot) -> Option<usize> {
        match self.tx_state.get(usize::from(slot.index())) {
            Some(TxState::Reserved(l)) => tx_len(slot.len(), usize::from(*l)),
            _ => None,
        }
    }
}

impl<const R: usize, const T: usize> AsRawFd for Tap<R, T> {
    /// The TAP descriptor (readable when a frame waits), for an event loop.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl<const R: usize, const T: usize> FrameLink for Tap<R, T> {
    type Error = Error;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(MAX_FRAME).with_mac(self.mac)
    }

    /// Up when the interface is administratively up and running (`IFF_UP | IFF_RUNNING`).
    fn link_state(&mut self) -> LinkState {
        let mut req = IfReq::new(&self.name);
        // SAFETY: SIOCGIFFLAGS reads the name and writes `ifr_flags` of one `ifreq`.
        let r = unsafe {
            libc::ioctl(
                self.ctl.as_raw_fd(),
                libc::SIOCGIFFLAGS,
                &mut req as *mut IfReq,
            )
        };
        let want = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        match r {
            0 if req.flags & want == want => LinkState::Up,
            0 => LinkState::Down,
            _ => LinkState::Unknown,
        }
    }

    /// Writes every queued frame the kernel takes now (at most `T`; `EAGAIN` keeps the
    /// rest queued). The budget does not apply: nothing is reclaimed from a device.
    fn service(&mut self, budget: u16) -> Result<(), Error> {
        let _ = budget;
        self.flush(T).map(drop)
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, Error> {
        let Some(slot) = self.rx.free() else {
            return Ok(None);
        };
        // Bounded: at most R reads per call, skipping frames of a bad length.
        for _ in 0..R {
            let Some(n) = self.read_frame(slot)? else {
                return Ok(None);
            };
            if !(MIN_FRAME..=MAX_FRAME).contains(&n) {
                self.stats.rx_dropped = self.stats.rx_dropped.wrapping_add(1);
                continue;
            }
            return Ok(Some(self.rx.fill(slot, n as u16, &mut self.stats)));
        }
        Ok(None)
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        self.rx.frame(slot)
    }

    fn rx_release(&mut self, slot: RxSlot) {
        self.rx.release(slot);
    }

    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, Error> {
        check_tx_len(len)?;
        match self.tx_state.iter().position(|s| *s == TxState::Free) {
            Some(i) => {
                self.tx_state[i] = TxState::Reserved(len as u16);
                Ok(Some(TxSlot::new(i as u16, len)))
            }
            None => {
                self.stats.tx_busy = self.stats.tx_busy.wrapping_add(1);
                Ok(None)
            }
        }
    }

    fn tx_write(&mut self, slot: &TxSlot, offset: usize, data: &[u8]) -> Result<(), Error> {
        let Some(len) = self.reserved_len(slot) else {
            return Err(Error::InvalidSlot {
                index: slot.index(),
            });
        };
        let bounds = Error::SlotBounds {
            offset,
            len: data.len(),
            slot_len: len,
        };
        let end = offset
            .checked_add(data.len())
            .filter(|&e| e <= len)
            .ok_or(bounds)?;
        self.tx[usize::from(slot.index())][offset..end].copy_from_slice(data);
        Ok(())
    }

    /// The private transmit buffer: the kernel sees nothing of it before the commit.
    fn tx_buffer(&mut self, slot: &TxSlot) -> Option<&mut [u8]> {
        let len = self.reserved_len(slot)?;
        self.tx.get_mut(usize::from(slot.index()))?.get_mut(..len)
    }

    fn tx_room(&self) -> Option<usize> {
        Some(
            self.tx_state
                .iter()
                .filter(|s| **s == TxState::Free)
                .count(),
        )
    }

    /// Queues the frame; [`service`](FrameLink::service) writes it to the kernel.
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), Error> {
        let Some(len) = self.reserved_len(&slot) else {
            return Err(Error::InvalidSlot {
                index: slot.index(),
            });
        };
        if !meta.is_none() {
            self.tx_abort(slot);
            return Err(Error::Unsupported {
                what: "TAP transmit checksum or segmentation offload",
            });
        }
        let b = usize::from(slot.index());
        self.tx_state[b] = TxState::Queued(len as u16);
        self.tx_queue[(self.tx_head + self.tx_count) % T] = slot.index();
        self.tx_count += 1;
        self.stats.tx_frames = self.stats.tx_frames.wrapping_add(1);
        self.stats.tx_bytes = self.stats.tx_bytes.wrapping_add(len as u64);
        Ok(())
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        if let Some(s @ TxState::Reserved(_)) = self.tx_state.get_mut(usize::from(slot.index())) {
            *s = TxState::Free;
        }
    }
}

impl<const R: usize, const T: usize> NicControl for Tap<R, T> {
    fn stats(&self) -> LinkStats {
        self.stats
    }

    /// The TAP sees every frame the host sends to the interface; it has no filters.
    fn filter_caps(&self) -> FilterCaps {
        FilterCaps {
            promiscuous: false,
            all_multicast: false,
            mac_settable: true,
        }
    }

    fn set_mac_address(&mut self, mac: MacAddress) -> Result<(), Error> {
        check_station_mac(&mac)?;
        self.mac = mac;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_and_addresses_are_refused_before_any_system_call() {
        let mac = MacAddress([2, 0, 0, 0, 0, 1]);
        for name in ["", "0123456789abcdef", "a/b", "a\0b"] {
            assert!(
                matches!(Tap::<4, 4>::open(name, mac), Err(Error::Unsupported { .. })),
                "{name:?}"
            );
        }
        assert!(matches!(
            Tap::<4, 4>::open("tap0", MacAddress([1, 0, 0, 0, 0, 1])),
            Err(Error::Unsupported { .. })
        ));
    }

    #[test]
    fn ifreq_has_the_kernel_layout() {
        assert_eq!(core::mem::size_of::<IfReq>(), 40);
        let r = IfReq::new("tap-partnet-long-name");
        assert_eq!(r.name(), "tap-partnet-lon", "truncated to 15 bytes");
    }
}
