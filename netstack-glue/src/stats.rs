//! Per-interface network statistics, in the spirit of Zephyr's `net_stats`: frames and
//! bytes each way, and every drop counted by its reason.

use core::fmt;

/// Why the adapter dropped or refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AdapterDrop {
    /// Received: the IPv4 header or TCP/UDP/ICMP checksum was wrong.
    RxBadChecksum,
    /// Received: an IPv4/IPv6 frame whose IP, TCP, UDP or ICMP part does not parse.
    RxMalformed,
    /// Received: a partial checksum (`NEEDS_CSUM`) the adapter does not complete.
    RxPartialChecksum,
    /// Received: longer than the device MTU.
    RxTooLong,
    /// Received: the stack took a receive token and dropped it without reading the frame.
    RxUnconsumed,
    /// Received: the link reported an error.
    RxLinkError,
    /// Transmit: the stack asked for a frame longer than the MTU or shorter than a header.
    TxBadLength,
    /// Transmit: the link refused the frame or reported an error.
    TxLinkError,
}

impl fmt::Display for AdapterDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdapterDrop::RxBadChecksum => "received frame with a bad checksum",
            AdapterDrop::RxMalformed => "received malformed IP frame",
            AdapterDrop::RxPartialChecksum => "received frame with a partial checksum",
            AdapterDrop::RxTooLong => "received frame longer than the MTU",
            AdapterDrop::RxUnconsumed => "receive token dropped unread",
            AdapterDrop::RxLinkError => "link error on receive",
            AdapterDrop::TxBadLength => "transmit frame length out of range",
            AdapterDrop::TxLinkError => "link error on transmit",
        })
    }
}

/// Drop counters by reason (wrapping 64-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drops {
    /// [`AdapterDrop::RxBadChecksum`].
    pub rx_bad_checksum: u64,
    /// [`AdapterDrop::RxMalformed`].
    pub rx_malformed: u64,
    /// [`AdapterDrop::RxPartialChecksum`].
    pub rx_partial_checksum: u64,
    /// [`AdapterDrop::RxTooLong`].
    pub rx_too_long: u64,
    /// [`AdapterDrop::RxUnconsumed`].
    pub rx_unconsumed: u64,
    /// [`AdapterDrop::RxLinkError`].
    pub rx_link_error: u64,
    /// [`AdapterDrop::TxBadLength`].
    pub tx_bad_length: u64,
    /// [`AdapterDrop::TxLinkError`].
    pub tx_link_error: u64,
}

impl Drops {
    /// The counter of `reason`.
    pub fn get(&self, reason: AdapterDrop) -> u64 {
        match reason {
            AdapterDrop::RxBadChecksum => self.rx_bad_checksum,
            AdapterDrop::RxMalformed => self.rx_malformed,
            AdapterDrop::RxPartialChecksum => self.rx_partial_checksum,
            AdapterDrop::RxTooLong => self.rx_too_long,
            AdapterDrop::RxUnconsumed => self.rx_unconsumed,
            AdapterDrop::RxLinkError => self.rx_link_error,
            AdapterDrop::TxBadLength => self.tx_bad_length,
            AdapterDrop::TxLinkError => self.tx_link_error,
        }
    }

    fn slot(&mut self, reason: AdapterDrop) -> &mut u64 {
        match reason {
            AdapterDrop::RxBadChecksum => &mut self.rx_bad_checksum,
            AdapterDrop::RxMalformed => &mut self.rx_malformed,
            AdapterDrop::RxPartialChecksum => &mut self.rx_partial_checksum,
            AdapterDrop::RxTooLong => &mut self.rx_too_long,
            AdapterDrop::RxUnconsumed => &mut self.rx_unconsumed,
            AdapterDrop::RxLinkError => &mut self.rx_link_error,
            AdapterDrop::TxBadLength => &mut self.tx_bad_length,
            AdapterDrop::TxLinkError => &mut self.tx_link_error,
        }
    }

    /// Received frames dropped, all reasons.
    pub fn rx_total(&self) -> u64 {
        self.rx_bad_checksum
            .wrapping_add(self.rx_malformed)
            .wrapping_add(self.rx_partial_checksum)
            .wrapping_add(self.rx_too_long)
            .wrapping_add(self.rx_unconsumed)
            .wrapping_add(self.rx_link_error)
    }
}

/// Counters of one interface (one adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdapterStats {
    /// Frames handed to the stack.
    pub rx_frames: u64,
    /// Bytes handed to the stack.
    pub rx_bytes: u64,
    /// Frames handed to the link.
    pub tx_frames: u64,
    /// Bytes handed to the link.
    pub tx_bytes: u64,
    /// Times a token was refused because the link had no free transmit slot (the
    /// device answered `None`; nothing was lost).
    pub tx_busy: u64,
    /// Transmit tokens the stack dropped unused; each gave its slot back (smoltcp does
    /// this for every received frame that needs no answer).
    pub tx_returned: u64,
    /// Drops by reason.
    pub drops: Drops,
    /// The kind of the last link error seen (the typed error is the link's).
    pub last_error: Option<frame_link::ErrorKind>,
}

impl AdapterStats {
    pub(crate) fn drop(&mut self, reason: AdapterDrop) {
        let c = self.drops.slot(reason);
        *c = c.wrapping_add(1);
    }

    pub(crate) fn busy(&mut self) {
        self.tx_busy = self.tx_busy.wrapping_add(1);
    }

    pub(crate) fn returned(&mut self) {
        self.tx_returned = self.tx_returned.wrapping_add(1);
    }

    pub(crate) fn rx(&mut self, len: usize) {
        self.rx_frames = self.rx_frames.wrapping_add(1);
        self.rx_bytes = self.rx_bytes.wrapping_add(len as u64);
    }

    pub(crate) fn tx(&mut self, len: usize) {
        self.tx_frames = self.tx_frames.wrapping_add(1);
        self.tx_bytes = self.tx_bytes.wrapping_add(len as u64);
    }

    pub(crate) fn link_error(&mut self, reason: AdapterDrop, e: &impl frame_link::LinkFault) {
        self.drop(reason);
        self.fault(e);
    }

    /// Notes a link error (with `log`/`defmt`, a `warn` event: the typed cause to `log`,
    /// its kind to `defmt`, which cannot print `Display`).
    #[cold]
    pub(crate) fn fault(&mut self, e: &impl frame_link::LinkFault) {
        let kind = e.kind();
        #[cfg(feature = "log")]
        log::warn!("netstack-glue: link error: {}", e);
        #[cfg(all(feature = "defmt", target_os = "none"))]
        defmt::warn!("netstack-glue: link error: {}", kind.as_str());
        self.last_error = Some(kind);
    }
}
