//! Wall-clock time in Unix seconds: what signatures, seals and Slack's date tokens count in.
//!
//! `throttle-bot try` sets a world clock once, for its whole process: the embedded account, the
//! timers of timed changes and impact reports, and every seal then count in it, and `wait`
//! moves it forward. Nothing else sets it: everywhere else `unix_now` is the system's clock and
//! [`sleep`] is tokio's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

static WORLD: OnceLock<World> = OnceLock::new();

/// A clock that starts at a given time, runs with real time or stands still, and jumps
/// forward when told.
struct World {
    /// Unix milliseconds at `began`.
    start_ms: i64,
    began: Instant,
    runs: bool,
    skipped_ms: AtomicI64,
    moved: tokio::sync::watch::Sender<()>,
    /// When each sleeper wakes (Unix milliseconds), with how many wake then: what `wait`
    /// steps through, so that what is due comes in the order it is due.
    sleepers: Mutex<BTreeMap<i64, usize>>,
}

impl World {
    fn now_ms(&self) -> i64 {
        let ran = if self.runs {
            i64::try_from(self.began.elapsed().as_millis()).unwrap_or(i64::MAX / 2)
        } else {
            0
        };
        self.start_ms + ran + self.skipped_ms.load(Ordering::SeqCst)
    }
}

/// Why the world clock was not set: it is set once per process.
#[derive(Debug, thiserror::Error)]
#[error("the world clock is already set")]
pub struct AlreadySet;

/// Sets the world clock: at `start` (Unix seconds) now, moving with real time when `runs`,
/// else only by [`advance`].
pub fn set_world(start: i64, runs: bool) -> Result<(), AlreadySet> {
    let (moved, _) = tokio::sync::watch::channel(());
    WORLD
        .set(World {
            start_ms: start.saturating_mul(1000),
            began: Instant::now(),
            runs,
            skipped_ms: AtomicI64::new(0),
            moved,
            sleepers: Mutex::default(),
        })
        .map_err(|_| AlreadySet)
}

/// Moves the world clock forward by `by`, waking whatever sleeps on it; without a world clock,
/// does nothing (real time cannot be moved).
pub fn advance(by: Duration) {
    if let Some(world) = WORLD.get() {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 2);
        world.skipped_ms.fetch_add(by, Ordering::SeqCst);
        world.moved.send_replace(());
    }
}

/// How long from now until the first sleeper on the world clock wakes, if one wakes within
/// `within`; `None` without a world clock.
pub fn next_wake(within: Duration) -> Option<Duration> {
    let world = WORLD.get()?;
    let now = world.now_ms();
    let within = i64::try_from(within.as_millis()).unwrap_or(i64::MAX / 2);
    let sleepers = world.sleepers.lock().unwrap_or_else(|e| e.into_inner());
    let (&first, _) = sleepers.first_key_value()?;
    (first - now <= within).then(|| Duration::from_millis((first - now).max(0).unsigned_abs()))
}

/// One sleeper on the world clock, counted while it sleeps.
struct Sleeper<'a> {
    world: &'a World,
    until: i64,
}

impl<'a> Sleeper<'a> {
    fn new(world: &'a World, until: i64) -> Self {
        let mut sleepers = world.sleepers.lock().unwrap_or_else(|e| e.into_inner());
        *sleepers.entry(until).or_default() += 1;
        Self { world, until }
    }
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        let mut sleepers = self
            .world
            .sleepers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = sleepers.get_mut(&self.until) {
            *count -= 1;
            if *count == 0 {
                sleepers.remove(&self.until);
            }
        }
    }
}

/// The system's time in Unix seconds (0 if the clock is before 1970).
pub fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Now, in Unix seconds: the world clock's under `try`, else the system's.
pub fn unix_now() -> i64 {
    match WORLD.get() {
        Some(world) => world.now_ms().div_euclid(1000),
        None => system_now(),
    }
}

/// Whether time passes by itself: false only under a scripted `try`, whose world clock moves
/// only when told (a wait there would never end by itself).
pub fn runs() -> bool {
    WORLD.get().is_none_or(|world| world.runs)
}

/// Waits `duration` of this process's time: tokio's sleep, or under `try` until the world
/// clock has moved that far (by real time or by [`advance`]).
pub async fn sleep(duration: Duration) {
    let Some(world) = WORLD.get() else {
        return tokio::time::sleep(duration).await;
    };
    let mut moved = world.moved.subscribe();
    let until = world
        .now_ms()
        .saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2));
    let _counted = Sleeper::new(world, until);
    loop {
        let left = until - world.now_ms();
        if left <= 0 {
            return;
        }
        if world.runs {
            let left = Duration::from_millis(left.unsigned_abs());
            tokio::select! {
                () = tokio::time::sleep(left) => {}
                _ = moved.changed() => {}
            }
        } else if moved.changed().await.is_err() {
            return;
        }
    }
}
