//! [`VirtioNet`]: set-up (status state machine, feature negotiation, configuration,
//! queues, buffers), the control queue, interrupts and tear-down.

use virtqueue::{AnyDriverQueue, Buffer, Features, QueueConfig, SharedMemory, VolatileSlice};

use super::header::{config, ctrl, HeaderRules, HEADER_LEN};
use super::{NetConfig, NetFeatures};
use crate::transport::{
    init_device, queue_layout, read_config_consistent, DeviceStatus, InterruptStatus, Transport,
    DEVICE_TYPE_NET, LEGACY_ALIGN,
};
use crate::{BufferDirection, Error, FrameMeta, Hal, LinkState, LinkStats, MacAddress, MAX_FRAME};

/// Receive queue index.
pub const RX_QUEUE: u16 = 0;
/// Transmit queue index.
pub const TX_QUEUE: u16 = 1;
/// Control queue index (one queue pair).
pub const CTRL_QUEUE: u16 = 2;

/// Bytes of each receive and transmit DMA buffer: a 12-byte header and a full frame.
pub const BUFFER_LEN: usize = 1536;

/// Ring size of the control queue (one command is outstanding at a time).
const CTRL_RING: usize = 8;
/// Bytes of the control buffer: command (class, command, up to 30 bytes of data) at 0,
/// acknowledgement byte at [`CTRL_ACK`].
const CTRL_BUF: usize = 64;
const CTRL_ACK: usize = 32;
/// Marker written to the ack byte before a command: a device that does not write it is
/// detected.
const ACK_UNSET: u8 = 0xff;

/// Distance between two transmit buffers: each holds its header just before a 32-byte
/// boundary ([`TX_FRAME_AT`]), so that the frame copy into it starts aligned.
pub(super) const TX_STRIDE: usize = BUFFER_LEN + 64;
/// Offset of the frame in a transmit buffer's stride (the header ends there).
pub(super) const TX_FRAME_AT: usize = 32;

/// Bytes of a private receive slot: the header as the device wrote it (copied together
/// with the frame, in one copy from the start of the buffer) and a frame of up to
/// [`MAX_FRAME`] bytes; as long as a receive buffer, so that copies can move whole
/// 32-byte blocks.
pub(super) const SLOT_LEN: usize = BUFFER_LEN;
const _: () = assert!(SLOT_LEN >= HEADER_LEN + MAX_FRAME);

/// Marks "no buffer" in the token → buffer maps.
pub(super) const NONE: u16 = u16::MAX;

/// DMA allocations, freed on drop (after the device was reset by [`VirtioNet`]'s drop).
pub(super) struct DmaAllocations<'h, H: Hal> {
    hal: &'h H,
    list: heapless::Vec<(u64, usize), 8>,
}

impl<'h, H: Hal> DmaAllocations<'h, H> {
    fn alloc(&mut self, len: usize, align: usize) -> Result<u64, Error> {
        if self.list.is_full() {
            return Err(Error::Unsupported {
                what: "more than 8 DMA allocations",
            });
        }
        let paddr = self.hal.dma_alloc(len, align)?;
        // Cannot fail: checked `is_full` above.
        let _ = self.list.push((paddr, len));
        Ok(paddr)
    }
}

impl<H: Hal> Drop for DmaAllocations<'_, H> {
    fn drop(&mut self) {
        for &(paddr, len) in self.list.iter().rev() {
            self.hal.dma_dealloc(paddr, len);
        }
    }
}

/// Transmit buffer state (private).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TxState {
    Free,
    Reserved(u16),
    InFlight,
}

