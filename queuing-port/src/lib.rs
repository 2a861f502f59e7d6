#![doc = include_str!("../README.md")]
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]

#[macro_use]
mod event;

pub mod blocking;
pub mod config;
mod error;
pub mod layout;
mod pair;
pub mod partition;
pub mod ports;
pub mod queuing;
pub mod region;
pub mod sampling;
mod sync;
#[cfg(all(target_arch = "x86_64", not(miri), not(loom)))]
mod vector;

#[cfg(all(feature = "a653rs", not(loom)))]
pub mod a653;
#[cfg(any(test, feature = "test-utils"))]
pub mod mock;
#[cfg(all(feature = "std", not(loom)))]
pub mod shm;

pub use config::{
    ApexPortConfig, ChannelConfig, ChannelKind, PartitionId, PortDirection, QueuingDiscipline,
};
pub use error::{Error, RegionError, ReturnCode};
pub use layout::Geometry;
pub use pair::{ChannelEnd, ChannelPair, PairRegion, Side};
pub use partition::{ApexPortId, DynPort, OperatingMode, Partition, StartContext};
pub use ports::{
    QueuingPortReceiver, QueuingPortSender, SamplingPortDestination, SamplingPortSource,
};
pub use queuing::{QueueReceiver, QueueSender, QueuingPortStatus, Received};
pub use region::Region;
pub use sampling::{
    MessageAge, SampleReader, SampleWriter, SampledMessage, SamplingPortCurrentStatus,
    SamplingPortStatus, UpdateState, Validity,
};
pub use sync::AtomicU32;
