//! [`IoPartition`]: the I/O partition that bridges partitions' ARINC 653 ports onto the
//! end system's AFDX ports, and back.
//!
//! Each transmit binding names the partition, the AFDX transmit port and the partition's
//! port to read ([`ApexSource`]); binding checks that the AFDX port is configured for
//! that partition, so a partition can only send on its own VLs. Each receive binding
//! names the partition, an AFDX receive port configured for it and the partition's port
//! to write ([`ApexSink`]).
//!
//! [`IoPartition::poll`] does one bounded round: read the partitions' ports (a queuing
//! port only while its VL has queue room, so its messages wait in the partition's queue,
//! never lost to a full VL; a sampling port whenever it was updated, its value replacing
//! the one waiting for the BAG, so the freshest value is sent), release eligible frames
//! onto both networks, take received frames and deliver them.

use frame_link::FrameLink;
use heapless::Vec;
use queuing_port::PartitionId;

use crate::apex::{ApexSink, ApexSource, SinkError};
use crate::config::PortKind;
use crate::end_system::EndSystem;
use crate::error::EsConfigError;
use crate::rx::Delivery;
use crate::wire;

/// Counters of the I/O partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Messages read from partitions' ports and queued on a VL.
    pub forwarded: u64,
    /// Messages read but refused by the end system (over Lmax).
    pub refused: u64,
    /// Errors of partitions' source ports.
    pub source_errors: u64,
    /// Messages delivered to partitions' ports.
    pub delivered: u64,
    /// Messages lost to a full queuing port.
    pub overflows: u64,
    /// Messages a partition's port refused (size, corrupt region).
    pub sink_errors: u64,
    /// Messages for a receive port nobody bound.
    pub unbound: u64,
}

struct Source<'p> {
    partition: PartitionId,
    port: usize,
    source: &'p mut dyn ApexSource,
}

struct Sink<'p> {
    port: usize,
    sink: &'p mut dyn ApexSink,
}

/// The I/O partition: at most `S` transmit bindings and `D` receive bindings.
pub struct IoPartition<'p, const S: usize, const D: usize> {
    sources: Vec<Source<'p>, S>,
    sinks: Vec<Sink<'p>, D>,
    stats: IoStats,
}

impl<const S: usize, const D: usize> core::fmt::Debug for IoPartition<'_, S, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IoPartition")
            .field("sources", &self.sources.len())
            .field("sinks", &self.sinks.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl<const S: usize, const D: usize> Default for IoPartition<'_, S, D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'p, const S: usize, const D: usize> IoPartition<'p, S, D> {
    /// No bindings.
    pub const fn new() -> Self {
        IoPartition {
            sources: Vec::new(),
            sinks: Vec::new(),
            stats: IoStats {
                forwarded: 0,
                refused: 0,
                source_errors: 0,
                delivered: 0,
                overflows: 0,
                sink_errors: 0,
                unbound: 0,
            },
        }
    }

    /// Binds `partition`'s port `source` to AFDX transmit port `port`: refused unless
    /// the end system configures that port for that partition.
    pub fn bind_source<const V: usize, const P: usize, const Q: usize>(
        &mut self,
        es: &EndSystem<V, P, Q>,
        partition: PartitionId,
        port: usize,
        source: &'p mut dyn ApexSource,
    ) -> Result<(), EsConfigError> {
        let cfg = es
            .tx_port_config(port)
            .ok_or(EsConfigError::NoSuchPort { port })?;
        if cfg.partition != partition {
            return Err(EsConfigError::NotOwner {
                partition: partition.0,
                port,
            });
        }
        self.sources
            .push(Source {
                partition,
                port,
                source,
            })
            .map_err(|_| EsConfigError::TooMany {
                what: "bindings",
                max: S,
            })
    }

    /// Binds AFDX receive port `port` to `partition`'s port `sink`: refused unless the
    /// end system configures that port for that partition (no VL's messages reach
    /// another partition's port).
    pub fn bind_sink<const V: usize, const P: usize, const Q: usize>(
        &mut self,
        es: &EndSystem<V, P, Q>,
        partition: PartitionId,
        port: usize,
        sink: &'p mut dyn ApexSink,
    ) -> Result<(), EsConfigError> {
        let cfg = es
            .rx_port_config(port)
            .ok_or(EsConfigError::NoSuchPort { port })?;
        if cfg.partition != partition {
            return Err(EsConfigError::NotOwner {
                partition: partition.0,
                port,
            });
        }
        self.sinks
            .push(Sink { port, sink })
            .map_err(|_| EsConfigError::TooMany {
                what: "bindings",
                max: D,
            })
    }

    /// The counters.
    pub fn stats(&self) -> &IoStats {
        &self.stats
    }

    /// Reads at most `budget` messages from the partitions' ports into the end system.
    pub fn pump_sources<const V: usize, const P: usize, const Q: usize>(
        &mut self,
        es: &mut EndSystem<V, P, Q>,
        now_us: u64,
        budget: usize,
    ) -> usize {
        let mut buf = [0u8; wire::MAX_PAYLOAD];
        let mut moved = 0;
        for s in self.sources.iter_mut() {
            // A sampling port is read whenever it has a new value (which replaces one
            // waiting for its BAG); a queuing port only while its VL has room.
            let sampling = es.tx_port_config(s.port).map(|c| c.kind) == Some(PortKind::Sampling);
            let mut fetches = 0;
            while moved < budget && (es.tx_room(s.port) > 0 || (sampling && fetches == 0)) {
                fetches += 1;
                match s.source.fetch(&mut buf, now_us) {
                    Ok(Some(n)) => {
                        let msg = buf.get(..n).unwrap_or(&[]);
                        match es.send(s.partition, s.port, msg, now_us) {
                            Ok(()) => self.stats.forwarded += 1,
                            Err(_) => self.stats.refused += 1,
                        }
                        moved += 1;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        self.stats.source_errors += 1;
                        break;
                    }
                }
            }
        }
        moved
    }

    /// One round: [`pump_sources`](Self::pump_sources), the end system's
    /// [`poll_tx`](EndSystem::poll_tx) and [`poll_rx`](EndSystem::poll_rx) with
    /// delivery to the bound ports; each step at most `budget` messages or frames.
    pub fn poll<const V: usize, const P: usize, const Q: usize, A, B>(
        &mut self,
        es: &mut EndSystem<V, P, Q>,
        now_us: u64,
        a: &mut A,
        b: &mut B,
        budget: usize,
    ) where
        A: FrameLink + ?Sized,
        B: FrameLink + ?Sized,
    {
        self.pump_sources(es, now_us, budget);
        es.poll_tx(now_us, a, b, budget);
        es.poll_rx(now_us, a, b, budget, |d| self.deliver(d, now_us));
    }

    /// Delivers one message the end system accepted to the port bound to its receive
    /// port (for callers that drive [`EndSystem::poll_rx`] or
    /// [`EndSystem::receive`] themselves).
    pub fn deliver(&mut self, d: &Delivery<'_>, now_us: u64) {
        let Some(s) = self.sinks.iter_mut().find(|s| s.port == d.port) else {
            self.stats.unbound += 1;
            return;
        };
        match s.sink.deliver(d.payload, now_us) {
            Ok(()) => self.stats.delivered += 1,
            Err(SinkError::Overflow) => self.stats.overflows += 1,
            Err(SinkError::Port(_)) => self.stats.sink_errors += 1,
        }
    }
}
