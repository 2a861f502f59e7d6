//! An in-memory Ethernet cable: two [`WireEnd`]s, each a NIC-like `FrameLink` (with
//! `nic_drivers::NicControl`). The
//! hosted demo plugs one end into the switch's uplink (as it is, exactly as a
//! NIC would be) and gives the other to a smoltcp stack playing a host outside the box.
//!
//! Each direction is a bounded FIFO of frames ([`WIRE_DEPTH`]); a frame sent into a full
//! FIFO is lost and counted, as on a congested link.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use nic_drivers::{
    Error, FilterCaps, FrameLink, FrameMeta, LinkCaps, LinkState, LinkStats, MacAddress,
    NicControl, RxSlot, TxSlot, MAX_FRAME, MIN_FRAME,
};

/// Frames in flight per direction.
pub const WIRE_DEPTH: usize = 64;
/// Private receive slots and transmit buffers per end.
const SLOTS: usize = 8;

#[derive(Default)]
struct Cable {
    /// `to[i]`: frames travelling to end `i`.
    to: [VecDeque<Vec<u8>>; 2],
}

/// One end of the cable.
pub struct WireEnd {
    cable: Rc<RefCell<Cable>>,
    side: usize,
    mac: MacAddress,
    rx: [Option<Vec<u8>>; SLOTS],
    tx: [Option<Vec<u8>>; SLOTS],
    stats: LinkStats,
}

/// A cable with a station address for each end.
pub fn cable(mac_a: [u8; 6], mac_b: [u8; 6]) -> (WireEnd, WireEnd) {
    let c = Rc::new(RefCell::new(Cable::default()));
    let end = |side, mac| WireEnd {
        cable: c.clone(),
        side,
        mac: MacAddress(mac),
        rx: Default::default(),
        tx: Default::default(),
        stats: LinkStats::default(),
    };
    (end(0, mac_a), end(1, mac_b))
}

impl WireEnd {
    /// Frames waiting for this end.
    pub fn pending(&self) -> usize {
        self.cable.borrow().to[self.side].len()
    }
}

impl NicControl for WireEnd {
    fn stats(&self) -> LinkStats {
        self.stats
    }
    fn filter_caps(&self) -> FilterCaps {
        FilterCaps {
            promiscuous: true,
            all_multicast: true,
            mac_settable: false,
        }
    }
}

impl FrameLink for WireEnd {
    type Error = Error;

    fn caps(&self) -> LinkCaps {
        LinkCaps::new(MAX_FRAME).with_mac(self.mac)
    }
    fn link_state(&mut self) -> LinkState {
        LinkState::Up
    }
    fn rx_pending(&self) -> usize {
        self.pending()
    }
    fn rx_take(&mut self) -> Result<Option<RxSlot>, Error> {
        let Some(i) = self.rx.iter().position(Option::is_none) else {
            return Ok(None);
        };
        let Some(frame) = self.cable.borrow_mut().to[self.side].pop_front() else {
            return Ok(None);
        };
        let len = frame.len();
        self.stats.rx_frames += 1;
        self.stats.rx_bytes += len as u64;
        self.rx[i] = Some(frame);
        Ok(Some(RxSlot::new(i as u16, len)))
    }
    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        match self.rx.get(usize::from(slot.index())) {
            Some(Some(f)) => f,
            _ => &[],
        }
    }
    fn rx_release(&mut self, slot: RxSlot) {
        if let Some(s) = self.rx.get_mut(usize::from(slot.index())) {
            *s = None;
        }
    }
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, Error> {
        if !(MIN_FRAME..=MAX_FRAME).contains(&len) {
            return Err(Error::FrameLength {
                len,
                min: MIN_FRAME,
                max: MAX_FRAME,
            });
        }
        let Some(i) = self.tx.iter().position(Option::is_none) else {
            self.stats.tx_busy += 1;
            return Ok(None);
        };
        self.tx[i] = Some(vec![0; len]);
        Ok(Some(TxSlot::new(i as u16, len)))
    }
    fn tx_write(&mut self, slot: &TxSlot, offset: usize, data: &[u8]) -> Result<(), Error> {
        let index = slot.index();
        let Some(Some(buf)) = self.tx.get_mut(usize::from(index)) else {
            return Err(Error::InvalidSlot { index });
        };
        let slot_len = slot.len().min(buf.len());
        let dst = offset
            .checked_add(data.len())
            .filter(|&end| end <= slot_len)
            .and_then(|end| buf.get_mut(offset..end))
            .ok_or(Error::SlotBounds {
                offset,
                len: data.len(),
                slot_len,
            })?;
        dst.copy_from_slice(data);
        Ok(())
    }
    fn tx_commit(&mut self, slot: TxSlot, _meta: FrameMeta) -> Result<(), Error> {
        let index = slot.index();
        let mut frame = self
            .tx
            .get_mut(usize::from(index))
            .and_then(Option::take)
            .ok_or(Error::InvalidSlot { index })?;
        // Committed shorter than reserved: the frame is the first `slot.len()` bytes.
        frame.truncate(slot.len());
        let mut c = self.cable.borrow_mut();
        let q = &mut c.to[1 - self.side];
        if q.len() >= WIRE_DEPTH {
            self.stats.tx_busy += 1;
            return Ok(());
        }
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += frame.len() as u64;
        q.push_back(frame);
        Ok(())
    }
    fn tx_abort(&mut self, slot: TxSlot) {
        if let Some(s) = self.tx.get_mut(usize::from(slot.index())) {
            *s = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_and_bounds_are_typed() {
        let (mut a, mut b) = cable([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let t = a.tx_reserve(60).unwrap().unwrap();
        a.tx_write(&t, 0, &[7; 60]).unwrap();
        assert_eq!(
            a.tx_write(&t, 50, &[0; 20]),
            Err(Error::SlotBounds {
                offset: 50,
                len: 20,
                slot_len: 60
            })
        );
        a.tx_commit(t, FrameMeta::NONE).unwrap();
        let r = b.rx_take().unwrap().unwrap();
        assert_eq!(b.rx_frame(&r), &[7; 60][..]);
        b.rx_release(r);
        assert_eq!(b.rx_take().unwrap(), None);
        assert!(a.tx_reserve(13).is_err());
    }
}
