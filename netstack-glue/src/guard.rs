//! [`ChecksumGuard`]: a middleware that verifies receive checksums of *any* smoltcp
//! device and drops and counts corrupt frames, for stacks of middlewares where frames can
//! be changed after the adapter (`ChecksumGuard<FaultInjector<GlueDevice<L>>>`).
//!
//! It copies each received frame into its own buffer to look at it before the stack
//! does (the lower token must be consumed to be read), then hands out a token over that
//! copy. A corrupt frame makes `receive` return `None` (one frame dropped per call: the
//! stack polls again).

use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;

use crate::checksum::verify;
use crate::stats::AdapterDrop;
use frame_link::MAX_FRAME;

/// What a [`ChecksumGuard`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// Frames passed to the stack.
    pub passed: u64,
    /// Frames dropped for a wrong checksum.
    pub bad_checksum: u64,
    /// IP frames dropped as malformed.
    pub malformed: u64,
}

/// Verifies receive checksums of the device `D`, dropping and counting corrupt frames: a
/// corrupt frame makes `receive` return `None` (one frame per call; the stack polls again).
#[derive(Debug)]
pub struct ChecksumGuard<D> {
    inner: D,
    buf: [u8; MAX_FRAME],
    stats: GuardStats,
}

impl<D: Device> ChecksumGuard<D> {
    /// A guard over `inner`.
    pub fn new(inner: D) -> Self {
        ChecksumGuard {
            inner,
            buf: [0; MAX_FRAME],
            stats: GuardStats::default(),
        }
    }

    /// What the guard saw.
    pub fn stats(&self) -> GuardStats {
        self.stats
    }

    /// The device below.
    pub fn get_ref(&self) -> &D {
        &self.inner
    }

    /// The device below, mutably.
    pub fn get_mut(&mut self) -> &mut D {
        &mut self.inner
    }
}

/// The receive token of a [`ChecksumGuard`]: a verified copy of the frame.
#[derive(Debug)]
pub struct GuardRxToken<'a> {
    frame: &'a [u8],
    meta: phy::PacketMeta,
}

impl phy::RxToken for GuardRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.frame)
    }

    fn meta(&self) -> phy::PacketMeta {
        self.meta
    }
}

impl<D: Device> Device for ChecksumGuard<D> {
    type RxToken<'a>
        = GuardRxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.inner.receive(timestamp)?;
        let meta = phy::RxToken::meta(&rx);
        let buf = &mut self.buf;
        let n = phy::RxToken::consume(rx, |f| {
            let n = f.len().min(MAX_FRAME);
            buf[..n].copy_from_slice(&f[..n]);
            n
        });
        let frame = &self.buf[..n];
        match verify(frame, false) {
            Ok(()) => {
                self.stats.passed += 1;
                Some((GuardRxToken { frame, meta }, tx))
            }
            Err(AdapterDrop::RxMalformed) => {
                self.stats.malformed += 1;
                None
            }
            Err(_) => {
                self.stats.bad_checksum += 1;
                None
            }
        }
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(timestamp)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}
