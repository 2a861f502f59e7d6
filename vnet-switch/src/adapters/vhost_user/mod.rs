//! A **vhost-user backend** port (feature `vhost-user`, std, Linux): a QEMU guest's
//! virtio-net device served by this process, plugged into the switch as a
//! [`FrameLink`].
//!
//! The frontend (QEMU) connects to a Unix socket and describes the device: features,
//! the guest memory (`SET_MEM_TABLE`: regions with their files), the two vrings
//! (size, addresses in QEMU's own address space, base, kick and call eventfds). The
//! protocol messages are parsed and dispatched by rust-vmm's `vhost` crate
//! ([`BackendReqHandler`]); [`Control`] validates and keeps what they say. Once both
//! rings are started and enabled, the port maps the guest memory ([`GuestMemory`]: one
//! `mmap` per region, guest-physical → region) and serves the rings with the
//! [`virtio_net`](crate::adapters::virtio_net) port over the `virtqueue` device side: all
//! ring processing is ours (no virtio-queue, no vm-memory). The port's queues hold the
//! memory through an `Arc` (a [`virtqueue::MemoryHandle`]), so the mappings live as long
//! as the data path that reads them.
//!
//! # Features
//!
//! `VERSION_1`, `RING_EVENT_IDX`, `INDIRECT_DESC`, `RING_PACKED`, `MRG_RXBUF`, `CSUM`,
//! `GUEST_CSUM` (checksum passthrough); protocol feature `REPLY_ACK` only. `MQ` is not
//! announced (one queue pair); `CONFIG` is not needed (QEMU keeps the config space: the
//! MAC is the one on its command line). GSO, dirty logging, postcopy, inflight tracking
//! and `CONFIGURE_MEM_SLOTS` are not supported.
//!
//! # Ring layouts
//!
//! Split rings, or packed ones when the frontend acks `RING_PACKED`: the same
//! virtio-net port over [`virtqueue::AnyDeviceQueue`]. For a packed ring
//! `SET_VRING_ADDR`'s avail / used fields are the driver / device event suppression
//! areas, and `SET_VRING_BASE` / `GET_VRING_BASE` carry vhost-user's packed state: next
//! avail offset in bits 0..=14 and its wrap counter in bit 15, next used offset in bits
//! 16..=30 and its wrap counter in bit 31 (QEMU sends `0x8000_8000` for a fresh ring).
//! A stop reports the used position for both halves (chains popped and not returned are
//! made available again, as for a split ring's used index).
//!
//! # Hostile frontend, hostile guest
//!
//! Every request value is checked before it is kept (queue index, size, ring addresses
//! inside the memory table, features offered). A request that is wrong, a memory table
//! that changes while the rings run, a broken ring at run time (a fatal error of the
//! virtio-net port) or a closed socket **cuts the frontend off**: the port drops its
//! rings, unmaps the memory, closes the socket and returns a [`CutOff`] with a typed
//! [`VhostUserError`]; it then waits for a new connection. The switch and every other
//! port go on. Per-chain errors (a bad chain, a bad header) are the virtio-net port's:
//! counted, the chain returned, the port goes on.
//!
//! # Driving it
//!
//! [`Server`] is the event loop: it owns one listening socket per VM port, accepts a
//! frontend on each, and runs the switch ([`Server::run_until`], or
//! [`Server::poll`] one wake-up at a time with the integrator's own forwarding), telling
//! each connection, start and cut-off ([`ServerEvent`]).
//!
//! An integrator's own event loop (one thread) waits on each port's fds (a [`WaitList`]
//! keeps which fd is whose: [`WaitList::add_port`]), and:
//! * socket readable → [`VhostUserPort::handle_socket`] (it also returns at once when
//!   nothing is there);
//! * then [`Switch::poll`](crate::Switch::poll): it calls the port's
//!   [`FrameLink::service`], which signals the call eventfds the driver asked for,
//!   drains kicks and cuts the frontend off when its rings broke
//!   ([`VhostUserPort::take_cut_off`] hands the reason over once);
//! * before sleeping, [`VhostUserPort::enable_notifications`] (`true`: poll again).
//!
//! # Resources a frontend may hold
//!
//! A port maps at most its memory budget ([`DEFAULT_MEMORY_BUDGET`],
//! [`VhostUserPort::with_memory_budget`]), each region only over the pages it covers;
//! a table above the budget is refused before anything is mapped. Region fds must be
//! memfds, kick and call fds eventfds (kick: in counting mode, so one read drains it);
//! nothing else is asked of an fd before its kind is known (no `fstat` of a FUSE file).
//! Kick fds are waited on only while the rings run, and drained after every poll.

