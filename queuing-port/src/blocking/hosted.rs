//! A [`Scheduler`] for hosted use: processes are threads, suspension is
//! `thread::park_timeout`, time is `Instant` since the scheduler's creation.

use std::cell::Cell;
use std::sync::Mutex;
use std::thread::{self, Thread, ThreadId};
use std::time::{Duration, Instant};

use super::{Scheduler, Wake};

thread_local! {
    static PRIORITY: Cell<i32> = const { Cell::new(0) };
}

/// Set the calling thread's priority for [`StdScheduler`] (higher is more urgent).
pub fn set_priority(p: i32) {
    PRIORITY.with(|c| c.set(p));
}

/// Threads as APEX processes. A suspended thread also wakes every `poll` interval to
/// re-check its port (the peer partition cannot notify it across processes).
#[derive(Debug)]
pub struct StdScheduler {
    start: Instant,
    poll: Duration,
    threads: Mutex<Vec<(ThreadId, Thread)>>,
}

impl StdScheduler {
    /// A scheduler whose waiters re-check their port every `poll`.
    pub fn new(poll: Duration) -> Self {
        Self {
            start: Instant::now(),
            poll,
            threads: Mutex::new(Vec::new()),
        }
    }

    fn threads(&self) -> std::sync::MutexGuard<'_, Vec<(ThreadId, Thread)>> {
        match self.threads.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

impl Scheduler for StdScheduler {
    type Process = ThreadId;

    fn current(&self) -> (ThreadId, i32) {
        let t = thread::current();
        let id = t.id();
        let mut ts = self.threads();
        if !ts.iter().any(|(i, _)| *i == id) {
            ts.push((id, t));
        }
        (id, PRIORITY.with(Cell::get))
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn suspend(&self, _p: ThreadId, deadline: Option<u64>) -> Wake {
        let now = self.now();
        let wait = match deadline {
            Some(d) if d <= now => return Wake::TimedOut,
            Some(d) => self.poll.min(Duration::from_nanos(d - now)),
            None => self.poll,
        };
        thread::park_timeout(wait);
        match deadline {
            Some(d) if self.now() >= d => Wake::TimedOut,
            _ => Wake::Resumed,
        }
    }

    fn resume(&self, p: ThreadId) {
        if let Some((_, t)) = self.threads().iter().find(|(i, _)| *i == p) {
            t.unpark();
        }
    }
}
