//! NIC bring-up on QEMU `virt`: virtio-net on a virtio-mmio slot (modern), or e1000 on
//! PCI (ECAM enumeration of bus 0, BARs assigned by us: nothing did before).

use nic_drivers::e1000::E1000;
use nic_drivers::net::{NetConfig, NetFeatures, VirtioNet, SUPPORTED_FEATURES};
use nic_drivers::pci::{BarAllocator, DeviceMatch, Ecam, PciRoot};
use nic_drivers::transport::mmio::{self, MmioSlots, MmioTransport};
use nic_drivers::transport::Transport;
use nic_drivers::transport::DEVICE_TYPE_NET;
use nic_drivers::{Hal, IdentityHal, MmioWindow};

use crate::{code, println};

/// PCIe of QEMU `virt` (`/soc/pci@30000000`): ECAM window, 32-bit memory window.
const ECAM: (u64, usize) = (0x3000_0000, 0x1000_0000);
const PCI_MMIO: (u64, u64) = (0x4000_0000, 0x4000_0000);

/// The virtio-net driver the image runs.
pub type VirtioDev<'h> = VirtioNet<'h, IdentityHal<'static>, MmioTransport<MmioWindow>>;
/// The e1000 driver the image runs (16 receive and 16 transmit descriptors).
pub type E1000Dev<'h> = E1000<'h, IdentityHal<'static>, 16, 16>;

fn driver_error(what: &str, e: nic_drivers::Error) -> u16 {
    println!("partnet: FAIL {what}: {e}");
    code::DRIVER
}

/// The first virtio-net device in the virtio-mmio slots, which must be modern.
pub fn virtio_mmio<'h>(hal: &'h IdentityHal<'static>) -> Result<VirtioDev<'h>, u16> {
    let found = MmioSlots::QEMU_VIRT_RISCV64
        .find(DEVICE_TYPE_NET, |addr| {
            hal.mmio_map(addr, mmio::WINDOW_LEN)
                .map_err(nic_drivers::Error::Hal)
        })
        .map_err(|e| driver_error("map virtio-mmio", e))?;
    if let Some((addr, t)) = found {
        if t.is_legacy() {
            println!("partnet: FAIL virtio-mmio net at {addr:#x} is legacy; run QEMU with -global virtio-mmio.force-legacy=false");
            return Err(code::NO_DEVICE);
        }
        println!("partnet: nic virtio-net, virtio-mmio modern at {addr:#x}");
        // No checksum offload either way: the partitions' stacks compute and check every
        // checksum themselves, so a frame means the same on every port of the switch.
        let config = NetConfig {
            features: SUPPORTED_FEATURES.difference(NetFeatures::CSUM | NetFeatures::GUEST_CSUM),
            ..NetConfig::default()
        };
        let dev = VirtioNet::new(hal, t, config).map_err(|e| driver_error("virtio-net init", e))?;
        println!("partnet: negotiated features {:?}", dev.features());
        return Ok(dev);
    }
    println!("partnet: FAIL no virtio-net in the virtio-mmio slots");
    Err(code::NO_DEVICE)
}

/// The first 82540EM on PCI bus 0, BAR0 assigned from the 32-bit window.
pub fn e1000<'h>(hal: &'h IdentityHal<'static>) -> Result<E1000Dev<'h>, u16> {
    let window = hal
        .mmio_map(ECAM.0, ECAM.1)
        .map_err(|e| driver_error("map ECAM", nic_drivers::Error::Hal(e)))?;
    let root = PciRoot::new(Ecam::new(window));
    let mut bars = BarAllocator::new(PCI_MMIO.0, PCI_MMIO.1);
    let f = match root.discover(0, 0, DeviceMatch::E1000, Some(&mut bars)) {
        Ok(Some(f)) => f,
        Ok(None) => {
            println!("partnet: FAIL no e1000 on PCI bus 0");
            return Err(code::NO_DEVICE);
        }
        Err(e) => return Err(driver_error("PCI discovery", e)),
    };
    let Some(bar0) = f.bar(0) else {
        println!("partnet: FAIL e1000 has no memory BAR0");
        return Err(code::NO_DEVICE);
    };
    println!(
        "partnet: nic e1000 at {}, BAR0 {:#x}",
        f.address(),
        bar0.address
    );
    E1000::new(hal, bar0.address).map_err(|e| driver_error("e1000 init", e))
}