mod active;
mod control;
mod error;
mod fault;
mod memory;
#[cfg(any(test, feature = "test-utils"))]
pub mod mock;
mod request;
mod server;
mod sys;
mod wait;

pub use control::{Control, OFFERED_FEATURES, OFFERED_PROTOCOL, PROTOCOL_FEATURES};
pub use error::{CutOff, FdKind, Notifier, VhostUserError};
pub use memory::{GuestMemory, RegionInfo, DEFAULT_MEMORY_BUDGET, MAX_REGIONS};
pub use server::{AsVhostUser, Server, ServerEvent, IDLE_WAIT_MS, ROUNDS};
pub use vhost::vhost_user::BackendReqHandler;
pub use wait::{FdRole, WaitList};

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::adapters::virtio_net::{PortState, VirtioNetError, VirtioNetPort, VirtioNetStats};
use active::Active;
use frame_link::{FrameLink, FrameMeta, LinkCaps, LinkError, LinkState, RxSlot, TxSlot};
use request::{request_waiting, Waiting};

/// Largest queue size accepted (QEMU's default is 256).
pub const QUEUE_SIZE: usize = 256;
/// Most segments of one descriptor chain (a Linux transmit skb with fragments).
pub const SEGMENTS: usize = 32;
/// Private ingress slot size: the largest frame a guest may send (1514 + VLAN tag, with
/// room to spare).
pub const FRAME: usize = 1536;

/// The longest a request may take to arrive whole, or a reply to find room in the
/// socket: a frontend that stalls longer is cut off ([`VhostUserError::Stalled`]).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(200);

/// The virtio-net port type used per guest.
pub(crate) type VmNetPort = VirtioNetPort<Arc<GuestMemory>, FRAME, 2, 32, QUEUE_SIZE, SEGMENTS>;

/// Counters of one vhost-user port (the switch counts frames itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VhostUserStats {
    /// Connections accepted.
    pub connections: u64,
    /// Times the data path was started.
    pub starts: u64,
    /// Frontends cut off (disconnects included).
    pub cutoffs: u64,
    /// The reason of the last cut-off.
    pub last_cutoff: Option<VhostUserError>,
    /// Requests refused because their feature was not negotiated yet (not fatal).
    pub ignored_requests: u64,
    /// Kick eventfd drains that found kicks.
    pub kicks: u64,
    /// Call eventfd signals sent.
    pub calls: u64,
    /// The virtio-net counters of the last data path (kept across restarts).
    pub net: VirtioNetStats,
    /// Bytes of guest memory mapped now (at most the port's memory budget).
    pub mapped_bytes: u64,
}

/// One VM's port: the connection (when a frontend is attached), its control state and,
/// while the rings run, the data path. Without a running data path the port takes and
/// delivers nothing (the switch drops frames for it as it does for a full port).
pub struct VhostUserPort {
    control: Arc<Mutex<Control>>,
    conn: Option<Conn>,
    active: Option<Box<Active>>,
    generation: u64,
    max_frame: u16,
    memory_budget: u64,
    hugetlbfs: bool,
    stats: VhostUserStats,
    /// Since when an incomplete request (or a full socket) has been waiting.
    stalled_since: Option<std::time::Instant>,
    /// A cut-off found by [`FrameLink::service`], not yet taken.
    unreported: Option<CutOff>,
    /// The ring layout of the last start (`Some(true)`: packed).
    packed: Option<bool>,
}

