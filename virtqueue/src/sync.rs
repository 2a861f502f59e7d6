//! Atomics and fences, routed through loom under `cfg(loom)` so the ordering protocol in
//! [`crate::ordering`] can be model-checked.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::fence;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::fence;

pub(crate) use core::sync::atomic::Ordering;
