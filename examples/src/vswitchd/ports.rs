//! The switch's endpoint type in the daemon: a VM (vhost-user) or a smoltcp partition
//! (an in-process port pair) with the checksum completion its link needs.

use netstack_glue::SwitchPort;
use vnet_switch::adapters::vhost_user::VmOr;
use vnet_switch::endpoint::{EndpointError, FrameMeta, PortEndpoint, RxSlot, TxSlot};

/// Slots of a partition's port pair, each direction.
pub const PAIR_SLOTS: usize = 64;
/// Bytes of one slot.
pub const PAIR_FRAME: usize = 1536;

/// One switch port of the daemon: a QEMU guest or a smoltcp partition in this process.
pub type Port = VmOr<CsumCompleting>;

/// A partition's switch port that completes `NEEDS_CSUM` checksums (a guest with
/// `VIRTIO_NET_F_CSUM` sends TCP/UDP frames with only the pseudo-header sum in place;
/// the port pair carries no offload metadata, so the frame is finished here, in a
/// private copy, before it is committed).
pub struct CsumCompleting {
    inner: SwitchPort<'static, PAIR_SLOTS, PAIR_FRAME>,
    staging: Vec<[u8; PAIR_FRAME]>,
    lens: [usize; PAIR_SLOTS],
    meta: [FrameMeta; PAIR_SLOTS],
    /// Checksums completed.
    pub completed: u64,
}

impl CsumCompleting {
    /// Wraps a port pair's switch side.
    pub fn new(inner: SwitchPort<'static, PAIR_SLOTS, PAIR_FRAME>) -> Self {
        CsumCompleting {
            inner,
            staging: vec![[0; PAIR_FRAME]; PAIR_SLOTS],
            lens: [0; PAIR_SLOTS],
            meta: [FrameMeta::NONE; PAIR_SLOTS],
            completed: 0,
        }
    }
}

/// The Internet checksum of `bytes` (RFC 1071), folded and complemented.
fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl PortEndpoint for CsumCompleting {
    fn rx_take(&mut self) -> Option<RxSlot> {
        self.inner.rx_take()
    }
    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        self.inner.rx_frame(slot)
    }
    fn rx_release(&mut self, slot: RxSlot) {
        self.inner.rx_release(slot)
    }
    fn rx_pending(&self) -> usize {
        self.inner.rx_pending()
    }
    fn tx_reserve(&mut self, len: usize) -> Option<TxSlot> {
        let slot = self.inner.tx_reserve(len)?;
        let i = usize::from(slot.index());
        if let (Some(l), Some(m)) = (self.lens.get_mut(i), self.meta.get_mut(i)) {
            *l = len.min(PAIR_FRAME);
            *m = FrameMeta::NONE;
        }
        Some(slot)
    }
    fn tx_write(&mut self, slot: &TxSlot, off: usize, b: &[u8]) -> Result<(), EndpointError> {
        self.inner.tx_write(slot, off, b)?;
        let stage = self.staging.get_mut(usize::from(slot.index()));
        if let Some(dst) = stage.and_then(|s| s.get_mut(off..off + b.len())) {
            dst.copy_from_slice(b);
        }
        Ok(())
    }
    fn tx_meta(&mut self, slot: &TxSlot, meta: FrameMeta) {
        if let Some(m) = self.meta.get_mut(usize::from(slot.index())) {
            *m = meta;
        }
    }
    fn tx_commit(&mut self, slot: TxSlot) {
        let i = usize::from(slot.index());
        if let (Some(m), Some(&len), Some(stage)) =
            (self.meta.get(i), self.lens.get(i), self.staging.get(i))
        {
            let start = usize::from(m.csum_start);
            let field = start + usize::from(m.csum_offset);
            if m.needs_csum && field + 2 <= len {
                let sum = internet_checksum(&stage[start..len]);
                if self
                    .inner
                    .tx_write(&slot, field, &sum.to_be_bytes())
                    .is_ok()
                {
                    self.completed += 1;
                }
            }
        }
        self.inner.tx_commit(slot)
    }
    fn tx_abort(&mut self, slot: TxSlot) {
        self.inner.tx_abort(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::internet_checksum;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d.
        assert_eq!(
            internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
    }
}
