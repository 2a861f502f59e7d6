//! The register state machine of the shared-memory device against a simple model: a
//! driver (well-behaved or not) writes the register block in any order, the device
//! polls now and then, and after each poll the device's state, its `device_status`
//! register, its port and its attach count are what the model predicts.

use proptest::prelude::*;
use virtqueue::shm::{self, offset, DMA_BASE, REG_LEN, U32, U64};
use virtqueue::{DeviceStatus, Features, OwnedMemory, VolatileSlice};
use vnet_switch::adapters::shm::{DeviceState, ShmDevice, ShmDeviceError, OFFERED};

/// Register page and a DMA area for two queues at two places each.
const REGION: usize = REG_LEN + 16 * 1024;
/// What a driver that got as far as `DRIVER_OK` writes.
const OK_STATUS: u32 = 1 | 2 | 4 | 8;
/// The feature words a driver may write: good, one bit not offered, no `VERSION_1`.
const FEATURES: [u64; 3] = [
    OFFERED,
    OFFERED | 1 << 15,
    OFFERED & !Features::VERSION_1.bits(),
];
/// The garbage the hostile driver writes over `magic`.
const GARBAGE: u32 = 0x1234_5678;

/// What a driver wrote into one queue's registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    /// Size 16, ready, rings at one of two places in the DMA area.
    Good(u8),
    /// Ready, with a size the device refuses.
    BadSize(u32),
    /// Not ready.
    NotReady,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// The driver resets: status 0, `device_status` cleared, `resets` incremented.
    Reset,
    /// The driver writes `driver_features` (an index into [`FEATURES`]).
    Features(usize),
    /// The driver writes one queue's registers.
    Queue(usize, Queue),
    /// The driver writes `status`.
    Status(u32),
    /// The driver scribbles over the device-owned `magic`.
    Scribble,
    /// The device polls.
    Poll,
}

fn op() -> impl Strategy<Value = Op> {
    let queue = prop_oneof![
        (0u8..2).prop_map(Queue::Good),
        prop::sample::select(vec![0u32, 3, 12, 128]).prop_map(Queue::BadSize),
        Just(Queue::NotReady),
    ];
    prop_oneof![
        1 => Just(Op::Reset),
        1 => (0..FEATURES.len()).prop_map(Op::Features),
        2 => (0usize..2, queue).prop_map(|(q, v)| Op::Queue(q, v)),
        2 => prop::sample::select(vec![OK_STATUS, OK_STATUS | 0x80, 1 | 2 | 8]).prop_map(Op::Status),
        1 => Just(Op::Scribble),
        3 => Just(Op::Poll),
    ]
}

/// What the driver wrote, and what the device should make of it.
#[derive(Debug)]
struct Model {
    features: u64,
    queues: [Queue; 2],
    status: u32,
    scribbled: bool,
    reset_pending: bool,
    state: DeviceState,
    attached: (u64, [Queue; 2]),
    attaches: u64,
}

impl Model {
    fn new() -> Self {
        Model {
            features: 0,
            queues: [Queue::NotReady; 2],
            status: 0,
            scribbled: false,
            reset_pending: false,
            state: DeviceState::Waiting,
            attached: (0, [Queue::NotReady; 2]),
            attaches: 0,
        }
    }

    /// The configuration check of an attach, in the device's order.
    fn attach(&self) -> Result<(), ShmDeviceError> {
        let driver = self.features;
        if driver & !OFFERED != 0 || driver & Features::VERSION_1.bits() == 0 {
            return Err(ShmDeviceError::Features {
                driver,
                offered: OFFERED,
            });
        }
        for (q, queue) in self.queues.iter().enumerate() {
            let queue_no = q as u16;
            match *queue {
                Queue::NotReady => return Err(ShmDeviceError::QueueNotReady { queue: queue_no }),
                Queue::BadSize(size) => {
                    return Err(ShmDeviceError::QueueSize {
                        queue: queue_no,
                        size,
                    })
                }
                Queue::Good(_) => {}
            }
        }
        Ok(())
    }

