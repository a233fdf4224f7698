//! As a service, timed changes end on time through two paths that share one rule (the record on
//! the stage decides, compare then set):
//! - a timer in this process for each change it made or extended;
//! - a sweep of the records, at start-up and every `SWEEP_INTERVAL_SECS`, for changes whose
//!   process died (a restart, a crash, another replica scaled away): in each account and
//!   region, the stages and usage plans holding records are found by their marker tag with
//!   one tagging query, and one replica (the lease holder) reads them (`sweep`).
//!
//! Timers live in memory only: nothing is lost when the process stops, because the sweep of the
//! next process (or of another replica) finds the record on the stage.

mod sweep;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::core::clock::unix_now;
use crate::core::outcome::{Failure, Outcome, PlanFailure};
use crate::core::ports::{DeadlineError, Deadlines, PlanReminder, Reminder};
use crate::core::requester::RequestId;
use crate::core::runner::{Ask, ReplyOnce, deadline_ask, plan_deadline_ask};
use crate::domain::{ApiId, StageName};
use crate::jobs::AppRunner;

/// How long a claim waits for other replicas' claims on the same restore to land.
pub const CLAIM_SETTLE: Duration = Duration::from_secs(2);
/// How overdue a record must be before a sweep restores it: the process that made the change,
/// if it is alive, has had its turn first.
const SWEEP_GRACE: Duration = Duration::from_secs(5);

/// Which records the sweep finishes (`SWEEP_APIS`): all of this deployment's, on any stage or
/// usage plan of every target, whatever the policy reaches now (the default); none (another
/// replica or Lambda's schedules finish restores); or only the stages of these API ids, read
/// one API at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepScope {
    All,
    None,
    Only(Vec<ApiId>),
}

impl SweepScope {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "" | "all" => Ok(Self::All),
            "none" => Ok(Self::None),
            list => list
                .split(',')
                .map(|id| {
                    ApiId::parse(id.trim()).map_err(|_| {
                        format!("`{}` is not a REST API id (or `all`, `none`)", id.trim())
                    })
                })
                .collect::<Result<_, _>>()
                .map(Self::Only),
        }
    }
}

/// How long after a failed restore the first retry comes; each next one waits twice as long.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between retries, and how many a timer makes before leaving it to the sweep.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(300);
const MAX_ATTEMPTS: u32 = 10;

/// A deadline this process keeps: a stage's timed change or a usage plan's.
#[derive(Debug, Clone)]
enum Pending {
    Stage(Reminder),
    Plan(PlanReminder),
}

impl Pending {
    fn at(&self) -> i64 {
        match self {
            Self::Stage(reminder) => reminder.at,
            Self::Plan(reminder) => reminder.at,
        }
    }

    /// One timer per key, however often a sweep sees its record again.
    fn key(&self) -> String {
        match self {
            Self::Stage(reminder) => deadline_key(reminder),
            Self::Plan(reminder) => plan_deadline_key(reminder),
        }
    }
}

/// Hands this process's deadlines to its timer task.
pub struct Timers(mpsc::UnboundedSender<Pending>);

/// The timer task's end of the hand-over.
pub struct TimerQueue(mpsc::UnboundedReceiver<Pending>);

impl Timers {
    pub fn new() -> (Self, TimerQueue) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self(sender), TimerQueue(receiver))
    }
}

impl Deadlines for Timers {
    fn remind<'a>(
        &'a self,
        reminder: &'a Reminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        let sent = self
            .0
            .send(Pending::Stage(reminder.clone()))
            .map_err(|_| DeadlineError("this process is stopping; a sweep will restore it".into()));
        Box::pin(async move { sent })
    }

    fn remind_plan<'a>(
        &'a self,
        reminder: &'a PlanReminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        let sent = self
            .0
            .send(Pending::Plan(reminder.clone()))
            .map_err(|_| DeadlineError("this process is stopping; a sweep will restore it".into()));
        Box::pin(async move { sent })
    }
}

