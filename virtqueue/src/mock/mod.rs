//! Test doubles for this crate's and other crates' tests (feature `test-utils`).
//!
//! - [`Loopback`]: one [`OwnedMemory`] holding a split ring and a data area, from which a
//!   real [`DriverQueue`] and a real [`DeviceQueue`] (or the raw mocks) are made.
//! - [`MockDriver`]: writes descriptors, avail entries, indices and event fields directly
//!   — correct ones or malicious ones — to drive a device side under test.
//! - [`MockDevice`]: writes used elements and indices directly — correct or malicious —
//!   to drive a driver side under test.

mod packed;

pub use packed::MockPackedRing;

use crate::layout::{DescFlags, Descriptor, QueueConfig};
use crate::ordering::{self, IndexCell};
use crate::ring::SplitRing;
use crate::{
    DeviceQueue, DriverQueue, Error, Features, OwnedMemory, PackedDeviceQueue, PackedDriverQueue,
    SharedMemory,
};

/// Peer address where [`Loopback`] puts the rings.
pub const RING_BASE: u64 = 0x10_0000;

/// A split ring and a data area in one owned buffer.
#[derive(Debug)]
pub struct Loopback {
    mem: OwnedMemory,
    cfg: QueueConfig,
    data: u64,
    data_len: usize,
}

impl Loopback {
    /// A ring of `size` entries at [`RING_BASE`], followed (4 KiB aligned) by `data_len`
    /// bytes of data area.
    pub fn new(size: u16, data_len: usize) -> Self {
        Self::with_layout(false, size, data_len)
    }

    /// Like [`Loopback::new`] with a packed ring ([`QueueConfig::contiguous_packed`]).
    pub fn packed(size: u16, data_len: usize) -> Self {
        Self::with_layout(true, size, data_len)
    }

    /// A split (`packed == false`) or packed ring of `size` entries and a data area.
    pub fn with_layout(packed: bool, size: u16, data_len: usize) -> Self {
        let (cfg, ring_bytes) = if packed {
            (
                QueueConfig::contiguous_packed(RING_BASE, size),
                QueueConfig::contiguous_packed_bytes(size),
            )
        } else {
            (
                QueueConfig::contiguous(RING_BASE, size),
                QueueConfig::contiguous_bytes(size),
            )
        };
        let data_off = (ring_bytes + 0xfff) & !0xfff;
        let mem = OwnedMemory::new(RING_BASE, data_off as usize + data_len);
        Loopback {
            mem,
            cfg,
            data: RING_BASE + data_off,
            data_len,
        }
    }

    /// The shared memory.
    pub fn memory(&self) -> &OwnedMemory {
        &self.mem
    }

    /// Where the rings are.
    pub fn config(&self) -> QueueConfig {
        self.cfg
    }

    /// Peer address of byte `offset` of the data area.
    pub fn data_addr(&self, offset: usize) -> u64 {
        self.data + offset as u64
    }

    /// Length of the data area.
    pub fn data_len(&self) -> usize {
        self.data_len
    }

    /// Write bytes at a peer address (test set-up; panics outside memory).
    pub fn write(&self, addr: u64, bytes: &[u8]) {
        self.mem
            .slice(addr, bytes.len())
            .and_then(|s| s.write_from(0, bytes))
            .expect("loopback write outside memory");
    }

    /// Read bytes at a peer address (test check; panics outside memory).
    pub fn read(&self, addr: u64, out: &mut [u8]) {
        self.mem
            .slice(addr, out.len())
            .and_then(|s| s.read_into(0, out))
            .expect("loopback read outside memory");
    }