/// A frontend's connection: the request dispatcher over the socket, and a second fd of
/// the same socket to peek at requests and wait for room for replies.
struct Conn {
    handler: BackendReqHandler<Mutex<Control>>,
    socket: UnixStream,
}

impl core::fmt::Debug for VhostUserPort {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VhostUserPort")
            .field("connected", &self.conn.is_some())
            .field("running", &self.active.is_some())
            .field("stats", &self.stats)
            .finish()
    }
}

fn lock(c: &Mutex<Control>) -> MutexGuard<'_, Control> {
    // A panic while holding the lock cannot leave `Control` inconsistent in a way that
    // matters more than losing the frontend: take the data as it is.
    c.lock().unwrap_or_else(|p| p.into_inner())
}

impl VhostUserPort {
    /// A port without a frontend; frames up to `max_frame` bytes (`14..=`[`FRAME`]); a
    /// frontend's memory table may map up to [`DEFAULT_MEMORY_BUDGET`].
    pub fn new(max_frame: u16) -> Self {
        VhostUserPort {
            control: Arc::default(),
            conn: None,
            active: None,
            generation: 0,
            max_frame: max_frame.clamp(14, FRAME as u16),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            hugetlbfs: false,
            stats: VhostUserStats::default(),
            stalled_since: None,
            unreported: None,
            packed: None,
        }
    }

