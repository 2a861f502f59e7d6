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

/// The virtio-net feature word (device and generic bits), shared with the device side
/// (`vnet-switch`): `virtqueue`'s definition.
pub use virtqueue::net::NetFeatures;

/// Everything this driver can use: the device features it implements (checksum offload
/// both ways, MTU, MAC, merged receive buffers, link status, the control queue with its
/// receive-mode and MAC commands) and the generic ones (legacy `ANY_LAYOUT`, event-index
/// suppression, `VERSION_1`, an IOMMU through the HAL, packed rings, platform barriers).
/// Not `INDIRECT_DESC` (chains are one descriptor) and no segmentation offload.
pub const SUPPORTED_FEATURES: NetFeatures = NetFeatures::CSUM
    .union(NetFeatures::GUEST_CSUM)
    .union(NetFeatures::MTU)
    .union(NetFeatures::MAC)
    .union(NetFeatures::MRG_RXBUF)
    .union(NetFeatures::STATUS)
    .union(NetFeatures::CTRL_VQ)
    .union(NetFeatures::CTRL_RX)
    .union(NetFeatures::CTRL_MAC_ADDR)
    .union(NetFeatures::ANY_LAYOUT)
    .union(NetFeatures::RING_EVENT_IDX)
    .union(NetFeatures::VERSION_1)
    .union(NetFeatures::ACCESS_PLATFORM)
    .union(NetFeatures::RING_PACKED)
    .union(NetFeatures::ORDER_PLATFORM);

/// Driver configuration for [`VirtioNet::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetConfig {
    /// Features to negotiate (intersected with [`SUPPORTED_FEATURES`] and what the
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
            features: SUPPORTED_FEATURES,
            queue_size: 256,
            rx_buffers: 64,
            tx_buffers: 64,
            fallback_mac: MacAddress([0x02, 0, 0, 0, 0, 1]),
            ctrl_spins: 1 << 20,
        }
    }
}
