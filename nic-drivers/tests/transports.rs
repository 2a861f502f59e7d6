//! The virtio-mmio (v1 and v2) and virtio-pci transports against register-level models
//! of the devices, with the virtio-net driver and device model running over them; PCI
//! enumeration, capability walks and BAR assignment over a fake ECAM.

mod harness;
use std::cell::Cell;

use harness::*;
use nic_drivers::mock::FakeMmio;
use nic_drivers::net::header::config;
use nic_drivers::pci::{BarAllocator, Ecam, PciAddress, PciRoot};
use nic_drivers::transport::mmio::{MmioSlots, MmioTransport, MAGIC};
use nic_drivers::transport::pci::PciTransport;
use nic_drivers::transport::{queue_layout, DeviceStatus, Transport, LEGACY_ALIGN};
use nic_drivers::virtqueue::QueueConfig;
use nic_drivers::RegisterIo;

/// Per-queue registers being written before the queue is enabled.
#[derive(Default, Clone, Copy)]
struct Stage {
    num: u16,
    desc: u64,
    avail: u64,
    used: u64,
    align: u32,
}

/// virtio-mmio registers over a [`FakeDeviceState`] (VirtIO 1.x 4.2.2 / legacy 4.2.4).
struct MmioRegs<'a> {
    st: &'a RefCell<FakeDeviceState>,
    hook: Option<&'a dyn Fn(u16)>,
    dev_sel: Cell<u32>,
    drv_sel: Cell<u32>,
    queue_sel: Cell<u16>,
    stage: RefCell<[Stage; 4]>,
    page: Cell<u32>,
}

impl<'a> MmioRegs<'a> {
    fn new(st: &'a RefCell<FakeDeviceState>, hook: Option<&'a dyn Fn(u16)>) -> Self {
        MmioRegs {
            st,
            hook,
            dev_sel: Cell::new(0),
            drv_sel: Cell::new(0),
            queue_sel: Cell::new(0),
            stage: RefCell::new([Stage::default(); 4]),
            page: Cell::new(0),
        }
    }

    fn q(&self) -> usize {
        usize::from(self.queue_sel.get()).min(3)
    }
}

fn set_half(v: &mut u64, high: bool, x: u32) {
    if high {
        *v = (*v & 0xffff_ffff) | u64::from(x) << 32;
    } else {
        *v = (*v & !0xffff_ffff) | u64::from(x);
    }
}

impl RegisterIo for MmioRegs<'_> {
    fn read8(&self, off: usize) -> u8 {
        let s = self.st.borrow();
        off.checked_sub(0x100)
            .and_then(|o| s.config.get(o).copied())
            .unwrap_or(0xff)
    }
    fn read16(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.read8(off), self.read8(off + 1)])
    }
    fn read32(&self, off: usize) -> u32 {
        let s = self.st.borrow();
        let q = self.q();
        match off {
            0x000 => MAGIC,
            0x004 => {
                if s.legacy {
                    1
                } else {
                    2
                }
            }
            0x008 => s.device_type,
            0x00c => 0x554d_4551,
            0x010 => match (self.dev_sel.get(), s.legacy) {
                (0, _) => s.offered as u32,
                (1, false) => (s.offered >> 32) as u32,
                _ => 0,
            },
            0x034 => u32::from(s.queue_max[q]),
            0x040 | 0x044 => u32::from(s.queues[q].is_some()),
            0x060 => s.interrupt,
            0x070 => s.status,
            0x0fc => s.generation,
            _ => 0,
        }
    }
    fn write8(&self, _off: usize, _v: u8) {}
    fn write16(&self, _off: usize, _v: u16) {}
    fn write32(&self, off: usize, v: u32) {
        let q = self.q();
        match off {
            0x014 => self.dev_sel.set(v),
            0x024 => self.drv_sel.set(v),
            0x020 => {
                let mut s = self.st.borrow_mut();
                let high = self.drv_sel.get() == 1;
                set_half(&mut s.driver_features, high, v);
            }
            0x028 => self.page.set(v),
            0x030 => self.queue_sel.set(v as u16),
            0x038 => self.stage.borrow_mut()[q].num = v as u16,
            0x03c => self.stage.borrow_mut()[q].align = v,
            0x040 => {
                let st = self.stage.borrow()[q];
                let base = u64::from(v) * u64::from(self.page.get());
                let (cfg, _) = queue_layout(base, st.num, u64::from(st.align));
                self.st.borrow_mut().queues[q] = (v != 0).then_some(cfg);
            }
            0x044 => {
                let st = self.stage.borrow()[q];
                self.st.borrow_mut().queues[q] = (v != 0).then_some(QueueConfig {
                    size: st.num,
                    desc: st.desc,
                    avail: st.avail,
                    used: st.used,
                });
            }
            0x050 => {
                self.st.borrow_mut().notifications[usize::from(v as u16).min(3)] += 1;
                if let Some(h) = self.hook {
                    h(v as u16);
                }
            }
            0x064 => self.st.borrow_mut().interrupt &= !v,
            0x070 => {
                let mut s = self.st.borrow_mut();
                let mut v = v;
                if !s.accept_features {
                    v &= !DeviceStatus::FEATURES_OK.bits();
                }
                if v == 0 {
                    s.queues = [None; 4];
                    self.page.set(0); // like QEMU: a reset forgets the guest page size
                }
                s.status = v;
            }
            0x080 | 0x084 => set_half(&mut self.stage.borrow_mut()[q].desc, off == 0x084, v),
            0x090 | 0x094 => set_half(&mut self.stage.borrow_mut()[q].avail, off == 0x094, v),
            0x0a0 | 0x0a4 => set_half(&mut self.stage.borrow_mut()[q].used, off == 0x0a4, v),
            _ => {}
        }
    }
    fn len(&self) -> usize {
        0x200
    }
}