/// A virtio-net device: see the [module documentation](super).
pub struct VirtioNet<'h, H: Hal, T: Transport, const Q: usize = 256, const R: usize = 16> {
    pub(super) hal: &'h H,
    pub(super) transport: T,
    pub(super) features: NetFeatures,
    pub(super) rules: HeaderRules,
    /// Header in its own descriptor (legacy without `ANY_LAYOUT`).
    pub(super) split_header: bool,
    pub(super) mac: MacAddress,
    pub(super) mtu: u16,
    pub(super) rx: AnyDriverQueue<'h, H::Memory, Q>,
    pub(super) tx: AnyDriverQueue<'h, H::Memory, Q>,
    pub(super) ctrl: Option<AnyDriverQueue<'h, H::Memory, CTRL_RING>>,
    pub(super) ctrl_buf: u64,
    pub(super) ctrl_dev: u64,
    pub(super) ctrl_spins: u32,
    pub(super) promiscuous: bool,
    pub(super) all_multicast: bool,
    pub(super) rx_base: u64,
    /// All receive buffers, translated once at set-up.
    pub(super) rx_mem: VolatileSlice<'h>,
    pub(super) rx_count: u16,
    pub(super) rx_dev: [u64; Q],
    pub(super) rx_by_token: [u16; Q],
    pub(super) tx_base: u64,
    /// All transmit buffers, translated once at set-up.
    pub(super) tx_mem: VolatileSlice<'h>,
    pub(super) tx_count: u16,
    pub(super) tx_dev: [u64; Q],
    pub(super) tx_by_token: [u16; Q],
    pub(super) tx_state: [TxState; Q],
    pub(super) tx_free: [u16; Q],
    pub(super) tx_free_len: u16,
    pub(super) slots: [[u8; SLOT_LEN]; R],
    /// Frame length of each slot; 0 when the slot is free.
    pub(super) slot_len: [u16; R],
    pub(super) slot_meta: [FrameMeta; R],
    pub(super) slot_free: [u16; R],
    pub(super) slot_free_len: u16,
    pub(super) stats: LinkStats,
    pub(super) link: crate::event::LinkWatch,
    pub(super) broken: bool,
    /// Receive buffers reposted but not yet published.
    pub(super) rx_unpublished: u16,
    /// Reposted receive buffers are published by `rx_take` in batches of this many (a
    /// quarter of them; the device keeps at least three quarters meanwhile).
    pub(super) rx_kick_at: u16,
    /// Frames committed but not yet published.
    pub(super) tx_unpublished: u16,
    pub(super) _dma: DmaAllocations<'h, H>,
}

impl<H: Hal, T: Transport, const Q: usize, const R: usize> core::fmt::Debug
    for VirtioNet<'_, H, T, Q, R>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtioNet")
            .field("mac", &self.mac)
            .field("features", &self.features)
            .field("rx", &self.rx)
            .field("tx", &self.tx)
            .field("stats", &self.stats)
            .field("broken", &self.broken)
            .finish()
    }
}

/// Largest power of two ≤ `n` (0 for 0).
fn pow2_floor(n: u16) -> u16 {
    if n == 0 {
        0
    } else {
        1 << (15 - n.leading_zeros())
    }
}

impl<'h, H: Hal, T: Transport, const Q: usize, const R: usize> VirtioNet<'h, H, T, Q, R> {
    /// Bring the device up: reset, negotiate, read and validate the configuration, set up
    /// the receive, transmit (and control) queues, post the receive buffers, `DRIVER_OK`.
    ///
    /// On error the device is left `FAILED` and every DMA allocation is freed.
    pub fn new(hal: &'h H, mut transport: T, cfg: NetConfig) -> Result<Self, Error> {
        let r = Self::setup(hal, &mut transport, cfg);
        match r {
            Ok(parts) => Ok(Self::assemble(hal, transport, cfg, parts)),
            Err(e) => {
                let s = transport.status();
                transport.set_status(s | DeviceStatus::FAILED);
                Err(e)
            }
        }
    }

