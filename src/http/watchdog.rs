//! One timer per connection for both of a client's time limits: reading a request's headers
//! (or waiting idle for the next one), and a request from its headers to its answer.
//!
//! Arming a timer per request (hyper's header-read timeout, a `tokio::time::timeout` around
//! the handler) registers and cancels two timer-wheel entries on every request, the largest
//! cost the acknowledgement path had beyond its floor. Here a request only stores when its
//! phase began; the connection's one timer, when it fires, looks at that store and either
//! acts or moves itself to the phase's real deadline: one timer operation per time limit
//! instead of two per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

/// What a connection is waiting for, and since when; shared by the connection's service (which
/// moves it along) and its watchdog (which reads it when its timer fires).
pub struct Watch {
    opened: Instant,
    /// Milliseconds since `opened` when the phase began, shifted left once; the low bit is set
    /// while a request is being handled, clear while headers are awaited.
    phase: AtomicU64,
    /// Set by the watchdog when the request being handled ran out of time.
    expired: AtomicBool,
}

impl Watch {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            phase: AtomicU64::new(0),
            expired: AtomicBool::new(false),
        })
    }

    fn mark(&self, handling: bool) {
        let since = self.opened.elapsed().as_millis() as u64;
        self.phase
            .store((since << 1) | u64::from(handling), Ordering::Relaxed);
    }

    /// A request's headers were read: its handling starts now.
    pub fn handling(&self) {
        self.expired.store(false, Ordering::Relaxed);
        self.mark(true);
    }

    /// The request was answered: the next request's headers are awaited from now.
    pub fn answered(&self) {
        self.mark(false);
    }

    /// Whether the request being handled ran out of time (told once).
    pub fn take_expired(&self) -> bool {
        self.expired.swap(false, Ordering::Relaxed)
    }

    /// When the current phase runs out (after `header_read` or `request`), and whether a
    /// request is being handled.
    fn deadline(&self, header_read: Duration, request: Duration) -> (Instant, bool) {
        let phase = self.phase.load(Ordering::Relaxed);
        let handling = phase & 1 == 1;
        let since = self.opened + Duration::from_millis(phase >> 1);
        (
            since + if handling { request } else { header_read },
            handling,
        )
    }
}

/// Runs beside its connection, in the same task, and ends when the connection has waited longer
/// than `header_read` for headers (the caller then drops the connection). A request over its
/// `request` time is flagged and its task woken, so the service answers it `408` at its next
/// poll.
pub async fn watchdog(watch: Arc<Watch>, header_read: Duration, request: Duration) {
    let timer = tokio::time::sleep(header_read);
    tokio::pin!(timer);
    loop {
        timer.as_mut().await;
        let (deadline, handling) = watch.deadline(header_read, request);
        let now = Instant::now();
        if deadline > now {
            timer.as_mut().reset(deadline);
            continue;
        }
        if !handling {
            return;
        }
        watch.expired.store(true, Ordering::Relaxed);
        // The service sees the flag when hyper next polls it, which this wake-up brings about.
        std::future::poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Ready(())
        })
        .await;
        // The answer goes out at once; the wait for the next headers, which starts then, ends
        // no sooner than this (and if the answer is stuck, the request is flagged again).
        timer.as_mut().reset(now + header_read);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_READ: Duration = Duration::from_secs(10);
    const REQUEST: Duration = Duration::from_secs(20);

    #[tokio::test(start_paused = true)]
    async fn a_connection_waiting_for_headers_ends_when_they_are_late() {
        let watch = Watch::new();
        let started = Instant::now();
        watchdog(Arc::clone(&watch), HEADER_READ, REQUEST).await;
        assert_eq!(started.elapsed(), HEADER_READ);
        assert!(!watch.take_expired());
    }

    #[tokio::test(start_paused = true)]
    async fn each_answer_restarts_the_wait_for_headers() {
        let watch = Watch::new();
        let dog = tokio::spawn(watchdog(Arc::clone(&watch), HEADER_READ, REQUEST));
        let started = Instant::now();
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            watch.handling();
            watch.answered();
        }
        dog.await.unwrap();
        // The last answer came at 18 s: headers were then awaited for 10 s more.
        assert_eq!(started.elapsed(), Duration::from_secs(28));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_over_its_time_is_flagged_and_the_connection_kept() {
        let watch = Watch::new();
        let dog = tokio::spawn(watchdog(Arc::clone(&watch), HEADER_READ, REQUEST));
        tokio::time::sleep(Duration::from_secs(1)).await;
        watch.handling();
        // Within its 20 s (past the 10 s of a header wait): not flagged.
        tokio::time::sleep(Duration::from_secs(19)).await;
        assert!(!watch.take_expired());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(watch.take_expired(), "flagged at 20 s");
        assert!(!watch.take_expired(), "told once");
        assert!(!dog.is_finished());
        watch.answered();
        let answered = Instant::now();
        dog.await.unwrap();
        assert_eq!(answered.elapsed(), HEADER_READ);
    }
}