    /// A real driver side over the ring (initialises it).
    pub fn driver<const N: usize>(
        &self,
        features: Features,
    ) -> Result<DriverQueue<'_, OwnedMemory, N>, Error> {
        DriverQueue::new(&self.mem, self.cfg, features)
    }

    /// A real device side over the ring.
    pub fn device<const N: usize, const S: usize>(
        &self,
        features: Features,
    ) -> Result<DeviceQueue<&OwnedMemory, N, S>, Error> {
        DeviceQueue::attach(&self.mem, self.cfg, features)
    }

    /// A real packed driver side over the ring (initialises it).
    pub fn packed_driver<const N: usize>(
        &self,
        features: Features,
    ) -> Result<PackedDriverQueue<'_, OwnedMemory, N>, Error> {
        PackedDriverQueue::new(&self.mem, self.cfg, features)
    }

    /// A real packed device side over the ring.
    pub fn packed_device<const N: usize, const S: usize>(
        &self,
        features: Features,
    ) -> Result<PackedDeviceQueue<&OwnedMemory, N, S>, Error> {
        PackedDeviceQueue::attach(&self.mem, self.cfg, features)
    }

    /// Raw access to the packed ring (for a malicious peer).
    pub fn mock_packed(&self) -> MockPackedRing<'_> {
        MockPackedRing::new(&self.mem, self.cfg).expect("loopback ring is valid")
    }

    /// A raw mock driver over the ring (initialises it).
    pub fn mock_driver(&self) -> MockDriver<'_> {
        MockDriver::new(&self.mem, self.cfg).expect("loopback ring is valid")
    }

    /// A raw mock device over the ring.
    pub fn mock_device(&self) -> MockDevice<'_> {
        MockDevice::new(&self.mem, self.cfg).expect("loopback ring is valid")
    }
}

/// A raw driver: writes whatever the test says into the ring, correct or not.
pub struct MockDriver<'m> {
    ring: SplitRing<'m>,
    avail_idx: u16,
}

impl core::fmt::Debug for MockDriver<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MockDriver")
            .field("avail_idx", &self.avail_idx)
            .finish()
    }
}

impl<'m> MockDriver<'m> {
    /// Over the ring at `cfg`; clears flags and indices.
    pub fn new<M: SharedMemory + ?Sized>(mem: &'m M, cfg: QueueConfig) -> Result<Self, Error> {
        let ring = raw_ring(mem, cfg)?;
        for f in [
            &ring.avail_flags,
            &ring.avail_idx,
            &ring.used_event,
            &ring.used_flags,
            &ring.used_idx,
            &ring.avail_event,
        ] {
            f.store(0);
        }
        Ok(MockDriver { ring, avail_idx: 0 })
    }

    /// Start both indices at `start` (pair with `DeviceQueue::set_indices`).
    pub fn set_start_index(&mut self, start: u16) {
        self.avail_idx = start;
        self.ring.avail_idx.store(start);
        self.ring.used_idx.store(start);
    }

    /// Write descriptor `i` of the table.
    pub fn write_desc(&self, i: u16, d: Descriptor) {
        assert!(i < self.ring.size, "descriptor index inside the table");
        self.ring.write_desc(i, &d);
    }

    /// Write a chain of `(addr, len, writable)` buffers into descriptors
    /// `first, first + 1, ...` linked in order, and put its head in the avail ring (not
    /// published). Returns the head.
    pub fn add_chain(&mut self, first: u16, bufs: &[(u64, u32, bool)]) -> u16 {
        for (k, &(addr, len, writable)) in bufs.iter().enumerate() {
            let i = first + k as u16;
            let mut flags = if writable {
                DescFlags::WRITE
            } else {
                DescFlags::empty()
            };
            if k + 1 < bufs.len() {
                flags |= DescFlags::NEXT;
            }
            self.write_desc(i, Descriptor::new(addr, len, flags, i + 1));
        }
        self.push_avail(first);
        first
    }

