//! The embassy-net driver from the same core: frames both ways byte for byte, slots
//! given back by unconsumed tokens, the waker stored and woken by `on_interrupt`.

mod pair;
use pair::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use embassy_net_driver::{Driver, HardwareAddress, LinkState, RxToken, TxToken};
use netstack_glue::{DeviceConfig, EmbassyDevice, FrameLink, PortPair};

/// Unconsumed tokens dropped (fewer under Miri, which interprets every step).
const TOKENS: usize = if cfg!(miri) { 50 } else { 10_000 };

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn frame(seed: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    for (i, b) in f.iter_mut().enumerate().skip(14) {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    f
}

#[test]
fn embassy_driver_moves_frames_and_wakes() {
    let pair = PortPair::<4, 1536>::new();
    let mut port = pair.switch_port();
    let mut dev = EmbassyDevice::new(
        pair.partition_link(),
        DeviceConfig::default(),
        [2, 0, 0, 0, 0, 1],
    );
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);

    assert_eq!(
        dev.hardware_address(),
        HardwareAddress::Ethernet([2, 0, 0, 0, 0, 1])
    );
    assert_eq!(dev.capabilities().max_transmission_unit, 1514);
    assert!(dev.link_state(&mut cx) == LinkState::Up);

    // Nothing to receive: the waker is stored; the integrator's hook wakes it.
    assert!(dev.receive(&mut cx).is_none());
    assert!(dev.on_interrupt());
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(!dev.on_interrupt(), "woken once per registration");

    // Partition → switch.
    let out = frame(1, 300);
    let t = dev.transmit(&mut cx).unwrap();
    t.consume(out.len(), |b| b.copy_from_slice(&out));
    let s = port.rx_take().unwrap().unwrap();
    assert_eq!(port.rx_frame(&s), &out[..]);
    port.rx_release(s);

    // Switch → partition, and a reply from inside the receive closure.
    let inb = frame(2, 1514);
    let t = port.tx_reserve(inb.len()).unwrap().unwrap();
    port.tx_write(&t, 0, &inb).unwrap();
    port.tx_commit(t, vnet_switch::FrameMeta::NONE).unwrap();
    let (rx, tx) = dev.receive(&mut cx).unwrap();
    let seen = rx.consume(|b| {
        let v = b.to_vec();
        tx.consume(60, |r| r.copy_from_slice(&v[..60]));
        v
    });
    assert_eq!(seen, inb);
    let s = port.rx_take().unwrap().unwrap();
    assert_eq!(port.rx_frame(&s), &inb[..60]);
    port.rx_release(s);

    // Unconsumed transmit tokens give their slots back.
    for _ in 0..TOKENS {
        drop(dev.transmit(&mut cx).unwrap());
    }
    assert_eq!(dev.stats().tx_returned, TOKENS as u64);
    assert_eq!(dev.device_mut().link_mut().tx_room(), Some(4));
    let st = dev.stats();
    assert_eq!((st.rx_frames, st.tx_frames), (1, 2));
}