/// For a one-shot `apply`: the record on the stage is all there is; a running service's sweep
/// (or `/throttle restore`) finishes the restore.
pub struct LeftToSweep;

impl Deadlines for LeftToSweep {
    fn remind<'a>(
        &'a self,
        reminder: &'a Reminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        tracing::info!(
            api = %reminder.api,
            stage = reminder.stage.as_str(),
            until = reminder.at,
            "timed change recorded on the stage; a running service's sweep restores it"
        );
        Box::pin(async { Ok(()) })
    }
}

/// What this process's timers and sweep share.
struct Keeper {
    /// This process's claims on due restores.
    token: String,
    /// Restores whose failure was told and that have not succeeded since: told once, then
    /// once more when they succeed, not at every retry or sweep.
    failing: Mutex<HashSet<String>>,
    /// Restore attempts in flight are part of graceful shutdown, as commands are.
    tracker: TaskTracker,
    /// Whether the last sweep could not list usage plans: said once, not every sweep (an
    /// IAM policy for stages only is a choice, not an incident).
    plans_unlisted: AtomicBool,
}

fn deadline_key(reminder: &Reminder) -> String {
    format!(
        "{} {} {} {}",
        reminder.api, reminder.stage, reminder.level, reminder.at
    )
}

/// A plan's deadline's key: `/` starts no API id, so it never meets a stage's.
fn plan_deadline_key(reminder: &PlanReminder) -> String {
    format!(
        "/usageplans/{} {} {}",
        reminder.plan, reminder.level, reminder.at
    )
}

/// Another replica of this service renewed a sweep's lease while this one waited for it to
/// run out: two processes would race each other's presses, replays and timed changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "another replica of this service is running: it renewed its lease on {target}'s sweep while this one waited for it to run out; run one replica per Slack app (docs/deploy.md); this one stops"
)]
pub struct AnotherReplica {
    pub target: String,
}

/// Starts the timers and the sweep. The timers run until the process ends; the sweep until
/// `stop` turns true (it then releases its leases: await the handle returned), or until it
/// finds another replica running, which it hands to `refuse`. Restore attempts run on
/// `tracker`, so shutdown waits for those in flight.
pub fn start(
    runner: Arc<AppRunner>,
    queue: TimerQueue,
    sweep_every: Duration,
    scope: SweepScope,
    tracker: TaskTracker,
    stop: tokio::sync::watch::Receiver<bool>,
    refuse: impl FnOnce(AnotherReplica) + Send + 'static,
) -> Option<tokio::task::JoinHandle<()>> {
    let keeper = Arc::new(Keeper {
        token: RequestId::new().to_string(),
        failing: Mutex::default(),
        tracker,
        plans_unlisted: AtomicBool::new(false),
    });
    let timers = Arc::clone(&runner);
    let timer_keeper = Arc::clone(&keeper);
    tokio::spawn(async move {
        let TimerQueue(mut reminders) = queue;
        // One timer per deadline, however often a sweep sees its record again.
        let pending: Arc<Mutex<HashSet<String>>> = Arc::default();
        while let Some(due) = reminders.recv().await {
            let key = due.key();
            if !pending.lock().expect("timers").insert(key.clone()) {
                continue;
            }
            let runner = Arc::clone(&timers);
            let keeper = Arc::clone(&timer_keeper);
            let pending = Arc::clone(&pending);
            tokio::spawn(async move {
                let wait = u64::try_from(due.at() - unix_now()).unwrap_or(0);
                crate::core::clock::sleep(Duration::from_secs(wait)).await;
                restore_with_retries(&runner, &due, &keeper).await;
                pending.lock().expect("timers").remove(&key);
            });
        }
    });
    if scope == SweepScope::None {
        tracing::info!("SWEEP_APIS=none: this process restores only the timed changes it made");
        return None;
    }
    let SweepScope::Only(apis) = scope else {
        return Some(tokio::spawn(async move {
            if let Some(another) = sweep::run(runner, keeper, sweep_every, stop).await {
                refuse(another);
            }
        }));
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(sweep_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            sweep(&runner, &apis, &keeper).await;
        }
    });
    None
}

