//! The port endpoint trait: how a channel, a driver or a test double plugs into the switch.
//!
//! A port endpoint is a pair of slot rings seen from the switch:
//!
//! * **ingress** (frames the peer sent): [`PortEndpoint::rx_take`] hands the switch an
//!   owned [`RxSlot`] (index + length); the bytes stay readable through
//!   [`PortEndpoint::rx_frame`] until the switch gives the slot back with
//!   [`PortEndpoint::rx_release`].
//! * **egress** (frames for the peer): [`PortEndpoint::tx_reserve`] hands out an owned
//!   [`TxSlot`]; the switch writes the frame with [`PortEndpoint::tx_write`] (header and
//!   payload, gather style) and hands it to the peer with [`PortEndpoint::tx_commit`], or
//!   returns it unused with [`PortEndpoint::tx_abort`].
//!
//! Offload metadata (checksum flags of a virtio-net header) travels with a frame through
//! [`PortEndpoint::rx_meta`] and [`PortEndpoint::tx_meta`], adjusted when the switch
//! adds or removes a VLAN tag.
//!
//! Handles are plain values, not borrows of the endpoint, so any number of ports share one
//! switch without `unsafe` and without lifetimes tied to a token.
//!
//! # Contract for implementors
//!
//! * `rx_frame` must return bytes in memory private to the service partition (a
//!   virtio-net or queuing-port adapter copies the frame out of shared memory on
//!   `rx_take`, after the virtio-net header); the switch reads the header from it once,
//!   but an endpoint must never return memory a peer can still write.
//! * `tx_write` copies into the destination (which may be shared memory, several
//!   descriptor chains with `MRG_RXBUF`, or a message buffer) and must check bounds
//!   itself; it returns [`EndpointError`] instead of panicking.
//! * Handles the switch passes back are always ones the same endpoint handed out, each
//!   exactly once.

use core::fmt;

/// Defines an owned slot handle type (index + length).
macro_rules! slot_handle {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, PartialEq, Eq)]
        pub struct $name {
            index: u16,
            len: u16,
        }

        impl $name {
            #[doc = concat!("A handle for slot `index` ", $what, " of `len` bytes (for endpoint authors).")]
            pub const fn new(index: u16, len: u16) -> Self {
                $name { index, len }
            }
            /// The endpoint's slot index.
            pub const fn index(&self) -> u16 {
                self.index
            }
            /// The length in bytes.
            pub const fn len(&self) -> u16 {
                self.len
            }
            /// `true` for length 0.
            pub const fn is_empty(&self) -> bool {
                self.len == 0
            }
        }
    };
}

slot_handle!(
    /// An owned handle to a received frame: slot index and frame length.
    ///
    /// Not `Clone`: giving it back with [`PortEndpoint::rx_release`] consumes it.
    RxSlot,
    "holding a frame"
);

slot_handle!(
    /// An owned handle to a reserved egress slot: slot index and reserved length.
    ///
    /// Not `Clone`: [`PortEndpoint::tx_commit`] or [`PortEndpoint::tx_abort`] consumes it.
    TxSlot,
    "reserved for a frame"
);

/// An endpoint refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointError {
    /// A write past the reserved length: offset, length written, reserved length.
    OutOfBounds {
        /// Where the write started.
        offset: usize,
        /// How many bytes were written.
        len: usize,
        /// The slot's reserved length.
        reserved: usize,
    },
    /// The handle does not name a reserved slot of this endpoint: its index.
    BadSlot(u16),
    /// The peer's buffer turned out unusable (e.g. a malformed descriptor chain).
    Peer,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::OutOfBounds {
                offset,
                len,
                reserved,
            } => write!(
                f,
                "write of {len} bytes at offset {offset} exceeds the reserved {reserved} bytes"
            ),
            EndpointError::BadSlot(i) => write!(f, "slot {i} is not reserved"),
            EndpointError::Peer => write!(f, "the peer's buffer is unusable"),
        }
    }
}

/// Offload metadata carried with a frame through the switch (the checksum fields of a
/// virtio-net header), so a partition's "checksum not yet computed" reaches a port that
/// can finish it. Plain values, read once by the endpoint that produced them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameMeta {
    /// The checksum still has to be computed (`VIRTIO_NET_HDR_F_NEEDS_CSUM`).
    pub needs_csum: bool,
    /// The checksum was already validated (`VIRTIO_NET_HDR_F_DATA_VALID`).
    pub data_valid: bool,
    /// Where checksumming starts, from the first byte of the Ethernet frame.
    pub csum_start: u16,
    /// Where the checksum is stored, from `csum_start`.
    pub csum_offset: u16,
}

impl FrameMeta {
    /// No offload information.
    pub const NONE: FrameMeta = FrameMeta {
        needs_csum: false,
        data_valid: false,
        csum_start: 0,
        csum_offset: 0,
    };

