//! [`FrameLinkExt`]: whole-frame conveniences for any link (tests, tools, simple
//! programs); data paths use the slot methods directly.

use crate::{FrameLink, FrameMeta};

/// Send and receive whole frames through any [`FrameLink`].
pub trait FrameLinkExt: FrameLink {
    /// Sends `frame` (reserve, write, commit): `Ok(false)` when the link has no room now.
    fn send_frame(&mut self, frame: &[u8]) -> Result<bool, Self::Error> {
        self.send_frame_with(frame, FrameMeta::NONE)
    }

    /// Sends `frame` with offload metadata: `Ok(false)` when the link has no room now.
    fn send_frame_with(&mut self, frame: &[u8], meta: FrameMeta) -> Result<bool, Self::Error> {
        self.tx_send(&[], frame, meta)
    }

    /// Receives the next frame into `buf` (what fits of it) and releases it: the frame's
    /// full length and metadata, `Ok(None)` when none is waiting.
    fn recv_frame(&mut self, buf: &mut [u8]) -> Result<Option<(usize, FrameMeta)>, Self::Error> {
        let Some(slot) = self.rx_take()? else {
            return Ok(None);
        };
        let frame = self.rx_frame(&slot);
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        let got = (frame.len(), self.rx_meta(&slot));
        self.rx_release(slot);
        Ok(Some(got))
    }

    /// Receives the next frame as a vector (feature `alloc`).
    #[cfg(feature = "alloc")]
    fn recv_vec(&mut self) -> Result<Option<alloc::vec::Vec<u8>>, Self::Error> {
        let Some(slot) = self.rx_take()? else {
            return Ok(None);
        };
        let frame = self.rx_frame(&slot).to_vec();
        self.rx_release(slot);
        Ok(Some(frame))
    }
}

impl<L: FrameLink + ?Sized> FrameLinkExt for L {}
