//! Blocking with time-outs, outside the core: the ports never block; this layer queues
//! the processes of one partition that wait on a port (FIFO or PRIORITY discipline) and
//! suspends them through an integrator-supplied [`Scheduler`], so a kernel or an RTOS
//! provides real suspension and deadlines.
//!
//! The port and its waiter queue live together behind a [`Lock`] the integrator also
//! provides (a kernel lock, a critical section, `std::sync::Mutex`). Only the first
//! waiter in discipline order may take the port; it is resumed when another process
//! finishes an operation, when the integrator calls [`BlockingPort::notify`] (the peer
//! partition made progress), or spuriously by the scheduler (each wake re-checks).

use crate::config::QueuingDiscipline;
use crate::error::Error;
use crate::queuing::{QueueReceiver, QueueSender, QueuingPortStatus, Received};

/// Why a suspended process runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Resumed (possibly spuriously): re-check the port.
    Resumed,
    /// The deadline passed.
    TimedOut,
}

/// An APEX time-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// Do not wait (`0`).
    Immediate,
    /// Wait without limit (`INFINITE_TIME_VALUE`, `-1`).
    Infinite,
    /// Wait at most this many ns.
    Ns(u64),
}

impl Timeout {
    /// From an APEX `SYSTEM_TIME_TYPE` (`-1` infinite); below `-1` → `INVALID_PARAM`.
    pub fn from_apex(t: i64) -> Result<Self, Error> {
        match t {
            -1 => Ok(Self::Infinite),
            0 => Ok(Self::Immediate),
            t if t > 0 => Ok(Self::Ns(t.unsigned_abs())),
            t => Err(Error::InvalidParam {
                what: "time_out",
                value: t as u64,
            }),
        }
    }
}

/// The integrator's process control: identity, clock, suspend with a deadline, resume.
pub trait Scheduler {
    /// Identifies a process.
    type Process: Copy + Eq;
    /// The calling process and its priority (higher is more urgent).
    fn current(&self) -> (Self::Process, i32);
    /// Monotonic time in ns.
    fn now(&self) -> u64;
    /// Suspend the calling process `p` until resumed or `deadline` (ns, `None`: no
    /// limit). A [`resume`](Self::resume) that came before must not be lost.
    fn suspend(&self, p: Self::Process, deadline: Option<u64>) -> Wake;
    /// Make `p` run again.
    fn resume(&self, p: Self::Process);
    /// Whether the caller may not block (preemption locked, error handler): APEX then
    /// returns `INVALID_MODE` instead of waiting.
    fn may_not_block(&self) -> bool {
        false
    }
}

/// Mutual exclusion over `T`, supplied by the integrator.
pub trait Lock<T> {
    /// Run `f` with exclusive access.
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
}

#[cfg(feature = "std")]
impl<T> Lock<T> for std::sync::Mutex<T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut g = match self.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut g)
    }
}

/// Processes waiting on a port, ordered by the port's discipline. At most `W`.
#[derive(Debug)]
pub struct WaiterQueue<P, const W: usize> {
    discipline: QueuingDiscipline,
    items: heapless::Vec<(P, i32, u32), W>,
    next_seq: u32,
}

impl<P: Copy + Eq, const W: usize> WaiterQueue<P, W> {
    /// An empty queue.
    pub const fn new(discipline: QueuingDiscipline) -> Self {
        Self {
            discipline,
            items: heapless::Vec::new(),
            next_seq: 0,
        }
    }

    /// Number of waiting processes.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No process waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `p` waits.
    pub fn contains(&self, p: P) -> bool {
        self.items.iter().any(|x| x.0 == p)
    }

    /// Add `p` with `priority`; `NOT_AVAILABLE` when `W` processes already wait.
    pub fn push(&mut self, p: P, priority: i32) -> Result<(), Error> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.items
            .push((p, priority, seq))
            .map_err(|_| Error::NotAvailable)
    }

    fn best_index(&self) -> Option<usize> {
        let base = self.next_seq;
        // Arrival order relative to the oldest possible sequence number (wrap-safe).
        let age = |s: u32| base.wrapping_sub(s);
        let mut best: Option<(usize, i32, u32)> = None;
        for (i, &(_, prio, seq)) in self.items.iter().enumerate() {
            let key_prio = match self.discipline {
                QueuingDiscipline::Fifo => 0,
                QueuingDiscipline::Priority => prio,
            };
            let better = match best {
                None => true,
                Some((_, bp, bage)) => key_prio > bp || (key_prio == bp && age(seq) > bage),
            };
            if better {
                best = Some((i, key_prio, age(seq)));
            }
        }
        best.map(|b| b.0)
    }

    /// The process that goes first.
    pub fn first(&self) -> Option<P> {
        self.best_index()
            .and_then(|i| self.items.get(i))
            .map(|x| x.0)
    }

    /// Remove and return the process that goes first.
    pub fn pop(&mut self) -> Option<P> {
        let i = self.best_index()?;
        Some(self.items.remove(i).0)
    }

    /// Remove `p` (time-out); whether it was there.
    pub fn remove(&mut self, p: P) -> bool {
        match self.items.iter().position(|x| x.0 == p) {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }
}

/// A port and its waiters, the state behind the [`Lock`].
#[derive(Debug)]
pub struct Waiting<T, P, const W: usize> {
    /// The non-blocking port.
    pub port: T,
    /// Its waiting processes.
    pub waiters: WaiterQueue<P, W>,
}

