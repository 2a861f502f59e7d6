//! Bare-metal selftest of nic-drivers on QEMU riscv64 `virt`.
//!
//! Boot: OpenSBI (`-bios default`) enters `_start` at 0x8020_0000 in S-mode with the hart
//! id in `a0` and the device tree in `a1`. The kernel command line (`-append`) says which
//! NIC to use and which MAC QEMU was given:
//!
//! ```text
//! nic=e1000|virtio-mmio-modern|virtio-mmio-legacy|virtio-pci mac=52:54:00:12:34:56
//! ```
//!
//! The image brings the driver up, checks the MAC, sends an ARP request for 10.0.2.2
//! (QEMU user networking's gateway) and checks the reply, sends an ICMP echo request and
//! checks the reply (id, sequence, payload, checksums), printing each step on the UART,
//! then exits QEMU through the sifive test device: status 0 on success, the failing
//! step's number otherwise. Every wait is bounded by the `time` CSR.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod fdt;
mod platform;
mod probe;
mod rt;

use core::panic::PanicInfo;

use nic_drivers::e1000::E1000;
use nic_drivers::net::{NetConfig, NetFeatures, VirtioNet};
use nic_drivers::pci::{BarAllocator, DeviceMatch, Ecam, PciDevice, PciRoot};
use nic_drivers::transport::mmio::{self, MmioSlots};
use nic_drivers::transport::pci::PciTransport;
use nic_drivers::transport::Transport;
use nic_drivers::transport::DEVICE_TYPE_NET;
use nic_drivers::{Hal, IdentityHal, LinkState, MacAddress, MmioWindow, NicControl};
use probe::{EchoMismatch, Probe};

/// Failure codes (QEMU exit status).
mod code {
    pub const BOOTARGS: u16 = 2;
    pub const NO_DEVICE: u16 = 3;
    pub const DRIVER: u16 = 4;
    pub const MAC: u16 = 5;
    pub const LINK: u16 = 6;
    pub const TX: u16 = 7;
    pub const ARP: u16 = 8;
    pub const ECHO: u16 = 9;
    pub const PANIC: u16 = 10;
}

/// Receive / wait budget per step.
const WAIT_MS: u64 = 3000;

extern "C" fn rust_main(_hart: usize, dtb: usize) -> ! {
    println!("selftest: start");
    // SAFETY: OpenSBI passes a valid device tree in a1.
    #[allow(unsafe_code)]
    let args = unsafe { fdt::bootargs(dtb) }.unwrap_or("");
    println!("selftest: bootargs \"{args}\"");
    let mut nic = None;
    let mut mac = None;
    for word in args.split_ascii_whitespace() {
        if let Some(v) = word.strip_prefix("nic=") {
            nic = Some(v);
        } else if let Some(v) = word.strip_prefix("mac=") {
            mac = parse_mac(v);
        }
    }
    let (Some(nic), Some(mac)) = (nic, mac) else {
        println!("selftest: FAIL bootargs need nic=... and mac=...");
        platform::exit(Err(code::BOOTARGS));
    };
    let Some(hal) = rt::dma::hal() else {
        platform::exit(Err(code::PANIC));
    };
    let result = match nic {
        "e1000" => run_e1000(&hal, mac),
        "virtio-mmio-modern" => run_virtio_mmio(&hal, mac, false, false),
        "virtio-mmio-packed" => run_virtio_mmio(&hal, mac, false, true),
        "virtio-mmio-legacy" => run_virtio_mmio(&hal, mac, true, false),
        "virtio-pci" => run_virtio_pci(&hal, mac),
        other => {
            println!("selftest: FAIL unknown nic {other}");
            Err(code::BOOTARGS)
        }
    };
    match result {
        Ok(()) => println!("selftest: PASS"),
        Err(c) => println!("selftest: FAIL (code {c})"),
    }
    platform::exit(result)
}

/// PCIe of QEMU `virt`: ECAM window and the 32-bit MMIO window BARs are assigned from
/// (`/soc/pci@30000000` in the device tree; nothing assigns BARs before us).
const ECAM: (u64, usize) = (0x3000_0000, 0x1000_0000);
const PCI_MMIO: (u64, u64) = (0x4000_0000, 0x4000_0000);