    fn setup(hal: &'h H, transport: &mut T, cfg: NetConfig) -> Result<Setup<'h, H, Q>, Error> {
        if transport.device_type() != DEVICE_TYPE_NET {
            return Err(Error::NoDevice {
                found: transport.device_type(),
            });
        }
        if transport.is_legacy() && cfg!(target_endian = "big") {
            return Err(Error::Unsupported {
                what: "legacy (guest-endian) devices on a big-endian CPU",
            });
        }
        let wanted = cfg.features & NetFeatures::SUPPORTED;
        let negotiated = init_device(transport, wanted.bits())?;
        let features = NetFeatures::from_bits_truncate(negotiated);
        let legacy = transport.is_legacy();
        let rules = HeaderRules {
            merged: features.contains(NetFeatures::MRG_RXBUF),
            has_num_buffers: !legacy || features.contains(NetFeatures::MRG_RXBUF),
            guest_csum: features.contains(NetFeatures::GUEST_CSUM),
        };
        let (mac, mtu) = read_identity(transport, features, cfg.fallback_mac)?;
        let mut dma = DmaAllocations {
            hal,
            list: heapless::Vec::new(),
        };
        let vq_features = Features::from_bits_truncate(negotiated)
            & (Features::RING_EVENT_IDX | Features::ORDER_PLATFORM | Features::RING_PACKED);
        let packed = vq_features.contains(Features::RING_PACKED);
        let align = if legacy { LEGACY_ALIGN } else { 4 };
        let cap = pow2_floor(cfg.queue_size.min(u16::try_from(Q).unwrap_or(u16::MAX)));
        let mut make_queue = |q: u16, cap: u16| -> Result<(virtqueue::QueueConfig, u16), Error> {
            let max = transport.max_queue_size(q);
            let size = pow2_floor(max.min(cap));
            if size == 0 {
                return Err(Error::Unsupported {
                    what: "a missing or zero-sized virtqueue",
                });
            }
            // Split or packed layout, as negotiated (the transport takes the same three
            // addresses: descriptors, driver area, device area).
            let layout = |base: u64| {
                if packed {
                    (
                        QueueConfig::contiguous_packed(base, size),
                        QueueConfig::contiguous_packed_bytes(size),
                    )
                } else {
                    queue_layout(base, size, align)
                }
            };
            let (_, bytes) = layout(0);
            let bytes = usize::try_from(bytes).map_err(|_| Error::Unsupported {
                what: "a ring larger than the address space",
            })?;
            let paddr = dma.alloc(bytes, LEGACY_ALIGN as usize)?;
            let dev = hal.share(paddr, bytes, BufferDirection::Both)?;
            transport.setup_queue(q, &layout(dev).0)?;
            Ok((layout(paddr).0, size))
        };
        let (rx_cfg, rx_size) = make_queue(RX_QUEUE, cap)?;
        let (tx_cfg, tx_size) = make_queue(TX_QUEUE, cap)?;
        let ctrl_cfg = if features.contains(NetFeatures::CTRL_VQ) {
            Some(make_queue(CTRL_QUEUE, CTRL_RING as u16)?.0)
        } else {
            None
        };
        let mem = hal.memory();
        let rx = AnyDriverQueue::new(mem, rx_cfg, vq_features)?;
        let tx = AnyDriverQueue::new(mem, tx_cfg, vq_features)?;
        let ctrl = match ctrl_cfg {
            Some(c) => Some(AnyDriverQueue::new(mem, c, vq_features)?),
            None => None,
        };
        let split_header = legacy && !features.contains(NetFeatures::ANY_LAYOUT);
        let per_chain = if split_header { 2 } else { 1 };
        let rx_count = cfg.rx_buffers.min(rx_size / per_chain).max(1);
        let tx_count = cfg.tx_buffers.min(tx_size / per_chain).max(1);
        let rx_bytes = usize::from(rx_count) * BUFFER_LEN;
        let tx_bytes = usize::from(tx_count) * TX_STRIDE;
        let rx_base = dma.alloc(rx_bytes, 64)?;
        let tx_base = dma.alloc(tx_bytes, 64)?;
        let rx_mem = mem.slice(rx_base, rx_bytes)?;
        let tx_mem = mem.slice(tx_base, tx_bytes)?;
        let ctrl_buf = if ctrl.is_some() {
            dma.alloc(CTRL_BUF, 64)?
        } else {
            0
        };
        Ok(Setup {
            features,
            rules,
            split_header,
            mac,
            mtu,
            rx,
            tx,
            ctrl,
            ctrl_buf,
            rx_base,
            rx_mem,
            rx_count,
            tx_base,
            tx_mem,
            tx_count,
            dma,
        })
    }

    fn assemble(hal: &'h H, transport: T, cfg: NetConfig, s: Setup<'h, H, Q>) -> Self {
        let mut net = VirtioNet {
            hal,
            transport,
            features: s.features,
            rules: s.rules,
            split_header: s.split_header,
            mac: s.mac,
            mtu: s.mtu,
            rx: s.rx,
            tx: s.tx,
            ctrl: s.ctrl,
            ctrl_buf: s.ctrl_buf,
            ctrl_dev: 0,
            ctrl_spins: cfg.ctrl_spins,
            promiscuous: false,
            all_multicast: false,
            rx_base: s.rx_base,
            rx_mem: s.rx_mem,
            rx_count: s.rx_count,
            rx_dev: [0; Q],
            rx_by_token: [NONE; Q],
            tx_base: s.tx_base,
            tx_mem: s.tx_mem,
            tx_count: s.tx_count,
            tx_dev: [0; Q],
            tx_by_token: [NONE; Q],
            tx_state: [TxState::Free; Q],
            tx_free: core::array::from_fn(|i| i as u16),
            tx_free_len: s.tx_count,
            slots: [[0; SLOT_LEN]; R],
            slot_len: [0; R],
            slot_meta: [FrameMeta::NONE; R],
            slot_free: core::array::from_fn(|i| i as u16),
            slot_free_len: u16::try_from(R).unwrap_or(u16::MAX),
            stats: LinkStats::default(),
            link: crate::event::LinkWatch::new(),
            broken: false,
            rx_unpublished: 0,
            rx_kick_at: (s.rx_count / 4).max(1),
            tx_unpublished: 0,
            _dma: s.dma,
        };
        for b in 0..net.rx_count {
            if net.post_rx(b).is_err() {
                net.broken = true;
            }
        }
        net.rx.publish();
        net.rx_unpublished = 0;
        let status = DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER | DeviceStatus::DRIVER_OK;
        let status = if net.transport.is_legacy() {
            status
        } else {
            status | DeviceStatus::FEATURES_OK
        };
        net.transport.set_status(status);
        net.transport.notify(RX_QUEUE);
        net
    }

    /// The negotiated features.
    pub fn features(&self) -> NetFeatures {
        self.features
    }

    /// The MAC address (as the device reported it, or as last set).
    pub fn mac(&self) -> MacAddress {
        self.mac
    }

    /// Whether a fatal device violation broke the driver.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably (diagnostics and tests).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Transmit buffers free for [`crate::FrameLink::tx_reserve`] right now.
    pub fn tx_free(&self) -> u16 {
        self.tx_free_len
    }

    /// Read and acknowledge the interrupt cause (call from the interrupt handler).
    pub fn ack_interrupt(&mut self) -> InterruptStatus {
        self.transport.ack_interrupt()
    }

    /// Ask for used-buffer interrupts on both queues. Returns `true` when used buffers
    /// are already waiting: drain them before sleeping.
    pub fn enable_interrupts(&mut self) -> bool {
        let rx = self.rx.enable_used_notifications();
        let tx = self.tx.enable_used_notifications();
        rx || tx
    }

    /// Ask the device not to interrupt (polling mode; best effort).
    pub fn disable_interrupts(&mut self) {
        self.rx.disable_used_notifications();
        self.tx.disable_used_notifications();
    }

    /// Link state from the configuration (`Unknown` without `STATUS`).
    pub fn read_link_state(&mut self) -> Result<LinkState, Error> {
        if !self.features.contains(NetFeatures::STATUS) {
            return Ok(LinkState::Unknown);
        }
        let s = read_config_consistent(&mut self.transport, |t| t.read_config16(config::STATUS))?;
        let now = if s & config::STATUS_LINK_UP != 0 {
            LinkState::Up
        } else {
            LinkState::Down
        };
        Ok(self.link.observe("virtio-net", now))
    }

    /// Count a device violation; fatal queue errors break the driver.
    pub(super) fn device_error(&mut self, e: Error) -> Error {
        if let Error::Queue(q) = e {
            if q.is_fatal() || q == virtqueue::Error::Broken {
                self.broken = true;
            }
        }
        if e.is_device_violation() {
            event!(warn, "nic-drivers: virtio-net device violation: {}", e);
            self.stats.device_errors = self.stats.device_errors.wrapping_add(1);
        }
        e
    }

    /// Run one control command: `data` (at most 30 bytes) after `class`/`command`, wait
    /// at most `ctrl_spins` polls for the acknowledgement.
    pub(super) fn ctrl_command(
        &mut self,
        class: u8,
        command: u8,
        data: &[u8],
    ) -> Result<(), Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        let Some(queue) = self.ctrl.as_mut() else {
            return Err(Error::Unsupported {
                what: "control queue (CTRL_VQ not negotiated)",
            });
        };
        if data.len() + 2 > CTRL_ACK {
            return Err(Error::Unsupported {
                what: "control command data above 30 bytes",
            });
        }
        // A command that timed out earlier may have completed since.
        while queue.free_descriptors() < 2 {
            match queue.pop_used() {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Error::Timeout {
                        what: "earlier control command",
                    })
                }
                Err(e) => return Err(self.device_error(e.into())),
            }
        }
        let mem = self.hal.memory();
        let view = mem.slice(self.ctrl_buf, CTRL_BUF)?;
        view.write_from(0, &[class, command])?;
        view.write_from(2, data)?;
        view.write_from(CTRL_ACK, &[ACK_UNSET])?;
        self.ctrl_dev = self
            .hal
            .share(self.ctrl_buf, CTRL_BUF, BufferDirection::Both)?;
        let cmd = Buffer::new(self.ctrl_dev, (data.len() + 2) as u32);
        let ack = Buffer::new(self.ctrl_dev + CTRL_ACK as u64, 1);
        let r = queue.add(&[cmd], &[ack]);
        if let Err(e) = r {
            self.hal.unshare(
                self.ctrl_dev,
                self.ctrl_buf,
                CTRL_BUF,
                BufferDirection::Both,
            );
            return Err(self.device_error(e.into()));
        }
        queue.publish();
        self.transport.notify(CTRL_QUEUE);
        for _ in 0..self.ctrl_spins {
            let Some(queue) = self.ctrl.as_mut() else {
                break;
            };
            match queue.pop_used() {
                Ok(Some(_)) => {
                    self.hal.unshare(
                        self.ctrl_dev,
                        self.ctrl_buf,
                        CTRL_BUF,
                        BufferDirection::Both,
                    );
                    let mut a = [0u8];
                    view.read_into(CTRL_ACK, &mut a)?;
                    return if a[0] == ctrl::OK {
                        Ok(())
                    } else {
                        Err(Error::CommandFailed {
                            class,
                            command,
                            ack: a[0],
                        })
                    };
                }
                Ok(None) => core::hint::spin_loop(),
                Err(e) => return Err(self.device_error(e.into())),
            }
        }
        Err(Error::Timeout {
            what: "control command",
        })
    }
}

