//! APEX return codes and the crate's typed errors.

use core::fmt;

/// APEX return codes (ARINC 653 Part 1 `RETURN_CODE_TYPE`), with the standard values.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnCode {
    /// Request valid and operation performed.
    NoError = 0,
    /// Status of system unaffected by request.
    NoAction = 1,
    /// Resource required by request unavailable.
    NotAvailable = 2,
    /// Invalid parameter specified in request.
    InvalidParam = 3,
    /// Parameter incompatible with configuration.
    InvalidConfig = 4,
    /// Request incompatible with current mode.
    InvalidMode = 5,
    /// Time-out tied up with request has expired.
    TimedOut = 6,
}

impl ReturnCode {
    /// The code for a raw value, or `None` for a value outside the standard set.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::NoError,
            1 => Self::NoAction,
            2 => Self::NotAvailable,
            3 => Self::InvalidParam,
            4 => Self::InvalidConfig,
            5 => Self::InvalidMode,
            6 => Self::TimedOut,
            _ => return None,
        })
    }
}

/// What is wrong with a shared region: written by the peer, or not formatted for this
/// channel. Every value read from the peer that fails validation ends up here.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(all(feature = "defmt", target_os = "none"), derive(defmt::Format))]
pub enum RegionError {
    /// The region is shorter than the channel needs (in bytes).
    TooSmall {
        /// Bytes needed.
        needed: u64,
        /// Bytes given.
        got: u64,
    },
    /// The region does not start on a 4-byte boundary.
    Misaligned {
        /// The address given.
        addr: u64,
    },
    /// A header field does not hold what the channel configuration says.
    HeaderMismatch {
        /// Which field.
        field: &'static str,
        /// The value our configuration gives.
        expected: u32,
        /// The value found in shared memory.
        found: u32,
    },
    /// An index published by the peer is not within the queue's window.
    IndexOutOfRange {
        /// Which index.
        field: &'static str,
        /// Number of used slots it implies.
        used: u32,
        /// The queue capacity.
        capacity: u32,
    },
    /// A message length written by the peer is above the channel maximum.
    LengthOutOfRange {
        /// The length found.
        len: u32,
        /// The channel maximum.
        max: u32,
    },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooSmall { needed, got } => {
                write!(
                    f,
                    "shared region too small: {got} bytes, channel needs {needed}"
                )
            }
            Self::Misaligned { addr } => {
                write!(f, "shared region at {addr:#x} is not 4-byte aligned")
            }
            Self::HeaderMismatch {
                field,
                expected,
                found,
            } => write!(
                f,
                "region header field `{field}` is {found:#x}, configuration says {expected:#x}"
            ),
            Self::IndexOutOfRange {
                field,
                used,
                capacity,
            } => write!(
                f,
                "peer index `{field}` implies {used} used slots, capacity is {capacity}"
            ),
            Self::LengthOutOfRange { len, max } => {
                write!(f, "peer message length {len} is above the maximum {max}")
            }
        }
    }
}

/// The error of a port operation: an APEX outcome (with what was wrong) or a corrupt
/// region.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// `NO_ACTION`: nothing done (port already created, sampling port empty, no new
    /// message).
    NoAction,
    /// `NOT_AVAILABLE`: queue full on send or empty on receive (zero time-out), or a
    /// sampling read that kept losing the race against the writer (bounded retries).
    NotAvailable,
    /// `INVALID_PARAM`: a parameter out of range.
    InvalidParam {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// `INVALID_CONFIG`: a parameter that does not match the channel configuration.
    InvalidConfig {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// `INVALID_MODE`: wrong port direction, or creation outside the start-up mode.
    InvalidMode {
        /// Why.
        what: &'static str,
    },
    /// `TIMED_OUT`: the time-out expired while waiting.
    TimedOut,
    /// The shared region is corrupt (reported as `NOT_AVAILABLE` to APEX callers).
    Corrupt(RegionError),
}

impl Error {
    /// The APEX return code for this error.
    pub const fn code(&self) -> ReturnCode {
        match self {
            Self::NoAction => ReturnCode::NoAction,
            Self::NotAvailable | Self::Corrupt(_) => ReturnCode::NotAvailable,
            Self::InvalidParam { .. } => ReturnCode::InvalidParam,
            Self::InvalidConfig { .. } => ReturnCode::InvalidConfig,
            Self::InvalidMode { .. } => ReturnCode::InvalidMode,
            Self::TimedOut => ReturnCode::TimedOut,
        }
    }
}

/// Every value the peer wrote that fails validation on a port operation becomes an error
/// here (with the `log`/`defmt` features, also a `warn` event).
impl From<RegionError> for Error {
    fn from(e: RegionError) -> Self {
        event!(warn, "queuing-port: corrupt shared region: {}", e);
        Self::Corrupt(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAction => f.write_str("no action (already created, empty, or no new message)"),
            Self::NotAvailable => f.write_str("not available (queue full or empty)"),
            Self::InvalidParam { what, value } => write!(f, "invalid parameter {what} = {value}"),
            Self::InvalidConfig { what, value } => {
                write!(
                    f,
                    "{what} = {value} does not match the channel configuration"
                )
            }
            Self::InvalidMode { what } => write!(f, "invalid mode: {what}"),
            Self::TimedOut => f.write_str("timed out"),
            Self::Corrupt(e) => write!(f, "corrupt shared region: {e}"),
        }
    }
}
