//! [`FakeTransport`]: the registers of a VirtIO device in a [`FakeDeviceState`].

use core::cell::RefCell;

use virtqueue::QueueConfig;

use crate::transport::{DeviceStatus, InterruptStatus, Transport};
use crate::Error;

/// Queues a [`FakeDeviceState`] models.
pub const FAKE_QUEUES: usize = 4;

/// The device side of the registers: what the device offers and what the driver wrote.
#[derive(Debug, Clone)]
pub struct FakeDeviceState {
    /// Device type (1 = network).
    pub device_type: u32,
    /// Legacy interface.
    pub legacy: bool,
    /// Offered features.
    pub offered: u64,
    /// Features the driver wrote.
    pub driver_features: u64,
    /// Status register.
    pub status: u32,
    /// Whether `FEATURES_OK` is kept when the driver sets it.
    pub accept_features: bool,
    /// Largest size per queue (0: absent).
    pub queue_max: [u16; FAKE_QUEUES],
    /// Rings the driver set up (device addresses).
    pub queues: [Option<QueueConfig>; FAKE_QUEUES],
    /// Device configuration space.
    pub config: [u8; 64],
    /// Generation counter.
    pub generation: u32,
    /// Bump the generation on every read (a configuration that never settles).
    pub unstable_config: bool,
    /// Pending interrupt cause.
    pub interrupt: u32,
    /// Notifications received per queue.
    pub notifications: [u32; FAKE_QUEUES],
}

impl FakeDeviceState {
    /// A network device offering `features`, with `mac` and `mtu` in its configuration,
    /// link up, queues of 256.
    pub fn net(features: u64, mac: [u8; 6], mtu: u16) -> Self {
        let mut config = [0u8; 64];
        config[..6].copy_from_slice(&mac);
        config[6..8].copy_from_slice(&1u16.to_le_bytes());
        config[8..10].copy_from_slice(&1u16.to_le_bytes());
        config[10..12].copy_from_slice(&mtu.to_le_bytes());
        FakeDeviceState {
            device_type: crate::transport::DEVICE_TYPE_NET,
            legacy: false,
            offered: features,
            driver_features: 0,
            status: 0,
            accept_features: true,
            queue_max: [256; FAKE_QUEUES],
            queues: [None; FAKE_QUEUES],
            config,
            generation: 0,
            unstable_config: false,
            interrupt: 0,
            notifications: [0; FAKE_QUEUES],
        }
    }

    /// The rings of `queue`, once the driver set them up.
    pub fn queue(&self, queue: u16) -> Option<QueueConfig> {
        self.queues.get(usize::from(queue)).copied().flatten()
    }

    /// Change configuration bytes (bumps the generation).
    pub fn write_config(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(dst) = self.config.get_mut(offset..offset + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.generation = self.generation.wrapping_add(1);
        self.interrupt |= InterruptStatus::CONFIG.bits();
    }
}

/// A [`Transport`] over a shared [`FakeDeviceState`]; `notify` runs `hook` (a device
/// model) synchronously, with no borrow of the state held.
pub struct FakeTransport<'a> {
    state: &'a RefCell<FakeDeviceState>,
    hook: Option<&'a dyn Fn(u16)>,
}

impl core::fmt::Debug for FakeTransport<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FakeTransport")
            .field("state", &self.state)
            .finish()
    }
}

impl<'a> FakeTransport<'a> {
    /// A transport over `state`; `hook` runs on every notification.
    pub fn new(state: &'a RefCell<FakeDeviceState>, hook: Option<&'a dyn Fn(u16)>) -> Self {
        FakeTransport { state, hook }
    }

    /// The shared state.
    pub fn state(&self) -> &'a RefCell<FakeDeviceState> {
        self.state
    }
}

impl Transport for FakeTransport<'_> {
    fn device_type(&self) -> u32 {
        self.state.borrow().device_type
    }

    fn is_legacy(&self) -> bool {
        self.state.borrow().legacy
    }

    fn device_features(&mut self) -> u64 {
        let s = self.state.borrow();
        if s.legacy {
            s.offered & u64::from(u32::MAX)
        } else {
            s.offered
        }
    }

    fn set_driver_features(&mut self, features: u64) {
        self.state.borrow_mut().driver_features = features;
    }

    fn status(&mut self) -> DeviceStatus {
        DeviceStatus::from_bits_retain(self.state.borrow().status)
    }

    fn set_status(&mut self, status: DeviceStatus) {
        let mut s = self.state.borrow_mut();
        let mut v = status.bits();
        if !s.accept_features {
            v &= !DeviceStatus::FEATURES_OK.bits();
        }
        if v == 0 {
            s.queues = [None; FAKE_QUEUES];
            s.driver_features = 0;
        }
        s.status = v;
    }

    fn max_queue_size(&mut self, queue: u16) -> u16 {
        let s = self.state.borrow();
        if s.queue(queue).is_some() {
            return 0;
        }
        s.queue_max.get(usize::from(queue)).copied().unwrap_or(0)
    }

    fn setup_queue(&mut self, queue: u16, cfg: &QueueConfig) -> Result<(), Error> {
        let mut s = self.state.borrow_mut();
        match s.queues.get_mut(usize::from(queue)) {
            Some(q) => {
                *q = Some(*cfg);
                Ok(())
            }
            None => Err(Error::Unsupported {
                what: "queue index beyond the fake device",
            }),
        }
    }

    fn notify(&mut self, queue: u16) {
        if let Some(n) = self
            .state
            .borrow_mut()
            .notifications
            .get_mut(usize::from(queue))
        {
            *n += 1;
        }
        if let Some(hook) = self.hook {
            hook(queue);
        }
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        let mut s = self.state.borrow_mut();
        InterruptStatus::from_bits_truncate(core::mem::take(&mut s.interrupt))
    }

    fn config_generation(&mut self) -> u32 {
        let mut s = self.state.borrow_mut();
        if s.unstable_config {
            s.generation = s.generation.wrapping_add(1);
        }
        s.generation
    }

    fn read_config8(&mut self, offset: usize) -> u8 {
        self.state
            .borrow()
            .config
            .get(offset)
            .copied()
            .unwrap_or(u8::MAX)
    }
}
