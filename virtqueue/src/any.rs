//! The layout-agnostic front: one driver type and one device type over either ring
//! layout, chosen at negotiation time from `VIRTIO_F_RING_PACKED` (bit 34).
//!
//! Both layouts have the same API shape (chains of [`Buffer`]s identified by a [`Token`],
//! [`DescriptorChain`]s identified by their head / buffer id), so the enums only dispatch;
//! code written against them (a virtio-net driver, a switch port) serves both layouts.

use crate::{
    Buffer, DescriptorChain, DeviceQueue, DriverQueue, Error, Features, MemoryHandle,
    PackedDeviceQueue, PackedDriverQueue, QueueConfig, SharedMemory, Token, UsedBuffer, UsedEntry,
};

/// The driver side of one virtqueue, split or packed.
#[allow(clippy::large_enum_variant)]
pub enum AnyDriverQueue<'m, M: SharedMemory + ?Sized, const N: usize = 256> {
    /// Split ring (VirtIO 2.7).
    Split(DriverQueue<'m, M, N>),
    /// Packed ring (VirtIO 2.8).
    Packed(PackedDriverQueue<'m, M, N>),
}

macro_rules! dispatch {
    ($self:expr, $q:ident => $e:expr) => {
        match $self {
            Self::Split($q) => $e,
            Self::Packed($q) => $e,
        }
    };
}

impl<M: SharedMemory + ?Sized, const N: usize> core::fmt::Debug for AnyDriverQueue<'_, M, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        dispatch!(self, q => q.fmt(f))
    }
}

impl<H: MemoryHandle, const N: usize, const S: usize> core::fmt::Debug for AnyDeviceQueue<H, N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        dispatch!(self, q => q.fmt(f))
    }
}

impl<'m, M: SharedMemory + ?Sized, const N: usize> AnyDriverQueue<'m, M, N> {
    /// Set up the queue at `cfg` in the layout `features` select: packed when
    /// [`Features::RING_PACKED`] was negotiated, split otherwise. For a packed ring
    /// `cfg.avail` / `cfg.used` are the driver / device event suppression areas.
    pub fn new(mem: &'m M, cfg: QueueConfig, features: Features) -> Result<Self, Error> {
        Ok(if features.contains(Features::RING_PACKED) {
            AnyDriverQueue::Packed(PackedDriverQueue::new(mem, cfg, features)?)
        } else {
            AnyDriverQueue::Split(DriverQueue::new(mem, cfg, features)?)
        })
    }

    /// Whether this is a packed ring.
    pub fn is_packed(&self) -> bool {
        matches!(self, AnyDriverQueue::Packed(_))
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        dispatch!(self, q => q.size())
    }

    /// Free descriptors.
    pub fn free_descriptors(&self) -> u16 {
        dispatch!(self, q => q.free_descriptors())
    }

    /// Whether a fatal violation by the device broke the queue.
    pub fn is_broken(&self) -> bool {
        dispatch!(self, q => q.is_broken())
    }

    /// Writable bytes of an outstanding chain.
    pub fn writable_len(&self, token: Token) -> Option<u32> {
        dispatch!(self, q => q.writable_len(token))
    }

    /// Post a chain (see [`DriverQueue::add`]).
    #[inline]
    pub fn add(&mut self, readable: &[Buffer], writable: &[Buffer]) -> Result<Token, Error> {
        dispatch!(self, q => q.add(readable, writable))
    }

    /// Publish what was added.
    #[inline]
    pub fn publish(&mut self) {
        dispatch!(self, q => q.publish())
    }

    /// Whether the device wants a notification for what was published.
    pub fn should_notify(&mut self) -> bool {
        dispatch!(self, q => q.should_notify())
    }

    /// The 32-bit `NOTIFICATION_DATA` value for queue `queue_index` (VirtIO 4.1.4.5.2,
    /// 4.2.3.3 "available buffer notification"): the queue index in bits 0..=15, and in
    /// bits 16..=31 the split ring's next avail index, or the packed ring's next avail
    /// offset (bits 16..=30) and wrap counter (bit 31), as last published.
    pub fn notification_data(&self, queue_index: u16) -> u32 {
        dispatch!(self, q => q.notification_data(queue_index))
    }

    /// Ask for used-buffer notifications; `true` when used buffers raced in.
    pub fn enable_used_notifications(&mut self) -> bool {
        dispatch!(self, q => q.enable_used_notifications())
    }

    /// Ask the device not to notify of used buffers.
    pub fn disable_used_notifications(&mut self) {
        dispatch!(self, q => q.disable_used_notifications())
    }

    /// Take back the next used chain.
    #[inline]
    pub fn pop_used(&mut self) -> Result<Option<UsedBuffer>, Error> {
        dispatch!(self, q => q.pop_used())
    }

    /// Pop up to `budget` used chains, calling `f` on each.
    pub fn pop_used_batch(
        &mut self,
        budget: usize,
        f: impl FnMut(UsedBuffer),
    ) -> Result<usize, Error> {
        dispatch!(self, q => q.pop_used_batch(budget, f))
    }

    /// Reset the queue (`RING_RESET`): see [`DriverQueue::reset`].
    pub fn reset(&mut self) {
        dispatch!(self, q => q.reset())
    }
}

