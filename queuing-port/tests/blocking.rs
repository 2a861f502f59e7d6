//! The waiter queue and the blocking layer, with real threads through `StdScheduler`.
#![cfg(feature = "std")]

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use queuing_port::blocking::{
    set_priority, BlockingPort, Scheduler, StdScheduler, Timeout, WaiterQueue, Waiting,
};
use queuing_port::mock::OwnedRegion;
use queuing_port::{Error, Geometry, QueueReceiver, QueueSender, QueuingDiscipline, ReturnCode};

#[test]
fn waiter_queue_orders_by_discipline() {
    let mut fifo: WaiterQueue<u8, 4> = WaiterQueue::new(QueuingDiscipline::Fifo);
    let mut prio: WaiterQueue<u8, 4> = WaiterQueue::new(QueuingDiscipline::Priority);
    for (p, pr) in [(1, 5), (2, 9), (3, 5), (4, 9)] {
        fifo.push(p, pr).unwrap();
        prio.push(p, pr).unwrap();
    }
    assert_eq!(fifo.push(5, 0), Err(Error::NotAvailable));
    assert!(prio.remove(4));
    assert!(!prio.remove(4));
    let f: Vec<u8> = std::iter::from_fn(|| fifo.pop()).collect();
    let p: Vec<u8> = std::iter::from_fn(|| prio.pop()).collect();
    assert_eq!(f, [1, 2, 3, 4]);
    assert_eq!(p, [2, 1, 3]);
}

#[test]
fn timeout_from_apex_values() {
    assert_eq!(Timeout::from_apex(-1), Ok(Timeout::Infinite));
    assert_eq!(Timeout::from_apex(0), Ok(Timeout::Immediate));
    assert_eq!(Timeout::from_apex(7), Ok(Timeout::Ns(7)));
    assert_eq!(
        Timeout::from_apex(-2).unwrap_err().code(),
        ReturnCode::InvalidParam
    );
}

type Rx<'r> = Mutex<Waiting<QueueReceiver<'r>, thread::ThreadId, 8>>;
type Tx<'r> = Mutex<Waiting<QueueSender<'r>, thread::ThreadId, 8>>;

#[test]
#[cfg_attr(miri, ignore = "real threads with sleeps")]
fn blocked_senders_all_get_through_and_time_outs_expire() {
    let g = Geometry::queuing(8, 1, false);
    let region = OwnedRegion::<128>::formatted(&g);
    let sched = StdScheduler::new(Duration::from_millis(1));
    let tx: BlockingPort<'_, StdScheduler, Tx<'_>> = BlockingPort::new(
        &sched,
        Mutex::new(Waiting::new(
            QueueSender::attach(region.region(), &g).unwrap(),
            QueuingDiscipline::Fifo,
        )),
    );
    let rx: BlockingPort<'_, StdScheduler, Rx<'_>> = BlockingPort::new(
        &sched,
        Mutex::new(Waiting::new(
            QueueReceiver::attach(region.region(), &g).unwrap(),
            QueuingDiscipline::Priority,
        )),
    );
    // Empty: zero time-out is NOT_AVAILABLE, a short one TIMED_OUT.
    let mut buf = [0u8; 8];
    assert_eq!(
        rx.receive(&mut buf, Timeout::Immediate),
        Err(Error::NotAvailable)
    );
    assert_eq!(
        rx.receive(&mut buf, Timeout::Ns(2_000_000)),
        Err(Error::TimedOut)
    );
    assert_eq!(rx.waiting(), 0);
    // Depth 1: four senders block with infinite time-out until the receiver drains.
    let mut got = Vec::new();
    thread::scope(|s| {
        for p in 0..4u8 {
            let tx = &tx;
            s.spawn(move || {
                set_priority(i32::from(p));
                tx.send(&[p; 8], Timeout::Infinite).unwrap();
            });
        }
        while got.len() < 4 {
            match rx.receive(&mut buf, Timeout::Ns(1_000_000_000)) {
                Ok(m) => got.push(buf[..m.len].to_vec()),
                Err(e) => panic!("receive: {e}"),
            }
            tx.notify();
        }
    });
    got.sort();
    let want: Vec<Vec<u8>> = (0..4u8).map(|p| vec![p; 8]).collect();
    assert_eq!(got, want);
    assert_eq!(tx.waiting(), 0);
    let st = rx.receiver_status().unwrap();
    assert_eq!((st.nb_message, st.waiting_processes), (0, 0));
    // Full: a sender times out, and is no longer counted as waiting.
    tx.send(&[9], Timeout::Immediate).unwrap();
    assert_eq!(tx.send(&[9], Timeout::Ns(1_000_000)), Err(Error::TimedOut));
    assert_eq!(tx.sender_status().unwrap().waiting_processes, 0);
    assert!(sched.now() > 0);
}
