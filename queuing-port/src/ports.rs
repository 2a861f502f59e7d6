//! Const-generic typed port handles: direction and sizes fixed at compile time.
//!
//! Obtained from a [`StartContext`](crate::StartContext) (checked against the channel
//! table) or attached directly to a region when the integrator wires channels by hand.
//! Every operation is non-blocking and copies to or from a caller buffer: no heap.

use crate::error::Error;
use crate::layout::Geometry;
use crate::queuing::{Dims, QueueReceiver, QueueSender, QueuingPortStatus, Received};
use crate::region::Region;
use crate::sampling::{
    SampleReader, SampleWriter, SampledMessage, SamplingPortCurrentStatus, SamplingPortStatus,
};

fn check_sizes(g: &Geometry, msg: usize, cap: Option<usize>) -> Result<(), Error> {
    if g.max_message_size as usize != msg {
        return Err(Error::InvalidConfig {
            what: "max_message_size",
            value: g.max_message_size as u64,
        });
    }
    if let Some(n) = cap {
        if g.capacity as usize != n {
            return Err(Error::InvalidConfig {
                what: "max_nb_message",
                value: g.capacity as u64,
            });
        }
    }
    Ok(())
}

/// The typed port's constant sizes must be the ones resolved from the region (they are
/// whenever `check_sizes` passed; this keeps it so if the layout rules change).
fn check_dims(resolved: Dims, typed: Dims) -> Result<(), Error> {
    if resolved != typed {
        return Err(Error::InvalidConfig {
            what: "typed port sizes",
            value: typed.slot_words as u64,
        });
    }
    Ok(())
}

/// Source of a sampling channel with messages of at most `MSG` bytes.
#[derive(Debug)]
pub struct SamplingPortSource<'r, const MSG: usize> {
    inner: SampleWriter<'r>,
}

impl<'r, const MSG: usize> SamplingPortSource<'r, MSG> {
    /// Attach to a formatted region (`g.max_message_size` must be `MSG`).
    pub fn attach(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        check_sizes(g, MSG, None)?;
        Ok(Self {
            inner: SampleWriter::attach(region, g)?,
        })
    }

    /// Write (overwrite) the message, stamped `now` (ns).
    #[inline]
    pub fn write(&mut self, msg: &[u8], now: u64) -> Result<(), Error> {
        self.inner.write(msg, now)
    }

    /// Port status.
    pub fn status(&self) -> SamplingPortStatus {
        self.inner.status()
    }
}

/// Destination of a sampling channel with messages of at most `MSG` bytes.
#[derive(Debug)]
pub struct SamplingPortDestination<'r, const MSG: usize> {
    inner: SampleReader<'r>,
}

impl<'r, const MSG: usize> SamplingPortDestination<'r, MSG> {
    /// Attach to a formatted region (`g.max_message_size` must be `MSG`).
    pub fn attach(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        check_sizes(g, MSG, None)?;
        Ok(Self {
            inner: SampleReader::attach(region, g)?,
        })
    }

    /// Read the latest message (see [`SampleReader::read`]).
    #[inline]
    pub fn read(&mut self, buf: &mut [u8; MSG], now: u64) -> Result<SampledMessage, Error> {
        self.inner.read(buf, now)
    }

    /// Read only a message not read yet (see [`SampleReader::read_updated`]).
    pub fn read_updated(&mut self, buf: &mut [u8; MSG], now: u64) -> Result<SampledMessage, Error> {
        self.inner.read_updated(buf, now)
    }

    /// Read only a message written at or after `ref_time` (see
    /// [`SampleReader::read_conditional`]).
    pub fn read_conditional(
        &mut self,
        buf: &mut [u8; MSG],
        ref_time: u64,
        now: u64,
    ) -> Result<SampledMessage, Error> {
        self.inner.read_conditional(buf, ref_time, now)
    }

    /// Port status.
    pub fn status(&self) -> SamplingPortStatus {
        self.inner.status()
    }

    /// Part 2 current status.
    pub fn current_status(&self, now: u64) -> SamplingPortCurrentStatus {
        self.inner.current_status(now)
    }
}

/// Source of a queuing channel: messages of at most `MSG` bytes, depth `N`.
#[derive(Debug)]
pub struct QueuingPortSender<'r, const MSG: usize, const N: usize> {
    inner: QueueSender<'r>,
}

impl<'r, const MSG: usize, const N: usize> QueuingPortSender<'r, MSG, N> {
    /// Attach to a formatted region (`g` must say `MSG` and `N`).
    pub fn attach(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        check_sizes(g, MSG, Some(N))?;
        let inner = QueueSender::attach(region, g)?;
        check_dims(inner.dims(), Self::DIMS)?;
        Ok(Self { inner })
    }

    const DIMS: Dims = Dims::typed::<MSG, N>();

    /// Send without waiting (see [`QueueSender::try_send`]); the sizes are compile-time
    /// constants here.
    #[inline]
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), Error> {
        self.inner.send_with(msg, Self::DIMS)
    }

    /// Publish the write index every `batch` sends (see
    /// [`QueueSender::set_publish_batch`]).
    pub fn set_publish_batch(&mut self, batch: u32) {
        self.inner.set_publish_batch(batch)
    }

    /// Publish the write index now.
    pub fn flush(&mut self) {
        self.inner.flush()
    }

    /// Port status.
    pub fn status(&mut self) -> Result<QueuingPortStatus, Error> {
        self.inner.status()
    }

    /// The runtime-sized core, e.g. for the blocking layer.
    pub fn into_inner(self) -> QueueSender<'r> {
        self.inner
    }
}

/// Destination of a queuing channel: messages of at most `MSG` bytes, depth `N`.
#[derive(Debug)]
pub struct QueuingPortReceiver<'r, const MSG: usize, const N: usize> {
    inner: QueueReceiver<'r>,
}

impl<'r, const MSG: usize, const N: usize> QueuingPortReceiver<'r, MSG, N> {
    /// Attach to a formatted region (`g` must say `MSG` and `N`).
    pub fn attach(region: Region<'r>, g: &Geometry) -> Result<Self, Error> {
        check_sizes(g, MSG, Some(N))?;
        let inner = QueueReceiver::attach(region, g)?;
        check_dims(inner.dims(), Self::DIMS)?;
        Ok(Self { inner })
    }

    const DIMS: Dims = Dims::typed::<MSG, N>();

    /// Receive without waiting (see [`QueueReceiver::try_receive`]); the sizes are
    /// compile-time constants here.
    #[inline]
    pub fn try_receive(&mut self, buf: &mut [u8; MSG]) -> Result<Received, Error> {
        self.inner.receive_with(buf, Self::DIMS)
    }

    /// Publish the read index every `batch` receives (see
    /// [`QueueReceiver::set_publish_batch`]).
    pub fn set_publish_batch(&mut self, batch: u32) {
        self.inner.set_publish_batch(batch)
    }

    /// Publish the read index now.
    pub fn flush(&mut self) {
        self.inner.flush()
    }

    /// Discard all messages (APEX `CLEAR_QUEUING_PORT`).
    pub fn clear(&mut self) -> Result<(), Error> {
        self.inner.clear()
    }

    /// Port status.
    pub fn status(&mut self) -> Result<QueuingPortStatus, Error> {
        self.inner.status()
    }

    /// The runtime-sized core, e.g. for the blocking layer.
    pub fn into_inner(self) -> QueueReceiver<'r> {
        self.inner
    }
}
