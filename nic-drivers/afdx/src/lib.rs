#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[macro_use]
mod event;

pub mod apex;
pub mod config;
mod end_system;
mod error;
pub mod io;
pub mod rx;
pub mod stats;
pub mod tx;
pub mod wire;

pub use apex::{ApexSink, ApexSource, SinkError};
pub use config::{
    EsConfig, Network, Networks, PortKind, RxPortConfig, TxPortConfig, VlConfig, JITTER_BOUND_US,
};
pub use end_system::EndSystem;
pub use error::{EsConfigError, FrameError, RxError, TxError};
pub use io::{IoPartition, IoStats};
pub use queuing_port::PartitionId;
pub use rx::Delivery;
pub use stats::{NetStats, RxDrop, TxDrop, VlRxStats, VlTxStats};
pub use tx::{Emit, Outgoing};
