//! A partition port that is a **virtio-net device** (backend): the partition runs an
//! ordinary virtio-net driver; this port serves its two queues on the device side of the
//! `virtqueue` crate — split or packed rings (`VIRTIO_F_RING_PACKED`), through
//! `virtqueue::AnyDeviceQueue` — and plugs into the switch as a [`FrameLink`].
//!
//! * `receiveq1` (queue 0, device → driver, writable chains) carries what the switch sends
//!   to the partition: [`FrameLink::tx_reserve`] takes receive chains (several with
//!   `MRG_RXBUF`), [`FrameLink::tx_write`] copies into them with bounds checks,
//!   [`FrameLink::tx_commit`] writes the 12-byte header (`num_buffers`, checksum
//!   flags) and publishes the used entries with one index update.
//! * `transmitq1` (queue 1, driver → device, readable chains) carries what the partition
//!   sends: [`FrameLink::rx_take`] pops one chain, reads the header once into private
//!   memory, validates it, copies the frame into a private slot and returns the chain
//!   used at once. The switch only ever sees private memory.
//!
//! # Hostile driver
//!
//! A malformed chain (bad descriptors, a readable part in a receive chain or a writable
//! part in a transmit chain, a header short or not negotiated, a frame above the limit)
//! is counted ([`VirtioNetStats`]), remembered as [`VirtioNetStats::last_error`] and
//! returned used with length 0; the port goes on. At most [`MAX_BAD_CHAINS`] bad chains
//! are skipped per call. A fatal ring error (an avail index jump: the queue is `Broken`)
//! takes this port [`PortState::Down`]; the switch and its other ports keep working.
//!
//! # Offloads
//!
//! `VIRTIO_NET_F_CSUM`: a transmit header's `NEEDS_CSUM` becomes the frame's
//! [`FrameMeta`] (a partial checksum whose start is already relative to the Ethernet
//! frame); a transmit `DATA_VALID` is ignored (drivers must not set it, and a partition
//! cannot vouch for a checksum to another). `VIRTIO_NET_F_GUEST_CSUM`: the flags reach the driver in the receive
//! header; without it the port completes a pending checksum in software and writes
//! `flags = 0` (VirtIO 5.1.6.4.1). GSO is not negotiated: a transmit header with a GSO
//! type is refused.
//!
//! # Notifications
//!
//! After [`Switch::poll`](crate::Switch::poll) the integrator calls
//! [`VirtioNetPort::interrupts`] (whether the driver wants a used-buffer interrupt per
//! queue: `needs_notification`, with `RING_EVENT_IDX` when negotiated) and, before
//! sleeping, [`VirtioNetPort::enable_notifications`] (`true`: work raced in, poll again).
//! Device config space (MAC, status, MTU) and feature negotiation on the transport are
//! the integrator's; [`SUPPORTED_FEATURES`] is what this backend can offer.

mod egress;
mod error;
mod header;
mod ingress;

pub use error::{NetQueue, PortState, VirtioNetError, VirtioNetStats};
pub use header::{
    parse_tx, rx_header, NetFeatures, NetHeader, F_DATA_VALID, F_NEEDS_CSUM, GSO_NONE, NET_HDR_LEN,
    SUPPORTED_FEATURES, U16,
};

use egress::ChainSlot;
use frame_link::RxSlots;
use frame_link::{FrameLink, FrameMeta, LinkCaps, LinkState, RxSlot, TxSlot};
use virtqueue::{AnyDeviceQueue, DescriptorChain, Features, MemoryHandle};

/// Bad chains skipped (counted, returned used with length 0) at most per call.
pub const MAX_BAD_CHAINS: usize = 8;

/// End of a chain list.
const NIL: u16 = u16::MAX;

/// Which queues the driver wants an interrupt for (from [`VirtioNetPort::interrupts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interrupts {
    /// Used receive buffers (frames for the partition) and the driver wants to know.
    pub receiveq: bool,
    /// Used transmit buffers (sent frames returned) and the driver wants to know.
    pub transmitq: bool,
}

impl Interrupts {
    /// Whether any queue needs one.
    pub fn any(&self) -> bool {
        self.receiveq || self.transmitq
    }
}