type MmioNet<'h, 'a> = VirtioNet<'h, FakeHal, MmioTransport<MmioRegs<'a>>, 64, 8>;

fn ping_pong<D: NicControl>(
    net: &mut D,
    model: &RefCell<NetDeviceModel<'_, impl nic_drivers::virtqueue::SharedMemory>>,
) {
    for i in 0..ROUNDS as u8 {
        let f = frame(60 + usize::from(i) * 37, i);
        assert!(send(net, &f).unwrap());
        model.borrow_mut().inject(&f);
        model.borrow_mut().process();
        assert_eq!(recv(net).unwrap(), Some(f));
    }
    net.set_promiscuous(true).unwrap();
    let m = model.borrow();
    assert_eq!(m.sent.len(), ROUNDS);
    assert!(m.promiscuous);
    assert!(m.errors.is_empty());
}

#[test]
fn virtio_net_over_mmio_modern_and_legacy() {
    for legacy in [false, true] {
        let hal = FakeHal::new(DMA_BASE, DMA_LEN);
        let dev_mem = hal.device_memory();
        let mut s = FakeDeviceState::net(modern_features(), MAC, 1500);
        if legacy {
            s.offered = (NetFeatures::MAC
                | NetFeatures::CTRL_VQ
                | NetFeatures::CTRL_RX
                | NetFeatures::MRG_RXBUF
                | NetFeatures::ANY_LAYOUT
                | NetFeatures::RING_EVENT_IDX)
                .bits();
        }
        s.legacy = legacy;
        let st = RefCell::new(s);
        let model = RefCell::new(NetDeviceModel::new(&dev_mem, &st));
        let hook = |q: u16| model.borrow_mut().on_notify(q);
        let regs = MmioRegs::new(&st, Some(&hook));
        let t = MmioTransport::new(regs).unwrap();
        assert_eq!(t.is_legacy(), legacy);
        let mut net: MmioNet<'_, '_> = VirtioNet::new(&hal, t, NetConfig::default()).unwrap();
        assert_eq!(net.mac_address(), MacAddress(MAC));
        if legacy {
            assert_eq!(net.transport().registers().page.get(), LEGACY_ALIGN as u32);
            assert_eq!(st.borrow().queue(0).unwrap().used % LEGACY_ALIGN, 0);
        } else {
            assert!(net.features().contains(NetFeatures::VERSION_1));
        }
        ping_pong(&mut net, &model);
    }
}

/// A window whose first three registers read as given (magic, version, device id).
#[derive(Debug)]
struct Fixed([u32; 3]);
impl RegisterIo for Fixed {
    fn read8(&self, _: usize) -> u8 {
        0
    }
    fn read16(&self, _: usize) -> u16 {
        0
    }
    fn read32(&self, off: usize) -> u32 {
        self.0.get(off / 4).copied().unwrap_or(0)
    }
    fn write8(&self, _: usize, _: u8) {}
    fn write16(&self, _: usize, _: u16) {}
    fn write32(&self, _: usize, _: u32) {}
    fn len(&self) -> usize {
        0x200
    }
}

