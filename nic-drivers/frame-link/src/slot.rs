//! [`RxSlot`] and [`TxSlot`]: owned handles to one frame of a link.

/// Defines an owned slot handle type (index + length).
macro_rules! slot_handle {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, PartialEq, Eq)]
        pub struct $name {
            index: u16,
            len: u32,
        }

        impl $name {
            #[doc = concat!("A handle for slot `index` ", $what, " of `len` bytes (for link implementors).")]
            #[inline]
            pub const fn new(index: u16, len: usize) -> Self {
                let len = if len > u32::MAX as usize { u32::MAX } else { len as u32 };
                $name { index, len }
            }
            /// The link's slot index.
            #[inline]
            pub const fn index(&self) -> u16 {
                self.index
            }
            /// The length in bytes.
            #[inline]
            pub const fn len(&self) -> usize {
                self.len as usize
            }
            /// `true` for length 0 (never for a handle a link handed out).
            #[inline]
            pub const fn is_empty(&self) -> bool {
                self.len == 0
            }
        }
    };
}

slot_handle!(
    /// An owned handle to a received frame: the link's slot index and the frame length.
    ///
    /// Not `Clone`: giving it back with [`FrameLink::rx_release`](crate::FrameLink::rx_release)
    /// consumes it.
    RxSlot,
    "holding a frame"
);

slot_handle!(
    /// An owned handle to a transmit slot reserved for one frame: the link's slot index
    /// and the frame length.
    ///
    /// Not `Clone`: [`FrameLink::tx_commit`](crate::FrameLink::tx_commit) or
    /// [`FrameLink::tx_abort`](crate::FrameLink::tx_abort) consumes it.
    TxSlot,
    "reserved for a frame"
);

impl TxSlot {
    /// The same reservation for a frame of at most `len` bytes: a stack that reserves
    /// the largest frame before it knows the length (smoltcp's transmit token) commits
    /// the shorter frame it built. The length never grows.
    #[inline]
    pub fn shrink(self, len: usize) -> TxSlot {
        TxSlot::new(self.index, len.min(self.len()))
    }
}
