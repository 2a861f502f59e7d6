//! [`NetDeviceModel`]: an in-process virtio-net device on `virtqueue`'s device side.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::cell::RefCell;

use virtqueue::{AnyDeviceQueue, DescriptorChain, Features, SharedMemory};
use zerocopy::little_endian::U16;
use zerocopy::IntoBytes;

use super::FakeDeviceState;
use crate::net::header::{ctrl, NetHeader, HEADER_LEN, LEGACY_HEADER_LEN};
use crate::net::{NetFeatures, CTRL_QUEUE, RX_QUEUE, TX_QUEUE};
use crate::transport::InterruptStatus;

/// Split or packed, as the driver negotiated (`RING_PACKED`).
type Queue<'m, M> = AnyDeviceQueue<&'m M, 256, 4>;

/// A virtio-net device model over device memory `M` (see the [module](super) docs).
pub struct NetDeviceModel<'m, M: SharedMemory> {
    mem: &'m M,
    state: &'m RefCell<FakeDeviceState>,
    queues: [Option<Queue<'m, M>>; 3],
    chains: [DescriptorChain<4>; 4],
    pending: VecDeque<Vec<u8>>,
    /// Frames the driver transmitted (payload after the header), if `keep_sent`.
    pub sent: Vec<Vec<u8>>,
    /// Headers of the transmitted frames, if `keep_sent`.
    pub sent_headers: Vec<NetHeader>,
    /// Keep transmitted frames in `sent` (off for benches).
    pub keep_sent: bool,
    /// Frames transmitted.
    pub tx_count: u64,
    /// Promiscuous mode as last commanded.
    pub promiscuous: bool,
    /// All-multicast mode as last commanded.
    pub all_multicast: bool,
    /// MAC as last commanded (`CTRL_MAC_ADDR`).
    pub commanded_mac: Option<[u8; 6]>,
    /// Acknowledgement written for control commands (0 = ok).
    pub ctrl_ack: u8,
    /// Never answer control commands.
    pub ctrl_silent: bool,
    /// With `MRG_RXBUF`: frame bytes per receive buffer (forces merged frames).
    pub merge_chunk: Option<usize>,
    /// `flags` written in receive headers.
    pub rx_flags: u8,
    /// Device-side errors seen (bad chains from the driver).
    pub errors: Vec<virtqueue::Error>,
}

impl<'m, M: SharedMemory> core::fmt::Debug for NetDeviceModel<'m, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NetDeviceModel")
            .field("pending", &self.pending.len())
            .field("tx_count", &self.tx_count)
            .field("errors", &self.errors)
            .finish()
    }
}

/// The device side of queue `q`, attached on first use (and dropped after a reset).
fn attach<'a, 'm, M: SharedMemory>(
    queues: &'a mut [Option<Queue<'m, M>>; 3],
    mem: &'m M,
    state: &RefCell<FakeDeviceState>,
    q: u16,
) -> Option<&'a mut Queue<'m, M>> {
    let cfg = state.borrow().queue(q);
    let slot = queues.get_mut(usize::from(q))?;
    match cfg {
        None => *slot = None,
        Some(c) => {
            if slot.is_none() {
                let f = Features::from_bits_truncate(state.borrow().driver_features);
                *slot = Queue::attach(mem, c, f).ok();
            }
        }
    }
    slot.as_mut()
}

impl<'m, M: SharedMemory> NetDeviceModel<'m, M> {
    /// A device over `mem` (device addresses) and the register state `state`.
    pub fn new(mem: &'m M, state: &'m RefCell<FakeDeviceState>) -> Self {
        NetDeviceModel {
            mem,
            state,
            queues: [None, None, None],
            chains: core::array::from_fn(|_| DescriptorChain::empty()),
            pending: VecDeque::new(),
            sent: Vec::new(),
            sent_headers: Vec::new(),
            keep_sent: true,
            tx_count: 0,
            promiscuous: false,
            all_multicast: false,
            commanded_mac: None,
            ctrl_ack: ctrl::OK,
            ctrl_silent: false,
            merge_chunk: None,
            rx_flags: 0,
            errors: Vec::new(),
        }
    }

    /// Queue a frame for delivery to the driver (by the next [`NetDeviceModel::process`]).
    pub fn inject(&mut self, frame: &[u8]) {
        self.pending.push_back(frame.to_vec());
    }