    /// Put `head` (any value) in the next avail slot, not published.
    pub fn push_avail(&mut self, head: u16) {
        self.ring.write_avail_slot(self.avail_idx, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
    }

    /// Publish the avail entries pushed so far.
    pub fn publish(&self) {
        ordering::publish(self.ring.barriers, &self.ring.avail_idx, self.avail_idx);
    }

    /// Write any value into `avail.idx` (malicious index).
    pub fn set_avail_idx(&mut self, idx: u16) {
        self.avail_idx = idx;
        self.ring.avail_idx.store(idx);
    }

    /// Write `avail.flags`.
    pub fn set_avail_flags(&self, flags: u16) {
        self.ring.avail_flags.store(flags);
    }

    /// Write `used_event`.
    pub fn set_used_event(&self, v: u16) {
        self.ring.used_event.store(v);
    }

    /// The device's `used.idx`.
    pub fn used_idx(&self) -> u16 {
        ordering::observe(self.ring.barriers, &self.ring.used_idx)
    }

    /// The device's `avail_event`.
    pub fn avail_event(&self) -> u16 {
        self.ring.avail_event.load()
    }

    /// The device's `used.flags`.
    pub fn used_flags(&self) -> u16 {
        self.ring.used_flags.load()
    }

    /// Used element for free-running index `idx`: `(id, len)`.
    pub fn used_elem(&self, idx: u16) -> (u32, u32) {
        self.ring.read_used_slot(idx)
    }
}

/// A raw device: writes whatever the test says into the used ring, correct or not.
pub struct MockDevice<'m> {
    ring: SplitRing<'m>,
    used_idx: u16,
}

impl core::fmt::Debug for MockDevice<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MockDevice")
            .field("used_idx", &self.used_idx)
            .finish()
    }
}

impl<'m> MockDevice<'m> {
    /// Over the ring at `cfg` (touches nothing).
    pub fn new<M: SharedMemory + ?Sized>(mem: &'m M, cfg: QueueConfig) -> Result<Self, Error> {
        let ring = raw_ring(mem, cfg)?;
        let used_idx = ring.used_idx.load();
        Ok(MockDevice { ring, used_idx })
    }

    /// The driver's `avail.idx`.
    pub fn avail_idx(&self) -> u16 {
        ordering::observe(self.ring.barriers, &self.ring.avail_idx)
    }

    /// Avail slot for free-running index `idx`.
    pub fn avail_slot(&self, idx: u16) -> u16 {
        self.ring.read_avail_slot(idx)
    }

    /// Descriptor `i` of the table.
    pub fn desc(&self, i: u16) -> Descriptor {
        assert!(i < self.ring.size, "descriptor index inside the table");
        self.ring.read_desc(i)
    }

    /// The driver's `avail.flags`.
    pub fn avail_flags(&self) -> u16 {
        self.ring.avail_flags.load()
    }

    /// The driver's `used_event`.
    pub fn used_event(&self) -> u16 {
        self.ring.used_event.load()
    }

    /// Write a used element (any id, any length) in the next slot, not published.
    pub fn push_used(&mut self, id: u32, len: u32) {
        self.ring.write_used_slot(self.used_idx, id, len);
        self.used_idx = self.used_idx.wrapping_add(1);
    }

    /// Publish the used elements pushed so far.
    pub fn publish(&self) {
        ordering::publish(self.ring.barriers, &self.ring.used_idx, self.used_idx);
    }

    /// Write any value into `used.idx` (malicious index).
    pub fn set_used_idx(&mut self, idx: u16) {
        self.used_idx = idx;
        self.ring.used_idx.store(idx);
    }

    /// Write `used.flags`.
    pub fn set_used_flags(&self, flags: u16) {
        self.ring.used_flags.store(flags);
    }

    /// Write `avail_event`.
    pub fn set_avail_event(&self, v: u16) {
        self.ring.avail_event.store(v);
    }
}

/// The whole ring at `cfg` with no feature negotiated, as the raw mocks see it.
fn raw_ring<'m, M: SharedMemory + ?Sized>(
    mem: &'m M,
    cfg: QueueConfig,
) -> Result<SplitRing<'m>, Error> {
    SplitRing::attach(
        mem,
        cfg,
        usize::from(crate::layout::MAX_QUEUE_SIZE),
        Features::empty(),
    )
}