/// Runs a deadline's restore; on failure retries with backoff, telling people of the first
/// failure and of the end, not of every attempt.
async fn restore_with_retries(runner: &Arc<AppRunner>, due: &Pending, keeper: &Keeper) {
    let mut wait = FIRST_RETRY;
    for attempt in 1..=MAX_ATTEMPTS {
        let failed = match due {
            Pending::Stage(reminder) => restore(runner, reminder, keeper).await,
            Pending::Plan(reminder) => restore_plan(runner, reminder, keeper).await,
        };
        if !failed {
            return;
        }
        tracing::warn!(
            attempt,
            retry_in_secs = wait.as_secs(),
            "a timed change's restore failed; retrying"
        );
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RETRY_WAIT);
    }
    match due {
        Pending::Stage(reminder) => tracing::error!(
            api = %reminder.api,
            stage = reminder.stage.as_str(),
            level = %reminder.level,
            "a timed change's restore kept failing; the sweep keeps trying"
        ),
        Pending::Plan(reminder) => tracing::error!(
            plan = %reminder.plan,
            level = %reminder.level,
            "a usage plan's timed change's restore kept failing; the sweep keeps trying"
        ),
    }
}

/// One attempt, if this process's claim on it stands, run as a tracked task (shutdown waits
/// for it); true if it failed in a way worth retrying.
async fn restore(runner: &Arc<AppRunner>, reminder: &Reminder, keeper: &Keeper) -> bool {
    let attempt = {
        let runner = Arc::clone(runner);
        let reminder = reminder.clone();
        let token = keeper.token.clone();
        async move {
            let ask = deadline_ask(&reminder);
            let started = Instant::now();
            let outcome = match runner.claim(&reminder, &token, CLAIM_SETTLE).await {
                Ok(false) => return None,
                Ok(true) => {
                    let outcome = runner.perform(&ask).await;
                    // Released before telling: once people hear of it, the stage holds only
                    // its own tags.
                    runner.release(&reminder).await;
                    outcome
                }
                Err(unreached) => unreached,
            };
            Some((ask, outcome, started))
        }
    };
    let Ok(Some((ask, outcome, started))) = keeper.tracker.spawn(attempt).await else {
        return false;
    };
    let failed = matches!(&outcome, Outcome::Timed { result: Err(_), .. });
    // A stage that is gone has nothing left to restore: told once, not retried.
    let gone = matches!(
        &outcome,
        Outcome::Timed { result: Err(Failure::Gateway(error)), .. } if error.is_not_found()
    );
    tell(
        runner,
        keeper,
        deadline_key(reminder),
        &ask,
        &outcome,
        started,
        failed && !gone,
    )
    .await
}

/// A usage plan's deadline: one attempt, run as a tracked task; true if it failed in a way
/// worth retrying. No claim: the write happens at the plan's turn and only over the values
/// the timed change set, so a second process finds them back and only tidies the record.
async fn restore_plan(runner: &Arc<AppRunner>, reminder: &PlanReminder, keeper: &Keeper) -> bool {
    let Some(ask) = plan_deadline_ask(reminder) else {
        return false;
    };
    let attempt = {
        let runner = Arc::clone(runner);
        let ask = ask.clone();
        async move {
            let started = Instant::now();
            (runner.perform(&ask).await, started)
        }
    };
    let Ok((outcome, started)) = keeper.tracker.spawn(attempt).await else {
        return false;
    };
    let failed = matches!(&outcome, Outcome::PlanTimed { result: Err(_), .. });
    // A plan that is gone has nothing left to restore: told once, not retried.
    let gone = matches!(
        &outcome,
        Outcome::PlanTimed { result: Err(PlanFailure::Gateway(error)), .. } if error.is_not_found()
    );
    let key = plan_deadline_key(reminder);
    tell(
        runner,
        keeper,
        key,
        &ask,
        &outcome,
        started,
        failed && !gone,
    )
    .await
}

