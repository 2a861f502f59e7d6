//! Atomics used in shared memory, routed through loom under `cfg(loom)`.
//!
//! Control words are 32-bit atomics everywhere (thumbv7em has no 64-bit ones). Queuing
//! data slots are 64-bit atomics where the target has them (not under loom, whose
//! atomics cannot view memory at another width); see `region::wide`.

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicU32, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::{fence, AtomicU32, Ordering};

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub use core::sync::atomic::AtomicU64;
