//! The device status and interrupt status words of VirtIO 1.x (2.1, 4.1.4.5): what every
//! transport carries between a driver and a device, whichever side this crate serves.

bitflags::bitflags! {
    /// The device status field (VirtIO 1.x 2.1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct DeviceStatus: u32 {
        /// The guest found the device.
        const ACKNOWLEDGE = 1;
        /// The guest knows how to drive it.
        const DRIVER = 2;
        /// The driver is ready.
        const DRIVER_OK = 4;
        /// Feature negotiation is complete.
        const FEATURES_OK = 8;
        /// The device hit an error it cannot recover from without reset.
        const DEVICE_NEEDS_RESET = 0x40;
        /// The driver gave up on the device.
        const FAILED = 0x80;
    }
}

bitflags::bitflags! {
    /// Why the device interrupted (ISR status / `InterruptStatus`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct InterruptStatus: u32 {
        /// A queue has used buffers.
        const QUEUE = 1;
        /// The configuration changed.
        const CONFIG = 2;
    }
}
