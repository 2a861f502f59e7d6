//! Raw packed-ring peers: write whatever the test says (correct or malicious) into a
//! packed ring, to drive a [`crate::PackedDeviceQueue`] or [`crate::PackedDriverQueue`]
//! under test.

use crate::layout::packed::{PackedDescFlags, PackedDescriptor};
use crate::layout::QueueConfig;
use crate::ordering::{self, IndexCell};
use crate::packed::PackedRing;
use crate::{Error, Features, SharedMemory};

fn raw_ring<'m, M: SharedMemory + ?Sized>(
    mem: &'m M,
    cfg: QueueConfig,
) -> Result<PackedRing<'m>, Error> {
    PackedRing::attach(
        mem,
        cfg,
        usize::from(crate::layout::MAX_QUEUE_SIZE),
        Features::empty(),
    )
}

/// Raw access to a packed ring: both the mock driver and the mock device.
#[derive(Clone, Copy)]
pub struct MockPackedRing<'m> {
    ring: PackedRing<'m>,
}

impl core::fmt::Debug for MockPackedRing<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MockPackedRing")
            .field("size", &self.ring.size)
            .finish()
    }
}

impl<'m> MockPackedRing<'m> {
    /// Over the ring at `cfg` (touches nothing).
    pub fn new<M: SharedMemory + ?Sized>(mem: &'m M, cfg: QueueConfig) -> Result<Self, Error> {
        Ok(MockPackedRing {
            ring: raw_ring(mem, cfg)?,
        })
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        self.ring.size
    }

    /// Write descriptor `off` whole: address, length, id, then flags with a release fence
    /// (as a peer publishing it).
    pub fn write_desc(&self, off: u16, d: PackedDescriptor) {
        assert!(off < self.ring.size, "offset inside the ring");
        self.ring
            .descs
            .store_addr_len_id(off, d.addr.get(), d.len.get(), d.id.get());
        ordering::publish(self.ring.barriers, &self.ring.flags(off), d.flags.get());
    }

    /// Read descriptor `off` (each field once).
    pub fn desc(&self, off: u16) -> PackedDescriptor {
        let flags = ordering::observe(self.ring.barriers, &self.ring.flags(off));
        let (addr, len, id) = self.ring.descs.load_addr_len_id(off);
        PackedDescriptor::new(addr, len, id, PackedDescFlags::from_bits_retain(flags))
    }

    /// Make a chain of `(addr, len, writable)` buffers available at offsets `first..` in
    /// lap `wrap` with buffer id `id` (the first descriptor's flags are written last).
    /// Returns the offset after the chain (not wrapped: callers keep chains inside one lap
    /// or use [`MockPackedRing::write_desc`]).
    pub fn add_chain(&self, first: u16, wrap: bool, id: u16, bufs: &[(u64, u32, bool)]) -> u16 {
        let size = self.ring.size;
        let mut off = first;
        for (k, &(addr, len, writable)) in bufs.iter().enumerate().rev() {
            let k = k as u16;
            let o = (first + k) % size;
            let w = if first + k >= size { !wrap } else { wrap };
            let mut flags = PackedDescFlags::avail_bits(w);
            if writable {
                flags |= PackedDescFlags::WRITE;
            }
            if usize::from(k) + 1 < bufs.len() {
                flags |= PackedDescFlags::NEXT;
            }
            self.write_desc(o, PackedDescriptor::new(addr, len, id, flags));
            off = off.max(first + k + 1);
        }
        off
    }

    /// Write a used descriptor at `off` in lap `wrap` (id and length, then the flags).
    pub fn push_used(&self, off: u16, wrap: bool, id: u16, len: u32) {
        self.write_desc(
            off,
            PackedDescriptor::new(0, len, id, PackedDescFlags::used_bits(wrap)),
        );
    }

    /// The driver event suppression structure: `(off_wrap, flags)`.
    pub fn driver_event(&self) -> (u16, u16) {
        (
            self.ring.driver_off_wrap.load(),
            self.ring.driver_flags.load(),
        )
    }

    /// The device event suppression structure: `(off_wrap, flags)`.
    pub fn device_event(&self) -> (u16, u16) {
        (
            self.ring.device_off_wrap.load(),
            self.ring.device_flags.load(),
        )
    }

    /// Write the driver event suppression structure.
    pub fn set_driver_event(&self, off_wrap: u16, flags: u16) {
        self.ring.driver_off_wrap.store(off_wrap);
        self.ring.driver_flags.store(flags);
    }

    /// Write the device event suppression structure.
    pub fn set_device_event(&self, off_wrap: u16, flags: u16) {
        self.ring.device_off_wrap.store(off_wrap);
        self.ring.device_flags.store(flags);
    }
}