    /// Frames injected and not delivered yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The notification hook: process everything.
    pub fn on_notify(&mut self, _queue: u16) {
        self.process();
    }

    /// Take transmitted frames, answer control commands, deliver pending frames.
    pub fn process(&mut self) {
        self.process_tx();
        self.process_ctrl();
        while let Some(f) = self.pending.pop_front() {
            if !self.deliver(&f) {
                self.pending.push_front(f);
                break;
            }
        }
        if let Some(q) = attach(&mut self.queues, self.mem, self.state, RX_QUEUE) {
            let _ = q.enable_notification();
        }
    }

    fn driver_features(&self) -> u64 {
        self.state.borrow().driver_features
    }

    fn header_len(&self) -> usize {
        let s = self.state.borrow();
        if s.legacy && s.driver_features & NetFeatures::MRG_RXBUF.bits() == 0 {
            LEGACY_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    fn queue(&mut self, q: u16) -> Option<&mut Queue<'m, M>> {
        attach(&mut self.queues, self.mem, self.state, q)
    }

    fn interrupt(&mut self, q: u16) {
        let notify = self
            .queue(q)
            .map(|d| d.needs_notification().unwrap_or(false));
        if notify == Some(true) {
            self.state.borrow_mut().interrupt |= InterruptStatus::QUEUE.bits();
        }
    }

    /// Take every transmitted chain; returns how many.
    ///
    /// Each chain is popped and validated by the `DeviceQueue`, its readable bytes
    /// (header and frame) are copied once through the chain reader into a private buffer,
    /// and the used entries are added in batches of up to 64 (one used-index store and
    /// one notification decision per batch). Nothing is allocated unless `keep_sent`.
    pub fn process_tx(&mut self) -> usize {
        let hdr_len = self.header_len();
        let keep = self.keep_sent;
        let mut n = 0;
        let mut frame = [0u8; 2048];
        let mut heads = [virtqueue::UsedEntry { head: 0, len: 0 }; 64];
        loop {
            let mut batch = 0;
            let Some(q) = attach(&mut self.queues, self.mem, self.state, TX_QUEUE) else {
                return n;
            };
            let chain = &mut self.chains[0];
            while batch < heads.len() {
                match q.pop_into(chain) {
                    Ok(true) => {
                        let got = chain.reader(self.mem).read(&mut frame);
                        if keep {
                            record_sent(
                                &mut self.sent,
                                &mut self.sent_headers,
                                frame.get(..got).unwrap_or(&[]),
                                hdr_len,
                            );
                        }
                        heads[batch] = virtqueue::UsedEntry {
                            head: chain.head(),
                            len: 0,
                        };
                        batch += 1;
                    }
                    Ok(false) => break,
                    Err(e) => {
                        self.errors.push(e);
                        match e.chain_head() {
                            Some(h) => {
                                heads[batch] = virtqueue::UsedEntry { head: h, len: 0 };
                                batch += 1;
                            }
                            None => break,
                        }
                    }
                }
            }
            if batch == 0 {
                // Ask for the next notification; go on if buffers raced in.
                if q.enable_notification().unwrap_or(false) {
                    continue;
                }
                return n;
            }
            let _ = q.add_used_batch(&heads[..batch]);
            n += batch;
            self.tx_count += batch as u64;
            self.interrupt(TX_QUEUE);
        }
    }

    fn process_ctrl(&mut self) {
        if self.ctrl_silent {
            return;
        }
        loop {
            let Some(q) = attach(&mut self.queues, self.mem, self.state, CTRL_QUEUE) else {
                return;
            };
            let chain = &mut self.chains[0];
            match q.pop_into(chain) {
                Ok(true) => {}
                Ok(false) => {
                    if q.enable_notification().unwrap_or(false) {
                        continue;
                    }
                    return;
                }
                Err(e) => {
                    self.errors.push(e);
                    return;
                }
            }
            let mut cmd = [0u8; 32];
            let mut r = chain.reader(self.mem);
            let got = r.read(&mut cmd);
            let head = chain.head();
            let mut ack = self.ctrl_ack;
            if ack == ctrl::OK {
                match (cmd[0], cmd[1], got) {
                    (ctrl::CLASS_RX, ctrl::RX_PROMISC, 3) => self.promiscuous = cmd[2] != 0,
                    (ctrl::CLASS_RX, ctrl::RX_ALLMULTI, 3) => self.all_multicast = cmd[2] != 0,
                    (ctrl::CLASS_MAC, ctrl::MAC_ADDR_SET, 8) => {
                        let mut m = [0u8; 6];
                        m.copy_from_slice(&cmd[2..8]);
                        self.commanded_mac = Some(m);
                    }
                    _ => ack = 1,
                }
            }
            let written = chain.writer(self.mem).write(&[ack]) as u32;
            let Some(q) = self.queue(CTRL_QUEUE) else {
                return;
            };
            let _ = q.add_used(head, written);
        }
    }

    /// Deliver one frame now; `false` when the driver has not posted enough buffers.
    pub fn deliver(&mut self, frame: &[u8]) -> bool {
        self.deliver_batch(frame, 1) == 1
    }

    /// Deliver `count` copies of `frame` as one batch; returns how many were delivered
    /// (fewer when the driver has not posted enough buffers).
    ///
    /// Each buffer is popped and validated by the `DeviceQueue`, the header and the
    /// frame are written through the chain writer, the used entries are added in batches
    /// (one used-index store each) and one interrupt decision is taken for the call.
    pub fn deliver_batch(&mut self, frame: &[u8], count: usize) -> usize {
        let hdr_len = self.header_len();
        let merged = self.driver_features() & NetFeatures::MRG_RXBUF.bits() != 0;
        let chunk = match (merged, self.merge_chunk) {
            (true, Some(c)) if c > 0 => c,
            _ => usize::MAX,
        };
        let needed = if chunk == usize::MAX {
            1
        } else {
            frame.len().div_ceil(chunk).max(1)
        };
        if needed > self.chains.len() {
            return 0;
        }
        // The header is the same for every frame of the batch.
        let header = NetHeader {
            flags: self.rx_flags,
            num_buffers: U16::new(needed as u16),
            ..Default::default()
        };
        let header = header.as_bytes().get(..hdr_len).unwrap_or(&[]);
        let Some(q) = attach(&mut self.queues, self.mem, self.state, RX_QUEUE) else {
            return 0;
        };
        let mut used = [virtqueue::UsedEntry { head: 0, len: 0 }; 64];
        let mut pending = 0;
        let mut available = usize::from(q.pending().unwrap_or(0));
        let mut delivered = 0;
        while delivered < count {
            if available < needed {
                // Buffers the driver posted since the batch started count too.
                available = usize::from(q.pending().unwrap_or(0));
                if available < needed {
                    break;
                }
            }
            if pending + needed > used.len() {
                let _ = q.add_used_batch(&used[..pending]);
                pending = 0;
            }
            let frame_start = pending;
            let mut rest = frame;
            for (i, chain) in self.chains.iter_mut().take(needed).enumerate() {
                if !matches!(q.pop_into(chain), Ok(true)) {
                    // A bad chain: the frames completed so far are returned, the rest
                    // stops (as before, the buffers of this frame are not returned).
                    let _ = q.add_used_batch(used.get(..frame_start).unwrap_or(&[]));
                    self.interrupt(RX_QUEUE);
                    return delivered;
                }
                let mut w = chain.writer(self.mem);
                if i == 0 {
                    w.write(header);
                }
                let n = w.write(rest.get(..chunk.min(rest.len())).unwrap_or(&[]));
                rest = rest.get(n..).unwrap_or(&[]);
                if let Some(u) = used.get_mut(pending) {
                    *u = virtqueue::UsedEntry {
                        head: chain.head(),
                        len: w.written(),
                    };
                    pending += 1;
                }
            }
            available -= needed;
            delivered += 1;
        }
        if pending > 0 {
            let _ = q.add_used_batch(&used[..pending]);
            self.interrupt(RX_QUEUE);
        }
        delivered
    }
}

/// Keep a transmitted frame (header and payload) for the tests to look at.
#[cold]
fn record_sent(
    sent: &mut Vec<Vec<u8>>,
    headers: &mut Vec<NetHeader>,
    bytes: &[u8],
    hdr_len: usize,
) {
    let mut h = NetHeader::default();
    if let (Some(dst), Some(src)) = (h.as_mut_bytes().get_mut(..hdr_len), bytes.get(..hdr_len)) {
        dst.copy_from_slice(src);
        sent.push(bytes.get(hdr_len..).unwrap_or(&[]).to_vec());
        headers.push(h);
    }
}
