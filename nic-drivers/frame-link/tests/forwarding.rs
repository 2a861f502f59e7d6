//! Every method of `FrameLink`, provided ones included, reaches the inner link through
//! each forwarding impl: `&mut L`, `Box<L>` and `link_enum!`. A wrapper that silently
//! kept a default would fail here.
use std::cell::RefCell;

use frame_link::{
    link_enum, ErrorKind, FrameLink, FrameMeta, LinkCaps, LinkError, LinkFault, LinkState,
    PortPair, RxSlot, TxSlot,
};

/// A link that overrides every method and records which were called.
#[derive(Default)]
struct Probe {
    calls: RefCell<Vec<&'static str>>,
    buf: [u8; 32],
}

impl Probe {
    fn hit(&self, m: &'static str) {
        self.calls.borrow_mut().push(m);
    }
}

impl FrameLink for Probe {
    type Error = LinkError;
    fn caps(&self) -> LinkCaps {
        self.hit("caps");
        LinkCaps::new(64)
    }
    fn link_state(&mut self) -> LinkState {
        self.hit("link_state");
        LinkState::Down
    }
    fn service(&mut self, budget: u16) -> Result<(), LinkError> {
        self.hit("service");
        assert_eq!(budget, 7);
        Err(LinkError::Down)
    }
    fn rx_take(&mut self) -> Result<Option<RxSlot>, LinkError> {
        self.hit("rx_take");
        Ok(Some(RxSlot::new(1, 3)))
    }
    fn rx_frame(&self, _: &RxSlot) -> &[u8] {
        self.hit("rx_frame");
        &self.buf[..3]
    }
    fn rx_meta(&self, _: &RxSlot) -> FrameMeta {
        self.hit("rx_meta");
        FrameMeta::VERIFIED
    }
    fn rx_release(&mut self, _: RxSlot) {
        self.hit("rx_release");
    }
    fn rx_pending(&self) -> usize {
        self.hit("rx_pending");
        5
    }
    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, LinkError> {
        self.hit("tx_reserve");
        Ok(Some(TxSlot::new(2, len)))
    }
    fn tx_room(&self) -> Option<usize> {
        self.hit("tx_room");
        Some(9)
    }
    fn tx_write(&mut self, _: &TxSlot, _: usize, _: &[u8]) -> Result<(), LinkError> {
        self.hit("tx_write");
        Ok(())
    }
    fn tx_write_frame(&mut self, _: &TxSlot, _: &[u8], _: &[u8]) -> Result<(), LinkError> {
        self.hit("tx_write_frame");
        Ok(())
    }
    fn tx_buffer(&mut self, _: &TxSlot) -> Option<&mut [u8]> {
        self.hit("tx_buffer");
        Some(&mut self.buf[..])
    }
    fn tx_commit(&mut self, _: TxSlot, meta: FrameMeta) -> Result<(), LinkError> {
        self.hit("tx_commit");
        assert_eq!(meta, FrameMeta::partial(34, 16));
        Ok(())
    }
    fn tx_abort(&mut self, _: TxSlot) {
        self.hit("tx_abort");
    }
    fn tx_send(&mut self, h: &[u8], p: &[u8], meta: FrameMeta) -> Result<bool, LinkError> {
        self.hit("tx_send");
        assert_eq!((h, p, meta), (&[1][..], &[2][..], FrameMeta::VERIFIED));
        Ok(true)
    }
}

/// Every method, in this order.
const ALL: &[&str] = &[
    "caps",
    "link_state",
    "service",
    "rx_take",
    "rx_frame",
    "rx_meta",
    "rx_release",
    "rx_pending",
    "tx_reserve",
    "tx_room",
    "tx_write",
    "tx_write_frame",
    "tx_buffer",
    "tx_commit",
    "tx_abort",
    "tx_send",
];

/// Calls every method of `l` once, checking the probe's answers came through.
fn exercise<L: FrameLink>(l: &mut L) {
    assert_eq!(l.caps().max_frame, 64);
    assert_eq!(l.link_state(), LinkState::Down);
    assert_eq!(l.service(7).map_err(|e| e.kind()), Err(ErrorKind::Down));
    let rx = l.rx_take().ok().flatten().unwrap();
    assert_eq!(l.rx_frame(&rx).len(), 3);
    assert_eq!(l.rx_meta(&rx), FrameMeta::VERIFIED);
    l.rx_release(rx);
    assert_eq!(l.rx_pending(), 5);
    let tx = l.tx_reserve(60).ok().flatten().unwrap();
    assert_eq!(l.tx_room(), Some(9));
    assert!(l.tx_write(&tx, 0, &[1]).is_ok());
    assert!(l.tx_write_frame(&tx, &[1], &[2]).is_ok());
    assert_eq!(l.tx_buffer(&tx).map(|b| b.len()), Some(32));
    assert!(l.tx_commit(tx, FrameMeta::partial(34, 16)).is_ok());
    l.tx_abort(TxSlot::new(2, 60));
    assert_eq!(l.tx_send(&[1], &[2], FrameMeta::VERIFIED).ok(), Some(true));
}

#[test]
fn mut_references_forward_every_method() {
    let mut p = Probe::default();
    exercise(&mut &mut p);
    assert_eq!(*p.calls.borrow(), ALL);
}

#[test]
fn boxes_forward_every_method() {
    let mut b = Box::new(Probe::default());
    exercise(&mut b);
    assert_eq!(*b.calls.borrow(), ALL);
}

#[test]
fn boxed_trait_objects_forward_every_method() {
    let mut b: Box<dyn FrameLink<Error = LinkError>> = Box::new(Probe::default());
    exercise(&mut b);
}

link_enum! {
    /// A probe or a pair end.
    enum Either['a] {
        Probe(Probe),
        Pair(frame_link::PairEnd<'a, 4>),
    }
    /// Either's error.
    enum EitherError;
}

#[test]
fn link_enums_forward_every_method_and_keep_errors_typed() {
    let mut e = Either::Probe(Probe::default());
    exercise(&mut e);
    let Either::Probe(p) = &e else { unreachable!() };
    assert_eq!(*p.calls.borrow(), ALL);

    let pair = PortPair::<4>::new();
    let (a, _b) = pair.split();
    let mut e = Either::Pair(a);
    let err = e.tx_reserve(5).unwrap_err();
    assert!(matches!(
        err,
        EitherError::Pair(LinkError::FrameLength { len: 5, .. })
    ));
    assert_eq!(err.kind(), ErrorKind::FrameLength);
    assert!(err.to_string().contains("5 bytes"));
}
