//! The frame links this crate provides itself, each behind its feature.

#[cfg(feature = "queuing-port")]
pub(crate) mod queuing;
