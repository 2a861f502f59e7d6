//! Shared set-up of the virtio-net tests: a fake HAL, a fake transport and the device
//! model, wired together in the caller's scope (they borrow each other).
#![allow(dead_code, unused_macros, unused_imports)]

pub use std::cell::RefCell;

pub use nic_drivers::mock::{FakeDeviceState, FakeHal, FakeTransport, NetDeviceModel};
pub use nic_drivers::net::{NetConfig, NetFeatures, VirtioNet, SUPPORTED_FEATURES};
pub use nic_drivers::{Error, FrameLink, FrameMeta, MacAddress, NicControl};

/// The MAC the fake device reports.
pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// How many frames the longer loops use (Miri interprets every volatile byte copy, so
/// it runs the same checks on fewer frames).
pub const ROUNDS: usize = if cfg!(miri) { 6 } else { 40 };

/// Bytes of fake DMA memory: rings, 64 + 64 buffers of 1536 bytes, control buffer.
pub const DMA_LEN: usize = 256 * 1024;

/// Physical base of the fake DMA memory.
pub const DMA_BASE: u64 = 0x8000_0000;

/// What a modern QEMU virtio-net offers, roughly (split rings: `packed=off`, QEMU's
/// default).
pub fn modern_features() -> u64 {
    (SUPPORTED_FEATURES
        - NetFeatures::ANY_LAYOUT
        - NetFeatures::ACCESS_PLATFORM
        - NetFeatures::RING_PACKED)
        .bits()
}

/// The same with packed rings offered (QEMU `packed=on`).
pub fn packed_features() -> u64 {
    modern_features() | NetFeatures::RING_PACKED.bits()
}

/// The driver type used in tests: rings of up to 64, 8 private slots.
pub type Net<'h, 'a> = VirtioNet<'h, FakeHal, FakeTransport<'a>, 64, 8>;

/// A frame of `len` bytes: broadcast destination, the device MAC as source, then a
/// pattern seeded by `seed`.
pub fn frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&MAC);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    for (i, b) in f.iter_mut().enumerate().skip(14) {
        *b = seed.wrapping_add(i as u8).wrapping_mul(31);
    }
    f
}

/// Send one frame through the driver (reserve, write in two parts, commit, service).
pub fn send<D: FrameLink<Error = Error>>(net: &mut D, f: &[u8]) -> Result<bool, Error> {
    let Some(slot) = net.tx_reserve(f.len())? else {
        return Ok(false);
    };
    let half = f.len() / 2;
    net.tx_write(&slot, 0, &f[..half])?;
    net.tx_write(&slot, half, &f[half..])?;
    net.tx_commit(slot, FrameMeta::NONE)?;
    net.service(0)?;
    Ok(true)
}

/// Take one frame and copy it out.
pub fn recv<D: FrameLink<Error = Error>>(net: &mut D) -> Result<Option<Vec<u8>>, Error> {
    Ok(net.rx_take()?.map(|slot| {
        let v = net.rx_frame(&slot).to_vec();
        net.rx_release(slot);
        v
    }))
}

/// `setup!(hal, state, model, net; features, config)` builds the four in scope, with
/// the model answering every notification. `setup!(hal, state, net; ...)` has no model.
#[macro_export]
macro_rules! setup {
    ($hal:ident, $state:ident, $model:ident, $net:ident; $st:expr, $cfg:expr) => {
        let $hal = FakeHal::new(DMA_BASE, DMA_LEN);
        let dev_mem = $hal.device_memory();
        let $state = RefCell::new($st);
        let $model = RefCell::new(NetDeviceModel::new(&dev_mem, &$state));
        let hook = |q: u16| $model.borrow_mut().on_notify(q);
        let transport = FakeTransport::new(&$state, Some(&hook));
        #[allow(unused_mut)]
        let mut $net: Net<'_, '_> = VirtioNet::new(&$hal, transport, $cfg).expect("bring-up");
    };
    ($hal:ident, $state:ident, $net:ident; $st:expr, $cfg:expr) => {
        let $hal = FakeHal::new(DMA_BASE, DMA_LEN);
        let $state = RefCell::new($st);
        let transport = FakeTransport::new(&$state, None);
        #[allow(unused_mut)]
        let mut $net: Net<'_, '_> = VirtioNet::new(&$hal, transport, $cfg).expect("bring-up");
    };
}
