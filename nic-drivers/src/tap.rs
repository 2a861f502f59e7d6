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
//! [`TapDevice::open_in_namespace`] creates the interface inside a network namespace (the
//! descriptor then works from any thread), which is how the tests keep all traffic
//! private.
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::string::String;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::ioctl::{ioctl, opcode, Opcode, Updater};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

use crate::link::{
    FilterCaps, FrameLink, FrameMeta, LinkCaps, LinkState, LinkStats, MacAddress, NicControl,
    RxSlot, TxSlot, MAX_FRAME, MIN_FRAME,
};
use crate::slots::{check_station_mac, check_tx_len, counted, tx_len, RxPool};
use crate::Error;

/// `TUNSETIFF` = `_IOW('T', 202, int)` (linux/if_tun.h).
const TUNSETIFF: Opcode = opcode::write::<i32>(b'T', 202);
/// `SIOCGIFFLAGS` (linux/sockios.h).
const SIOCGIFFLAGS: Opcode = 0x8913;
/// `IFF_TAP`, `IFF_NO_PI` (linux/if_tun.h).
const IFF_TAP: i16 = 0x0002;
const IFF_NO_PI: i16 = 0x1000;
/// `IFF_UP`, `IFF_RUNNING` (linux/if.h).
const IFF_UP: i16 = 0x0001;
const IFF_RUNNING: i16 = 0x0040;
/// `IFNAMSIZ`: an interface name with its terminating NUL.
const IFNAMSIZ: usize = 16;
/// Longest interface name (without the terminating NUL).
pub const MAX_NAME_LEN: usize = IFNAMSIZ - 1;
/// A private slot holds one byte more than the largest frame, to detect longer ones.
const SLOT_LEN: usize = MAX_FRAME + 1;

/// `struct ifreq` with the `ifr_flags` member of its union (40 bytes on 64-bit Linux).
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    flags: i16,
    _pad: [u8; 22],
}

impl IfReq {
    fn new(name: &str) -> Self {
        let mut r = IfReq {
            name: [0; IFNAMSIZ],
            flags: 0,
            _pad: [0; 22],
        };
        for (d, s) in r.name.iter_mut().zip(name.bytes().take(MAX_NAME_LEN)) {
            *d = s;
        }
        r
    }

    fn name(&self) -> String {
        let len = self.name.iter().position(|&c| c == 0).unwrap_or(IFNAMSIZ);
        String::from_utf8_lossy(&self.name[..len]).into_owned()
    }

    /// Runs the updater-style `ioctl` `OPCODE` on `fd` with this request.
    ///
    /// Only for the two requests of this module, whose argument is one `struct ifreq`.
    fn ioctl<const OPCODE: Opcode>(&mut self, fd: impl AsFd) -> Result<(), Error> {
        // SAFETY: `OPCODE` is TUNSETIFF or SIOCGIFFLAGS, both of which read and write
        // exactly one `struct ifreq`, which `Self` is (repr(C), the kernel's size, checked
        // by a test); `self` is borrowed mutably for the call only.
        unsafe { ioctl(fd, Updater::<OPCODE, IfReq>::new(self)) }.map_err(os_error)
    }
}

fn os_error(e: Errno) -> Error {
    Error::Os {
        errno: e.raw_os_error(),
    }
}