/// What `setup` produced.
struct Setup<'h, H: Hal, const Q: usize> {
    features: NetFeatures,
    rules: HeaderRules,
    split_header: bool,
    mac: MacAddress,
    mtu: u16,
    rx: AnyDriverQueue<'h, H::Memory, Q>,
    tx: AnyDriverQueue<'h, H::Memory, Q>,
    ctrl: Option<AnyDriverQueue<'h, H::Memory, CTRL_RING>>,
    ctrl_buf: u64,
    rx_base: u64,
    rx_mem: VolatileSlice<'h>,
    rx_count: u16,
    tx_base: u64,
    tx_mem: VolatileSlice<'h>,
    tx_count: u16,
    dma: DmaAllocations<'h, H>,
}

/// Read MAC and MTU under the generation counter and validate them.
fn read_identity<T: Transport + ?Sized>(
    transport: &mut T,
    features: NetFeatures,
    fallback: MacAddress,
) -> Result<(MacAddress, u16), Error> {
    let (mac, mtu) = read_config_consistent(transport, |t| {
        let mut mac = [0u8; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = t.read_config8(config::MAC + i);
        }
        (MacAddress(mac), t.read_config16(config::MTU))
    })?;
    let mac = if features.contains(NetFeatures::MAC) {
        if !mac.is_unicast() {
            return Err(Error::ConfigInvalid {
                field: "mac",
                value: mac.0.iter().fold(0u64, |a, &b| a << 8 | u64::from(b)),
            });
        }
        mac
    } else {
        fallback
    };
    let mtu = if features.contains(NetFeatures::MTU) {
        if mtu < 68 {
            return Err(Error::ConfigInvalid {
                field: "mtu",
                value: u64::from(mtu),
            });
        }
        mtu.min(1500)
    } else {
        1500
    };
    Ok((mac, mtu))
}

impl<H: Hal, T: Transport, const Q: usize, const R: usize> Drop for VirtioNet<'_, H, T, Q, R> {
    fn drop(&mut self) {
        // Reset first: the device stops using the rings and buffers before `dma` (a field,
        // dropped after this) frees them.
        self.transport.set_status(DeviceStatus::empty());
        // A modern device may complete the reset later (4.1.4.3.2): wait, bounded.
        for _ in 0..crate::transport::RESET_SPINS {
            if self.transport.status().is_empty() {
                break;
            }
            core::hint::spin_loop();
        }
    }
}