#[test]
fn mmio_slots_find_the_first_device_of_the_type_and_skip_the_rest() {
    let st = |t: u32| {
        let mut s = FakeDeviceState::net(modern_features(), [2, 0, 0, 0, 0, 1], 1500);
        s.device_type = t;
        RefCell::new(s)
    };
    // Slot 0 empty (device id 0), 1 not virtio-mmio (garbage magic), 2 a block device,
    // 3 and 4 network cards: the first network card is slot 3.
    let (empty, block, net, net2) = (st(0), st(2), st(1), st(1));
    let slots = MmioSlots {
        base: 0x1000,
        stride: 0x1000,
        count: 8,
    };
    let (empty, block, net, net2) = (
        MmioRegs::new(&empty, None),
        MmioRegs::new(&block, None),
        MmioRegs::new(&net, None),
        MmioRegs::new(&net2, None),
    );
    let garbage = Fixed([0xdead_beef, 2, 1]);
    let map = |addr: u64| -> Result<&dyn RegisterIo, Error> {
        Ok(match addr {
            0x1000 => &empty,
            0x2000 => &garbage,
            0x3000 => &block,
            0x4000 => &net,
            _ => &net2,
        })
    };
    let mut mapped = Vec::new();
    let (addr, t) = slots
        .find(1, |a| {
            mapped.push(a);
            map(a)
        })
        .unwrap()
        .expect("a network card");
    assert_eq!((addr, t.device_type()), (0x4000, 1));
    assert_eq!(
        mapped,
        [0x1000, 0x2000, 0x3000, 0x4000],
        "stops at the first match"
    );
    // No such device: every slot probed once, then `None`.
    let mut probes = 0;
    let none = slots.find(9, |a| {
        probes += 1;
        map(a)
    });
    assert!(matches!(none, Ok(None)));
    assert_eq!(probes, 8);
    // A mapping error ends the search with that error.
    let e = Error::Unsupported { what: "no MMIO" };
    assert!(matches!(slots.find(1, |_| Err::<&dyn RegisterIo, _>(e)), Err(x) if x == e));
    // Slots past the end of the address space are not probed.
    let high = MmioSlots {
        base: u64::MAX - 0x1000,
        stride: 0x1000,
        count: 4,
    };
    let mut probes = 0;
    let _ = high.find(9, |a| {
        probes += 1;
        map(a)
    });
    assert_eq!(probes, 2);
}

#[test]
fn mmio_probe_rejects_empty_and_foreign_windows() {
    assert_eq!(
        MmioTransport::new(Fixed([0xdead_beef, 2, 1])).unwrap_err(),
        Error::NoDevice { found: 0xdead_beef }
    );
    assert_eq!(
        MmioTransport::new(Fixed([MAGIC, 2, 0])).unwrap_err(),
        Error::NoDevice { found: 0 }
    );
    assert!(matches!(
        MmioTransport::new(Fixed([MAGIC, 3, 1])),
        Err(Error::ConfigInvalid { value: 3, .. })
    ));
}

/// A flat register window over a `Vec<u8>` (a PCI BAR's backing).
struct Flat<'a> {
    bytes: &'a RefCell<Vec<u8>>,
    base: usize,
    len: usize,
}

impl RegisterIo for Flat<'_> {
    fn read8(&self, off: usize) -> u8 {
        if off >= self.len {
            return 0xff;
        }
        self.bytes.borrow()[self.base + off]
    }
    fn read16(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.read8(off), self.read8(off + 1)])
    }
    fn read32(&self, off: usize) -> u32 {
        u32::from(self.read16(off)) | u32::from(self.read16(off + 2)) << 16
    }
    fn write8(&self, off: usize, v: u8) {
        if off < self.len {
            self.bytes.borrow_mut()[self.base + off] = v;
        }
    }
    fn write16(&self, off: usize, v: u16) {
        for (i, b) in v.to_le_bytes().into_iter().enumerate() {
            self.write8(off + i, b);
        }
    }
    fn write32(&self, off: usize, v: u32) {
        for (i, b) in v.to_le_bytes().into_iter().enumerate() {
            self.write8(off + i, b);
        }
    }
    fn len(&self) -> usize {
        self.len
    }
}

/// ECAM over a flat buffer with BAR sizing semantics for function 00:01.0 (BAR0: 64-bit,
/// 16 KiB; BAR2: 32-bit, 4 KiB).
struct EcamModel {
    space: RefCell<Vec<u8>>,
}