impl<T, P: Copy + Eq, const W: usize> Waiting<T, P, W> {
    /// `port` with no waiter, ordered by `discipline`.
    pub const fn new(port: T, discipline: QueuingDiscipline) -> Self {
        Self {
            port,
            waiters: WaiterQueue::new(discipline),
        }
    }
}

/// A port usable from several processes of one partition, with APEX time-outs.
#[derive(Debug)]
pub struct BlockingPort<'s, S, L> {
    sched: &'s S,
    lock: L,
}

enum Step<R, P> {
    Done(Result<R, Error>, Option<P>),
    Wait,
}

impl<'s, S: Scheduler, L> BlockingPort<'s, S, L> {
    /// Wrap `lock` (holding a [`Waiting`] port) with `sched`.
    pub const fn new(sched: &'s S, lock: L) -> Self {
        Self { sched, lock }
    }

    /// The lock (and through it the port).
    pub fn lock(&self) -> &L {
        &self.lock
    }

    /// Resume the first waiter: call when the peer may have made progress (an
    /// interrupt, a doorbell, a partition switch).
    pub fn notify<T, const W: usize>(&self)
    where
        L: Lock<Waiting<T, S::Process, W>>,
    {
        if let Some(p) = self.lock.with(|st| st.waiters.first()) {
            self.sched.resume(p);
        }
    }

    /// Number of processes waiting on the port.
    pub fn waiting<T, const W: usize>(&self) -> usize
    where
        L: Lock<Waiting<T, S::Process, W>>,
    {
        self.lock.with(|st| st.waiters.len())
    }

    /// Run `op` until it stops saying `NOT_AVAILABLE`, waiting in discipline order for
    /// at most `timeout`. Each attempt is one bounded `op` call.
    pub fn wait_for<T, R, const W: usize>(
        &self,
        timeout: Timeout,
        mut op: impl FnMut(&mut T) -> Result<R, Error>,
    ) -> Result<R, Error>
    where
        L: Lock<Waiting<T, S::Process, W>>,
    {
        let (me, prio) = self.sched.current();
        let deadline = match timeout {
            Timeout::Ns(d) => Some(self.sched.now().saturating_add(d)),
            _ => None,
        };
        loop {
            let step = self.lock.with(|st| {
                let my_turn = st.waiters.first().is_none_or(|f| f == me);
                if my_turn {
                    match op(&mut st.port) {
                        Err(Error::NotAvailable) => {}
                        r => {
                            st.waiters.remove(me);
                            return Step::Done(r, st.waiters.first());
                        }
                    }
                }
                if timeout == Timeout::Immediate {
                    return Step::Done(Err(Error::NotAvailable), None);
                }
                if self.sched.may_not_block() {
                    st.waiters.remove(me);
                    return Step::Done(
                        Err(Error::InvalidMode {
                            what: "would block with preemption locked",
                        }),
                        None,
                    );
                }
                if !st.waiters.contains(me) {
                    if let Err(e) = st.waiters.push(me, prio) {
                        return Step::Done(Err(e), None);
                    }
                }
                Step::Wait
            });
            if let Step::Done(r, next) = step {
                if let Some(n) = next {
                    self.sched.resume(n);
                }
                return r;
            }
            let expired = deadline.is_some_and(|d| self.sched.now() >= d);
            if expired || self.sched.suspend(me, deadline) == Wake::TimedOut {
                let next = self.lock.with(|st| {
                    st.waiters.remove(me);
                    st.waiters.first()
                });
                if let Some(n) = next {
                    self.sched.resume(n);
                }
                return Err(Error::TimedOut);
            }
        }
    }

    /// APEX `SEND_QUEUING_MESSAGE` with a time-out.
    pub fn send<'r, const W: usize>(&self, msg: &[u8], timeout: Timeout) -> Result<(), Error>
    where
        L: Lock<Waiting<QueueSender<'r>, S::Process, W>>,
    {
        self.wait_for(timeout, |p: &mut QueueSender<'r>| p.try_send(msg))
    }

    /// APEX `RECEIVE_QUEUING_MESSAGE` with a time-out.
    pub fn receive<'r, const W: usize>(
        &self,
        buf: &mut [u8],
        timeout: Timeout,
    ) -> Result<Received, Error>
    where
        L: Lock<Waiting<QueueReceiver<'r>, S::Process, W>>,
    {
        self.wait_for(timeout, |p: &mut QueueReceiver<'r>| p.try_receive(buf))
    }

    /// Status of a queuing destination, with the number of waiting processes.
    pub fn receiver_status<'r, const W: usize>(&self) -> Result<QueuingPortStatus, Error>
    where
        L: Lock<Waiting<QueueReceiver<'r>, S::Process, W>>,
    {
        self.lock.with(|st| {
            let mut s = st.port.status()?;
            s.waiting_processes = st.waiters.len() as u32;
            Ok(s)
        })
    }

    /// Status of a queuing source, with the number of waiting processes.
    pub fn sender_status<'r, const W: usize>(&self) -> Result<QueuingPortStatus, Error>
    where
        L: Lock<Waiting<QueueSender<'r>, S::Process, W>>,
    {
        self.lock.with(|st| {
            let mut s = st.port.status()?;
            s.waiting_processes = st.waiters.len() as u32;
            Ok(s)
        })
    }
}

#[cfg(feature = "std")]
mod hosted;
#[cfg(feature = "std")]
pub use hosted::{set_priority, StdScheduler};