    /// The most bytes of guest memory a frontend's memory table may have mapped
    /// (regions rounded out to whole pages): at least the guest's RAM. A table above it
    /// is refused ([`VhostUserError::MemoryBudget`]) before anything is mapped. Applies
    /// from the next connection on.
    pub fn with_memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Allows region memfds on hugetlbfs (refused by default,
    /// [`VhostUserError::HugetlbfsRegion`]). Sealing does not stop a frontend from
    /// punching a hole in such a file; the backend's next access to the page then needs
    /// a fresh huge page, and with the pool exhausted it faults (`SIGBUS`), ending the
    /// process. Allow it only where the frontend is trusted with that, or where every
    /// guest's huge pages are reserved so the pool cannot run dry. Applies from the next
    /// connection on.
    pub fn with_hugetlbfs(mut self, allow: bool) -> Self {
        self.hugetlbfs = allow;
        self
    }

    /// The memory budget of each connection.
    pub fn memory_budget(&self) -> u64 {
        self.memory_budget
    }

    fn fresh_control(&self) -> Arc<Mutex<Control>> {
        Arc::new(Mutex::new(Control::with_budget(
            self.memory_budget,
            self.hugetlbfs,
        )))
    }

    /// The ring layout the frontend negotiated at the last start of the data path:
    /// `Some(true)` packed (`VIRTIO_F_RING_PACKED`), `Some(false)` split, `None` never
    /// started.
    pub fn packed_rings(&self) -> Option<bool> {
        self.packed
    }

    /// Whether a frontend is attached.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Whether the rings are running.
    pub fn is_running(&self) -> bool {
        self.active.is_some()
    }

    /// The counters.
    pub fn stats(&self) -> VhostUserStats {
        let mut s = self.stats.clone();
        if let Some(a) = &self.active {
            s.net = a.port.stats().clone();
        }
        s.mapped_bytes = lock(&self.control)
            .mem
            .as_ref()
            .map_or(0, |m| m.mapped_bytes());
        s
    }

    /// Attach a frontend's connection. Refused (the stream is given back) when one is
    /// attached already, or when the process has no fd left to spare for it.
    pub fn attach(&mut self, stream: UnixStream) -> Result<(), UnixStream> {
        if self.conn.is_some() {
            return Err(stream);
        }
        let Ok(socket) = stream.try_clone() else {
            return Err(stream);
        };
        self.stalled_since = None;
        self.control = self.fresh_control();
        self.generation = 0;
        self.conn = Some(Conn {
            handler: BackendReqHandler::from_stream(stream, self.control.clone()),
            socket,
        });
        self.stats.connections += 1;
        Ok(())
    }

    /// The fds to wait on (readable = work): the socket (when a frontend is attached)
    /// first, then, while the rings run, their kick eventfds. Kick fds of rings that do
    /// not run are not waited on (the port's `service` would not drain them). A
    /// [`WaitList`] keeps which fd is which.
    pub fn fds(&self, out: &mut Vec<RawFd>) {
        self.each_fd(|_, fd| out.push(fd));
    }

    pub(crate) fn each_fd(&self, mut f: impl FnMut(FdRole, RawFd)) {
        let Some(conn) = &self.conn else { return };
        f(FdRole::Socket, conn.socket.as_raw_fd());
        if self.active.is_none() {
            return;
        }
        let c = lock(&self.control);
        for k in c.vrings.iter().filter_map(|v| v.kick.as_ref()) {
            f(FdRole::Kick, k.as_raw_fd());
        }
    }

    /// Handle one request from the frontend (its socket is readable). `Err`: the
    /// frontend was cut off (a disconnect included).
    ///
    /// The dispatcher reads and answers with blocking calls (and retries a socket that
    /// would block without end), so a request is handed to it only when it is there
    /// whole (peeked) and the socket has room for the reply. Nothing there: returns at
    /// once. A closed or failed socket, or a header announcing an oversized body, cuts
    /// the frontend off without a read. A frontend that leaves a request incomplete, or
    /// does not read its replies, for [`REQUEST_TIMEOUT`] is cut off; until then this
    /// returns at once.
    pub fn handle_socket(&mut self) -> Result<(), CutOff> {
        let Some(conn) = &mut self.conn else {
            return Ok(());
        };
        match request_waiting(conn.socket.as_fd()) {
            Waiting::Whole => self.stalled_since = None,
            Waiting::Nothing => {
                self.stalled_since = None;
                return Ok(());
            }
            Waiting::Closed => return Err(self.cut_off(VhostUserError::Disconnected)),
            Waiting::Failed(errno) => {
                return Err(self.cut_off(VhostUserError::Socket { errno }));
            }
            Waiting::Oversized(size) => {
                return Err(self.cut_off(VhostUserError::Oversized { size }));
            }
            Waiting::Partial(bytes) => {
                let since = *self
                    .stalled_since
                    .get_or_insert_with(std::time::Instant::now);
                if since.elapsed() < REQUEST_TIMEOUT {
                    return Ok(());
                }
                return Err(self.cut_off(VhostUserError::Stalled { bytes }));
            }
        }
        if let Some(a) = &self.active {
            // A packed ring's positions live in the device queue: give the control state
            // the current ones, for a GET_VRING_BASE in this request.
            lock(&self.control).packed_state = a.packed_state();
        }
        if let Err(e) = conn.handler.handle_request() {
            let reason = match e {
                // A request for a feature not negotiated yet: the message was read whole
                // and refused without a reply; the connection stays in step. QEMU sends
                // SET_VRING_ENABLE before SET_FEATURES (and again after it).
                vhost::vhost_user::Error::InactiveFeature(_)
                | vhost::vhost_user::Error::InactiveOperation(_) => {
                    self.stats.ignored_requests += 1;
                    return self.sync();
                }
                vhost::vhost_user::Error::Disconnected
                | vhost::vhost_user::Error::PartialMessage
                | vhost::vhost_user::Error::SocketBroken(_) => VhostUserError::Disconnected,
                _ => lock(&self.control)
                    .fault
                    .unwrap_or(VhostUserError::Protocol),
            };
            return Err(self.cut_off(reason));
        }
        let fault = lock(&self.control).fault;
        if let Some(reason) = fault {
            return Err(self.cut_off(reason));
        }
        self.sync()
    }

    /// Start or stop the data path after the control state changed.
    fn sync(&mut self) -> Result<(), CutOff> {
        let mut c = lock(&self.control);
        if c.generation != self.generation {
            // A stop: the rings' bases were recorded by the control state.
            self.generation = c.generation;
            if let Some(a) = self.active.take() {
                self.stats.net = a.port.stats().clone();
            }
        }
        if self.active.is_some() || !c.ready() {
            return Ok(());
        }
        let (Some(mem), Some(rx), Some(tx)) =
            (c.mem.clone(), c.vrings[0].config(), c.vrings[1].config())
        else {
            return Ok(());
        };
        let packed = c.packed();
        for (index, v) in (0u32..).zip(&c.vrings) {
            if !control::base_fits(packed, v.base, v.num) {
                let reason = VhostUserError::BadRingBase {
                    index,
                    base: v.base,
                    packed,
                };
                drop(c);
                return Err(self.cut_off(reason));
            }
        }
        let rings = [(rx, c.vrings[0].base), (tx, c.vrings[1].base)];
        match Active::start(mem, rings, c.negotiated(), self.max_frame) {
            Ok(a) => {
                c.running = true;
                c.packed_state = a.packed_state();
                self.packed = Some(packed);
                drop(c);
                self.active = Some(a);
                self.stats.starts += 1;
                Ok(())
            }
            Err(e) => {
                drop(c);
                Err(self.cut_off(VhostUserError::Attach(e)))
            }
        }
    }

    /// Cut the frontend off: drop the rings, unmap, close the socket.
    pub fn cut_off(&mut self, reason: VhostUserError) -> CutOff {
        if let Some(a) = self.active.take() {
            self.stats.net = a.port.stats().clone();
        }
        self.conn = None;
        // Dropping the control state unmaps the memory (the data path is gone).
        self.control = self.fresh_control();
        self.generation = 0;
        self.stats.cutoffs += 1;
        self.stats.last_cutoff = Some(reason);
        // (std only: `log`; `defmt` is for bare-metal targets.)
        #[cfg(feature = "log")]
        if reason == VhostUserError::Disconnected {
            log::info!("vnet-switch: vhost-user frontend disconnected");
        } else {
            log::warn!("vnet-switch: vhost-user frontend cut off: {}", reason);
        }
        CutOff { reason }
    }

    /// The cut-off [`FrameLink::service`] (called by every switch poll) found, once.
    pub fn take_cut_off(&mut self) -> Option<CutOff> {
        self.unreported.take()
    }

    /// After a switch poll (done by [`FrameLink::service`]): signal the call eventfds
    /// the driver asked for, drain kicks, and cut the frontend off when its rings broke.
    fn after_poll(&mut self) -> Result<(), CutOff> {
        let Some(a) = &mut self.active else {
            return Ok(());
        };
        // A truncated file first: what the rings read after it (zeros) is its effect.
        let truncated = lock(&self.control).mem.as_ref().and_then(|m| m.truncated());
        if let Some(guest_phys_addr) = truncated {
            return Err(self.cut_off(VhostUserError::RegionTruncated { guest_phys_addr }));
        }
        if let PortState::Down(e) = a.port.state() {
            return Err(self.cut_off(VhostUserError::Ring(e)));
        }
        let irq = a.port.interrupts();
        let c = lock(&self.control);
        for (want, v) in [irq.receiveq, irq.transmitq].into_iter().zip(&c.vrings) {
            if let (true, Some(call)) = (want, &v.call) {
                if (&*call).write_all(&1u64.to_ne_bytes()).is_ok() {
                    self.stats.calls += 1;
                }
            }
        }
        for kick in c.vrings.iter().filter_map(|v| v.kick.as_ref()) {
            if sys::drain_eventfd(kick) {
                self.stats.kicks += 1;
            }
        }
        Ok(())
    }

    /// Before sleeping: ask the guest to kick when it sends. `true`: frames raced in,
    /// poll again first. A broken ring cuts the frontend off at the next poll.
    pub fn enable_notifications(&mut self) -> bool {
        match &mut self.active {
            Some(a) => a.port.enable_notifications().unwrap_or(false),
            None => false,
        }
    }
}

impl FrameLink for VhostUserPort {
    type Error = VhostUserError;