impl RegisterIo for EcamModel {
    fn read8(&self, off: usize) -> u8 {
        self.space.borrow().get(off).copied().unwrap_or(0xff)
    }
    fn read16(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.read8(off), self.read8(off + 1)])
    }
    fn read32(&self, off: usize) -> u32 {
        u32::from(self.read16(off)) | u32::from(self.read16(off + 2)) << 16
    }
    fn write8(&self, _: usize, _: u8) {}
    fn write16(&self, _: usize, _: u16) {}
    fn write32(&self, off: usize, v: u32) {
        let f = 1 << 15;
        let v = match off.checked_sub(f) {
            Some(0x10) => (v & !(16 * 1024 - 1)) | 0x4, // 64-bit memory BAR
            Some(0x14) => v,
            Some(0x18) => v & !(4096 - 1),
            Some(0x1c..=0x24) => 0,
            // Status bits are read-only / write-one-to-clear: keep them.
            Some(0x04) => (v & 0xffff) | (self.read32(off) & 0xffff_0000),
            _ => v,
        };
        if let Some(d) = self.space.borrow_mut().get_mut(off..off + 4) {
            d.copy_from_slice(&v.to_le_bytes());
        }
    }
    fn len(&self) -> usize {
        self.space.borrow().len()
    }
}

fn put(space: &mut [u8], off: usize, bytes: &[u8]) {
    space[off..off + bytes.len()].copy_from_slice(bytes);
}

/// Bus 0 with a host bridge at 00:00.0 and a modern virtio-net at 00:01.0 whose four
/// capabilities point into BAR0 (common 0x0, ISR 0x1000, device 0x2000, notify 0x3000,
/// multiplier 4), plus a looping non-virtio capability.
fn ecam() -> EcamModel {
    // Devices 0 and 1 of bus 0; everything beyond reads as all ones (absent).
    let mut s = vec![0xffu8; 2 << 15];
    let bridge = 0;
    put(&mut s, bridge, &[0x86, 0x80, 0x00, 0x00]);
    put(&mut s, bridge + 0x08, &[0, 0, 0, 6]);
    put(&mut s, bridge + 0x0c, &[0, 0, 0, 0]);
    let f = 1 << 15;
    s[f..f + 256].fill(0);
    put(&mut s, f, &[0xf4, 0x1a, 0x41, 0x10]);
    put(&mut s, f + 0x04, &[0, 0, 0x10, 0]); // capability list
    put(&mut s, f + 0x08, &[1, 0, 0, 2]);
    put(&mut s, f + 0x10, &[0x4, 0, 0, 0]);
    put(&mut s, f + 0x34, &[0x40]);
    let caps: [(u8, u32, u32); 4] = [
        (1, 0, 0x38),
        (3, 0x1000, 4),
        (4, 0x2000, 0x40),
        (2, 0x3000, 0x100),
    ];
    let mut at = 0x40;
    for (i, (ty, off, len)) in caps.iter().enumerate() {
        let next = if i == 3 { 0x90 } else { at + 0x14 };
        put(&mut s, f + at, &[0x09, next as u8, 0x14, *ty, 0, 0, 0, 0]);
        put(&mut s, f + at + 8, &off.to_le_bytes());
        put(&mut s, f + at + 12, &len.to_le_bytes());
        put(&mut s, f + at + 16, &4u32.to_le_bytes());
        at += 0x14;
    }
    put(&mut s, f + 0x90, &[0x05, 0x90]); // MSI capability pointing at itself
    EcamModel {
        space: RefCell::new(s),
    }
}

#[test]
fn pci_enumeration_capabilities_and_bars() {
    let root = PciRoot::new(Ecam::new(ecam()));
    let found: Vec<_> = root.enumerate(0, 0).collect();
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].vendor, found[0].class), (0x8086, 6));
    assert_eq!((found[1].vendor, found[1].device), (0x1af4, 0x1041));
    let addr = PciAddress::new(0, 1, 0);
    assert_eq!(
        nic_drivers::transport::pci::virtio_device_type(&root, addr),
        Some(1)
    );
    let caps: Vec<_> = root.capabilities(addr).collect();
    assert_eq!(
        caps.len(),
        nic_drivers::pci::MAX_CAPABILITIES,
        "a looping list is cut off"
    );
    assert_eq!(
        &caps[..5],
        &[(9, 0x40), (9, 0x54), (9, 0x68), (9, 0x7c), (5, 0x90)]
    );
    let bar = root.bar(addr, 0).unwrap().unwrap();
    assert_eq!((bar.size, bar.is_64bit, bar.address), (16 * 1024, true, 0));
    let mut alloc = BarAllocator::new(0x4000_0000, 0x10_0000);
    root.assign_bars(addr, &mut alloc).unwrap();
    assert_eq!(root.bar(addr, 0).unwrap().unwrap().address, 0x4000_0000);
    assert_eq!(root.bar(addr, 2).unwrap().unwrap().address, 0x4000_4000);
    assert_eq!(root.read(addr, 4, 2) & 0x6, 0x6, "memory and bus master on");
    assert_eq!(alloc.allocate(3), None);
    let mut small = BarAllocator::new(0, 0x1000);
    assert!(
        root.assign_bars(PciAddress::new(0, 1, 0), &mut small)
            .is_ok(),
        "already assigned"
    );
}

