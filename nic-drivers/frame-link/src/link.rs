//! The [`FrameLink`] trait.

use crate::{FrameMeta, LinkCaps, LinkFault, LinkState, RxSlot, TxSlot};

/// A link that moves whole Ethernet frames (header included, FCS excluded) in both
/// directions through owned slot handles.
///
/// Everything that carries frames implements it: a NIC driver, a switch port, a channel
/// pair between partitions, a test double. A switch takes any link as a port (its uplink
/// is a driver, a partition's port a channel), and a network stack runs over any link.
///
/// # Receive
///
/// [`rx_take`](Self::rx_take) hands out the next frame as an [`RxSlot`];
/// [`rx_frame`](Self::rx_frame) shows its bytes and [`rx_meta`](Self::rx_meta) its
/// offload metadata until [`rx_release`](Self::rx_release) gives the slot back.
///
/// # Transmit
///
/// [`tx_reserve`](Self::tx_reserve) reserves room for a frame of `len` bytes;
/// [`tx_write`](Self::tx_write) / [`tx_write_frame`](Self::tx_write_frame) copy bytes in
/// (or [`tx_buffer`](Self::tx_buffer) lends the slot's private memory to build the frame
/// in place); [`tx_commit`](Self::tx_commit) hands it to the peer with its metadata;
/// [`tx_abort`](Self::tx_abort) gives it back unsent. A reservation may be committed
/// shorter than it was reserved ([`TxSlot::shrink`]), never longer.
///
/// # Contract for implementors
///
/// * **Private memory.** `rx_frame` returns bytes no peer can change while the slot is
///   held: a link over shared memory copies the frame into private memory on `rx_take`
///   (read once, then validated: no double fetch), an in-process link keeps the slot
///   borrowed. `tx_buffer` lends only memory the peer cannot see before the commit.
/// * **Validated metadata.** `rx_meta` is plain values the link checked when it read
///   them (a checksum start inside the frame, a segmentation type it negotiated).
/// * **Hostile handles.** Handles are plain values: a link checks every handle it gets
///   back (index in range, slot handed out and not yet returned, length within the
///   slot) and refuses a bad one with an error of kind
///   [`BadSlot`](crate::ErrorKind::BadSlot) — or ignores it in `rx_release` and
///   `tx_abort` — never with a panic.
/// * **Bounded work.** Every call does a bounded amount of work; `rx_take` and
///   `tx_reserve` handle one frame, [`service`](Self::service) takes a budget. Nothing
///   waits.
/// * **Hostile peer.** A peer's protocol violation is an error of kind
///   [`Peer`](crate::ErrorKind::Peer) (counted, the frame or the link given up), never a
///   panic, an out-of-bounds access or an unbounded loop.
///
/// Provided methods have defaults; a wrapper that forwards a link forwards all of them
/// (the impls for `&mut L`, `Box<L>` and [`link_enum!`](crate::link_enum) do).
pub trait FrameLink {
    /// The link's own typed error.
    type Error: LinkFault;

    /// Frame size, offloads, station address.
    fn caps(&self) -> LinkCaps;

    /// Whether the link carries frames (may read a device register; no waiting). The
    /// default: [`LinkState::Unknown`].
    #[inline]
    fn link_state(&mut self) -> LinkState {
        LinkState::Unknown
    }

    /// Bounded housekeeping: publish committed frames and notify the peer, take back at
    /// most `budget` transmitted buffers, repost receive buffers, read the peer's
    /// notifications. A switch calls it for every port once per poll, a stack adapter
    /// once per poll of the stack. The default does nothing.
    #[inline]
    fn service(&mut self, budget: u16) -> Result<(), Self::Error> {
        let _ = budget;
        Ok(())
    }

    /// Takes the next received frame: `Ok(None)` when none is waiting (or no private slot
    /// is free to take it into).
    fn rx_take(&mut self) -> Result<Option<RxSlot>, Self::Error>;

    /// The bytes of a taken frame (private memory, `slot.len()` bytes). Empty for a handle
    /// this link did not hand out.
    fn rx_frame(&self, slot: &RxSlot) -> &[u8];

