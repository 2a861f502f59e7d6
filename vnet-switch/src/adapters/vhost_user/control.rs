//! The control plane of one frontend: what `vhost`'s request dispatcher
//! ([`BackendReqHandler`](vhost::vhost_user::BackendReqHandler)) hands us, validated and
//! kept until the port builds (or tears down) its rings from it.
//!
//! Every value here comes from the frontend and is checked before it is stored: queue
//! indices (0 and 1), sizes (power of two within the limit), ring addresses (inside the
//! memory table), ring states (`SET_VRING_BASE`: a split ring's 16-bit index, a packed
//! ring's offsets inside the ring), features (offered ones only, `VERSION_1` required),
//! received fds (kick and call: eventfds in counting mode; regions: memfds), the memory
//! table against the port's mapping budget. The first error is kept in
//! [`Control::fault`]; the port cuts the frontend off on it.

use std::fs::File;
use std::sync::Arc;

use vhost::vhost_user::message::{
    VhostTransferStateDirection, VhostTransferStatePhase, VhostUserConfigFlags, VhostUserInflight,
    VhostUserLog, VhostUserMemoryRegion, VhostUserProtocolFeatures, VhostUserShMemConfig,
    VhostUserSharedMsg, VhostUserSingleMemoryRegion, VhostUserVirtioFeatures,
    VhostUserVringAddrFlags, VhostUserVringState,
};
use vhost::vhost_user::{Error as ProtoError, GpuBackend, VhostUserBackendReqHandlerMut};
use vhost::VhostUserMemoryRegionBase;

use super::error::{FdKind, Notifier, VhostUserError};
use super::memory::{GuestMemory, RegionInfo, DEFAULT_MEMORY_BUDGET};
use super::QUEUE_SIZE;
use crate::adapters::virtio_net::NetFeatures;
use virtqueue::{Features, QueueConfig, SharedMemory};

/// The device features the backend offers: `VERSION_1`, `RING_EVENT_IDX`,
/// `INDIRECT_DESC`, `RING_PACKED`, `MRG_RXBUF`, `CSUM`, `GUEST_CSUM`, and vhost-user's
/// `PROTOCOL_FEATURES`.
pub const OFFERED_FEATURES: u64 = Features::VERSION_1.bits()
    | Features::RING_EVENT_IDX.bits()
    | Features::RING_PACKED.bits()
    | Features::INDIRECT_DESC.bits()
    | NetFeatures::MRG_RXBUF.bits()
    | NetFeatures::CSUM.bits()
    | NetFeatures::GUEST_CSUM.bits()
    | PROTOCOL_FEATURES;

/// vhost-user's `VHOST_USER_F_PROTOCOL_FEATURES` (bit 30), not a virtio bit.
pub const PROTOCOL_FEATURES: u64 = VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits();

/// The protocol features offered: `REPLY_ACK` only (no `MQ`, no `CONFIG`: QEMU keeps the
/// config space, MAC included).
pub const OFFERED_PROTOCOL: VhostUserProtocolFeatures = VhostUserProtocolFeatures::REPLY_ACK;

/// One vring as configured so far.
#[derive(Debug)]
pub(crate) struct Vring {
    pub(crate) num: u16,
    /// Guest-physical descriptor, avail and used addresses (translated; packed: the
    /// descriptor ring, the driver and the device event suppression areas).
    pub(crate) addr: Option<(u64, u64, u64)>,
    /// The ring state as `SET_VRING_BASE` carries it (split: the next avail index;
    /// packed: [`PackedBase`]), checked against the layout and size again at start.
    pub(crate) base: u32,
    pub(crate) kick: Option<File>,
    pub(crate) call: Option<File>,
    /// A kick fd arrived (the ring is started).
    pub(crate) started: bool,
    /// Not disabled. Rings start enabled: QEMU 7.2 sends `SET_VRING_ENABLE 1` before
    /// `SET_FEATURES`, when the dispatcher must refuse it (`PROTOCOL_FEATURES` not acked
    /// yet), and not again; `SET_VRING_ENABLE 0` after it disables as usual.
    pub(crate) enabled: bool,
}

