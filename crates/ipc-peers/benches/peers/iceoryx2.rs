//! The iceoryx2 rows (`--features iceoryx2`; its build runs bindgen, which needs libclang).
//!
//! iceoryx2 0.7, `ipc::Service`, publish-subscribe: a `ping` service (parent → echo) and a
//! `pong` service (echo → parent), plus two event services that wake a side sleeping in an
//! iceoryx2 `WaitSet`. Each side creates its own `Node` in its own process: the echo is forked
//! first (by `Process::start`) and only then opens the services the parent created.
//!
//! - "polling": the receiver busy-polls `Subscriber::receive` (how iceoryx2 reaches its
//!   advertised latency). Between bursts the echo must not spin (the other contestants' echoes
//!   need the CPUs): a `PARK` sample ends a burst, and the parked echo sleeps in a `WaitSet`
//!   until the parent's next burst, whose first ping comes with one `Notifier::notify`.
//! - "WaitSet": no polling at all; every sample is followed by a `notify`, and the receiver
//!   sleeps in `WaitSet::wait_and_process_once` on a `Listener` of the event service until it
//!   comes: iceoryx2's blocking receive, the peer of `ShmQueue` (blocking).
//!
//! When an entry is dropped, the parent sends `QUIT` and waits for the echo to return, so that
//! the echo drops its node and ports itself: a killed echo would leave its files in
//! `/tmp/iceoryx2` (for the next node to clean up as stale).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coord_core::Process;
use iceoryx2::port::listener::Listener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;

use super::{Entry, PARK, Place, Who, entry, per_op};

type Svc = ipc::Service;

/// Sent instead of a ping when the entry is dropped: the echo returns.
const QUIT: u64 = u64::MAX - 1;
/// The first sample of an echo, once its ports exist.
const READY: u64 = u64::MAX - 2;
/// Byte services: an empty sample parks the echo, a 1-byte one ends it (pings are larger).
const PARK_LEN: usize = 0;
const QUIT_LEN: usize = 1;

/// A name prefix unique to one entry: this process's id and a counter.
fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "coord-lab/ipc-peers/{}/{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn service_name(base: &str, what: &str) -> ServiceName {
    ServiceName::new(&format!("{base}/{what}")).expect("iceoryx2 service name")
}

/// A node that installs no SIGINT/SIGTERM handler (Ctrl-C must still stop the benchmark),
/// with iceoryx2's default configuration (no config file is looked for).
fn node() -> Node<Svc> {
    NodeBuilder::new()
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .config(&Config::default())
        .create::<Svc>()
        .expect("iceoryx2 node")
}

fn waitset() -> WaitSet<Svc> {
    WaitSetBuilder::new()
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Svc>()
        .expect("iceoryx2 waitset")
}

/// Busy-polls `take` until it gives something, yielding every 256 empty polls (a few µs) so
/// that a partner on the same CPU can run, as `ShmQueue`'s spinning does. (iceoryx2's own
/// benchmark never yields: it gives each side a core of its own.)
fn poll<T>(mut take: impl FnMut() -> Option<T>) -> T {
    let mut polls = 0u32;
    loop {
        if let Some(x) = take() {
            return x;
        }
        polls = polls.wrapping_add(1);
        std::hint::spin_loop();
        if polls % 256 == 0 {
            std::thread::yield_now();
        }
    }
}

/// Sleeps in `ws` (which has `listener` attached as `guard`) until a notification comes,
/// consumes the notifications, then tries `take`; again if it gave nothing (a spurious wake-up).
/// The pattern of iceoryx2's event-based examples: every sample is followed by a `notify`,
/// which stays pending until the listener consumes it, so none is missed.
fn sleep_until<T>(
    ws: &WaitSet<Svc>,
    guard: &WaitSetGuard<'_, '_, Svc>,
    listener: &Listener<Svc>,
    mut take: impl FnMut() -> Option<T>,
) -> T {
    loop {
        ws.wait_and_process_once(|id| {
            if id.has_event_from(guard) {
                listener.try_wait_all(|_| {}).expect("iceoryx2 try_wait_all");
            }
            CallbackProgression::Continue
        })
        .expect("iceoryx2 WaitSet wait");
        if let Some(x) = take() {
            return x;
        }
    }
}

