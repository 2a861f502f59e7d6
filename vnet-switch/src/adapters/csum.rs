//! Software completion of a partial checksum (`NEEDS_CSUM`) for ports that cannot pass the
//! request on: the RFC 1071 Internet checksum from `csum_start` to the end of the frame,
//! stored big-endian at `csum_start + csum_offset`.
//!
//! The sender (e.g. a virtio-net driver) left the pseudo-header sum in the checksum field;
//! it is part of the sum, exactly as a NIC or a virtio-net device completes it.

use frame_link::FrameMeta;

/// A running ones' complement sum over a byte stream fed in pieces of any length.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Checksum {
    sum: u64,
    /// The stream so far has an odd length: the next byte is a low-order byte.
    odd: bool,
}

impl Checksum {
    /// Adds the next piece of the stream.
    pub(crate) fn add(&mut self, mut bytes: &[u8]) {
        if self.odd {
            if let Some((&b, rest)) = bytes.split_first() {
                self.sum += u64::from(b);
                bytes = rest;
                self.odd = false;
            }
        }
        let mut pairs = bytes.chunks_exact(2);
        for p in &mut pairs {
            self.sum += u64::from(u16::from_be_bytes([p[0], p[1]]));
        }
        if let [b] = pairs.remainder() {
            self.sum += u64::from(*b) << 8;
            self.odd = true;
        }
    }

    /// The checksum to store (the complement of the folded sum).
    pub(crate) fn finish(self) -> u16 {
        let mut s = self.sum;
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }
}

/// Where a `NEEDS_CSUM` request of a `len`-byte frame is: `(start, field)` with the
/// two-byte field inside the summed range, or `None` when there is no request or the
/// offsets do not fit.
pub(crate) fn checksum_range(meta: &FrameMeta, len: usize) -> Option<(usize, usize)> {
    let p = meta.partial_checksum()?;
    let start = usize::from(p.start);
    let field = start.checked_add(usize::from(p.offset))?;
    (field.checked_add(2)? <= len).then_some((start, field))
}

/// Completes the checksum of a frame in private memory. Returns `false` (frame untouched)
/// when the request's offsets do not fit the frame.
#[cfg(feature = "queuing-port")]
pub(crate) fn complete_in_place(frame: &mut [u8], meta: &FrameMeta) -> bool {
    let Some((start, field)) = checksum_range(meta, frame.len()) else {
        return false;
    };
    let mut c = Checksum::default();
    c.add(frame.get(start..).unwrap_or(&[]));
    match frame.get_mut(field..field + 2) {
        Some(f) => {
            f.copy_from_slice(&c.finish().to_be_bytes());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 1071 section 3 example: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d.
    #[test]
    fn rfc1071_example_in_any_split() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        for cut in 0..=data.len() {
            let mut c = Checksum::default();
            c.add(&data[..cut]);
            c.add(&data[cut..]);
            assert_eq!(c.finish(), !0xddf2u16, "split at {cut}");
        }
    }

    #[test]
    fn completed_frame_verifies_to_zero() {
        let mut frame = [0u8; 41];
        for (i, b) in frame.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37);
        }
        let meta = FrameMeta::partial(14, 6);
        // The sender left a pseudo-header sum in the field: it is part of the sum.
        let pseudo = [frame[20], frame[21]];
        assert!(complete_in_place(&mut frame, &meta));
        // The receiver's check: the range with the stored checksum, plus the pseudo-header
        // sum, adds up to all ones.
        let mut c = Checksum::default();
        c.add(&pseudo);
        c.add(&frame[14..]);
        assert_eq!(c.finish(), 0);
        let bad = FrameMeta::partial(14, 26);
        assert!(!complete_in_place(&mut frame, &bad));
    }
}