impl Default for Vring {
    fn default() -> Self {
        Vring {
            num: 0,
            addr: None,
            base: 0,
            kick: None,
            call: None,
            started: false,
            enabled: true,
        }
    }
}

impl Vring {
    pub(crate) fn config(&self) -> Option<QueueConfig> {
        let (desc, avail, used) = self.addr?;
        Some(QueueConfig {
            size: self.num,
            desc,
            avail,
            used,
        })
    }
}

/// A packed ring's state in vhost-user's encoding (`SET_VRING_BASE` / `GET_VRING_BASE`,
/// as QEMU sends and reads it): next avail offset in bits 0..=14 and its wrap counter in
/// bit 15; next used offset in bits 16..=30 and its wrap counter in bit 31. Frontends
/// that send only the avail half (DPDK's virtio-user) leave the upper half zero: that reads as "used = avail" (every chain made available was used when the
/// ring stopped), as DPDK's own backend takes it. (A used half of offset 0 with wrap
/// counter 0 therefore cannot be set explicitly; a stopped ring reports used = avail.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedBase {
    pub(crate) avail: (u16, bool),
    pub(crate) used: (u16, bool),
}

impl PackedBase {
    pub(crate) fn decode(num: u32) -> Self {
        let half = |h: u32| ((h & 0x7fff) as u16, h & 0x8000 != 0);
        let avail = half(num & 0xffff);
        PackedBase {
            avail,
            used: match num >> 16 {
                0 => avail,
                h => half(h),
            },
        }
    }

    pub(crate) fn encode(self) -> u32 {
        let half = |(off, wrap): (u16, bool)| u32::from(off & 0x7fff) | u32::from(wrap) << 15;
        half(self.avail) | half(self.used) << 16
    }

    /// Whether both offsets are inside a ring of `size` (a power of two) positions and
    /// the wrap counters are consistent: the used position is not ahead of the avail one
    /// and at most `size` positions behind it (a lap).
    pub(crate) fn fits(self, size: u16) -> bool {
        if self.avail.0 >= size || self.used.0 >= size {
            return false;
        }
        // Free-running positions modulo 2 * size (wrap counter 1 on even laps).
        let at = |(off, wrap): (u16, bool)| u32::from(off) + if wrap { 0 } else { u32::from(size) };
        let lap2 = 2 * u32::from(size);
        let behind = (at(self.avail) + lap2 - at(self.used)) % lap2;
        behind <= u32::from(size)
    }
}

/// The control state of one connection.
#[derive(Debug)]
pub struct Control {
    /// The most bytes the memory table may map.
    pub(crate) budget: u64,
    /// Whether region memfds may be on hugetlbfs.
    pub(crate) hugetlbfs: bool,
    pub(crate) acked: u64,
    pub(crate) protocol: u64,
    pub(crate) mem: Option<Arc<GuestMemory>>,
    pub(crate) vrings: [Vring; 2],
    /// The port runs the rings (set by the port; requests that would change a running
    /// ring are refused).
    pub(crate) running: bool,
    /// Bumped whenever a running ring must be torn down (stop, reset).
    pub(crate) generation: u64,
    /// The first error of this connection.
    pub(crate) fault: Option<VhostUserError>,
    /// The packed rings' states while running, refreshed by the port before each request
    /// (a packed ring's positions live in the device queue, not in guest memory).
    pub(crate) packed_state: [Option<PackedBase>; 2],
}

impl Default for Control {
    fn default() -> Self {
        Control::with_budget(DEFAULT_MEMORY_BUDGET, false)
    }
}

impl Control {
    /// A fresh connection's state; its memory table may map at most `budget` bytes, on
    /// hugetlbfs only if `hugetlbfs`.
    pub(crate) fn with_budget(budget: u64, hugetlbfs: bool) -> Self {
        Control {
            budget,
            hugetlbfs,
            acked: 0,
            protocol: 0,
            mem: None,
            vrings: Default::default(),
            running: false,
            generation: 0,
            fault: None,
            packed_state: [None; 2],
        }
    }

