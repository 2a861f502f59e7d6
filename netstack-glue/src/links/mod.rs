//! The thin [`FrameLink`](crate::FrameLink) impls, one per link kind and feature.

#[cfg(feature = "nic-drivers")]
pub(crate) mod nic;
#[cfg(feature = "vnet-switch")]
pub(crate) mod pair;
#[cfg(feature = "queuing-port")]
pub(crate) mod queuing;
