//! The crate's error type: every way a peer, a transport or a caller can be wrong.

use core::fmt;

/// Everything that can go wrong in this crate. Each variant names the rule that was
/// broken and carries the offending values.
///
/// Errors marked *fatal* in their documentation leave the queue `Broken`: every later
/// call on that queue returns [`Error::Broken`] until it is reset (re-created). All other
/// errors concern one chain only, and the queue goes on serving the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(all(feature = "defmt", target_os = "none"), derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    // ---- configuration (transport / integrator) ----
    /// The queue size is zero, not a power of two, or above the limit.
    InvalidQueueSize {
        /// The size asked for.
        size: u16,
        /// The largest size this queue type supports (its const-generic capacity).
        max: u16,
    },
    /// A ring part does not start at the alignment VirtIO 1.x (2.7) requires.
    Misaligned {
        /// Which part: `"descriptor table"`, `"avail ring"` or `"used ring"`.
        part: &'static str,
        /// Its address.
        addr: u64,
        /// The required alignment in bytes.
        align: u64,
    },
    /// An address range is not (entirely) inside the memory the peer can reach.
    OutOfMemory {
        /// Start of the range (peer address).
        addr: u64,
        /// Length of the range in bytes.
        len: u64,
    },
    /// An offset/length pair is outside a [`crate::VolatileSlice`].
    SliceBounds {
        /// Offset asked for.
        offset: usize,
        /// Length asked for.
        len: usize,
        /// Length of the slice.
        slice_len: usize,
    },
    /// Feature negotiation failed: a feature this crate needs is missing.
    FeatureMissing {
        /// The missing feature bits.
        bits: u64,
    },

    // ---- driver side: caller errors ----
    /// Not enough free descriptors for the chain.
    QueueFull {
        /// Descriptors the chain needs.
        needed: u16,
        /// Descriptors free.
        free: u16,
    },
    /// A chain with no buffer at all.
    EmptyChain,
    /// A chain's writable buffers add up to more than 2^32 - 1 bytes.
    ChainTooLarge {
        /// Total bytes (saturating).
        total: u64,
    },

    // ---- driver side: the device broke the protocol (all fatal) ----
    /// The device moved `used.idx` by more than the queue size (fatal).
    UsedIndexJump {
        /// Used index last consumed by the driver.
        last: u16,
        /// Used index the device published.
        published: u16,
    },
    /// A used element names a descriptor id outside the queue (fatal).
    UsedIdOutOfRange {
        /// The id written by the device.
        id: u32,
        /// The queue size.
        size: u16,
    },
    /// A used element names a descriptor that is not the head of an outstanding chain: a
    /// free descriptor, a descriptor in the middle of a chain, or one already returned
    /// (fatal).
    UsedIdNotOutstanding {
        /// The id written by the device.
        id: u32,
    },
    /// A used element reports more bytes written than the chain's writable buffers hold
    /// (fatal).
    UsedLengthTooLong {
        /// The descriptor id.
        id: u16,
        /// Length reported by the device.
        len: u32,
        /// Writable bytes the driver posted.
        writable: u32,
    },

    // ---- device side: the driver broke the protocol ----
    /// The driver moved `avail.idx` by more than the queue size (fatal).
    AvailIndexJump {
        /// Next avail index the device expects.
        next: u16,
        /// Avail index the driver published.
        published: u16,
    },
    /// A chain head read from the avail ring is outside the descriptor table.
    HeadOutOfRange {
        /// The head index.
        head: u16,
        /// The queue size.
        size: u16,
    },
    /// A `next` field points outside the (direct or indirect) descriptor table.
    NextOutOfRange {
        /// Chain head.
        head: u16,
        /// The `next` value.
        next: u16,
        /// Entries in the table being walked.
        table_len: u32,
    },
    /// The chain visits the same descriptor twice.
    ChainLoop {
        /// Chain head.
        head: u16,
        /// The descriptor visited twice.
        index: u16,
    },
    /// The chain (counting indirect entries) is longer than the queue size.
    ChainTooLong {
        /// Chain head.
        head: u16,
        /// Descriptors in the chain (at least).
        len: u32,
        /// The queue size.
        size: u16,
    },
    /// The chain has more segments than the `DescriptorChain` capacity `S` (an
    /// implementation limit, see the README).
    TooManySegments {
        /// Chain head.
        head: u16,
        /// The capacity.
        capacity: usize,
    },
    /// A buffer of the chain is not inside the memory the driver may use.
    BufferOutOfMemory {
        /// Chain head.
        head: u16,
        /// Buffer address.
        addr: u64,
        /// Buffer length.
        len: u32,
    },
    /// A readable (device-read) buffer follows a writable one (VirtIO 2.7.4.2).
    ReadableAfterWritable {
        /// Chain head.
        head: u16,
        /// Position of the offending descriptor in the chain.
        position: u32,
    },
    /// The chain's buffers (both directions) add up to more than 2^32 - 1 bytes.
    ChainBytesOverflow {
        /// Chain head.
        head: u16,
    },
    /// An indirect descriptor was used without `INDIRECT_DESC` negotiated.
    IndirectNotNegotiated {
        /// Chain head.
        head: u16,
    },
    /// An indirect descriptor also has `NEXT` set, or is not the only descriptor of the
    /// chain (VirtIO 2.7.5.3.1).
    IndirectInChain {
        /// Chain head.
        head: u16,
    },
    /// An indirect table's length is zero or not a multiple of 16.
    IndirectLength {
        /// Chain head.
        head: u16,
        /// The length in bytes.
        len: u32,
    },
    /// An indirect table contains an indirect descriptor (only one level is allowed).
    NestedIndirect {
        /// Chain head.
        head: u16,
    },

    // ---- packed rings ----
    /// A descriptor inside a packed chain does not carry the `AVAIL`/`USED` bits of the
    /// lap it is in (wrong wrap counter): the ring can no longer be followed (fatal).
    WrapMismatch {
        /// Ring offset of the descriptor.
        offset: u16,
        /// Its flags as read.
        flags: u16,
    },
    /// A packed chain does not end within the ring (`NEXT` on `size` descriptors in a row):
    /// the start of the next chain is unknown (fatal).
    UnterminatedChain {
        /// Ring offset of the chain's first descriptor.
        offset: u16,
        /// The queue size.
        size: u16,
    },
    /// A packed buffer id is not below the queue size (the chain is consumed and cannot be
    /// returned).
    BufferIdOutOfRange {
        /// The id.
        id: u16,
        /// The queue size.
        size: u16,
    },
    /// The driver made a buffer id available that the device still holds (the chain is
    /// consumed; the outstanding one stays valid).
    BufferIdInUse {
        /// The id.
        id: u16,
    },
    /// A packed indirect table entry has `NEXT` set (2.8.7: entries follow each other).
    NextInIndirect {
        /// Buffer id (or the chain's first offset when the id is not known yet).
        head: u16,
    },
    /// The device returned an id it does not hold (a caller error on the device side).
    NotHeld {
        /// The id.
        id: u16,
    },
    /// The device reported more bytes than the chain's writable buffers hold (a caller
    /// error on the device side; nothing was written).
    LengthAboveWritable {
        /// The id.
        id: u16,
        /// The length asked for.
        len: u32,
        /// The chain's writable bytes.
        writable: u32,
    },
    /// With `IN_ORDER`, the device side was asked to return a chain that is not the oldest
    /// it holds (a caller error on the device side; nothing was written).
    NotOldest {
        /// The id asked for.
        id: u16,
        /// The oldest held id, if any.
        oldest: Option<u16>,
    },

    // ---- chain payload access ----
    /// A payload read or write went past the chain's buffers.
    PayloadBounds {
        /// Bytes asked for.
        wanted: usize,
        /// Bytes left.
        available: usize,
    },

    /// The queue detected a fatal protocol violation earlier and stays broken (sticky).
    Broken,
}