    fn fail(&mut self, e: VhostUserError) -> vhost::vhost_user::Result<()> {
        if self.fault.is_none() {
            self.fault = Some(e);
        }
        Err(ProtoError::InvalidParam)
    }

    fn vring(&mut self, index: u32) -> Result<&mut Vring, VhostUserError> {
        let running = self.running;
        match self.vrings.get_mut(index as usize) {
            None => Err(VhostUserError::BadQueue { index }),
            Some(_) if running => Err(VhostUserError::Sequence { index }),
            Some(v) => Ok(v),
        }
    }

    /// Whether both rings are complete, started and enabled, with memory and features.
    pub(crate) fn ready(&self) -> bool {
        self.mem.is_some()
            && self.acked & Features::VERSION_1.bits() != 0
            && self
                .vrings
                .iter()
                .all(|v| v.started && v.enabled && v.addr.is_some() && v.num != 0)
    }

    /// The negotiated virtio feature word (vhost-user's bit 30 removed).
    pub(crate) fn negotiated(&self) -> u64 {
        self.acked & !PROTOCOL_FEATURES
    }

    /// Whether the rings are packed (`RING_PACKED` acked).
    pub(crate) fn packed(&self) -> bool {
        self.acked & Features::RING_PACKED.bits() != 0
    }

    /// Stop the rings: the port tears its data path down on its next sync; each ring's
    /// base becomes its used position (chains popped and not returned are made available
    /// again: exact when they were returned in pop order, as the port does). Split: the
    /// used index read back from guest memory; packed: the device queue's next used
    /// position (as both the avail and the used state).
    fn stop(&mut self) {
        if self.running {
            for i in 0..self.vrings.len() {
                let base = if self.packed() {
                    self.packed_state[i].map(|p| {
                        PackedBase {
                            avail: p.used,
                            used: p.used,
                        }
                        .encode()
                    })
                } else {
                    self.used_index(i).map(u32::from)
                };
                if let Some(b) = base {
                    self.vrings[i].base = b;
                }
            }
            self.packed_state = [None; 2];
            self.running = false;
        }
        self.generation = self.generation.wrapping_add(1);
    }

    fn set_mem(&mut self, regions: &[RegionInfo], files: Vec<File>) -> Result<(), VhostUserError> {
        if self.running {
            // A table identical to the running one is accepted (QEMU re-sends it when
            // unrelated memory sections change); any other change is refused.
            let same = self.mem.as_ref().is_some_and(|m| m.regions() == regions);
            return if same {
                Ok(())
            } else {
                Err(VhostUserError::MemTableChanged {
                    regions: regions.len() as u32,
                })
            };
        }
        // Ring addresses set before refer to the old table: they must be set again. The
        // old table is unmapped before the new one is mapped: the port never holds more
        // than its budget.
        for v in &mut self.vrings {
            v.addr = None;
        }
        self.mem = None;
        let mem = GuestMemory::map(regions, &files, self.budget, self.hugetlbfs)?;
        self.mem = Some(Arc::new(mem));
        Ok(())
    }

    fn set_addr(
        &mut self,
        index: u32,
        desc: u64,
        used: u64,
        avail: u64,
    ) -> Result<(), VhostUserError> {
        let num = u64::from(self.vring(index)?.num);
        let Some(mem) = self.mem.clone() else {
            return Err(VhostUserError::Sequence { index });
        };
        // Sizes of the three parts: split ring (with the event fields), or packed
        // (descriptor ring, driver and device event suppression areas).
        let parts = if self.packed() {
            [(desc, 16 * num), (avail, 4), (used, 4)]
        } else {
            [(desc, 16 * num), (avail, 6 + 2 * num), (used, 6 + 8 * num)]
        };
        let mut gpa = [0u64; 3];
        for (g, (user_addr, len)) in gpa.iter_mut().zip(parts) {
            *g = mem
                .user_to_guest(user_addr, len.max(1))
                .ok_or(VhostUserError::BadRingAddress { index, user_addr })?;
        }
        self.vring(index)?.addr = Some((gpa[0], gpa[1], gpa[2]));
        Ok(())
    }

