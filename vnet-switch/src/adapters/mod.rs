//! Ports over the partnet channels, each behind its feature (the modules listed below are
//! those of the features enabled):
//!
//! * `virtio_net` (feature `virtqueue`): a virtio-net device backend; the partition runs
//!   an ordinary virtio-net driver.
//! * `shm` (feature `virtqueue`): the device side of the shared-memory virtio
//!   transport — a register block and the driver's rings in one region shared with the
//!   partition, served by the `virtio_net` port.
//! * `queuing` (feature `queuing-port`): a pair of ARINC 653 queuing-port channels, one
//!   frame per message.
//! * `vhost_user` (feature `vhost-user`, Linux): a vhost-user backend that serves a QEMU
//!   guest's virtio-net device with the `virtio_net` port.
//!
//! They copy ingress frames out of shared memory into private slots on `rx_take` (the
//! switch never reads memory a peer can write), check every bound on egress, count and
//! type every refusal, and never panic on peer data.

#[cfg(any(feature = "virtqueue", feature = "queuing-port"))]
pub(crate) mod csum;
#[cfg(feature = "queuing-port")]
pub mod queuing;
#[cfg(feature = "virtqueue")]
pub mod shm;
#[cfg(all(feature = "vhost-user", target_os = "linux"))]
pub mod vhost_user;
#[cfg(feature = "virtqueue")]
pub mod virtio_net;
