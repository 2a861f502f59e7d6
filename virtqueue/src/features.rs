//! The generic (device-independent) VirtIO feature bits and their negotiation (VirtIO
//! 1.x section 6, "Reserved Feature Bits").

use crate::Error;

bitflags::bitflags! {
    /// Device-independent feature bits (bits 28..=40 of the 64-bit feature word).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Features: u64 {
        /// `VIRTIO_F_INDIRECT_DESC` (28): indirect descriptor tables.
        const INDIRECT_DESC = 1 << 28;
        /// `VIRTIO_F_RING_EVENT_IDX` (29): `used_event` / `avail_event` suppression.
        const RING_EVENT_IDX = 1 << 29;
        /// `VIRTIO_F_VERSION_1` (32): VirtIO 1.x (little-endian, modern layout).
        const VERSION_1 = 1 << 32;
        /// `VIRTIO_F_ACCESS_PLATFORM` (33): the device goes through a platform IOMMU.
        const ACCESS_PLATFORM = 1 << 33;
        /// `VIRTIO_F_RING_PACKED` (34): packed virtqueue layout.
        const RING_PACKED = 1 << 34;
        /// `VIRTIO_F_IN_ORDER` (35): buffers are used in the order they were made available.
        const IN_ORDER = 1 << 35;
        /// `VIRTIO_F_ORDER_PLATFORM` (36): memory accesses need platform (not SMP-only) barriers.
        const ORDER_PLATFORM = 1 << 36;
        /// `VIRTIO_F_NOTIFICATION_DATA` (38): the driver sends extra data with notifications.
        const NOTIFICATION_DATA = 1 << 38;
        /// `VIRTIO_F_RING_RESET` (40): individual queues can be reset.
        const RING_RESET = 1 << 40;
    }
}

impl Features {
    /// The generic features this crate implements, for both ring layouts: `RING_PACKED`
    /// selects [`crate::PackedDriverQueue`] / [`crate::PackedDeviceQueue`] (or the packed
    /// variant of [`crate::AnyDriverQueue`] / [`crate::AnyDeviceQueue`]); `IN_ORDER`
    /// batches are inferred by the drivers; `NOTIFICATION_DATA` values come from
    /// `notification_data`; `RING_RESET` is the queues' `reset`. `ACCESS_PLATFORM` is a
    /// transport/integrator matter (addresses go through [`crate::SharedMemory`]).
    pub const SUPPORTED: Features = Features::VERSION_1
        .union(Features::RING_EVENT_IDX)
        .union(Features::RING_PACKED)
        .union(Features::IN_ORDER)
        .union(Features::NOTIFICATION_DATA)
        .union(Features::INDIRECT_DESC)
        .union(Features::ACCESS_PLATFORM)
        .union(Features::ORDER_PLATFORM)
        .union(Features::RING_RESET);

    /// Negotiate: the result is `offered ∩ wanted ∩ SUPPORTED`, with the bits outside the
    /// generic range (device-specific bits 0..=23 and 41..) passed through from
    /// `offered ∩ wanted` untouched in [`Negotiated::raw`].
    ///
    /// Fails with [`Error::FeatureMissing`] when the device does not offer `VERSION_1`
    /// (this crate is VirtIO 1.x only, little-endian).
    pub fn negotiate(offered: u64, wanted: u64) -> Result<Negotiated, Error> {
        let common = offered & wanted;
        if common & Features::VERSION_1.bits() == 0 {
            return Err(Error::FeatureMissing {
                bits: Features::VERSION_1.bits(),
            });
        }
        let generic_mask = Features::all().bits();
        let generic = Features::from_bits_truncate(common) & Features::SUPPORTED;
        let raw = (common & !generic_mask) | generic.bits();
        Ok(Negotiated { generic, raw })
    }
}

/// The outcome of [`Features::negotiate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The generic features both sides use.
    pub generic: Features,
    /// The whole 64-bit word to write back to the transport (device-specific bits too).
    pub raw: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_keeps_supported_and_device_bits() {
        let offered = (Features::VERSION_1
            | Features::RING_EVENT_IDX
            | Features::RING_PACKED
            | Features::IN_ORDER)
            .bits()
            | 0b101; // device-specific bits 0 and 2
        let wanted = !0b100 & !Features::IN_ORDER.bits();
        let n = Features::negotiate(offered, wanted).unwrap();
        assert_eq!(
            n.generic,
            Features::VERSION_1 | Features::RING_EVENT_IDX | Features::RING_PACKED
        );
        assert_eq!(n.raw & 0b111, 0b001);
        assert_eq!(n.raw & Features::IN_ORDER.bits(), 0);
    }

    #[test]
    fn negotiation_requires_version_1() {
        let err = Features::negotiate(Features::RING_EVENT_IDX.bits(), u64::MAX).unwrap_err();
        assert_eq!(err, Error::FeatureMissing { bits: 1 << 32 });
    }
}
