//! How a device queue holds the memory it serves: a [`MemoryHandle`].
//!
//! A device queue ([`crate::DeviceQueue`], [`crate::PackedDeviceQueue`],
//! [`crate::AnyDeviceQueue`]) keeps its memory through a handle and rebuilds its views of
//! the ring from it for each call (or once per [`crate::DeviceQueue::session`]), so it
//! never stores a borrow of memory it does not own: `&M` for memory that outlives the
//! queue, `Arc<M>` (or `Rc<M>`, `Box<M>`; `alloc` feature) for memory the queue keeps
//! alive itself, such as a vhost-user backend's guest memory.

use crate::SharedMemory;

/// A handle through which a device queue reaches its [`SharedMemory`].
///
/// The memory a handle reaches must not change its translation while the handle exists
/// (a [`SharedMemory`] is only ever used through `&`); the queue validates the ring at
/// attach time and relies on it. Were it to change anyway, a call fails with a typed
/// error, never with a panic or an access outside the memory.
pub trait MemoryHandle {
    /// The memory behind the handle.
    type Memory: SharedMemory + ?Sized;

    /// The memory.
    fn memory(&self) -> &Self::Memory;
}

impl<M: SharedMemory + ?Sized> MemoryHandle for &M {
    type Memory = M;

    #[inline(always)]
    fn memory(&self) -> &M {
        self
    }
}

/// Owning handles (`alloc`): the memory lives as long as the handle.
macro_rules! owning_handle {
    ($($ptr:ty),*) => {$(
        #[cfg(any(test, feature = "alloc"))]
        impl<M: SharedMemory + ?Sized> MemoryHandle for $ptr {
            type Memory = M;

            #[inline(always)]
            fn memory(&self) -> &M {
                self
            }
        }
    )*};
}

owning_handle!(alloc::sync::Arc<M>, alloc::rc::Rc<M>, alloc::boxed::Box<M>);
