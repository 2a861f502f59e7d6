//! The data path of a running frontend: the virtio-net port over the guest memory it
//! keeps alive.
#![allow(unsafe_code)]

use std::sync::Arc;

use virtqueue::{AnyDeviceQueue, Features, QueueConfig};

use super::control::PackedBase;
use super::memory::GuestMemory;
use super::{VmNetPort, QUEUE_SIZE};
use crate::adapters::virtio_net::{NetQueue, VirtioNetError};

/// A running data path. The port borrows the memory for `'static` as far as the type
/// system knows; this struct makes that sound: it owns an `Arc` of the memory, drops the
/// port first (field order), and never hands out the `'static` borrow.
pub(crate) struct Active {
    // Dropped first: it borrows `mem`.
    pub(crate) port: VmNetPort<'static>,
    _mem: Arc<GuestMemory>,
}

impl Active {
    /// Attach the two rings (`[receiveq, transmitq]`) in the negotiated layout, at their
    /// bases (checked by the caller: [`super::control::base_fits`]).
    pub(crate) fn start(
        mem: Arc<GuestMemory>,
        rings: [(QueueConfig, u32); 2],
        negotiated: u64,
        max_frame: u16,
    ) -> Result<Box<Active>, VirtioNetError> {
        // SAFETY: the `GuestMemory` lives in the `Arc`'s heap allocation, which does not
        // move and stays alive as long as `_mem` (a strong reference) is held by the
        // returned `Active`. The reference is only given to `port`, which is dropped
        // before `_mem`, and `Active` exposes `port` only through `&self` / `&mut self`
        // borrows, so no borrow of the memory outlives the `Arc`.
        let m: &'static GuestMemory = unsafe { &*Arc::as_ptr(&mem) };
        let features = Features::from_bits_truncate(negotiated);
        let attach = |(cfg, base): (QueueConfig, u32), queue| {
            let ring = |error| VirtioNetError::Ring { queue, error };
            let mut q =
                AnyDeviceQueue::<'static, GuestMemory, QUEUE_SIZE, { super::SEGMENTS }>::attach(
                    m, cfg, features,
                )
                .map_err(ring)?;
            match &mut q {
                // Split: the next avail index; every chain before it was returned.
                AnyDeviceQueue::Split(q) => {
                    let b = base as u16;
                    q.set_indices(b, b)
                }
                AnyDeviceQueue::Packed(q) => {
                    let b = PackedBase::decode(base);
                    q.set_position(b.avail, b.used).map_err(ring)?
                }
            }
            Ok::<_, VirtioNetError>(q)
        };
        let [rx, tx] = rings;
        let receiveq = attach(rx, NetQueue::Receive)?;
        let transmitq = attach(tx, NetQueue::Transmit)?;
        let port = VmNetPort::new(receiveq, transmitq, negotiated, max_frame)?;
        Ok(Box::new(Active { port, _mem: mem }))
    }

    /// The packed rings' positions (`None` for split rings).
    pub(crate) fn packed_state(&self) -> [Option<PackedBase>; 2] {
        self.port.queues().map(|q| match q {
            AnyDeviceQueue::Packed(p) => Some(PackedBase {
                avail: p.next_avail(),
                used: p.next_used(),
            }),
            AnyDeviceQueue::Split(_) => None,
        })
    }
}
