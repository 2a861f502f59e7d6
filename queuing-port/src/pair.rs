//! [`ChannelPair`]: a bidirectional queuing channel between two partitions, built in one
//! call per side.

use crate::error::{Error, RegionError};
use crate::layout::Geometry;
use crate::ports::{QueuingPortReceiver, QueuingPortSender};
use crate::queuing::{QueuingPortStatus, Received};
use crate::region::Region;

/// Which end of a [`ChannelPair`] a partition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Sends on the `a → b` channel, receives on `b → a` (the creator's side).
    A,
    /// Sends on the `b → a` channel, receives on `a → b`.
    B,
}

/// The memory of a channel pair: one region holding both channels, or one region per
/// direction.
#[derive(Debug, Clone, Copy)]
pub enum PairRegion<'r> {
    /// One region: the `a → b` channel in its first [`ChannelPair::channel_words`]
    /// words, `b → a` right after it.
    One(Region<'r>),
    /// One region per direction.
    Two {
        /// The channel side A sends on.
        a_to_b: Region<'r>,
        /// The channel side B sends on.
        b_to_a: Region<'r>,
    },
}

impl<'r> From<Region<'r>> for PairRegion<'r> {
    fn from(r: Region<'r>) -> Self {
        Self::One(r)
    }
}

impl<'r> From<(Region<'r>, Region<'r>)> for PairRegion<'r> {
    /// `(a_to_b, b_to_a)`.
    fn from((a_to_b, b_to_a): (Region<'r>, Region<'r>)) -> Self {
        Self::Two { a_to_b, b_to_a }
    }
}

impl<'r> PairRegion<'r> {
    /// The two channels' regions, `(a_to_b, b_to_a)`, each `words` long at least.
    fn channels(self, words: usize) -> Result<(Region<'r>, Region<'r>), Error> {
        match self {
            Self::One(r) => {
                let all = r.words();
                let too_small = RegionError::TooSmall {
                    needed: (words as u64).saturating_mul(8),
                    got: r.len_bytes() as u64,
                };
                let end = words.checked_mul(2).ok_or(too_small)?;
                let first = all.get(..words).ok_or(too_small)?;
                let second = all.get(words..end).ok_or(too_small)?;
                Ok((Region::new(first), Region::new(second)))
            }
            Self::Two { a_to_b, b_to_a } => Ok((a_to_b, b_to_a)),
        }
    }
}

/// Both directions of a queuing channel between two partitions: messages of at most
/// `MSG` bytes, `N` messages deep each way.
///
/// Side [`Side::A`] sends on the `a → b` channel and receives on `b → a`; side
/// [`Side::B`] the other way round. The two channels live in one region (`a → b` in its
/// first [`channel_words`](Self::channel_words) words, `b → a` right after:
/// [`region_words`](Self::region_words) in all) or in one region each
/// ([`PairRegion::Two`]).
///
/// - [`create`](Self::create): the creator formats both channels and gets side A's end.
/// - [`attach`](Self::attach): the other partition validates both headers against *its*
///   configuration and gets side B's end. The region stays hostile memory, as for every
///   port: the header is checked field by field on attach ([`Geometry::validate`]), then
///   every index and length on use, and a bad value is an [`Error::Corrupt`].
/// - [`format`](Self::format) and [`open`](Self::open): when a third party (a kernel,
///   the integrator) formats the memory and both partitions only attach.
///
/// ```
/// use queuing_port::{AtomicU32, ChannelPair, Region};
///
/// const PAIR: ChannelPair<64, 8> = ChannelPair::new(false);
/// // Memory both partitions map (here: one buffer of atomics in this process).
/// let words: Vec<AtomicU32> = (0..PAIR.region_words()).map(|_| AtomicU32::new(0)).collect();
///
/// let mut a = PAIR.create(Region::new(&words))?; // formats both directions
/// let mut b = PAIR.attach(Region::new(&words))?; // validates both headers
///
/// a.try_send(b"ping")?;
/// let mut buf = [0u8; 64];
/// let m = b.try_receive(&mut buf)?;
/// assert_eq!(&buf[..m.len], b"ping");
/// b.try_send(b"pong")?;
/// assert_eq!(a.try_receive(&mut buf)?.len, 4);
/// # Ok::<(), queuing_port::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPair<const MSG: usize, const N: usize> {
    geometry: Geometry,
}

