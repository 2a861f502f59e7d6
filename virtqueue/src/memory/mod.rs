//! The memory the peer can reach: address translation and a bounds-checked volatile view.
//!
//! The peer names memory by *peer addresses* (guest-physical, bus or IOVA addresses). A
//! [`SharedMemory`] translates a peer range `(addr, len)` into a [`VolatileSlice`] — a
//! bounds-checked view that is only ever accessed through volatile copies and atomics,
//! never through `&[u8]`/`&mut [u8]`, because the peer may change it at any time.
//!
//! Implementations provided: [`MemoryRegion`] (one region at a base address — the offset
//! translation, and with [`MemoryRegion::identity`] the identity one) and
//! [`MultiRegion`] (several regions, e.g. the guest memory table of a vhost-user
//! backend). Integrators with their own translation (an IOMMU, a hypervisor's page
//! table) implement [`SharedMemory`] themselves.
//!
//! Three parts: [`VolatileSlice`] and its volatile copies (`volatile`), the ring views
//! the queues index into (`ring_view`), and the address translations (`regions`).

mod regions;
mod ring_view;
mod volatile;

pub use regions::{MemoryRegion, MultiRegion, OffsetMemory, SharedMemory};
pub(crate) use ring_view::Slots;
pub use volatile::VolatileSlice;

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use super::{ring_view::*, volatile::*};
    #[allow(unused_imports)]
    use crate::Error;

    #[test]
    fn offset_translation_is_bounds_checked() {
        let mut buf = [0u8; 64];
        let mem = MemoryRegion::new(0x1000, VolatileSlice::from_mut_slice(&mut buf));
        let s = mem.slice(0x1010, 16).unwrap();
        s.write_from(0, &[1, 2, 3]).unwrap();
        let mut out = [0u8; 3];
        mem.slice(0x1010, 3)
            .unwrap()
            .read_into(0, &mut out)
            .unwrap();
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(
            mem.slice(0x1038, 9).unwrap_err(),
            Error::OutOfMemory {
                addr: 0x1038,
                len: 9
            }
        );
        assert!(mem.slice(0xfff, 1).is_err());
        assert!(mem.slice(u64::MAX, 2).is_err());
        assert!(s.subslice(8, 9).is_err());
        assert!(s.read_into(15, &mut [0u8; 2]).is_err());
    }

    #[test]
    fn unaligned_copies_round_trip() {
        // 8-aligned, so that offset 10 is 2-aligned in host memory (a byte array may sit
        // at an odd address, as it does under Miri).
        let mut words = [0u64; 8];
        let v = aligned(&mut words);
        let data: [u8; 29] = core::array::from_fn(|i| i as u8 * 7);
        v.write_from(3, &data).unwrap();
        let mut out = [0u8; 29];
        v.read_into(3, &mut out).unwrap();
        assert_eq!(out, data);
        v.store_u16(10, 0xbeef).unwrap();
        assert_eq!(v.load_u16(10).unwrap(), 0xbeef);
        assert!(matches!(v.load_u16(11), Err(Error::Misaligned { .. })));
    }

    /// An 8-aligned byte buffer (so that offsets choose the host alignment).
    fn aligned<const W: usize>(words: &mut [u64; W]) -> VolatileSlice<'_> {
        VolatileSlice::from_mut_slice(zerocopy::IntoBytes::as_mut_bytes(&mut words[..]))
    }

    #[test]
    fn copies_of_every_length_and_alignment() {
        // Natively also past 128 bytes and at every 32-byte alignment (the 256-bit path of
        // CPUs with AVX, which Miri does not run).
        const W: usize = if cfg!(miri) { 12 } else { 56 };
        let mut words = [0u64; W];
        let v = aligned(&mut words);
        // Under Miri: a few alignments and the lengths around the 8-byte words and 32-byte
        // blocks; natively: every alignment and length.
        let lengths =
            |max: usize| (0..=max).filter(|&len| !cfg!(miri) || len < 2 || (len + 1) % 8 <= 2);
        let offsets = (0..33).filter(|&off| !cfg!(miri) || [0, 1, 4, 7].contains(&off));
        for off in offsets {
            for len in lengths(v.len() - 40 - off) {
                v.fill(0, v.len(), 0xee).unwrap();
                let data: [u8; W * 8] = core::array::from_fn(|i| (i * 31 + len) as u8);
                v.write_from(off, &data[..len]).unwrap();
                let mut out = [0u8; W * 8];
                v.read_into(off, &mut out[..len]).unwrap();
                assert_eq!(out[..len], data[..len], "off {off} len {len}");
                // Nothing outside the range was written.
                let mut all = [0u8; W * 8];
                v.read_into(0, &mut all).unwrap();
                assert!(all[..off].iter().all(|&b| b == 0xee));
                assert!(all[off + len..].iter().all(|&b| b == 0xee));
            }
        }
    }

    #[test]
    fn word_pairs_at_any_alignment() {
        let mut words = [0u64; 4];
        let v = aligned(&mut words);
        for off in 0..9 {
            v.write_u32_pair(off, 0x0403_0201, 0x0807_0605).unwrap();
            let mut b = [0u8; 8];
            v.read_into(off, &mut b).unwrap();
            assert_eq!(b, [1, 2, 3, 4, 5, 6, 7, 8], "off {off}");
            v.write_from(off + 8, &[9, 10, 11, 12, 13, 14, 15, 16])
                .unwrap();
            assert_eq!(
                v.read_u64_pair(off).unwrap(),
                (0x0807_0605_0403_0201, 0x100f_0e0d_0c0b_0a09),
                "off {off}"
            );
        }
        assert!(v.read_u64_pair(17).is_err());
        assert!(v.write_u32_pair(25, 0, 0).is_err());
        assert!(v.read_u64_pair(usize::MAX - 3).is_err());
    }

    #[test]
    fn slots_are_checked_once_and_wrap() {
        let mut words = [0u64; 16];
        let v = aligned(&mut words);
        // Bounds, power of two and host alignment are checked at construction.
        assert!(Slots::<16>::new(&v, 0, 8).is_ok());
        assert!(Slots::<16>::new(&v, 8, 8).is_err());
        assert!(Slots::<16>::new(&v, 0, 6).is_err());
        assert!(matches!(
            Slots::<8>::new(&v, 2, 4),
            Err(Error::Misaligned { align: 4, .. })
        ));
        assert!(matches!(
            Slots::<2>::new(&v, 1, 4),
            Err(Error::Misaligned { align: 2, .. })
        ));
        // u16 slots: index i is slot i mod count.
        let s2 = Slots::<2>::new(&v, 2, 4).unwrap();
        v.store_u16(2 + 2 * 3, 0xbeef).unwrap();
        assert_eq!(s2.load_u16(3), 0xbeef);
        assert_eq!(s2.load_u16(7), 0xbeef);
        assert_eq!(s2.load_u16(u16::MAX), 0xbeef);
        // 16-byte slots, 8-aligned and only 4-aligned.
        for base in [0, 4] {
            let s16 = Slots::<16>::new(&v, base, 4).unwrap();
            v.write_from(base + 16, &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3])
                .unwrap();
            assert_eq!(s16.load_u64_pair(1), (1, 0x0300_0000_0000_0002));
            assert_eq!(s16.load_u64_pair(5), (1, 0x0300_0000_0000_0002));
        }
        // 8-byte slots: one 8-byte store when 8-aligned, two 4-byte stores otherwise.
        for base in [0, 4] {
            let s8 = Slots::<8>::new(&v, base, 4).unwrap();
            s8.store_u32_pair(6, 7, 0x0102_0304);
            assert_eq!(v.read_u32(base + 16).unwrap(), 7);
            assert_eq!(v.read_u32(base + 20).unwrap(), 0x0102_0304);
        }
    }

    #[test]
    fn identity_and_multi_region() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        let mut c = [0u8; 8];
        let id = MemoryRegion::identity(VolatileSlice::from_mut_slice(&mut a));
        let host = id.base();
        id.slice(host + 4, 4)
            .unwrap()
            .write_from(0, &[9; 4])
            .unwrap();
        let mut multi = MultiRegion::<2>::new();
        multi.add(id).unwrap();
        multi
            .add(MemoryRegion::new(
                0x10,
                VolatileSlice::from_mut_slice(&mut b),
            ))
            .unwrap();
        let mut out = [0u8; 4];
        multi
            .slice(host + 4, 4)
            .unwrap()
            .read_into(0, &mut out)
            .unwrap();
        assert_eq!(out, [9; 4]);
        assert!(multi.slice(0x10, 32).is_ok());
        assert!(multi.slice(0x10, 33).is_err());
        let overlap = MemoryRegion::new(0x2f, VolatileSlice::from_mut_slice(&mut c));
        assert!(multi.add(overlap).is_err());
    }
}