    /// The same metadata for the frame once its header grew from `from` to `to` bytes
    /// (a tag was added or removed). A checksum start inside the header cannot be moved:
    /// the offload request is dropped then (`NONE`).
    #[inline]
    pub fn moved(self, from: usize, to: usize) -> FrameMeta {
        if !self.needs_csum {
            return self;
        }
        let start = usize::from(self.csum_start);
        match (start.checked_sub(from)).and_then(|rest| u16::try_from(rest + to).ok()) {
            Some(csum_start) => FrameMeta { csum_start, ..self },
            None => FrameMeta::NONE,
        }
    }
}

/// One side of a switch port: a channel, a driver or a test double.
///
/// See the [module documentation](self) for the contract.
pub trait PortEndpoint {
    /// Takes the next frame the peer sent, if any.
    fn rx_take(&mut self) -> Option<RxSlot>;
    /// The bytes of a taken frame (private memory; at most `slot.len()` bytes).
    fn rx_frame(&self, slot: &RxSlot) -> &[u8];
    /// Gives a taken slot back to the endpoint.
    fn rx_release(&mut self, slot: RxSlot);
    /// How many frames are waiting to be taken (bounds the rate queue).
    fn rx_pending(&self) -> usize;
    /// Reserves room for one frame of `len` bytes, or `None` when the peer has no room.
    fn tx_reserve(&mut self, len: usize) -> Option<TxSlot>;
    /// Copies `bytes` into a reserved slot at `offset`.
    fn tx_write(&mut self, slot: &TxSlot, offset: usize, bytes: &[u8])
        -> Result<(), EndpointError>;
    /// Writes a whole frame, `header` then `payload`, from the start of a reserved slot.
    ///
    /// The switch writes every frame through this method; the default calls
    /// [`tx_write`](Self::tx_write) twice, an endpoint may do it with one bounds check.
    #[inline]
    fn tx_write_frame(
        &mut self,
        slot: &TxSlot,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), EndpointError> {
        self.tx_write(slot, 0, header)?;
        self.tx_write(slot, header.len(), payload)
    }
    /// Offload metadata of a taken frame; the default has none.
    #[inline]
    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        let _ = slot;
        FrameMeta::NONE
    }
    /// Offload metadata for a reserved slot (called before `tx_commit` when the source
    /// had a flag set; otherwise the endpoint must assume none); the default ignores it.
    #[inline]
    fn tx_meta(&mut self, slot: &TxSlot, meta: FrameMeta) {
        let _ = (slot, meta);
    }
    /// Hands a written slot to the peer.
    fn tx_commit(&mut self, slot: TxSlot);
    /// Returns a reserved slot unused.
    fn tx_abort(&mut self, slot: TxSlot);
}

/// Forwards every method to the pointee.
macro_rules! forward_endpoint {
    () => {
        #[inline]
        fn rx_take(&mut self) -> Option<RxSlot> {
            (**self).rx_take()
        }
        #[inline]
        fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
            (**self).rx_frame(slot)
        }
        #[inline]
        fn rx_release(&mut self, slot: RxSlot) {
            (**self).rx_release(slot)
        }
        #[inline]
        fn rx_pending(&self) -> usize {
            (**self).rx_pending()
        }
        #[inline]
        fn tx_reserve(&mut self, len: usize) -> Option<TxSlot> {
            (**self).tx_reserve(len)
        }
        #[inline]
        fn tx_write(
            &mut self,
            slot: &TxSlot,
            offset: usize,
            bytes: &[u8],
        ) -> Result<(), EndpointError> {
            (**self).tx_write(slot, offset, bytes)
        }
        #[inline]
        fn tx_write_frame(
            &mut self,
            slot: &TxSlot,
            header: &[u8],
            payload: &[u8],
        ) -> Result<(), EndpointError> {
            (**self).tx_write_frame(slot, header, payload)
        }
        #[inline]
        fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
            (**self).rx_meta(slot)
        }
        #[inline]
        fn tx_meta(&mut self, slot: &TxSlot, meta: FrameMeta) {
            (**self).tx_meta(slot, meta)
        }
        #[inline]
        fn tx_commit(&mut self, slot: TxSlot) {
            (**self).tx_commit(slot)
        }
        #[inline]
        fn tx_abort(&mut self, slot: TxSlot) {
            (**self).tx_abort(slot)
        }
    };
}

impl<T: PortEndpoint + ?Sized> PortEndpoint for &mut T {
    forward_endpoint!();
}

/// Boxed endpoints (feature `alloc`): large in-memory endpoints off the stack.
#[cfg(feature = "alloc")]
impl<T: PortEndpoint + ?Sized> PortEndpoint for alloc::boxed::Box<T> {
    forward_endpoint!();
}