/// Windows of one BAR backing, for `FakeHal::mmio_map`.
struct Bar<'a> {
    bytes: &'a RefCell<Vec<u8>>,
    base: u64,
}

impl<'a> FakeMmio for Bar<'a> {
    type Window = Flat<'a>;
    fn map(&self, paddr: u64, len: usize) -> Result<Flat<'a>, nic_drivers::HalError> {
        let base = paddr
            .checked_sub(self.base)
            .ok_or(nic_drivers::HalError::Unmappable { addr: paddr, len })?;
        Ok(Flat {
            bytes: self.bytes,
            base: base as usize,
            len,
        })
    }
}

#[test]
fn pci_transport_probe_and_registers() {
    let root = PciRoot::new(Ecam::new(ecam()));
    let addr = PciAddress::new(0, 1, 0);
    root.assign_bars(addr, &mut BarAllocator::new(0x4000_0000, 0x10_0000))
        .unwrap();
    let bar = RefCell::new(vec![0u8; 16 * 1024]);
    {
        let mut b = bar.borrow_mut();
        put(&mut b, 0x04, &0x2000_0021u32.to_le_bytes()); // features word 0 (selected below)
        put(&mut b, 0x12, &3u16.to_le_bytes()); // num_queues
        put(&mut b, 0x18, &128u16.to_le_bytes()); // queue_size
        put(&mut b, 0x1e, &2u16.to_le_bytes()); // queue_notify_off
        put(&mut b, 0x15, &[7]); // config_generation
        put(&mut b, 0x2000, &MAC);
        put(&mut b, 0x2000 + config::MTU, &1400u16.to_le_bytes());
        put(&mut b, 0x1000, &[3]); // ISR
    }
    let hal = FakeHal::with_mmio(
        DMA_BASE,
        1 << 16,
        Bar {
            bytes: &bar,
            base: 0x4000_0000,
        },
    );
    let mut t = PciTransport::probe(&hal, &root, addr).unwrap();
    assert_eq!(t.device_type(), 1);
    assert!(!t.is_legacy());
    assert_eq!(t.device_features() as u32, 0x2000_0021);
    assert_eq!(t.config_generation(), 7);
    assert_eq!(t.read_config8(0), MAC[0]);
    assert_eq!(t.read_config16(config::MTU), 1400);
    assert_eq!(t.max_queue_size(0), 128);
    let (cfg, _) = queue_layout(0x9000_0000, 128, 4);
    t.setup_queue(0, &cfg).unwrap();
    let b = bar.borrow();
    let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    assert_eq!(
        (le64(0x20), le64(0x28), le64(0x30)),
        (cfg.desc, cfg.avail, cfg.used)
    );
    assert_eq!(u16::from_le_bytes([b[0x1c], b[0x1d]]), 1, "queue enabled");
    drop(b);
    t.notify(0);
    assert_eq!(
        bar.borrow()[0x3000 + 2 * 4],
        0,
        "queue index written at off * multiplier"
    );
    assert_eq!(t.ack_interrupt().bits(), 3);
    t.set_driver_features(0x1_0000_0021);
    t.set_status(DeviceStatus::ACKNOWLEDGE);
    assert_eq!(t.status(), DeviceStatus::ACKNOWLEDGE);
    // A hostile notify offset outside the notify window is refused at set-up.
    put(&mut bar.borrow_mut(), 0x1e, &0x1000u16.to_le_bytes());
    assert!(matches!(
        t.setup_queue(1, &cfg),
        Err(Error::ConfigInvalid {
            field: "queue_notify_off",
            ..
        })
    ));
}