/// A virtio-net device port over the driver memory its queues hold through handle `H`
/// (`&M` for borrowed memory, `Arc<M>` for memory the port keeps alive: see
/// [`virtqueue::MemoryHandle`]).
///
/// * `FRAME`: bytes of one private ingress slot (the largest frame the switch can take
///   from this partition; the runtime limit `max_frame` is at most this).
/// * `SLOTS`: private ingress slots (2 suffice for the switch: one in flight, one held
///   for the rate budget); at most 255.
/// * `CHAINS`: receive chains the port may hold at once (reserved frames, spare chains):
///   the most `MRG_RXBUF` chains one frame can use, times the frames in flight.
/// * `N`, `S`: the virtqueue's largest queue size and segments per chain.
///
/// No heap: every buffer is inside the struct (about `FRAME * SLOTS + CHAINS * (S * 16 +
/// 40)` bytes); keep it in a `static` or a `Box` on hosted targets.
pub struct VirtioNetPort<
    H: MemoryHandle,
    const FRAME: usize = 1536,
    const SLOTS: usize = 2,
    const CHAINS: usize = 16,
    const N: usize = 256,
    const S: usize = 16,
> {
    receiveq: AnyDeviceQueue<H, N, S>,
    transmitq: AnyDeviceQueue<H, N, S>,
    state: PortState,
    mrg: bool,
    csum: bool,
    guest_csum: bool,
    max_frame: u16,
    stats: VirtioNetStats,
    /// Used entries added since the last [`VirtioNetPort::interrupts`]: receiveq, transmitq.
    used_added: [bool; 2],
    // Ingress (transmitq): private slots.
    ingress: RxSlots<FRAME, SLOTS>,
    pending: u16,
    scratch: DescriptorChain<S>,
    // Egress (receiveq): held chains, linked into per-frame lists.
    chains: [DescriptorChain<S>; CHAINS],
    link: [u16; CHAINS],
    slots: [ChainSlot; CHAINS],
    free_chains: u16,
    spare_head: u16,
    spare_tail: u16,
}

impl<
        H: MemoryHandle,
        const FRAME: usize,
        const SLOTS: usize,
        const CHAINS: usize,
        const N: usize,
        const S: usize,
    > core::fmt::Debug for VirtioNetPort<H, FRAME, SLOTS, CHAINS, N, S>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtioNetPort")
            .field("state", &self.state)
            .field("mrg_rxbuf", &self.mrg)
            .field("max_frame", &self.max_frame)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<
        H: MemoryHandle,
        const FRAME: usize,
        const SLOTS: usize,
        const CHAINS: usize,
        const N: usize,
        const S: usize,
    > VirtioNetPort<H, FRAME, SLOTS, CHAINS, N, S>
{
    /// A port over the driver's two queues (attached by the integrator's transport with
    /// the negotiated generic features: a split `DeviceQueue`, a `PackedDeviceQueue`, or
    /// an `AnyDeviceQueue` chosen by `RING_PACKED`), the whole negotiated feature word `negotiated`
    /// (`VERSION_1` required; device bits within [`SUPPORTED_FEATURES`]), and the
    /// largest Ethernet frame (without FCS) in either direction, `14..=FRAME`.
    pub fn new(
        receiveq: impl Into<AnyDeviceQueue<H, N, S>>,
        transmitq: impl Into<AnyDeviceQueue<H, N, S>>,
        negotiated: u64,
        max_frame: u16,
    ) -> Result<Self, VirtioNetError> {
        const {
            assert!(SLOTS >= 1 && SLOTS <= 255, "1..=255 ingress slots");
            assert!(CHAINS >= 1 && CHAINS < 0xffff, "1..0xffff receive chains");
        }
        if negotiated & Features::VERSION_1.bits() == 0 {
            return Err(VirtioNetError::Features {
                bits: Features::VERSION_1.bits(),
            });
        }
        let unknown = negotiated & NetFeatures::DEVICE_SPECIFIC & !SUPPORTED_FEATURES.bits();
        if unknown != 0 {
            return Err(VirtioNetError::Features { bits: unknown });
        }
        if usize::from(max_frame) > FRAME || max_frame < 14 {
            return Err(VirtioNetError::FrameLimit {
                max_frame,
                capacity: FRAME,
            });
        }
        let mut link = [NIL; CHAINS];
        for (i, l) in link.iter_mut().enumerate() {
            // Free list 0 → 1 → … → CHAINS-1 → NIL (CHAINS < 0xffff).
            *l = if i + 1 < CHAINS { (i + 1) as u16 } else { NIL };
        }
        let mut receiveq = receiveq.into();
        let transmitq = transmitq.into();
        receiveq.disable_notification();
        Ok(VirtioNetPort {
            receiveq,
            transmitq,
            state: PortState::Up,
            mrg: negotiated & NetFeatures::MRG_RXBUF.bits() != 0,
            csum: negotiated & NetFeatures::CSUM.bits() != 0,
            guest_csum: negotiated & NetFeatures::GUEST_CSUM.bits() != 0,
            max_frame,
            stats: VirtioNetStats::default(),
            used_added: [false; 2],
            ingress: RxSlots::new(),
            pending: 0,
            scratch: DescriptorChain::empty(),
            chains: [const { DescriptorChain::empty() }; CHAINS],
            link,
            slots: [ChainSlot::Free; CHAINS],
            free_chains: 0,
            spare_head: NIL,
            spare_tail: NIL,
        })
    }

    /// Whether the port serves its driver, or why not.
    pub fn state(&self) -> PortState {
        self.state
    }

    /// The port's counters and last error.
    pub fn stats(&self) -> &VirtioNetStats {
        &self.stats
    }

    /// The largest frame in either direction.
    pub fn max_frame(&self) -> u16 {
        self.max_frame
    }

    /// Whether `MRG_RXBUF` was negotiated.
    pub fn mergeable_rx_buffers(&self) -> bool {
        self.mrg
    }

    /// The two queues, `[receiveq, transmitq]` (read-only: a transport saving the ring
    /// state, such as vhost-user's `GET_VRING_BASE` of a packed ring, reads positions).
    pub fn queues(&self) -> [&AnyDeviceQueue<H, N, S>; 2] {
        [&self.receiveq, &self.transmitq]
    }

    /// After a poll: which queues got used buffers the driver wants an interrupt for
    /// (each queue's `needs_notification`, asked only when used entries were added).
    pub fn interrupts(&mut self) -> Interrupts {
        let mut out = Interrupts::default();
        if core::mem::take(&mut self.used_added[0]) {
            out.receiveq = self.notify(NetQueue::Receive);
        }
        if core::mem::take(&mut self.used_added[1]) {
            out.transmitq = self.notify(NetQueue::Transmit);
        }
        out
    }

    fn notify(&mut self, queue: NetQueue) -> bool {
        let r = match queue {
            NetQueue::Receive => self.receiveq.needs_notification(),
            NetQueue::Transmit => self.transmitq.needs_notification(),
        };
        r.unwrap_or_else(|error| {
            self.ring_error(queue, error);
            false
        })
    }

    /// Before sleeping: ask the driver to kick when it sends frames (transmitq).
    /// `Ok(true)`: frames raced in, poll again before sleeping. `Err`: the port is down.
    ///
    /// Receive-buffer kicks are not asked for: a frame for the partition that finds no
    /// receive buffer is dropped by the switch at once, nothing waits for buffers.
    pub fn enable_notifications(&mut self) -> Result<bool, VirtioNetError> {
        if let PortState::Down(e) = self.state {
            return Err(e);
        }
        self.transmitq
            .enable_notification()
            .map_err(|error| self.ring_error(NetQueue::Transmit, error))
    }

    /// While polling: ask the driver not to kick (best effort).
    pub fn disable_notifications(&mut self) {
        self.transmitq.disable_notification();
    }

    /// Records a virtqueue error; a fatal one takes the port down. Returns it typed.
    fn ring_error(&mut self, queue: NetQueue, error: virtqueue::Error) -> VirtioNetError {
        let e = VirtioNetError::Ring { queue, error };
        self.note(e);
        e
    }

    /// Counts nothing; remembers `e` and takes the port down when it is fatal.
    fn note(&mut self, e: VirtioNetError) {
        self.stats.last_error = Some(e);
        if e.is_fatal() && self.state == PortState::Up {
            self.state = PortState::Down(e);
        }
    }

    fn is_down(&self) -> bool {
        self.state != PortState::Up
    }
}

