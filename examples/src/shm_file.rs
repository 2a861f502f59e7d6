//! A shared-memory file (queuing-port's `shm`) seen as a volatile byte view, for the
//! virtio region of the multi-process demo.
#![allow(unsafe_code)]

use queuing_port::shm::ShmFile;
use virtqueue::VolatileSlice;

/// The whole mapping of `shm` as bytes.
pub fn volatile_view(shm: &ShmFile) -> VolatileSlice<'_> {
    let words = shm.region().words();
    let ptr = words.as_ptr().cast::<u8>().cast_mut();
    // SAFETY: `words` is the live, page-aligned shared mapping of `shm`, valid for reads
    // and writes for as long as `shm` is borrowed (the returned view cannot outlive that
    // borrow). This process accesses the virtio region only through volatile views
    // (never through the atomic `Region` at the same time); the other process writing it
    // concurrently is what `VolatileSlice` is for.
    unsafe { VolatileSlice::from_raw_parts(ptr, words.len() * 4) }
}