/// Errors after which a non-blocking call is simply tried again later.
fn is_transient(e: Errno) -> bool {
    e == Errno::AGAIN || e == Errno::INTR
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TxState {
    Free,
    Reserved(u16),
    Queued(u16),
}

/// A TAP interface with `R` private receive slots and `T` transmit buffers.
pub struct TapDevice<const R: usize = 16, const T: usize = 16> {
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

impl<const R: usize, const T: usize> TapDevice<R, T> {
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
        let fd = rustix::fs::open(
            "/dev/net/tun",
            OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(os_error)?;
        let mut req = IfReq::new(name);
        req.flags = IFF_TAP | IFF_NO_PI;
        req.ioctl::<TUNSETIFF>(&fd)?;
        let ctl = rustix::net::socket_with(
            AddressFamily::INET,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(os_error)?;
        Ok(TapDevice {
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

    /// [`TapDevice::open`] inside the network namespace `netns` (e.g. `/var/run/netns/NAME`):
    /// a helper thread enters it, creates the interface and returns; the descriptor keeps
    /// the interface in that namespace. The calling thread's namespace is not changed.
    pub fn open_in_namespace(netns: &Path, name: &str, mac: MacAddress) -> Result<Self, Error> {
        if netns.as_os_str().as_encoded_bytes().contains(&0) {
            return Err(Error::Unsupported {
                what: "namespace path with a NUL byte",
            });
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let ns =
                        rustix::fs::open(netns, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                            .map_err(os_error)?;
                    // setns(2) changes only this helper thread, which ends right after.
                    move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))
                        .map_err(os_error)?;
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

    /// Reads one frame into the next free private slot: `Ok(None)` when the kernel has
    /// none (or no slot is free).
    fn read_frame(&mut self) -> Result<Option<usize>, Error> {
        let Some(buf) = self.rx.next_free() else {
            return Ok(None);
        };
        match rustix::io::read(&self.fd, &mut buf[..SLOT_LEN]) {
            Ok(n) => Ok(Some(n).filter(|&n| n > 0)),
            Err(e) if is_transient(e) => Ok(None),
            Err(e) => Err(os_error(e)),
        }
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
            match rustix::io::write(&self.fd, &self.tx[b][..len]) {
                Ok(_) => {}
                Err(e) if is_transient(e) => break,
                Err(e) => {
                    // The kernel refused this frame: drop it, keep the rest.
                    self.pop_queue();
                    return Err(os_error(e));
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

impl<const R: usize, const T: usize> AsRawFd for TapDevice<R, T> {
    /// The TAP descriptor (readable when a frame waits), for an event loop.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl<const R: usize, const T: usize> FrameLink for TapDevice<R, T> {
    type Error = Error;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(MAX_FRAME).with_mac(self.mac)
    }

    /// Up when the interface is administratively up and running (`IFF_UP | IFF_RUNNING`).
    fn link_state(&mut self) -> LinkState {
        let mut req = IfReq::new(&self.name);
        let want = IFF_UP | IFF_RUNNING;
        match req.ioctl::<SIOCGIFFLAGS>(&self.ctl) {
            Ok(()) if req.flags & want == want => LinkState::Up,
            Ok(()) => LinkState::Down,
            Err(_) => LinkState::Unknown,
        }
    }

    /// Writes every queued frame the kernel takes now (at most `T`; `EAGAIN` keeps the
    /// rest queued). The budget does not apply: nothing is reclaimed from a device.
    fn service(&mut self, budget: u16) -> Result<(), Error> {
        let _ = budget;
        self.flush(T).map(drop)
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, Error> {
        // Bounded: at most R reads per call, skipping frames of a bad length.
        for _ in 0..R {
            let Some(n) = self.read_frame()? else {
                return Ok(None);
            };
            if !(MIN_FRAME..=MAX_FRAME).contains(&n) {
                self.stats.rx_dropped = self.stats.rx_dropped.wrapping_add(1);
                continue;
            }
            let slot = self.rx.take(n as u16, FrameMeta::NONE);
            return Ok(counted(slot, &mut self.stats));
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

impl<const R: usize, const T: usize> NicControl for TapDevice<R, T> {
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
                matches!(
                    TapDevice::<4, 4>::open(name, mac),
                    Err(Error::Unsupported { .. })
                ),
                "{name:?}"
            );
        }
        assert!(matches!(
            TapDevice::<4, 4>::open("tap0", MacAddress([1, 0, 0, 0, 0, 1])),
            Err(Error::Unsupported { .. })
        ));
    }

    #[test]
    fn ifreq_has_the_kernel_layout() {
        assert_eq!(core::mem::size_of::<IfReq>(), 40);
        assert_eq!(TUNSETIFF, 0x4004_54ca, "_IOW('T', 202, int)");
        let r = IfReq::new("tap-partnet-long-name");
        assert_eq!(r.name(), "tap-partnet-lon", "truncated to 15 bytes");
    }
}