impl Error {
    /// Whether this error leaves the queue broken (the peer broke the ring protocol as a
    /// whole rather than one chain).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::UsedIndexJump { .. }
                | Error::UsedIdOutOfRange { .. }
                | Error::UsedIdNotOutstanding { .. }
                | Error::UsedLengthTooLong { .. }
                | Error::AvailIndexJump { .. }
                | Error::WrapMismatch { .. }
                | Error::UnterminatedChain { .. }
                | Error::Broken
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InvalidQueueSize { size, max } => {
                write!(f, "queue size {size} is not a power of two in 1..={max}")
            }
            Error::Misaligned { part, addr, align } => {
                write!(f, "{part} at {addr:#x} is not {align}-byte aligned")
            }
            Error::OutOfMemory { addr, len } => {
                write!(f, "range {addr:#x}+{len:#x} is outside the shared memory")
            }
            Error::SliceBounds { offset, len, slice_len } => write!(
                f,
                "range {offset}+{len} is outside a slice of {slice_len} bytes"
            ),
            Error::FeatureMissing { bits } => {
                write!(f, "required feature bits {bits:#x} were not offered")
            }
            Error::QueueFull { needed, free } => {
                write!(f, "chain needs {needed} descriptors but only {free} are free")
            }
            Error::EmptyChain => write!(f, "a chain needs at least one buffer"),
            Error::ChainTooLarge { total } => {
                write!(f, "chain buffers add up to {total} bytes, above 2^32 - 1")
            }
            Error::UsedIndexJump { last, published } => write!(
                f,
                "device moved used.idx from {last} to {published}, more than the queue size"
            ),
            Error::UsedIdOutOfRange { id, size } => {
                write!(f, "device returned id {id}, outside the queue of {size}")
            }
            Error::UsedIdNotOutstanding { id } => write!(
                f,
                "device returned id {id}, which is not the head of an outstanding chain"
            ),
            Error::UsedLengthTooLong { id, len, writable } => write!(
                f,
                "device reported {len} bytes written to chain {id}, which has {writable} writable bytes"
            ),
            Error::AvailIndexJump { next, published } => write!(
                f,
                "driver moved avail.idx to {published} while the device expects {next}: more than the queue size"
            ),
            Error::HeadOutOfRange { head, size } => {
                write!(f, "chain head {head} is outside the queue of {size}")
            }
            Error::NextOutOfRange { head, next, table_len } => write!(
                f,
                "chain {head}: next index {next} is outside a table of {table_len} entries"
            ),
            Error::ChainLoop { head, index } => {
                write!(f, "chain {head} visits descriptor {index} twice")
            }
            Error::ChainTooLong { head, len, size } => write!(
                f,
                "chain {head} has at least {len} descriptors, more than the queue size {size}"
            ),
            Error::TooManySegments { head, capacity } => write!(
                f,
                "chain {head} has more than {capacity} segments (the chain capacity)"
            ),
            Error::BufferOutOfMemory { head, addr, len } => write!(
                f,
                "chain {head}: buffer {addr:#x}+{len:#x} is outside the shared memory"
            ),
            Error::ReadableAfterWritable { head, position } => write!(
                f,
                "chain {head}: descriptor {position} is readable but follows a writable one"
            ),
            Error::ChainBytesOverflow { head } => {
                write!(f, "chain {head}: buffers add up to more than 2^32 - 1 bytes")
            }
            Error::IndirectNotNegotiated { head } => write!(
                f,
                "chain {head}: indirect descriptor without INDIRECT_DESC negotiated"
            ),
            Error::IndirectInChain { head } => write!(
                f,
                "chain {head}: indirect descriptor combined with NEXT or inside a chain"
            ),
            Error::IndirectLength { head, len } => write!(
                f,
                "chain {head}: indirect table length {len} is zero or not a multiple of 16"
            ),
            Error::NestedIndirect { head } => {
                write!(f, "chain {head}: indirect table contains an indirect descriptor")
            }
            Error::WrapMismatch { offset, flags } => write!(
                f,
                "packed descriptor at offset {offset} has flags {flags:#06x}: AVAIL/USED bits of the wrong lap"
            ),
            Error::UnterminatedChain { offset, size } => write!(
                f,
                "packed chain at offset {offset} does not end within the ring of {size}"
            ),
            Error::BufferIdOutOfRange { id, size } => {
                write!(f, "buffer id {id} is outside the queue of {size}")
            }
            Error::BufferIdInUse { id } => {
                write!(f, "buffer id {id} made available again while still outstanding")
            }
            Error::NextInIndirect { head } => {
                write!(f, "chain {head}: NEXT set inside a packed indirect table")
            }
            Error::NotHeld { id } => write!(f, "id {id} is not a chain the device holds"),
            Error::LengthAboveWritable { id, len, writable } => write!(
                f,
                "used length {len} for chain {id} is above its {writable} writable bytes"
            ),
            Error::NotOldest { id, oldest } => match oldest {
                Some(o) => write!(f, "IN_ORDER: chain {id} returned before the older chain {o}"),
                None => write!(f, "IN_ORDER: chain {id} returned but no chain is held"),
            },
            Error::PayloadBounds { wanted, available } => write!(
                f,
                "payload access of {wanted} bytes with only {available} bytes left in the chain"
            ),
            Error::Broken => write!(f, "the queue is broken by an earlier protocol violation"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

impl Error {
    /// The head of the chain a per-chain device-side error is about, when it is a valid
    /// descriptor index (split) or buffer id (packed) the device can hand back with
    /// `add_used(head, 0)`.
    pub fn chain_head(&self) -> Option<u16> {
        let mut e = *self;
        e.head_field().map(|h| *h)
    }

    /// The same per-chain error about chain `head` (packed rings learn the buffer id only
    /// at the chain's last descriptor). Other errors are returned unchanged.
    pub(crate) fn with_head(self, id: u16) -> Error {
        let mut e = self;
        if let Some(h) = e.head_field() {
            *h = id;
        }
        e
    }

    fn head_field(&mut self) -> Option<&mut u16> {
        match self {
            Error::NextOutOfRange { head, .. }
            | Error::ChainLoop { head, .. }
            | Error::ChainTooLong { head, .. }
            | Error::TooManySegments { head, .. }
            | Error::BufferOutOfMemory { head, .. }
            | Error::ReadableAfterWritable { head, .. }
            | Error::ChainBytesOverflow { head }
            | Error::IndirectNotNegotiated { head }
            | Error::IndirectInChain { head }
            | Error::IndirectLength { head, .. }
            | Error::NestedIndirect { head }
            | Error::NextInIndirect { head } => Some(head),
            _ => None,
        }
    }
}
