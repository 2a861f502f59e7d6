//! The two sides of an in-memory `PortPair` as the tests use them: end A is the switch's
//! port (a frame link is a switch port as it is), end B the partition's link under the
//! stack.
#![allow(dead_code)]

use netstack_glue::frame_link::{End, PairEnd, PortPair};

/// The switch's side of a pair.
pub type SwitchPort<'a, const N: usize, const S: usize> = PairEnd<'a, N, S>;
/// The partition's side of a pair.
pub type PartitionLink<'a, const N: usize, const S: usize> = PairEnd<'a, N, S>;

/// Both sides of a pair.
pub trait Sides<const N: usize, const S: usize> {
    /// End A as a switch port.
    fn switch_port(&self) -> SwitchPort<'_, N, S>;
    /// End B, the partition's link.
    fn partition_link(&self) -> PartitionLink<'_, N, S>;
}

impl<const N: usize, const S: usize> Sides<N, S> for PortPair<N, S> {
    fn switch_port(&self) -> SwitchPort<'_, N, S> {
        self.end(End::A)
    }

    fn partition_link(&self) -> PartitionLink<'_, N, S> {
        self.end(End::B)
    }
}
