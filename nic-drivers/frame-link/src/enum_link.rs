//! [`link_enum!`](crate::link_enum): one link type over links of different types, for
//! `no_std` programs whose switch has ports of several kinds.

/// Declares an enum whose variants each hold a link, and implements [`FrameLink`] for it
/// by forwarding **every** method (the provided ones included) to the variant's link.
/// Its error type is a second, generated enum that keeps each variant's typed error.
///
/// A switch takes one port type; this is how an uplink driver, a virtio-net port and a
/// queuing-port pair share one switch with static dispatch, no heap and no
/// hand-written forwarding.
///
/// Generic parameters go in brackets after the name, their bounds in a bracketed `where`.
///
/// ```
/// use frame_link::{link_enum, FrameLink, PairEnd, PortPair};
///
/// # #[derive(Debug)] pub struct Loopback;
/// # impl FrameLink for Loopback {
/// #     type Error = frame_link::LinkError;
/// #     fn caps(&self) -> frame_link::LinkCaps { frame_link::LinkCaps::new(1518) }
/// #     fn rx_take(&mut self) -> Result<Option<frame_link::RxSlot>, Self::Error> { Ok(None) }
/// #     fn rx_frame(&self, _: &frame_link::RxSlot) -> &[u8] { &[] }
/// #     fn rx_release(&mut self, _: frame_link::RxSlot) {}
/// #     fn tx_reserve(&mut self, _: usize) -> Result<Option<frame_link::TxSlot>, Self::Error> { Ok(None) }
/// #     fn tx_write(&mut self, _: &frame_link::TxSlot, _: usize, _: &[u8]) -> Result<(), Self::Error> { Ok(()) }
/// #     fn tx_commit(&mut self, _: frame_link::TxSlot, _: frame_link::FrameMeta) -> Result<(), Self::Error> { Ok(()) }
/// #     fn tx_abort(&mut self, _: frame_link::TxSlot) {}
/// # }
/// link_enum! {
///     /// The ports of a small service partition.
///     pub enum Port['a, U] where [U: FrameLink] {
///         /// The NIC.
///         Uplink(U),
///         /// An in-process partition.
///         Partition(PairEnd<'a, 8>),
///     }
///     /// Why a port failed (each kind keeps its own error).
///     pub enum PortError;
/// }
///
/// let pair = PortPair::<8>::new();
/// let (switch_side, _partition_side) = pair.split();
/// let mut ports: [Port<'_, Loopback>; 2] = [Port::Uplink(Loopback), Port::Partition(switch_side)];
/// for p in &mut ports {
///     assert!(p.rx_take().unwrap().is_none());
/// }
/// assert_eq!(ports[1].caps().max_frame, 1536);
/// ```
///
/// [`FrameLink`]: crate::FrameLink
#[macro_export]
macro_rules! link_enum {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident $([$($g:tt)*])? $(where [$($wc:tt)*])? {
            $($(#[$vattr:meta])* $variant:ident($ty:ty)),+ $(,)?
        }
        $(#[$eattr:meta])*
        $evis:vis enum $err:ident;
    ) => {
        $(#[$attr])*
        $vis enum $name $(<$($g)*>)? $(where $($wc)*)? {
            $($(#[$vattr])* $variant($ty)),+
        }

        $(#[$eattr])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        $evis enum $err<$($variant),+> {
            $(
                #[doc = concat!("The error of the `", stringify!($variant), "` variant.")]
                $variant($variant)
            ),+
        }

        impl<$($variant: core::fmt::Debug),+> core::fmt::Debug for $err<$($variant),+> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self {
                    $($err::$variant(e) => f.debug_tuple(stringify!($variant)).field(e).finish()),+
                }
            }
        }

        impl<$($variant: core::fmt::Display),+> core::fmt::Display for $err<$($variant),+> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self {
                    $($err::$variant(e) => core::fmt::Display::fmt(e, f)),+
                }
            }
        }

        impl<$($variant: $crate::LinkFault),+> $crate::LinkFault for $err<$($variant),+> {
            fn kind(&self) -> $crate::ErrorKind {
                match self {
                    $($err::$variant(e) => e.kind()),+
                }
            }
        }

        impl $(<$($g)*>)? $crate::FrameLink for $name $(<$($g)*>)?
        where
            $($ty: $crate::FrameLink,)+
            $($($wc)*)?
        {
            type Error = $err<$(<$ty as $crate::FrameLink>::Error),+>;

            #[inline]
            fn caps(&self) -> $crate::LinkCaps {
                match self { $($name::$variant(l) => l.caps()),+ }
            }
            #[inline]
            fn link_state(&mut self) -> $crate::LinkState {
                match self { $($name::$variant(l) => l.link_state()),+ }
            }
            #[inline]
            fn service(&mut self, budget: u16) -> Result<(), Self::Error> {
                match self { $($name::$variant(l) => l.service(budget).map_err($err::$variant)),+ }
            }
            #[inline]
            fn rx_take(&mut self) -> Result<Option<$crate::RxSlot>, Self::Error> {
                match self { $($name::$variant(l) => l.rx_take().map_err($err::$variant)),+ }
            }
            #[inline]
            fn rx_frame(&self, slot: &$crate::RxSlot) -> &[u8] {
                match self { $($name::$variant(l) => l.rx_frame(slot)),+ }
            }
            #[inline]
            fn rx_meta(&self, slot: &$crate::RxSlot) -> $crate::FrameMeta {
                match self { $($name::$variant(l) => l.rx_meta(slot)),+ }
            }
            #[inline]
            fn rx_release(&mut self, slot: $crate::RxSlot) {
                match self { $($name::$variant(l) => l.rx_release(slot)),+ }
            }
            #[inline]
            fn rx_pending(&self) -> usize {
                match self { $($name::$variant(l) => l.rx_pending()),+ }
            }
            #[inline]
            fn tx_reserve(&mut self, len: usize) -> Result<Option<$crate::TxSlot>, Self::Error> {
                match self { $($name::$variant(l) => l.tx_reserve(len).map_err($err::$variant)),+ }
            }
            #[inline]
            fn tx_room(&self) -> Option<usize> {
                match self { $($name::$variant(l) => l.tx_room()),+ }
            }
            #[inline]
            fn tx_write(
                &mut self,
                slot: &$crate::TxSlot,
                offset: usize,
                data: &[u8],
            ) -> Result<(), Self::Error> {
                match self {
                    $($name::$variant(l) => l.tx_write(slot, offset, data).map_err($err::$variant)),+
                }
            }
            #[inline]
            fn tx_write_frame(
                &mut self,
                slot: &$crate::TxSlot,
                header: &[u8],
                payload: &[u8],
            ) -> Result<(), Self::Error> {
                match self {
                    $($name::$variant(l) => {
                        l.tx_write_frame(slot, header, payload).map_err($err::$variant)
                    }),+
                }
            }
            #[inline]
            fn tx_buffer(&mut self, slot: &$crate::TxSlot) -> Option<&mut [u8]> {
                match self { $($name::$variant(l) => l.tx_buffer(slot)),+ }
            }
            #[inline]
            fn tx_commit(
                &mut self,
                slot: $crate::TxSlot,
                meta: $crate::FrameMeta,
            ) -> Result<(), Self::Error> {
                match self {
                    $($name::$variant(l) => l.tx_commit(slot, meta).map_err($err::$variant)),+
                }
            }
            #[inline]
            fn tx_abort(&mut self, slot: $crate::TxSlot) {
                match self { $($name::$variant(l) => l.tx_abort(slot)),+ }
            }
            #[inline]
            fn tx_send(
                &mut self,
                header: &[u8],
                payload: &[u8],
                meta: $crate::FrameMeta,
            ) -> Result<bool, Self::Error> {
                match self {
                    $($name::$variant(l) => {
                        l.tx_send(header, payload, meta).map_err($err::$variant)
                    }),+
                }
            }
        }
    };
}