    fn poll(&mut self) {
        if self.reset_pending {
            // The device starts over and re-formats its registers.
            self.reset_pending = false;
            self.state = DeviceState::Waiting;
            self.scribbled = false;
        }
        if self.status == 0 {
            self.state = DeviceState::Waiting;
            return;
        }
        if let DeviceState::Failed(_) = self.state {
            return;
        }
        let fail = if self.scribbled {
            Some(ShmDeviceError::Layout {
                field: "magic",
                value: GARBAGE.into(),
            })
        } else if self.status & 0x80 != 0 {
            Some(ShmDeviceError::DriverFailed)
        } else {
            match self.state {
                DeviceState::Waiting if self.status & 4 != 0 => match self.attach() {
                    Ok(()) => {
                        self.state = DeviceState::Running;
                        self.attached = (self.features, self.queues);
                        self.attaches += 1;
                        None
                    }
                    Err(e) => Some(e),
                },
                DeviceState::Running if self.features != self.attached.0 => {
                    Some(ShmDeviceError::Reconfigured {
                        field: "driver_features",
                    })
                }
                DeviceState::Running if self.queues != self.attached.1 => {
                    Some(ShmDeviceError::Reconfigured { field: "queues" })
                }
                _ => None,
            }
        };
        if let Some(e) = fail {
            self.state = DeviceState::Failed(e);
        }
    }
}

fn w32(regs: &VolatileSlice<'_>, at: usize, v: u32) {
    regs.write_obj(at, &U32::new(v)).unwrap();
}

fn write_queue(regs: &VolatileSlice<'_>, q: usize, v: Queue) {
    let at = offset::QUEUES + offset::QUEUE_STRIDE * q;
    let (place, size, ready) = match v {
        Queue::Good(place) => (place, 16, 1),
        Queue::BadSize(size) => (0, size, 1),
        Queue::NotReady => (0, 16, 0),
    };
    let base = DMA_BASE + (2 * q as u64 + u64::from(place)) * 0x1000;
    regs.write_obj(at, &U64::new(base)).unwrap();
    regs.write_obj(at + 8, &U64::new(base + 256)).unwrap();
    regs.write_obj(at + 16, &U64::new(base + 512)).unwrap();
    w32(regs, at + offset::QUEUE_SIZE, size);
    w32(regs, at + offset::QUEUE_READY, ready);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]
    #[test]
    fn the_device_follows_the_model(ops in prop::collection::vec(op(), 1..if cfg!(miri) { 12 } else { 48 })) {
        let owned = OwnedMemory::new(0, REGION);
        let view = owned.region().get(0, REGION).unwrap();
        let (regs, dma) = shm::split(view).unwrap();
        let mut dev = ShmDevice::new(regs, &dma, [2, 0, 0, 0, 0, 1], 1500).unwrap();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Reset => {
                    w32(&regs, offset::STATUS, 0);
                    w32(&regs, offset::DEVICE_STATUS, 0);
                    let n = regs.read_u32(offset::RESETS).unwrap();
                    w32(&regs, offset::RESETS, n.wrapping_add(1));
                    model.status = 0;
                    model.reset_pending = true;
                }
                Op::Features(i) => {
                    regs.write_obj(offset::DRIVER_FEATURES, &U64::new(FEATURES[i])).unwrap();
                    model.features = FEATURES[i];
                }
                Op::Queue(q, v) => {
                    write_queue(&regs, q, v);
                    model.queues[q] = v;
                }
                Op::Status(s) => {
                    w32(&regs, offset::STATUS, s);
                    model.status = s;
                }
                Op::Scribble => {
                    w32(&regs, offset::MAGIC, GARBAGE);
                    model.scribbled = true;
                }
                Op::Poll => {
                    model.poll();
                    let state = dev.poll();
                    prop_assert_eq!(state, model.state);
                    prop_assert_eq!(dev.port().is_some(), state == DeviceState::Running);
                    prop_assert_eq!(dev.stats().attaches, model.attaches);
                    let device_status = regs.read_u32(offset::DEVICE_STATUS).unwrap();
                    let needs_reset = DeviceStatus::DEVICE_NEEDS_RESET.bits();
                    match state {
                        DeviceState::Failed(_) => prop_assert_eq!(device_status, needs_reset),
                        _ => prop_assert_eq!(device_status, 0),
                    }
                }
            }
        }
    }
}