    /// The validated offload metadata of a taken frame. The default: none.
    #[inline]
    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        let _ = slot;
        FrameMeta::NONE
    }

    /// Gives a taken frame's slot back.
    fn rx_release(&mut self, slot: RxSlot);

    /// Frames waiting to be taken, if the link can tell cheaply; 0 otherwise (the
    /// default). A switch bounds the frames held back by a rate budget with it.
    #[inline]
    fn rx_pending(&self) -> usize {
        0
    }

    /// Reserves room for one frame of `len` bytes: `Ok(None)` when the peer has no room
    /// now; an error of kind [`FrameLength`](crate::ErrorKind::FrameLength) for a length
    /// the link never takes.
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, Self::Error>;

    /// Free transmit slots now (not counting reservations held), if the link can tell
    /// (the default: `None`).
    #[inline]
    fn tx_room(&self) -> Option<usize> {
        None
    }

    /// Copies `data` into a reserved slot at `offset` (inside the reservation).
    fn tx_write(&mut self, slot: &TxSlot, offset: usize, data: &[u8]) -> Result<(), Self::Error>;

    /// Writes a whole frame, `header` then `payload`, from the start of a reserved slot.
    /// The default calls [`tx_write`](Self::tx_write) twice; a link may do it with one
    /// bounds check.
    #[inline]
    fn tx_write_frame(
        &mut self,
        slot: &TxSlot,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), Self::Error> {
        if !header.is_empty() {
            self.tx_write(slot, 0, header)?;
        }
        self.tx_write(slot, header.len(), payload)
    }

    /// The reserved slot's memory to build the frame in place (`slot.len()` bytes), if the
    /// link has private memory the peer cannot see before the commit; `None` (the
    /// default) means: write with [`tx_write`](Self::tx_write).
    #[inline]
    fn tx_buffer(&mut self, slot: &TxSlot) -> Option<&mut [u8]> {
        let _ = slot;
        None
    }

    /// Hands the frame (`slot.len()` bytes) to the peer with its offload metadata. It
    /// reaches the peer at the latest with the next [`service`](Self::service).
    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), Self::Error>;

    /// Gives a reservation back unsent.
    fn tx_abort(&mut self, slot: TxSlot);

    /// Sends one frame, `header` then `payload`, with `meta`, in one call: `Ok(true)`
    /// sent, `Ok(false)` no room now (nothing changed), an error if the link refused it
    /// (nothing sent, no slot held). The default calls [`tx_reserve`](Self::tx_reserve),
    /// [`tx_write_frame`](Self::tx_write_frame) and [`tx_commit`](Self::tx_commit)
    /// ([`tx_abort`](Self::tx_abort) if the write fails); a link may do it without
    /// handing out and checking a handle in between.
    // Always inlined: one call made of three, which a data path calls once per frame.
    #[inline(always)]
    fn tx_send(
        &mut self,
        header: &[u8],
        payload: &[u8],
        meta: FrameMeta,
    ) -> Result<bool, Self::Error> {
        let Some(slot) = self.tx_reserve(header.len() + payload.len())? else {
            return Ok(false);
        };
        if let Err(e) = self.tx_write_frame(&slot, header, payload) {
            self.tx_abort(slot);
            return Err(e);
        }
        self.tx_commit(slot, meta).map(|()| true)
    }
}

/// Forwards every method of [`FrameLink`] through `$via` (an expression of `self`).
macro_rules! forward_all {
    ($via:ident) => {
        type Error = L::Error;
        #[inline]
        fn caps(&self) -> LinkCaps {
            L::caps(&**self)
        }
        #[inline]
        fn link_state(&mut self) -> LinkState {
            L::link_state(&mut **self)
        }
        #[inline]
        fn service(&mut self, budget: u16) -> Result<(), Self::Error> {
            L::service(&mut **self, budget)
        }
        #[inline]
        fn rx_take(&mut self) -> Result<Option<RxSlot>, Self::Error> {
            L::rx_take(&mut **self)
        }
        #[inline]
        fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
            L::rx_frame(&**self, slot)
        }
        #[inline]
        fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
            L::rx_meta(&**self, slot)
        }
        #[inline]
        fn rx_release(&mut self, slot: RxSlot) {
            L::rx_release(&mut **self, slot)
        }
        #[inline]
        fn rx_pending(&self) -> usize {
            L::rx_pending(&**self)
        }
        #[inline]
        fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, Self::Error> {
            L::tx_reserve(&mut **self, len)
        }
        #[inline]
        fn tx_room(&self) -> Option<usize> {
            L::tx_room(&**self)
        }
        #[inline]
        fn tx_write(
            &mut self,
            slot: &TxSlot,
            offset: usize,
            data: &[u8],
        ) -> Result<(), Self::Error> {
            L::tx_write(&mut **self, slot, offset, data)
        }
        #[inline]
        fn tx_write_frame(
            &mut self,
            slot: &TxSlot,
            header: &[u8],
            payload: &[u8],
        ) -> Result<(), Self::Error> {
            L::tx_write_frame(&mut **self, slot, header, payload)
        }
        #[inline]
        fn tx_buffer(&mut self, slot: &TxSlot) -> Option<&mut [u8]> {
            L::tx_buffer(&mut **self, slot)
        }
        #[inline]
        fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), Self::Error> {
            L::tx_commit(&mut **self, slot, meta)
        }
        #[inline]
        fn tx_abort(&mut self, slot: TxSlot) {
            L::tx_abort(&mut **self, slot)
        }
        #[inline(always)]
        fn tx_send(
            &mut self,
            header: &[u8],
            payload: &[u8],
            meta: FrameMeta,
        ) -> Result<bool, Self::Error> {
            L::tx_send(&mut **self, header, payload, meta)
        }
    };
}

impl<L: FrameLink + ?Sized> FrameLink for &mut L {
    forward_all!(deref);
}

/// Boxed links (feature `alloc`): a large link off the stack, or `Box<dyn FrameLink<Error
/// = E>>` for ports of different types that share an error type.
#[cfg(feature = "alloc")]
impl<L: FrameLink + ?Sized> FrameLink for alloc::boxed::Box<L> {
    forward_all!(deref);
}