/// Tells people of a deadline's attempt when it is worth it; returns whether to retry.
async fn tell(
    runner: &Arc<AppRunner>,
    keeper: &Keeper,
    key: String,
    ask: &Ask,
    outcome: &Outcome,
    started: Instant,
    retry: bool,
) -> bool {
    let tell = worth_telling(
        &mut keeper.failing.lock().expect("failing restores"),
        key,
        retry,
    );
    if tell {
        runner
            .conclude(
                &ask.origin,
                outcome,
                started.elapsed(),
                &ReplyOnce::default(),
            )
            .await;
    } else {
        runner.record(&ask.origin.requester, outcome, started.elapsed());
    }
    retry
}

/// Whether people hear of this attempt: a failure only the first time in a row (by a timer's
/// retry or any sweep), and whatever ends it (a success, or a stage that is gone).
fn worth_telling(failing: &mut HashSet<String>, key: String, failed: bool) -> bool {
    if failed {
        failing.insert(key)
    } else {
        failing.remove(&key);
        true
    }
}

/// Restores every record on the stages of `apis` overdue by more than [`SWEEP_GRACE`]. One
/// call at a time: the sweep never queues more than one call ahead of a person's command under
/// the process's pace.
async fn sweep(runner: &Arc<AppRunner>, apis: &[ApiId], keeper: &Keeper) {
    let overdue_before = unix_now() - SWEEP_GRACE.as_secs() as i64;
    let (mut due, mut pending) = (0, 0);
    for api in apis {
        let stages = match runner.read_stages(api).await {
            Ok(stages) => stages,
            Err(error) => {
                tracing::warn!(%error, api = %api, "could not read stages to sweep");
                continue;
            }
        };
        for stage in stages {
            let Ok(stage_name) = StageName::parse(&stage.stage) else {
                continue;
            };
            for record in &runner.ending(api, &stage) {
                let reminder = Reminder {
                    api: api.clone(),
                    stage: stage_name.clone(),
                    level: record.level.clone(),
                    at: record.until,
                };
                if record.until <= overdue_before {
                    due += 1;
                    restore(runner, &reminder, keeper).await;
                } else {
                    // Made by a process that has since stopped, or by another replica: this
                    // one keeps the time too, so a restart delays no restore by more than a
                    // claim's settling.
                    pending += 1;
                    runner.keep_time(&reminder).await;
                }
            }
        }
    }
    tracing::info!(
        apis = apis.len(),
        due,
        pending,
        "swept stages for ended timed changes"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_restore_is_told_once_then_when_it_ends() {
        let mut failing = HashSet::new();
        let key = || "a1b2c3d4e5 prod stage 100".to_owned();
        assert!(
            worth_telling(&mut failing, key(), true),
            "the first failure"
        );
        assert!(!worth_telling(&mut failing, key(), true), "a retry");
        assert!(!worth_telling(&mut failing, key(), true), "a sweep");
        assert!(
            worth_telling(&mut failing, "other".to_owned(), true),
            "another restore's first failure"
        );
        assert!(worth_telling(&mut failing, key(), false), "it succeeded");
        assert!(
            worth_telling(&mut failing, key(), true),
            "a new run of failures"
        );
    }

    #[test]
    fn the_sweep_covers_all_apis_none_or_a_list() {
        assert_eq!(SweepScope::parse("all"), Ok(SweepScope::All));
        assert_eq!(SweepScope::parse(""), Ok(SweepScope::All));
        assert_eq!(SweepScope::parse("none"), Ok(SweepScope::None));
        let only = SweepScope::parse("a1b2c3d4e5, b1b2c3d4e5").unwrap();
        assert!(matches!(only, SweepScope::Only(ref ids) if ids.len() == 2));
        assert!(SweepScope::parse("a1b2c3d4e5,petstore").is_err());
    }
}