impl<
        H: MemoryHandle,
        const FRAME: usize,
        const SLOTS: usize,
        const CHAINS: usize,
        const N: usize,
        const S: usize,
    > FrameLink for VirtioNetPort<H, FRAME, SLOTS, CHAINS, N, S>
{
    type Error = VirtioNetError;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(usize::from(self.max_frame)).with_checksum(frame_link::ChecksumCaps {
            tx_partial: true,
            rx_offload: self.csum,
        })
    }

    fn link_state(&mut self) -> LinkState {
        if self.is_down() {
            LinkState::Down
        } else {
            LinkState::Up
        }
    }

    /// Frames and bad chains are taken one at a time; a fatal ring error was recorded
    /// and took the port down (`Ok(None)` from then on, [`VirtioNetPort::state`] says
    /// why).
    fn rx_take(&mut self) -> Result<Option<RxSlot>, VirtioNetError> {
        Ok(self.take_frame())
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        self.ingress.frame(slot)
    }

    fn rx_release(&mut self, slot: RxSlot) {
        self.ingress.release(slot)
    }

    fn rx_pending(&self) -> usize {
        usize::from(self.pending)
    }

    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        self.ingress.meta(slot)
    }

    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, VirtioNetError> {
        self.reserve(len)
    }

    fn tx_write(
        &mut self,
        slot: &TxSlot,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), VirtioNetError> {
        self.write(slot, offset, bytes)
    }

    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), VirtioNetError> {
        self.commit(slot, meta)
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        self.abort(slot)
    }
}