/// Waits (setup only, not measured) for the echo's first sample; panics if the echo died.
fn wait_ready<T>(child: &Process, mut take: impl FnMut() -> Option<T>) {
    let t0 = Instant::now();
    while take().is_none() {
        if let Some(status) = child.exit_status() {
            panic!("iceoryx2 echo ended before it was ready: {status}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "iceoryx2 echo not ready after 20 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Lets the echo return by itself (see the module doc); kills it if it does not within 5 s.
fn join_echo(child: &Process) {
    if !matches!(child.join_timeout(Duration::from_secs(5)), Ok(Some(_))) {
        let _ = child.kill();
    }
}

fn send_u64(tx: &Publisher<Svc, u64, ()>, x: u64) {
    tx.loan_uninit()
        .expect("iceoryx2 loan")
        .write_payload(x)
        .send()
        .expect("iceoryx2 send");
}

fn take_u64(rx: &Subscriber<Svc, u64, ()>) -> Option<u64> {
    rx.receive().expect("iceoryx2 receive").map(|s| *s.payload())
}

// --- u64 ------------------------------------------------------------------------------------

/// The parent's side of a u64 pair. Fields drop in order: the echo is told to quit (in
/// `Drop`) before the ports and the node go.
struct U64Pair {
    tx: Publisher<Svc, u64, ()>,
    rx: Subscriber<Svc, u64, ()>,
    /// Wakes the echo (event service `ping-event`).
    wake: Notifier<Svc>,
    /// Woken by the echo (event service `pong-event`).
    woken: Listener<Svc>,
    child: Process,
    _node: Node<Svc>,
}

impl Drop for U64Pair {
    fn drop(&mut self) {
        send_u64(&self.tx, QUIT);
        let _ = self.wake.notify();
        join_echo(&self.child);
    }
}

fn u64_pair(place: Place, blocking: bool) -> U64Pair {
    let base = unique();
    let node = node();
    let pubsub = |what| {
        node.service_builder(&service_name(&base, what))
            .publish_subscribe::<u64>()
            .max_publishers(1)
            .max_subscribers(1)
            .history_size(0)
            .create()
            .expect("iceoryx2 publish_subscribe service")
    };
    let event = |what| {
        node.service_builder(&service_name(&base, what))
            .event()
            .create()
            .expect("iceoryx2 event service")
    };
    let (ping, pong) = (pubsub("ping"), pubsub("pong"));
    let (ping_ev, pong_ev) = (event("ping-event"), event("pong-event"));
    let tx = ping.publisher_builder().create().expect("iceoryx2 publisher");
    let rx = pong.subscriber_builder().create().expect("iceoryx2 subscriber");
    let wake = ping_ev.notifier_builder().create().expect("iceoryx2 notifier");
    let woken = pong_ev.listener_builder().create().expect("iceoryx2 listener");
    let child = place
        .spawn(|| Process::start(move || echo_u64(&base, blocking)))
        .expect("start");
    wait_ready(&child, || take_u64(&rx));
    U64Pair {
        tx,
        rx,
        wake,
        woken,
        child,
        _node: node,
    }
}

/// The echo: opens the services, says READY, then echoes until QUIT (see the module doc).
fn echo_u64(base: &str, blocking: bool) {
    let node = node();
    let pubsub = |what| {
        node.service_builder(&service_name(base, what))
            .publish_subscribe::<u64>()
            .open()
            .expect("iceoryx2 open publish_subscribe")
    };
    let event = |what| {
        node.service_builder(&service_name(base, what))
            .event()
            .open()
            .expect("iceoryx2 open event")
    };
    let rx = pubsub("ping").subscriber_builder().create().expect("subscriber");
    let tx = pubsub("pong").publisher_builder().create().expect("publisher");
    let listener = event("ping-event").listener_builder().create().expect("listener");
    let notifier = event("pong-event").notifier_builder().create().expect("notifier");
    let ws = waitset();
    let guard = ws.attach_notification(&listener).expect("attach");
    send_u64(&tx, READY);
    loop {
        // Asleep in the WaitSet until a ping comes (between bursts when polling).
        let mut x = sleep_until(&ws, &guard, &listener, || take_u64(&rx));
        loop {
            match x {
                QUIT => return,
                PARK => break,
                _ => {}
            }
            send_u64(&tx, x);
            if blocking {
                notifier.notify().expect("notify");
                break;
            }
            x = poll(|| take_u64(&rx));
        }
    }
}

/// u64 ping, u64 pong; the parent busy-polls for the pong, the echo for the ping.
pub(super) fn u64_polling(place: Place) -> Entry {
    let pair = u64_pair(place, false);
    entry(Who::Peer, "iceoryx2 u64 (polling, spinning)", vec![], move |n| {
        let t0 = Instant::now();
        for i in 0..n as u64 {
            send_u64(&pair.tx, i);
            if i == 0 {
                // The parked echo sleeps in its WaitSet: the first ping of a burst wakes it.
                pair.wake.notify().expect("notify");
            }
            black_box(poll(|| take_u64(&pair.rx)));
        }
        let per = per_op(t0, n);
        send_u64(&pair.tx, PARK);
        per
    })
}

/// u64 ping, u64 pong, each followed by a notify; both sides sleep in a WaitSet.
pub(super) fn u64_waitset(place: Place) -> Entry {
    let pair = u64_pair(place, true);
    entry(Who::Peer, "iceoryx2 u64 (WaitSet)", vec![], move |n| {
        // Set up outside the timed part (the guard borrows the WaitSet and the listener).
        let ws = waitset();
        let guard = ws.attach_notification(&pair.woken).expect("attach");
        let t0 = Instant::now();
        for i in 0..n as u64 {
            send_u64(&pair.tx, i);
            pair.wake.notify().expect("notify");
            black_box(sleep_until(&ws, &guard, &pair.woken, || take_u64(&pair.rx)));
        }
        per_op(t0, n)
    })
}

// --- bytes ----------------------------------------------------------------------------------

struct BytesPair {
    tx: Publisher<Svc, [u8], ()>,
    rx: Subscriber<Svc, [u8], ()>,
    wake: Notifier<Svc>,
    child: Process,
    _node: Node<Svc>,
}

impl Drop for BytesPair {
    fn drop(&mut self) {
        send_bytes(&self.tx, &[0u8; QUIT_LEN]);
        let _ = self.wake.notify();
        join_echo(&self.child);
    }
}

/// One copy: `bytes` into a loaned sample of the shared segment.
fn send_bytes(tx: &Publisher<Svc, [u8], ()>, bytes: &[u8]) {
    tx.loan_slice_uninit(bytes.len())
        .expect("iceoryx2 loan")
        .write_from_slice(bytes)
        .send()
        .expect("iceoryx2 send");
}

/// Copies in and out, as `ShmQueue` does (`put_bytes` / `get_bytes_into`):
/// - parent: `msg` → loaned ping sample (`loan_slice_uninit` + `write_from_slice`), send;
/// - echo: ping sample → a `Vec` of its own (`copy_from_slice`), the ping sample is released;
///   that `Vec` → loaned pong sample, send;
/// - parent: pong sample → its own `Vec` (`copy_from_slice`), the sample is released.
///
/// So four 64 KiB copies per round trip, as the raw floor and `ShmQueue` make. (iceoryx2 could
/// echo straight from the ping sample into the pong sample, one copy fewer; so could a raw
/// floor. The row compares the same work.)
pub(super) fn bytes_polling(place: Place, size: usize) -> Entry {
    assert!(size > QUIT_LEN);
    let base = unique();
    let node = node();
    let pubsub = |what| {
        node.service_builder(&service_name(&base, what))
            .publish_subscribe::<[u8]>()
            .max_publishers(1)
            .max_subscribers(1)
            .history_size(0)
            .create()
            .expect("iceoryx2 publish_subscribe service")
    };
    let (ping, pong) = (pubsub("ping"), pubsub("pong"));
    let ping_ev = node
        .service_builder(&service_name(&base, "ping-event"))
        .event()
        .create()
        .expect("iceoryx2 event service");
    let tx = ping
        .publisher_builder()
        .initial_max_slice_len(size)
        .create()
        .expect("iceoryx2 publisher");
    let rx = pong.subscriber_builder().create().expect("iceoryx2 subscriber");
    let wake = ping_ev.notifier_builder().create().expect("iceoryx2 notifier");
    let child = place
        .spawn(|| Process::start(move || echo_bytes(&base, size)))
        .expect("start");
    wait_ready(&child, || rx.receive().expect("iceoryx2 receive").map(drop));
    let pair = BytesPair {
        tx,
        rx,
        wake,
        child,
        _node: node,
    };
    let (msg, mut back) = (vec![1u8; size], vec![0u8; size]);
    entry(
        Who::Peer,
        "iceoryx2 64 KiB (polling, spinning)",
        vec![],
        move |n| {
            let t0 = Instant::now();
            for i in 0..n {
                send_bytes(&pair.tx, &msg);
                if i == 0 {
                    pair.wake.notify().expect("notify");
                }
                poll(|| {
                    let reply = pair.rx.receive().expect("iceoryx2 receive")?;
                    back.copy_from_slice(reply.payload());
                    Some(())
                });
            }
            let per = per_op(t0, n);
            send_bytes(&pair.tx, &[0u8; PARK_LEN]);
            black_box(&mut back);
            per
        },
    )
}

fn echo_bytes(base: &str, size: usize) {
    let node = node();
    let rx = node
        .service_builder(&service_name(base, "ping"))
        .publish_subscribe::<[u8]>()
        .open()
        .expect("iceoryx2 open ping")
        .subscriber_builder()
        .create()
        .expect("subscriber");
    let tx = node
        .service_builder(&service_name(base, "pong"))
        .publish_subscribe::<[u8]>()
        .open()
        .expect("iceoryx2 open pong")
        .publisher_builder()
        .initial_max_slice_len(size)
        .create()
        .expect("publisher");
    let listener = node
        .service_builder(&service_name(base, "ping-event"))
        .event()
        .open()
        .expect("iceoryx2 open event")
        .listener_builder()
        .create()
        .expect("listener");
    let ws = waitset();
    let guard = ws.attach_notification(&listener).expect("attach");
    // Receives one sample, echoes it if it is a ping; gives its length. The echo copies the
    // ping into a buffer of its own and sends that, as the ShmQueue echo and the raw floor do
    // (`get_bytes_into`, then `put_bytes`): four 64 KiB copies per round trip on every row.
    let mut local = vec![0u8; size];
    let mut step = || {
        let ping = rx.receive().expect("iceoryx2 receive")?;
        let len = ping.payload().len();
        if len > QUIT_LEN {
            local.copy_from_slice(ping.payload());
            drop(ping);
            send_bytes(&tx, &local);
        }
        Some(len)
    };
    send_bytes(&tx, &[]); // ready
    loop {
        let mut len = sleep_until(&ws, &guard, &listener, &mut step);
        loop {
            match len {
                QUIT_LEN => return,
                PARK_LEN => break,
                _ => len = poll(&mut step),
            }
        }
    }
}