/// The device side of one virtqueue, split or packed, over the memory of handle `H` (see
/// [`MemoryHandle`]).
#[allow(clippy::large_enum_variant)]
pub enum AnyDeviceQueue<H: MemoryHandle, const N: usize = 256, const S: usize = 16> {
    /// Split ring (VirtIO 2.7).
    Split(DeviceQueue<H, N, S>),
    /// Packed ring (VirtIO 2.8).
    Packed(PackedDeviceQueue<H, N, S>),
}

impl<H: MemoryHandle, const N: usize, const S: usize> AnyDeviceQueue<H, N, S> {
    /// Attach to the queue at `cfg` in the layout `features` select (packed when
    /// [`Features::RING_PACKED`] was negotiated).
    pub fn attach(mem: H, cfg: QueueConfig, features: Features) -> Result<Self, Error> {
        Ok(if features.contains(Features::RING_PACKED) {
            AnyDeviceQueue::Packed(PackedDeviceQueue::attach(mem, cfg, features)?)
        } else {
            AnyDeviceQueue::Split(DeviceQueue::attach(mem, cfg, features)?)
        })
    }

    /// Whether this is a packed ring.
    pub fn is_packed(&self) -> bool {
        matches!(self, AnyDeviceQueue::Packed(_))
    }

    /// The memory the chains' buffers are in (for [`DescriptorChain::reader`] /
    /// [`DescriptorChain::writer`]).
    #[inline]
    pub fn memory(&self) -> &H::Memory {
        dispatch!(self, q => q.memory())
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        dispatch!(self, q => q.size())
    }

    /// The negotiated generic features.
    pub fn features(&self) -> Features {
        dispatch!(self, q => q.features())
    }

    /// Whether a fatal violation broke the queue.
    pub fn is_broken(&self) -> bool {
        dispatch!(self, q => q.is_broken())
    }

    /// Chains made available and not popped yet (split: from `avail.idx`; packed: counted
    /// from the descriptors' flags, advisory).
    pub fn pending(&mut self) -> Result<u16, Error> {
        dispatch!(self, q => q.pending())
    }

    /// Pop the next available chain.
    #[inline]
    pub fn pop(&mut self) -> Result<Option<DescriptorChain<S>>, Error> {
        dispatch!(self, q => q.pop())
    }

    /// Pop into a reused chain.
    #[inline]
    pub fn pop_into(&mut self, chain: &mut DescriptorChain<S>) -> Result<bool, Error> {
        dispatch!(self, q => q.pop_into(chain))
    }

    /// Return a chain (by [`DescriptorChain::head`]) with `len` bytes written.
    #[inline]
    pub fn add_used(&mut self, head: u16, len: u32) -> Result<(), Error> {
        dispatch!(self, q => q.add_used(head, len))
    }

    /// Return several chains with one publication.
    pub fn add_used_batch(&mut self, entries: &[UsedEntry]) -> Result<usize, Error> {
        dispatch!(self, q => q.add_used_batch(entries))
    }

    /// With `IN_ORDER`: return every chain popped up to and including `last` with one
    /// used entry naming it (length `len`).
    pub fn add_used_in_order(&mut self, last: u16, len: u32) -> Result<(), Error> {
        dispatch!(self, q => q.add_used_in_order(last, len))
    }

    /// Whether the driver wants a used-buffer notification now.
    pub fn needs_notification(&mut self) -> Result<bool, Error> {
        dispatch!(self, q => q.needs_notification())
    }

    /// Ask for available-buffer notifications; `Ok(true)` when work raced in.
    pub fn enable_notification(&mut self) -> Result<bool, Error> {
        dispatch!(self, q => q.enable_notification())
    }

    /// Ask the driver not to notify.
    pub fn disable_notification(&mut self) {
        dispatch!(self, q => q.disable_notification())
    }

    /// Reset the queue (`RING_RESET`): see [`DeviceQueue::reset`].
    pub fn reset(&mut self) {
        dispatch!(self, q => q.reset())
    }
}

impl<'m, M: SharedMemory + ?Sized, const N: usize> From<DriverQueue<'m, M, N>>
    for AnyDriverQueue<'m, M, N>
{
    fn from(q: DriverQueue<'m, M, N>) -> Self {
        AnyDriverQueue::Split(q)
    }
}

impl<'m, M: SharedMemory + ?Sized, const N: usize> From<PackedDriverQueue<'m, M, N>>
    for AnyDriverQueue<'m, M, N>
{
    fn from(q: PackedDriverQueue<'m, M, N>) -> Self {
        AnyDriverQueue::Packed(q)
    }
}

impl<H: MemoryHandle, const N: usize, const S: usize> From<DeviceQueue<H, N, S>>
    for AnyDeviceQueue<H, N, S>
{
    fn from(q: DeviceQueue<H, N, S>) -> Self {
        AnyDeviceQueue::Split(q)
    }
}

impl<H: MemoryHandle, const N: usize, const S: usize> From<PackedDeviceQueue<H, N, S>>
    for AnyDeviceQueue<H, N, S>
{
    fn from(q: PackedDeviceQueue<H, N, S>) -> Self {
        AnyDeviceQueue::Packed(q)
    }
}
