//! [`GlueDevice`]: a smoltcp [`phy::Device`] over any [`FrameLink`].
//!
//! * Tokens reserve their slot when handed out: [`phy::Device::transmit`] (and
//!   [`phy::Device::receive`], whose pair carries a transmit token) reserves a transmit
//!   slot on the link first and returns `None` when none is free. A token dropped without
//!   being consumed gives its slot back on `Drop` (smoltcp issue 1147: a leaked slot
//!   silences the stack for good). A receive token dropped unread gives its frame back
//!   and counts it ([`AdapterDrop::RxUnconsumed`](crate::AdapterDrop::RxUnconsumed)).
//! * The MTU is always set (from the link's largest frame, at most 1514 bytes: IP MTU
//!   1500); `max_burst_size` is the link's free transmit slots when it can tell (at
//!   least 1), `None` otherwise.
//! * Checksums: transmit checksums are always computed by smoltcp. Receive checksums
//!   follow [`RxChecksum`]: by default the adapter verifies them (skipping the
//!   transport checksum of frames the link marked verified) and drops and counts corrupt
//!   frames, and smoltcp is told not to verify again.

use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use frame_link::{FrameLink, RxSlot, TxSlot, MAX_FRAME, MIN_FRAME};

use crate::core::Shared;
use crate::stats::AdapterStats;

/// Largest Ethernet MTU (header included) the adapters announce: IP MTU 1500.
pub const MAX_ETHERNET_MTU: usize = 1514;

/// Smallest Ethernet MTU announced: IPv4's minimum IP MTU (68) plus the header, so
/// smoltcp's segment-size arithmetic never underflows. A link that cannot carry that
/// refuses the longer frames (counted as link errors), it does not make the stack panic.
pub const MIN_ETHERNET_MTU: usize = 14 + 68;

/// Who verifies receive checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RxChecksum {
    /// The adapter verifies them (like a NIC's receive offload), drops and counts corrupt
    /// frames; smoltcp does not verify again. The default.
    #[default]
    Adapter,
    /// Both verify: for middlewares that may corrupt frames *after* the adapter (smoltcp's
    /// `FaultInjector` on the receive side).
    Both,
    /// Only smoltcp verifies (its drops are not counted here).
    Stack,
}

impl RxChecksum {
    pub(crate) fn glue_verifies(self) -> bool {
        matches!(self, RxChecksum::Adapter | RxChecksum::Both)
    }
}

/// How an adapter is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceConfig {
    /// Who verifies receive checksums.
    pub rx_checksum: RxChecksum,
    /// IP MTU override (bytes after the Ethernet header); `None`: from the link, at most
    /// 1500.
    pub ip_mtu: Option<u16>,
}

/// A smoltcp device (and, with feature `embassy`, an embassy-net driver through
/// `EmbassyDevice`) over the link `L`.
pub struct GlueDevice<L: FrameLink> {
    pub(crate) shared: Shared<L>,
}

impl<L: FrameLink> GlueDevice<L> {
    /// An adapter over `link`.
    pub fn new(link: L, config: DeviceConfig) -> Self {
        let link_max = link.caps().max_frame.clamp(MIN_FRAME, MAX_FRAME);
        let mtu = match config.ip_mtu {
            Some(ip) => (usize::from(ip) + 14).min(link_max),
            None => link_max.min(MAX_ETHERNET_MTU),
        }
        .max(MIN_ETHERNET_MTU);
        GlueDevice {
            shared: Shared::new(link, mtu, mtu.min(link_max), config.rx_checksum),
        }
    }

    /// The counters.
    pub fn stats(&self) -> AdapterStats {
        self.shared.core.borrow().stats
    }

    /// The Ethernet MTU announced to the stack (header included).
    pub fn mtu(&self) -> usize {
        self.shared.mtu
    }

    /// The link's station address, if it reports one.
    pub fn mac(&self) -> Option<[u8; 6]> {
        self.shared
            .core
            .borrow()
            .link
            .caps()
            .mac
            .map(|m| m.octets())
    }