/// The first function on PCI bus 0 matching `what`, its BARs assigned from the 32-bit
/// window, enabled: the root it is on and the device.
fn pci_device(
    hal: &IdentityHal<'static>,
    what: DeviceMatch,
    name: &str,
) -> Result<(PciRoot<Ecam<MmioWindow>>, PciDevice), u16> {
    let window = hal.mmio_map(ECAM.0, ECAM.1).map_err(|e| {
        println!("selftest: FAIL map ECAM: {e}");
        code::NO_DEVICE
    })?;
    let root = PciRoot::new(Ecam::new(window));
    let mut bars = BarAllocator::new(PCI_MMIO.0, PCI_MMIO.1);
    match root.discover(0, 0, what, Some(&mut bars)) {
        Ok(Some(dev)) => Ok((root, dev)),
        Ok(None) => {
            println!("selftest: FAIL no {name} on PCI bus 0");
            Err(code::NO_DEVICE)
        }
        Err(e) => Err(driver_error("PCI discovery", e)),
    }
}

fn driver_error(what: &str, e: nic_drivers::Error) -> u16 {
    println!("selftest: FAIL {what}: {e}");
    code::DRIVER
}

fn run_e1000(hal: &IdentityHal<'static>, mac: [u8; 6]) -> Result<(), u16> {
    let (_, f) = pci_device(hal, DeviceMatch::E1000, "e1000")?;
    let Some(bar0) = f.bar(0) else {
        println!("selftest: FAIL e1000 has no memory BAR0");
        return Err(code::NO_DEVICE);
    };
    println!(
        "selftest: e1000 at {}, BAR0 {:#x}",
        f.address(),
        bar0.address
    );
    let dev: E1000<'_, IdentityHal<'static>, 16, 16> =
        E1000::new(hal, bar0.address).map_err(|e| driver_error("e1000 init", e))?;
    exercise(dev, mac)
}

/// virtio-net on virtio-mmio; `legacy` and `packed` say which transport version and ring
/// layout the QEMU configuration must have given.
fn run_virtio_mmio(
    hal: &IdentityHal<'static>,
    mac: [u8; 6],
    legacy: bool,
    packed: bool,
) -> Result<(), u16> {
    let found = MmioSlots::QEMU_VIRT_RISCV64
        .find(DEVICE_TYPE_NET, |addr| {
            hal.mmio_map(addr, mmio::WINDOW_LEN)
                .map_err(nic_drivers::Error::Hal)
        })
        .map_err(|e| driver_error("map virtio-mmio", e))?;
    let Some((addr, transport)) = found else {
        println!("selftest: FAIL no virtio-net in the virtio-mmio slots");
        return Err(code::NO_DEVICE);
    };
    let kind = if transport.is_legacy() {
        "legacy (version 1)"
    } else {
        "modern (version 2)"
    };
    println!("selftest: virtio-mmio {kind} net at {addr:#x}");
    if transport.is_legacy() != legacy {
        println!(
            "selftest: FAIL expected a {} transport",
            if legacy { "legacy" } else { "modern" }
        );
        return Err(code::NO_DEVICE);
    }
    let dev: VirtioNet<'_, IdentityHal<'static>, _> =
        VirtioNet::new(hal, transport, NetConfig::default())
            .map_err(|e| driver_error("virtio-net init", e))?;
    println!("selftest: negotiated features {:?}", dev.features());
    let packed_ring = dev.features().contains(NetFeatures::RING_PACKED);
    println!(
        "selftest: ring layout {}",
        if packed_ring { "packed" } else { "split" }
    );
    if packed != packed_ring {
        println!("selftest: FAIL expected packed = {packed}");
        return Err(code::NO_DEVICE);
    }
    exercise(dev, mac)
}

fn run_virtio_pci(hal: &IdentityHal<'static>, mac: [u8; 6]) -> Result<(), u16> {
    let (root, f) = pci_device(hal, DeviceMatch::VIRTIO_NET, "virtio-net")?;
    println!(
        "selftest: virtio-pci net {:04x}:{:04x} at {}",
        f.function.vendor,
        f.function.device,
        f.address()
    );
    let transport = PciTransport::probe(hal, &root, f.address())
        .map_err(|e| driver_error("virtio-pci probe", e))?;
    let dev: VirtioNet<'_, IdentityHal<'static>, _> =
        VirtioNet::new(hal, transport, NetConfig::default())
            .map_err(|e| driver_error("virtio-net init", e))?;
    println!("selftest: negotiated features {:?}", dev.features());
    exercise(dev, mac)
}