    /// The used index of a running ring, read back from guest memory (what `GET_VRING_BASE`
    /// reports: every popped chain up to it was returned).
    fn used_index(&self, index: usize) -> Option<u16> {
        let v = self.vrings.get(index)?;
        let (_, _, used) = v.addr?;
        let mem = self.mem.as_ref()?;
        mem.slice(used, 4).ok()?.load_u16(2).ok()
    }
}

/// Whether a `SET_VRING_BASE` value is a valid ring state: split, a 16-bit index;
/// packed, both offsets inside the ring (checked against the size when it is known, and
/// again when the ring starts).
pub(crate) fn base_fits(packed: bool, base: u32, num: u16) -> bool {
    if packed {
        num == 0 || PackedBase::decode(base).fits(num)
    } else {
        base <= u32::from(u16::MAX)
    }
}

/// Checks a kick or call fd: an eventfd (nothing else is touched before that is known),
/// made non-blocking; a kick fd must also be in counting mode (one read drains it).
fn notifier_fd(fd: &File, index: u32, notifier: Notifier) -> Result<(), VhostUserError> {
    let refuse = |kind| VhostUserError::NotifierFd {
        index,
        notifier,
        kind,
    };
    let kind = super::sys::fd_kind(fd);
    if kind != FdKind::Eventfd {
        return Err(refuse(kind));
    }
    if super::sys::set_nonblocking(fd).is_err() {
        return Err(refuse(FdKind::Unknown));
    }
    if notifier == Notifier::Kick && !super::sys::eventfd_reads_whole(fd) {
        return Err(refuse(FdKind::SemaphoreEventfd));
    }
    Ok(())
}

type R<T> = vhost::vhost_user::Result<T>;

fn unsupported<T>(c: &mut Control) -> R<T> {
    c.fail(VhostUserError::Protocol)?;
    Err(ProtoError::InvalidOperation("not supported"))
}

impl VhostUserBackendReqHandlerMut for Control {
    fn set_owner(&mut self) -> R<()> {
        Ok(())
    }

    fn reset_owner(&mut self) -> R<()> {
        self.stop();
        self.vrings = Default::default();
        Ok(())
    }

    fn reset_device(&mut self) -> R<()> {
        self.reset_owner()
    }

    fn get_features(&mut self) -> R<u64> {
        Ok(OFFERED_FEATURES)
    }

    fn set_features(&mut self, features: u64) -> R<()> {
        let extra = features & !OFFERED_FEATURES;
        if extra != 0 || features & Features::VERSION_1.bits() == 0 {
            let bits = if extra != 0 {
                extra
            } else {
                Features::VERSION_1.bits()
            };
            return self.fail(VhostUserError::Features { bits });
        }
        if self.running && features != self.acked {
            return self.fail(VhostUserError::Features {
                bits: features ^ self.acked,
            });
        }
        self.acked = features;
        Ok(())
    }

    fn set_mem_table(
        &mut self,
        ctx: &[VhostUserMemoryRegion],
        files: Vec<File>,
        _postcopy_listening: Option<bool>,
    ) -> R<Option<Vec<VhostUserMemoryRegionBase>>> {
        let regions: Vec<RegionInfo> = ctx
            .iter()
            .map(|r| RegionInfo {
                guest_phys_addr: r.guest_phys_addr,
                memory_size: r.memory_size,
                user_addr: r.user_addr,
                mmap_offset: r.mmap_offset,
            })
            .collect();
        match self.set_mem(&regions, files) {
            Ok(()) => Ok(None),
            Err(e) => self.fail(e).map(|()| None),
        }
    }

