//! Atomics used in shared memory, routed through loom under `cfg(loom)`.
//!
//! Only 32-bit atomics are used (thumbv7em has no 64-bit ones).

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicU32, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::{fence, AtomicU32, Ordering};
