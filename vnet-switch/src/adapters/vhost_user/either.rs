//! One endpoint type for a switch that mixes VM ports with other ports.

use super::VhostUserPort;
use crate::endpoint::{EndpointError, FrameMeta, PortEndpoint, RxSlot, TxSlot};

/// A switch port that is either a VM ([`VhostUserPort`]) or another endpoint `E` (a
/// partition's channel, an uplink): the switch holds one endpoint type.
pub enum VmOr<E> {
    /// A QEMU guest.
    Vm(Box<VhostUserPort>),
    /// Anything else.
    Other(E),
}

impl<E> VmOr<E> {
    /// The VM port, if this is one.
    pub fn vm_mut(&mut self) -> Option<&mut VhostUserPort> {
        match self {
            VmOr::Vm(v) => Some(v),
            VmOr::Other(_) => None,
        }
    }

    /// The other endpoint, if this is one.
    pub fn other_mut(&mut self) -> Option<&mut E> {
        match self {
            VmOr::Vm(_) => None,
            VmOr::Other(e) => Some(e),
        }
    }
}

macro_rules! each {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            VmOr::Vm($e) => $body,
            VmOr::Other($e) => $body,
        }
    };
}

impl<E: PortEndpoint> PortEndpoint for VmOr<E> {
    fn rx_take(&mut self) -> Option<RxSlot> {
        each!(self, e => e.rx_take())
    }
    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        each!(self, e => e.rx_frame(slot))
    }
    fn rx_release(&mut self, slot: RxSlot) {
        each!(self, e => e.rx_release(slot))
    }
    fn rx_pending(&self) -> usize {
        each!(self, e => e.rx_pending())
    }
    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        each!(self, e => e.rx_meta(slot))
    }
    fn tx_reserve(&mut self, len: usize) -> Option<TxSlot> {
        each!(self, e => e.tx_reserve(len))
    }
    fn tx_write(&mut self, slot: &TxSlot, off: usize, b: &[u8]) -> Result<(), EndpointError> {
        each!(self, e => e.tx_write(slot, off, b))
    }
    fn tx_meta(&mut self, slot: &TxSlot, meta: FrameMeta) {
        each!(self, e => e.tx_meta(slot, meta))
    }
    fn tx_commit(&mut self, slot: TxSlot) {
        each!(self, e => e.tx_commit(slot))
    }
    fn tx_abort(&mut self, slot: TxSlot) {
        each!(self, e => e.tx_abort(slot))
    }
}