    fn caps(&self) -> LinkCaps {
        match &self.active {
            Some(a) => a.port.caps(),
            None => LinkCaps::new(usize::from(self.max_frame)),
        }
    }

    fn link_state(&mut self) -> LinkState {
        match &mut self.active {
            Some(a) => a.port.link_state(),
            None => LinkState::Down,
        }
    }

    /// After the switch's work: signals the call eventfds the driver asked for, drains
    /// kicks, and cuts the frontend off when its rings broke (the reason is returned and
    /// kept for [`VhostUserPort::take_cut_off`]).
    fn service(&mut self, _budget: u16) -> Result<(), VhostUserError> {
        self.after_poll().map_err(|c| {
            self.unreported = Some(c);
            c.reason
        })
    }

    fn rx_take(&mut self) -> Result<Option<RxSlot>, VhostUserError> {
        match &mut self.active {
            Some(a) => a.port.rx_take().map_err(VhostUserError::Link),
            None => Ok(None),
        }
    }

    fn rx_frame(&self, slot: &RxSlot) -> &[u8] {
        match &self.active {
            Some(a) => a.port.rx_frame(slot),
            None => &[],
        }
    }

    fn rx_meta(&self, slot: &RxSlot) -> FrameMeta {
        self.active
            .as_ref()
            .map_or(FrameMeta::NONE, |a| a.port.rx_meta(slot))
    }