    /// The link.
    pub fn link(&self) -> core::cell::Ref<'_, L> {
        core::cell::Ref::map(self.shared.core.borrow(), |c| &c.link)
    }

    /// The link, mutably.
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.shared.core.get_mut().link
    }

    /// The link back.
    pub fn into_link(self) -> L {
        self.shared.core.into_inner().link
    }

    /// Bounded link housekeeping (reclaim sent buffers, repost receive buffers, publish,
    /// kick once for the batch): call it once per poll round, e.g. through
    /// [`poll_budget`](crate::poll_budget).
    pub fn service(&mut self, budget: u16) -> Result<(), L::Error> {
        let core = self.shared.core.get_mut();
        let r = core.link.service(budget);
        if let Err(e) = &r {
            core.stats.fault(e);
        }
        r
    }

    /// Whether the link is up.
    pub fn link_up(&mut self) -> bool {
        self.shared.core.get_mut().link.link_state().is_up()
    }

    /// The checksum capabilities announced to the stack.
    pub(crate) fn checksum_caps(&self) -> ChecksumCapabilities {
        let rx = match self.shared.rx_checksum {
            RxChecksum::Adapter => Checksum::Tx,
            RxChecksum::Both | RxChecksum::Stack => Checksum::Both,
        };
        let mut c = ChecksumCapabilities::default();
        c.ipv4 = rx;
        c.udp = rx;
        c.tcp = rx;
        c.icmpv4 = rx;
        c.icmpv6 = rx;
        c
    }

    /// `max_burst_size`: free transmit slots, at least 1, when the link can tell.
    pub(crate) fn burst(&self) -> Option<usize> {
        let core = self.shared.core.try_borrow().ok()?;
        core.link.tx_room().map(|n| n.max(1))
    }
}

impl<L: FrameLink> core::fmt::Debug for GlueDevice<L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GlueDevice")
            .field("mtu", &self.shared.mtu)
            .field(
                "stats",
                &self.shared.core.try_borrow().map(|c| c.stats).ok(),
            )
            .finish()
    }
}

/// The receive token of a [`GlueDevice`]: holds a received frame; dropped unread, it
/// gives the frame back.
pub struct RxToken<'a, L: FrameLink> {
    pub(crate) shared: &'a Shared<L>,
    pub(crate) rx: Option<(RxSlot, usize)>,
}

/// The transmit token of a [`GlueDevice`]: holds a reserved transmit slot; dropped
/// unused, it gives the slot back.
pub struct TxToken<'a, L: FrameLink> {
    pub(crate) shared: &'a Shared<L>,
    pub(crate) tx: Option<TxSlot>,
}

impl<L: FrameLink> RxToken<'_, L> {
    /// Reads the frame with `f` (the link stays borrowed meanwhile), then gives it back.
    pub(crate) fn read<R>(mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        let Some((rx, len)) = self.rx.take() else {
            return f(&[]);
        };
        if let Ok(mut core) = self.shared.core.try_borrow_mut() {
            core.stats.rx(len);
        }
        let r = match self.shared.core.try_borrow() {
            Ok(core) => f(core.link.rx_frame(&rx)),
            Err(_) => f(&[]),
        };
        self.shared.finish_rx(rx, true);
        r
    }
}

impl<L: FrameLink> Drop for RxToken<'_, L> {
    fn drop(&mut self) {
        if let Some((rx, _)) = self.rx.take() {
            self.shared.finish_rx(rx, false);
        }
    }
}

impl<L: FrameLink> TxToken<'_, L> {
    pub(crate) fn write<R>(mut self, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        match self.tx.take() {
            Some(tx) => self.shared.transmit(tx, len, f),
            None => f(&mut [0u8; MAX_FRAME][..len.min(MAX_FRAME)]),
        }
    }
}

impl<L: FrameLink> Drop for TxToken<'_, L> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            self.shared.return_tx(tx);
        }
    }
}

impl<L: FrameLink> phy::RxToken for RxToken<'_, L> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        self.read(f)
    }
}

impl<L: FrameLink> phy::TxToken for TxToken<'_, L> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        self.write(len, f)
    }
}

impl<L: FrameLink> GlueDevice<L> {
    /// The token pair of a receive: a transmit slot first, then a frame.
    pub(crate) fn receive_pair(&mut self) -> Option<(RxToken<'_, L>, TxToken<'_, L>)> {
        let shared = &self.shared;
        let mut core = shared.core.borrow_mut();
        let tx = shared.reserve(&mut core)?;
        let Some(rx) = shared.take_rx(&mut core) else {
            core.link.tx_abort(tx);
            return None;
        };
        drop(core);
        Some((
            RxToken {
                shared,
                rx: Some(rx),
            },
            TxToken {
                shared,
                tx: Some(tx),
            },
        ))
    }

    /// A transmit token with a reserved slot.
    pub(crate) fn transmit_token(&mut self) -> Option<TxToken<'_, L>> {
        let shared = &self.shared;
        let tx = shared.reserve(&mut shared.core.borrow_mut())?;
        Some(TxToken {
            shared,
            tx: Some(tx),
        })
    }
}

impl<L: FrameLink> phy::Device for GlueDevice<L> {
    type RxToken<'a>
        = RxToken<'a, L>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, L>
    where
        Self: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.receive_pair()
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.transmit_token()
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.shared.mtu;
        caps.max_burst_size = self.burst();
        caps.checksum = self.checksum_caps();
        caps
    }
}
