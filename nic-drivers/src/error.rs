//! The crate's error type: every way a device, a transport, the HAL or a caller can be
//! wrong, with the offending values.

use core::fmt;

use crate::hal::HalError;

/// Everything that can go wrong in this crate. Device violations (the `Device*`, `Queue`
/// and `Config*` variants) are counted in [`crate::LinkStats::device_errors`]; those
/// documented as fatal leave the driver broken: every later data-path call returns
/// [`Error::Broken`] until the driver is re-created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(all(feature = "defmt", target_os = "none"), derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A virtqueue rule was broken (by the device: used id, used length, index jump —
    /// fatal — or by a configuration).
    Queue(virtqueue::Error),
    /// The HAL failed.
    Hal(HalError),
    /// The driver is broken after a fatal device violation.
    Broken,
    /// No device at the given place, or a device of another type.
    NoDevice {
        /// What was found instead (device id, vendor id, magic value).
        found: u32,
    },
    /// The device (or its transport) does not provide something the driver needs.
    Unsupported {
        /// What is missing.
        what: &'static str,
    },
    /// The device did not accept the negotiated features (`FEATURES_OK` not kept).
    FeaturesRejected {
        /// The features written.
        features: u64,
    },
    /// A configuration value the device reported is invalid.
    ConfigInvalid {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// The configuration kept changing while being read (generation counter).
    ConfigUnstable {
        /// Attempts made.
        attempts: u32,
    },
    /// A field the device wrote back (a header, a descriptor write-back, a register) is
    /// invalid.
    DeviceViolation {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// The device set `DEVICE_NEEDS_RESET` or left a status bit it must not.
    DeviceStatus {
        /// The status read.
        status: u32,
    },
    /// The device did not answer within the spin budget (control command, reset).
    Timeout {
        /// What was waited for.
        what: &'static str,
    },
    /// The device answered a control command with an error.
    CommandFailed {
        /// Command class.
        class: u8,
        /// Command.
        command: u8,
        /// Acknowledgement byte (0 = ok).
        ack: u8,
    },
    /// A frame length outside what the link accepts.
    FrameLength {
        /// Length asked for.
        len: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// An access outside a reserved frame.
    SlotBounds {
        /// Offset asked for.
        offset: usize,
        /// Bytes asked for.
        len: usize,
        /// Reserved length.
        slot_len: usize,
    },
    /// A slot handle this driver did not hand out (or already took back).
    InvalidSlot {
        /// Its index.
        index: u16,
    },
    /// An operating-system call failed (hosted drivers).
    Os {
        /// The error number.
        errno: i32,
    },
}

impl Error {
    /// Whether the error is a device violation (counted in `device_errors`).
    pub fn is_device_violation(&self) -> bool {
        match self {
            Error::Queue(e) => e.is_fatal(),
            Error::ConfigInvalid { .. }
            | Error::ConfigUnstable { .. }
            | Error::DeviceViolation { .. }
            | Error::DeviceStatus { .. } => true,
            _ => false,
        }
    }
}

impl frame_link::LinkFault for Error {
    /// Device violations are [`ErrorKind::Peer`](frame_link::ErrorKind::Peer), a broken
    /// driver is `Down`, the caller's mistakes keep their kinds.
    fn kind(&self) -> frame_link::ErrorKind {
        use frame_link::ErrorKind;
        match self {
            e if e.is_device_violation() => ErrorKind::Peer,
            Error::Broken => ErrorKind::Down,
            Error::FrameLength { .. } => ErrorKind::FrameLength,
            Error::SlotBounds { .. } => ErrorKind::OutOfBounds,
            Error::InvalidSlot { .. } => ErrorKind::BadSlot,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            _ => ErrorKind::Other,
        }
    }
}

impl core::error::Error for Error {}

impl From<virtqueue::Error> for Error {
    fn from(e: virtqueue::Error) -> Self {
        Error::Queue(e)
    }
}

impl From<HalError> for Error {
    fn from(e: HalError) -> Self {
        Error::Hal(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Queue(e) => write!(f, "virtqueue: {e}"),
            Error::Hal(e) => write!(f, "HAL: {e}"),
            Error::Broken => write!(f, "the driver is broken after a device violation"),
            Error::NoDevice { found } => write!(f, "no suitable device (found {found:#x})"),
            Error::Unsupported { what } => write!(f, "not supported: {what}"),
            Error::FeaturesRejected { features } => {
                write!(f, "the device rejected features {features:#x}")
            }
            Error::ConfigInvalid { field, value } => {
                write!(
                    f,
                    "device config field {field} has invalid value {value:#x}"
                )
            }
            Error::ConfigUnstable { attempts } => write!(
                f,
                "device config kept changing during {attempts} read attempts"
            ),
            Error::DeviceViolation { field, value } => {
                write!(f, "device wrote invalid {field} {value:#x}")
            }
            Error::DeviceStatus { status } => {
                write!(f, "device status {status:#x} (needs reset or invalid)")
            }
            Error::Timeout { what } => write!(f, "device did not answer: {what}"),
            Error::CommandFailed {
                class,
                command,
                ack,
            } => write!(
                f,
                "control command class {class} command {command} failed with ack {ack}"
            ),
            Error::FrameLength { len, min, max } => {
                write!(f, "frame length {len} outside {min}..={max}")
            }
            Error::SlotBounds {
                offset,
                len,
                slot_len,
            } => write!(
                f,
                "range {offset}+{len} is outside a reserved frame of {slot_len} bytes"
            ),
            Error::InvalidSlot { index } => {
                write!(f, "slot {index} was not handed out by this driver")
            }
            Error::Os { errno } => write!(f, "operating system error {errno}"),
        }
    }
}