    fn rx_release(&mut self, slot: RxSlot) {
        if let Some(a) = &mut self.active {
            a.port.rx_release(slot)
        }
    }

    fn rx_pending(&self) -> usize {
        self.active.as_ref().map_or(0, |a| a.port.rx_pending())
    }

    fn tx_reserve(&mut self, len: usize) -> Result<Option<TxSlot>, VhostUserError> {
        match &mut self.active {
            Some(a) => a.port.tx_reserve(len).map_err(VhostUserError::Link),
            None => Ok(None),
        }
    }

    fn tx_room(&self) -> Option<usize> {
        self.active.as_ref().and_then(|a| a.port.tx_room())
    }

    fn tx_buffer(&mut self, slot: &TxSlot) -> Option<&mut [u8]> {
        self.active.as_mut()?.port.tx_buffer(slot)
    }

    fn tx_write(
        &mut self,
        slot: &TxSlot,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), VhostUserError> {
        match &mut self.active {
            Some(a) => a
                .port
                .tx_write(slot, offset, bytes)
                .map_err(VhostUserError::Link),
            None => Err(no_slot(slot)),
        }
    }

    fn tx_write_frame(
        &mut self,
        slot: &TxSlot,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), VhostUserError> {
        match &mut self.active {
            Some(a) => a
                .port
                .tx_write_frame(slot, header, payload)
                .map_err(VhostUserError::Link),
            None => Err(no_slot(slot)),
        }
    }

    fn tx_commit(&mut self, slot: TxSlot, meta: FrameMeta) -> Result<(), VhostUserError> {
        match &mut self.active {
            Some(a) => a.port.tx_commit(slot, meta).map_err(VhostUserError::Link),
            None => Err(no_slot(&slot)),
        }
    }

    fn tx_abort(&mut self, slot: TxSlot) {
        if let Some(a) = &mut self.active {
            a.port.tx_abort(slot)
        }
    }
}

/// The error for a handle while no data path runs (none was handed out).
fn no_slot(slot: &TxSlot) -> VhostUserError {
    VhostUserError::Link(VirtioNetError::Slot(LinkError::BadSlot {
        index: slot.index(),
    }))
}