    fn set_vring_num(&mut self, index: u32, num: u32) -> R<()> {
        let ok = num != 0 && num.is_power_of_two() && num as usize <= QUEUE_SIZE;
        match self.vring(index) {
            Ok(v) if ok => {
                v.num = num as u16;
                Ok(())
            }
            Ok(_) => self.fail(VhostUserError::BadQueueSize { index, num }),
            Err(e) => self.fail(e),
        }
    }

    fn set_vring_addr(
        &mut self,
        index: u32,
        flags: VhostUserVringAddrFlags,
        descriptor: u64,
        used: u64,
        available: u64,
        _log: u64,
    ) -> R<()> {
        if !flags.is_empty() {
            // Dirty logging is not offered.
            return self.fail(VhostUserError::Protocol);
        }
        match self.set_addr(index, descriptor, used, available) {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    fn set_vring_base(&mut self, index: u32, base: u32) -> R<()> {
        let packed = self.packed();
        match self.vring(index) {
            Ok(v) if base_fits(packed, base, v.num) => {
                v.base = base;
                Ok(())
            }
            Ok(_) => self.fail(VhostUserError::BadRingBase {
                index,
                base,
                packed,
            }),
            Err(e) => self.fail(e),
        }
    }

    fn get_vring_base(&mut self, index: u32) -> R<VhostUserVringState> {
        let i = index as usize;
        if i >= self.vrings.len() {
            self.fail(VhostUserError::BadQueue { index })?;
        }
        // GET_VRING_BASE stops the ring.
        self.stop();
        let v = &mut self.vrings[i];
        let base = v.base;
        v.started = false;
        v.kick = None;
        Ok(VhostUserVringState::new(index, base))
    }

    fn set_vring_kick(&mut self, index: u8, fd: Option<File>) -> R<()> {
        let index = u32::from(index);
        let Some(fd) = fd else {
            // Polling mode (no kick fd) is not supported.
            return self.fail(VhostUserError::Protocol);
        };
        if let Err(e) = self.vring(index) {
            return self.fail(e);
        }
        // An eventfd that one read drains: the event loop waits on it while the rings
        // run and drains it after each poll.
        if let Err(e) = notifier_fd(&fd, index, Notifier::Kick) {
            return self.fail(e);
        }
        match self.vring(index) {
            Ok(v) => {
                v.kick = Some(fd);
                v.started = true;
                Ok(())
            }
            Err(e) => self.fail(e),
        }
    }

    fn set_vring_call(&mut self, index: u8, fd: Option<File>) -> R<()> {
        // Allowed while running (QEMU swaps call fds when interrupts are reconfigured):
        // the port signals whichever fd is current. An eventfd, non-blocking: a write
        // to it never waits (a pipe or a FUSE file could).
        if usize::from(index) < self.vrings.len() {
            if let Some(Err(e)) = fd
                .as_ref()
                .map(|f| notifier_fd(f, u32::from(index), Notifier::Call))
            {
                return self.fail(e);
            }
        }
        match self.vrings.get_mut(usize::from(index)) {
            Some(v) => {
                v.call = fd;
                Ok(())
            }
            None => self.fail(VhostUserError::BadQueue {
                index: u32::from(index),
            }),
        }
    }

    fn set_vring_err(&mut self, index: u8, _fd: Option<File>) -> R<()> {
        if usize::from(index) < self.vrings.len() {
            Ok(())
        } else {
            self.fail(VhostUserError::BadQueue {
                index: u32::from(index),
            })
        }
    }

    fn get_protocol_features(&mut self) -> R<VhostUserProtocolFeatures> {
        Ok(OFFERED_PROTOCOL)
    }

    fn set_protocol_features(&mut self, features: u64) -> R<()> {
        let extra = features & !OFFERED_PROTOCOL.bits();
        if extra != 0 {
            return self.fail(VhostUserError::Features { bits: extra });
        }
        self.protocol = features;
        Ok(())
    }

    fn get_queue_num(&mut self) -> R<u64> {
        unsupported(self)
    }

    fn set_vring_enable(&mut self, index: u32, enable: bool) -> R<()> {
        match self.vrings.get_mut(index as usize) {
            Some(v) => {
                v.enabled = enable;
                if !enable {
                    self.stop();
                }
                Ok(())
            }
            None => self.fail(VhostUserError::BadQueue { index }),
        }
    }

    fn get_config(&mut self, _: u32, _: u32, _: VhostUserConfigFlags) -> R<Vec<u8>> {
        unsupported(self)
    }

    fn set_config(&mut self, _: u32, _: &[u8], _: VhostUserConfigFlags) -> R<()> {
        unsupported(self)
    }

    fn set_gpu_socket(&mut self, _: GpuBackend) -> R<()> {
        unsupported(self)
    }

    fn get_shared_object(&mut self, _: VhostUserSharedMsg) -> R<File> {
        unsupported(self)
    }

    fn get_inflight_fd(&mut self, _: &VhostUserInflight) -> R<(VhostUserInflight, File)> {
        unsupported(self)
    }

    fn set_inflight_fd(&mut self, _: &VhostUserInflight, _: File) -> R<()> {
        unsupported(self)
    }

    fn get_max_mem_slots(&mut self) -> R<u64> {
        unsupported(self)
    }

    fn add_mem_region(
        &mut self,
        _: &VhostUserSingleMemoryRegion,
        _: File,
        _: Option<bool>,
    ) -> R<Option<VhostUserMemoryRegionBase>> {
        unsupported(self)
    }

    fn remove_mem_region(&mut self, _: &VhostUserSingleMemoryRegion) -> R<()> {
        unsupported(self)
    }

    fn set_device_state_fd(
        &mut self,
        _: VhostTransferStateDirection,
        _: VhostTransferStatePhase,
        _: File,
    ) -> R<Option<File>> {
        unsupported(self)
    }

    fn check_device_state(&mut self) -> R<()> {
        unsupported(self)
    }

    fn get_shmem_config(&mut self) -> R<VhostUserShMemConfig> {
        unsupported(self)
    }

    fn set_log_base(&mut self, _: &VhostUserLog, _: File) -> R<()> {
        unsupported(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault_of<T: core::fmt::Debug>(c: &mut Control, r: R<T>) -> VhostUserError {
        assert!(r.is_err(), "refused: {r:?}");
        c.fault.take().expect("a typed fault")
    }

    #[test]
    fn refuses_values_the_frontend_gets_wrong() {
        let mut c = Control::default();
        assert_eq!(c.get_features().unwrap(), OFFERED_FEATURES);
        let r = c.set_features(OFFERED_FEATURES | 1 << 22);
        assert_eq!(
            fault_of(&mut c, r),
            VhostUserError::Features { bits: 1 << 22 }
        );
        let r = c.set_features(NetFeatures::CSUM.bits());
        assert_eq!(
            fault_of(&mut c, r),
            VhostUserError::Features {
                bits: Features::VERSION_1.bits()
            }
        );
        for (index, num) in [(0, 0), (0, 100), (1, 512), (0, u32::MAX)] {
            let r = c.set_vring_num(index, num);
            assert_eq!(
                fault_of(&mut c, r),
                VhostUserError::BadQueueSize { index, num }
            );
        }
        let r = c.set_vring_num(2, 256);
        assert_eq!(fault_of(&mut c, r), VhostUserError::BadQueue { index: 2 });
        let r = c.set_vring_base(0, 0x1_0000);
        assert_eq!(
            fault_of(&mut c, r),
            VhostUserError::BadRingBase {
                index: 0,
                base: 0x1_0000,
                packed: false
            }
        );
        // Ring addresses before a memory table.
        c.set_vring_num(0, 256).unwrap();
        let r = c.set_vring_addr(0, VhostUserVringAddrFlags::empty(), 0, 0, 0, 0);
        assert_eq!(fault_of(&mut c, r), VhostUserError::Sequence { index: 0 });
        let r = c.set_vring_addr(0, VhostUserVringAddrFlags::VHOST_VRING_F_LOG, 0, 0, 0, 0);
        assert_eq!(fault_of(&mut c, r), VhostUserError::Protocol);
        let r = c.set_mem_table(&[], Vec::new(), None);
        assert_eq!(
            fault_of(&mut c, r),
            VhostUserError::MemTable {
                regions: 0,
                files: 0
            }
        );
        let r = c.set_protocol_features(VhostUserProtocolFeatures::MQ.bits());
        assert_eq!(
            fault_of(&mut c, r),
            VhostUserError::Features {
                bits: VhostUserProtocolFeatures::MQ.bits()
            }
        );
        let r = c.get_queue_num();
        assert_eq!(fault_of(&mut c, r), VhostUserError::Protocol);
        assert!(!c.ready());
    }

    #[test]
    fn packed_ring_states_are_decoded_and_checked() {
        // QEMU's first SET_VRING_BASE of a packed ring: offsets 0, both wrap counters 1.
        let start = PackedBase::decode(0x8000_8000);
        assert_eq!((start.avail, start.used), ((0, true), (0, true)));
        assert_eq!(start.encode(), 0x8000_8000);
        let p = PackedBase {
            avail: (5, false),
            used: (200, true),
        };
        assert_eq!(PackedBase::decode(p.encode()), p);
        // DPDK's encoding: the avail half only; used = avail.
        let dpdk = PackedBase::decode(0x8000);
        assert_eq!((dpdk.avail, dpdk.used), ((0, true), (0, true)));
        let later = PackedBase::decode(14);
        assert_eq!((later.avail, later.used), ((14, false), (14, false)));
        assert!(dpdk.fits(256) && later.fits(256));
        assert!(p.fits(256), "used 61 positions behind, across a wrap");
        for (avail, used) in [
            ((0, true), (2, true)),   // used ahead of avail, same lap
            ((1, true), (0, false)),  // used a lap and one ahead
            ((256, true), (0, true)), // offset outside the ring
            ((0, true), (300, true)),
        ] {
            assert!(!PackedBase { avail, used }.fits(256), "{avail:?} {used:?}");
        }
        assert!(
            PackedBase {
                avail: (0, false),
                used: (0, true)
            }
            .fits(256),
            "a whole lap in flight"
        );
        let mut c = Control::default();
        c.set_features(OFFERED_FEATURES).unwrap();
        c.set_vring_num(1, 256).unwrap();
        c.set_vring_base(1, 0x8000_8000).unwrap();
        let r = c.set_vring_base(1, 0x8002_8000);
        assert_eq!(
            fault_of(&mut c, r),
            VhostUserError::BadRingBase {
                index: 1,
                base: 0x8002_8000,
                packed: true
            }
        );
    }

    #[test]
    fn the_first_fault_is_kept() {
        let mut c = Control::default();
        let _ = c.set_vring_num(7, 1);
        let _ = c.set_vring_num(0, 3);
        assert_eq!(c.fault, Some(VhostUserError::BadQueue { index: 7 }));
    }

    #[test]
    fn a_running_ring_cannot_be_reconfigured_and_a_stop_bumps_the_generation() {
        let mut c = Control::default();
        c.set_features(OFFERED_FEATURES).unwrap();
        c.running = true;
        let r = c.set_vring_num(0, 64);
        assert_eq!(fault_of(&mut c, r), VhostUserError::Sequence { index: 0 });
        let r = c.set_features(Features::VERSION_1.bits());
        assert!(matches!(
            fault_of(&mut c, r),
            VhostUserError::Features { .. }
        ));
        let g = c.generation;
        c.set_vring_enable(1, false).unwrap();
        assert!(!c.running);
        assert_ne!(c.generation, g);
        assert_eq!(c.negotiated() & PROTOCOL_FEATURES, 0);
    }
}