impl<const MSG: usize, const N: usize> ChannelPair<MSG, N> {
    /// A pair of `MSG`-byte, `N`-deep queuing channels; `drop_on_full` as
    /// [`Geometry::queuing`] (the sender never learns the receiver's state).
    ///
    /// Sizes beyond the layout limits are refused by every call that touches a region
    /// ([`Error::InvalidConfig`]), not here.
    pub const fn new(drop_on_full: bool) -> Self {
        Self {
            geometry: Geometry::queuing(MSG as u32, N as u32, drop_on_full),
        }
    }

    /// The geometry of each of the two channels.
    pub const fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Words of one channel (the size of each region of [`PairRegion::Two`]).
    pub const fn channel_words(&self) -> usize {
        self.geometry.total_words()
    }

    /// Words of one region holding both channels ([`PairRegion::One`]).
    pub const fn region_words(&self) -> usize {
        2 * self.channel_words()
    }

    /// Bytes of one region holding both channels (what to map or allocate).
    pub const fn region_bytes(&self) -> usize {
        4 * self.region_words()
    }

    /// Format both channels in `region`: headers written, indices and slots zeroed.
    /// Done once, by the creator or by whoever sets the system up.
    pub fn format<'r>(&self, region: impl Into<PairRegion<'r>>) -> Result<(), Error> {
        let (a_to_b, b_to_a) = region.into().channels(self.channel_words())?;
        self.geometry.format(&a_to_b)?;
        self.geometry.format(&b_to_a)
    }

    /// Attach `side`'s sender and receiver to formatted channels, each header validated
    /// against this configuration.
    pub fn open<'r>(
        &self,
        region: impl Into<PairRegion<'r>>,
        side: Side,
    ) -> Result<ChannelEnd<'r, MSG, N>, Error> {
        let (a_to_b, b_to_a) = region.into().channels(self.channel_words())?;
        let (tx, rx) = match side {
            Side::A => (a_to_b, b_to_a),
            Side::B => (b_to_a, a_to_b),
        };
        Ok(ChannelEnd {
            sender: QueuingPortSender::attach(tx, &self.geometry)?,
            receiver: QueuingPortReceiver::attach(rx, &self.geometry)?,
            side,
        })
    }

    /// The creator's call: format both channels, then attach side A.
    pub fn create<'r>(
        &self,
        region: impl Into<PairRegion<'r>>,
    ) -> Result<ChannelEnd<'r, MSG, N>, Error> {
        let region = region.into();
        self.format(region)?;
        self.open(region, Side::A)
    }

    /// The other partition's call: validate both channels (formatted by the creator)
    /// and attach side B.
    pub fn attach<'r>(
        &self,
        region: impl Into<PairRegion<'r>>,
    ) -> Result<ChannelEnd<'r, MSG, N>, Error> {
        self.open(region, Side::B)
    }
}

/// One partition's end of a [`ChannelPair`]: a sender on one channel and a receiver on
/// the other. Non-blocking, no heap; every call goes to the typed port.
#[derive(Debug)]
pub struct ChannelEnd<'r, const MSG: usize, const N: usize> {
    sender: QueuingPortSender<'r, MSG, N>,
    receiver: QueuingPortReceiver<'r, MSG, N>,
    side: Side,
}

impl<'r, const MSG: usize, const N: usize> ChannelEnd<'r, MSG, N> {
    /// Which side this end is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Send `msg` to the peer without waiting ([`QueuingPortSender::try_send`]).
    #[inline]
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), Error> {
        self.sender.try_send(msg)
    }

    /// Receive the peer's next message into `buf` without waiting
    /// ([`QueuingPortReceiver::try_receive`]).
    #[inline]
    pub fn try_receive(&mut self, buf: &mut [u8; MSG]) -> Result<Received, Error> {
        self.receiver.try_receive(buf)
    }

    /// Status of the sending channel.
    pub fn sender_status(&mut self) -> Result<QueuingPortStatus, Error> {
        self.sender.status()
    }

    /// Status of the receiving channel.
    pub fn receiver_status(&mut self) -> Result<QueuingPortStatus, Error> {
        self.receiver.status()
    }

    /// The sender, e.g. to set its publication batch.
    pub fn sender(&mut self) -> &mut QueuingPortSender<'r, MSG, N> {
        &mut self.sender
    }

    /// The receiver, e.g. to set its publication batch.
    pub fn receiver(&mut self) -> &mut QueuingPortReceiver<'r, MSG, N> {
        &mut self.receiver
    }

    /// The two ports, `(sender, receiver)`, e.g. for a link adapter.
    pub fn into_parts(
        self,
    ) -> (
        QueuingPortSender<'r, MSG, N>,
        QueuingPortReceiver<'r, MSG, N>,
    ) {
        (self.sender, self.receiver)
    }
}
