//! virtio-net driver (VirtIO 1.x 5.1) over any [`crate::transport::Transport`].
//!
//! # Using it
//!
//! ```text
//! let transport = MmioTransport::new(hal.mmio_map(0x1000_8000, mmio::WINDOW_LEN)?)?;
//! let mut net: VirtioNet<'_, MyHal, _> = VirtioNet::new(&hal, transport, NetConfig::default())?;
//! let mac = net.mac_address();
//! // then the `FrameLink` calls: tx_reserve / tx_write / tx_commit, rx_take / rx_frame /
//! // rx_release, service(budget) (publishes and kicks once per batch).
//! ```
//!
//! `VirtioNet<'h, H, T, Q, R>`: `H` the [`crate::Hal`] (borrowed for `'h`), `T` the
//! transport (owned), `Q` the largest ring size (private per-descriptor state is sized by
//! it), `R` the private receive slots (each [`BUFFER_LEN`] bytes: a received header and
//! frame are copied into one together). No heap: DMA memory comes from
//! [`crate::Hal::dma_alloc`] (rings, `rx_buffers` buffers of [`BUFFER_LEN`] bytes,
//! `tx_buffers` buffers of [`BUFFER_LEN`] + 64 bytes, so that each transmitted frame
//! starts at a 32-byte boundary, one control buffer) and is freed on drop after a device
//! reset.
//!
//! # Trust
//!
//! The device is hostile. Used ids and lengths are validated by `virtqueue`'s
//! [`virtqueue::DriverQueue`] (a violation is fatal: the driver becomes broken); every
//! receive header is copied once into private memory and checked ([`header`]: flags,
//! `gso_type`, `num_buffers`, checksum offsets); frame lengths are bounded; configuration
//! values (MAC, MTU) are read under the generation counter and validated; control
//! commands wait a bounded number of polls. Frames are copied into private slots before
//! the caller sees them.
//!
//! # Polling and interrupts
//!
//! Polling: call [`crate::FrameLink::rx_take`] and [`crate::FrameLink::service`]
//! regularly. Interrupt-driven: [`VirtioNet::enable_interrupts`] (returns `true` when
//! work raced in), on an interrupt [`VirtioNet::ack_interrupt`], then drain with
//! `rx_take`/`poll`.

mod datapath;
mod driver;
pub mod header;

pub use driver::{VirtioNet, BUFFER_LEN, CTRL_QUEUE, RX_QUEUE, TX_QUEUE};

use crate::MacAddress;

bitflags::bitflags! {
    /// virtio-net feature bits (5.1.3) and the generic ones this driver negotiates.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct NetFeatures: u64 {
        /// `VIRTIO_NET_F_CSUM` (0): the device completes partial transmit checksums.
        const CSUM = virtqueue::net::NetFeatures::CSUM.bits();
        /// `VIRTIO_NET_F_GUEST_CSUM` (1): the device may leave receive checksums partial
        /// or mark them valid.
        const GUEST_CSUM = virtqueue::net::NetFeatures::GUEST_CSUM.bits();
        /// `VIRTIO_NET_F_MTU` (3): the device reports its MTU.
        const MTU = virtqueue::net::NetFeatures::MTU.bits();
        /// `VIRTIO_NET_F_MAC` (5): the device reports its MAC address.
        const MAC = virtqueue::net::NetFeatures::MAC.bits();
        /// `VIRTIO_NET_F_MRG_RXBUF` (15): a frame may span several receive buffers.
        const MRG_RXBUF = virtqueue::net::NetFeatures::MRG_RXBUF.bits();
        /// `VIRTIO_NET_F_STATUS` (16): link status in the configuration.
        const STATUS = virtqueue::net::NetFeatures::STATUS.bits();
        /// `VIRTIO_NET_F_CTRL_VQ` (17): control queue.
        const CTRL_VQ = virtqueue::net::NetFeatures::CTRL_VQ.bits();
        /// `VIRTIO_NET_F_CTRL_RX` (18): promiscuous and all-multicast commands.
        const CTRL_RX = virtqueue::net::NetFeatures::CTRL_RX.bits();
        /// `VIRTIO_NET_F_CTRL_MAC_ADDR` (23): set the MAC through the control queue.
        const CTRL_MAC_ADDR = virtqueue::net::NetFeatures::CTRL_MAC_ADDR.bits();
        /// `VIRTIO_F_ANY_LAYOUT` (27, legacy): header and frame may share a descriptor.
        const ANY_LAYOUT = 1 << 27;
        /// `VIRTIO_F_INDIRECT_DESC` (28): not negotiated (chains are one descriptor).
        const INDIRECT_DESC = virtqueue::Features::INDIRECT_DESC.bits();
        /// `VIRTIO_F_RING_EVENT_IDX` (29): event-index notification suppression.
        const RING_EVENT_IDX = virtqueue::Features::RING_EVENT_IDX.bits();
        /// `VIRTIO_F_VERSION_1` (32): modern device.
        const VERSION_1 = virtqueue::Features::VERSION_1.bits();
        /// `VIRTIO_F_ACCESS_PLATFORM` (33): device addresses go through the HAL's `share`.
        const ACCESS_PLATFORM = virtqueue::Features::ACCESS_PLATFORM.bits();
        /// `VIRTIO_F_RING_PACKED` (34): packed virtqueues (chosen when offered).
        const RING_PACKED = virtqueue::Features::RING_PACKED.bits();
        /// `VIRTIO_F_ORDER_PLATFORM` (36): hardware-strength barriers.
        const ORDER_PLATFORM = virtqueue::Features::ORDER_PLATFORM.bits();
    }
}

impl NetFeatures {
    /// Everything this driver can use (all but `INDIRECT_DESC`).
    pub const SUPPORTED: NetFeatures = NetFeatures::all().difference(NetFeatures::INDIRECT_DESC);
}

/// Driver configuration for [`VirtioNet::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetConfig {
    /// Features to negotiate (intersected with [`NetFeatures::SUPPORTED`] and what the
    /// device offers).
    pub features: NetFeatures,
    /// Largest ring size to use (rounded down to a power of two; also capped by `Q` and
    /// the device).
    pub queue_size: u16,
    /// Receive buffers to post (capped by the ring).
    pub rx_buffers: u16,
    /// Transmit buffers (capped by the ring).
    pub tx_buffers: u16,
    /// MAC to use when the device does not report one (`MAC` not offered).
    pub fallback_mac: MacAddress,
    /// Polls of the control queue before a command times out.
    pub ctrl_spins: u32,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            features: NetFeatures::SUPPORTED,
            queue_size: 256,
            rx_buffers: 64,
            tx_buffers: 64,
            fallback_mac: MacAddress([0x02, 0, 0, 0, 0, 1]),
            ctrl_spins: 1 << 20,
        }
    }
}
