//! [`EmbassyDevice`]: an `embassy_net_driver::Driver` from the same core (feature
//! `embassy`).
//!
//! Same tokens as the smoltcp device (slots reserved when handed out, given back on
//! `Drop`); embassy's receive token hands out `&mut [u8]`, so the frame is copied into a
//! private receive buffer and the link's slot released before the closure runs.
//!
//! Wakers: `receive`, `transmit` and `link_state` store the task's waker when they have
//! nothing to give; the integrator calls [`EmbassyDevice::on_interrupt`] from its
//! interrupt handler or poll loop (after a switch poll, a used-buffer interrupt, a
//! queuing-port event) and the stored waker is woken.

use core::cell::RefCell;
use core::task::{Context, Waker};

use embassy_net_driver::{Capabilities, Checksum, Driver, HardwareAddress, LinkState};

use frame_link::{FrameLink, MAX_FRAME};

use crate::device::{DeviceConfig, GlueDevice, RxToken, TxToken};
use crate::stats::AdapterStats;

/// An embassy-net driver over the link `L`.
pub struct EmbassyDevice<L: FrameLink> {
    dev: GlueDevice<L>,
    rx_buf: RefCell<[u8; MAX_FRAME]>,
    mac: [u8; 6],
    waker: Option<Waker>,
}

impl<L: FrameLink> core::fmt::Debug for EmbassyDevice<L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EmbassyDevice")
            .field("dev", &self.dev)
            .field("mac", &self.mac)
            .finish()
    }
}

impl<L: FrameLink> EmbassyDevice<L> {
    /// A driver over `link`; `mac` is used when the link reports none.
    pub fn new(link: L, config: DeviceConfig, mac: [u8; 6]) -> Self {
        let dev = GlueDevice::new(link, config);
        let mac = dev.mac().unwrap_or(mac);
        EmbassyDevice {
            dev,
            rx_buf: RefCell::new([0; MAX_FRAME]),
            mac,
            waker: None,
        }
    }

    /// Wakes the task waiting on this driver (call from the interrupt handler or after
    /// the peer made progress); returns whether a waker was stored.
    pub fn on_interrupt(&mut self) -> bool {
        match self.waker.take() {
            Some(w) => {
                w.wake();
                true
            }
            None => false,
        }
    }

    /// Bounded link housekeeping (see [`GlueDevice::service`]).
    pub fn service(&mut self, budget: u16) -> Result<(), L::Error> {
        self.dev.service(budget)
    }

    /// The counters.
    pub fn stats(&self) -> AdapterStats {
        self.dev.stats()
    }

    /// The device inside (e.g. to reach the link).
    pub fn device_mut(&mut self) -> &mut GlueDevice<L> {
        &mut self.dev
    }

    fn register(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }
}

/// The receive token of an [`EmbassyDevice`].
pub struct EmbassyRxToken<'a, L: FrameLink> {
    inner: RxToken<'a, L>,
    buf: &'a RefCell<[u8; MAX_FRAME]>,
}

/// The transmit token of an [`EmbassyDevice`].
pub struct EmbassyTxToken<'a, L: FrameLink>(TxToken<'a, L>);

impl<L: FrameLink> embassy_net_driver::RxToken for EmbassyRxToken<'_, L> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let Ok(mut buf) = self.buf.try_borrow_mut() else {
            return f(&mut []);
        };
        let n = self.inner.read(|frame| {
            let n = frame.len().min(MAX_FRAME);
            buf[..n].copy_from_slice(&frame[..n]);
            n
        });
        f(&mut buf[..n])
    }
}

impl<L: FrameLink> embassy_net_driver::TxToken for EmbassyTxToken<'_, L> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        self.0.write(len, f)
    }
}

fn checksum(c: smoltcp::phy::Checksum) -> Checksum {
    match c {
        smoltcp::phy::Checksum::Both => Checksum::Both,
        smoltcp::phy::Checksum::Rx => Checksum::Rx,
        smoltcp::phy::Checksum::Tx => Checksum::Tx,
        smoltcp::phy::Checksum::None => Checksum::None,
    }
}

impl<L: FrameLink> Driver for EmbassyDevice<L> {
    /// Holds a reserved transmit slot (given back on `Drop`).
    type TxToken<'a>
        = EmbassyTxToken<'a, L>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.register(cx);
        let (rx, tx) = self.dev.receive_pair()?;
        Some((
            EmbassyRxToken {
                inner: rx,
                buf: &self.rx_buf,
            },
            EmbassyTxToken(tx),
        ))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<Self::TxToken<'_>> {
        self.register(cx);
        self.dev.transmit_token().map(EmbassyTxToken)
    }

    fn link_state(&mut self, cx: &mut Context<'_>) -> LinkState {
        self.register(cx);
        if self.dev.link_up() {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    fn capabilities(&self) -> Capabilities {
        let c = self.dev.checksum_caps();
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = self.dev.mtu();
        caps.max_burst_size = self.dev.burst();
        caps.checksum.ipv4 = checksum(c.ipv4);
        caps.checksum.udp = checksum(c.udp);
        caps.checksum.tcp = checksum(c.tcp);
        caps.checksum.icmpv4 = checksum(c.icmpv4);
        caps.checksum.icmpv6 = checksum(c.icmpv6);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }

    /// Holds a received frame (copied out to a `&mut` buffer when consumed).
    type RxToken<'a>
        = EmbassyRxToken<'a, L>
    where
        Self: 'a;
}
