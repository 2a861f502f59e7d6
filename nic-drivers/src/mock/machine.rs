//! [`NetMachine`]: the memory and registers of one virtio-net device in one value, so a
//! test or an example brings a driver up in one call.

use core::cell::RefCell;

use crate::net::{NetConfig, NetFeatures, VirtioNet};
use crate::Error;

use super::{FakeDeviceState, FakeHal, FakeTransport};

/// Physical address of a machine's DMA memory.
pub const DMA_BASE: u64 = 0x8000_0000;
/// Bytes of a machine's DMA memory (rings and buffers of the default configuration).
pub const DMA_LEN: usize = 1 << 20;

/// A virtio-net device's DMA memory ([`FakeHal`]) and registers ([`FakeDeviceState`]),
/// offering `VERSION_1`, `MAC` and `STATUS` with the machine's MAC and a 1500-byte MTU.
///
/// Nothing processes what the driver transmits unless the caller runs a
/// [`NetDeviceModel`](super::NetDeviceModel) over [`NetMachine::hal`]'s memory; frames
/// for the outside simply fill the transmit ring.
#[derive(Debug)]
pub struct NetMachine {
    hal: FakeHal,
    state: RefCell<FakeDeviceState>,
}

impl NetMachine {
    /// A machine whose device has station address `mac`.
    pub fn new(mac: [u8; 6]) -> Self {
        let offered = NetFeatures::VERSION_1 | NetFeatures::MAC | NetFeatures::STATUS;
        Self::with_features(offered.bits(), mac)
    }

    /// A machine whose device offers `features` (raw feature bits).
    pub fn with_features(features: u64, mac: [u8; 6]) -> Self {
        NetMachine {
            hal: FakeHal::new(DMA_BASE, DMA_LEN),
            state: RefCell::new(FakeDeviceState::net(features, mac, 1500)),
        }
    }

    /// The driver, brought up with the default configuration.
    pub fn driver(&self) -> Result<VirtioNet<'_, FakeHal, FakeTransport<'_>>, Error> {
        self.driver_with(NetConfig::default())
    }

    /// The driver, brought up with `config`.
    pub fn driver_with(
        &self,
        config: NetConfig,
    ) -> Result<VirtioNet<'_, FakeHal, FakeTransport<'_>>, Error> {
        VirtioNet::new(&self.hal, FakeTransport::new(&self.state, None), config)
    }

    /// The DMA memory.
    pub fn hal(&self) -> &FakeHal {
        &self.hal
    }

    /// The device's registers.
    pub fn state(&self) -> &RefCell<FakeDeviceState> {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frame_link::FrameLink;

    #[test]
    fn a_machine_brings_a_driver_up_with_its_mac() {
        let m = NetMachine::new([2, 0, 0, 0, 0, 9]);
        let drv = m.driver().unwrap();
        assert_eq!(drv.caps().mac.map(|a| a.0), Some([2, 0, 0, 0, 0, 9]));
        assert!(m.state().borrow().driver_features & NetFeatures::VERSION_1.bits() != 0);
    }
}
