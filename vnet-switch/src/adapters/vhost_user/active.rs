//! The data path of a running frontend: the virtio-net port over the guest memory it
//! keeps alive (its queues hold an `Arc` of the memory).

use std::sync::Arc;

use virtqueue::{AnyDeviceQueue, Features, QueueConfig};

use super::control::PackedBase;
use super::memory::GuestMemory;
use super::{VmNetPort, QUEUE_SIZE};
use crate::adapters::virtio_net::{NetQueue, VirtioNetError};

/// A running data path: the port, whose two queues each hold a strong reference to the
/// guest memory, so the memory lives as long as the port does.
pub(crate) struct Active {
    pub(crate) port: VmNetPort,
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
        let features = Features::from_bits_truncate(negotiated);
        let attach = |(cfg, base): (QueueConfig, u32), queue| {
            let ring = |error| VirtioNetError::Ring { queue, error };
            let mut q = AnyDeviceQueue::<_, QUEUE_SIZE, { super::SEGMENTS }>::attach(
                Arc::clone(&mem),
                cfg,
                features,
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
        Ok(Box::new(Active { port }))
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