/// Our address and the peer under QEMU user networking (the gateway answers ARP and
/// ICMP echo).
const OUR_IP: [u8; 4] = [10, 0, 2, 15];
const PEER_IP: [u8; 4] = [10, 0, 2, 2];

/// The NIC-independent part: MAC, link, ARP, ICMP echo.
fn exercise<D: NicControl>(mut dev: D, mac: [u8; 6]) -> Result<(), u16> {
    let got = dev.mac_address();
    println!("selftest: driver up, mac {got}");
    if got != MacAddress(mac) {
        println!("selftest: FAIL mac {got} != expected {}", MacAddress(mac));
        return Err(code::MAC);
    }
    println!("selftest: mac ok");
    let end = platform::deadline_ms(WAIT_MS);
    while dev.link_state() == LinkState::Down {
        if platform::now() > end {
            println!("selftest: FAIL link stays down");
            return Err(code::LINK);
        }
        platform::delay_us(1000);
    }
    println!("selftest: link {:?}", dev.link_state());
    let probe = Probe {
        mac: got,
        ip: OUR_IP,
        peer_ip: PEER_IP,
    };

    send(&mut dev, &probe.arp_request())?;
    println!("selftest: arp request sent");
    let peer = wait_for(&mut dev, |f| probe.parse_arp_reply(f)).ok_or_else(|| {
        println!("selftest: FAIL no ARP reply from 10.0.2.2");
        code::ARP
    })?;
    println!("selftest: arp reply ok, 10.0.2.2 is at {peer}");

    let (id, seq) = (0x7e57, 1);
    send(&mut dev, &probe.echo_request(peer, id, seq))?;
    println!("selftest: echo request sent");
    let reply = wait_for(&mut dev, |f| match probe.check_echo_reply(f, id, seq) {
        Ok(()) => Some(Ok(())),
        Err(EchoMismatch::NotOurs) => None,
        Err(EchoMismatch::Wrong(what)) => Some(Err(what)),
    });
    match reply {
        Some(Ok(())) => println!("selftest: echo reply ok (id, seq, payload match)"),
        Some(Err(what)) => {
            println!("selftest: FAIL echo reply has wrong {what}");
            return Err(code::ECHO);
        }
        None => {
            println!("selftest: FAIL no echo reply");
            return Err(code::ECHO);
        }
    }
    let s = dev.stats();
    println!(
        "selftest: stats rx {} frames / {} bytes, tx {} frames / {} bytes, device errors {}",
        s.rx_frames, s.rx_bytes, s.tx_frames, s.tx_bytes, s.device_errors
    );
    if s.device_errors != 0 {
        return Err(code::DRIVER);
    }
    Ok(())
}

/// Sends a frame, polling for a free buffer until the wait budget runs out.
fn send<D: NicControl>(dev: &mut D, frame: &[u8]) -> Result<(), u16> {
    let end = platform::deadline_ms(WAIT_MS);
    loop {
        match probe::transmit(dev, frame) {
            Ok(true) => return Ok(()),
            Ok(false) if platform::now() < end => {
                let _ = dev.service(16);
            }
            Ok(false) => {
                println!("selftest: FAIL no transmit buffer");
                return Err(code::TX);
            }
            Err(e) => {
                println!("selftest: FAIL transmit: {e}");
                return Err(code::TX);
            }
        }
    }
}

/// Receives frames until `check` says `Some` or the wait budget runs out.
fn wait_for<D: NicControl, T>(dev: &mut D, check: impl FnMut(&[u8]) -> Option<T>) -> Option<T> {
    let end = platform::deadline_ms(WAIT_MS);
    let keep_waiting = || {
        platform::delay_us(100);
        platform::now() < end
    };
    match probe::receive_until(dev, keep_waiting, check) {
        Ok(r) => r,
        Err(e) => {
            println!("selftest: receive error: {e}");
            None
        }
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    println!("selftest: PANIC {info}");
    platform::exit(Err(code::PANIC))
}
