//! Where accepted requests run: after the acknowledgement as a server, or, on Lambda, before it
//! (nothing may run after a Lambda's response) or in an asynchronous invocation of itself.
//!
//! Every accepted command ends with exactly one final message on its reply address.
//! - As a server, a command runs in a tracked background task, so shutdown can wait for it.
//! - On Lambda, the change is made inline when it fits Slack's 3 s; otherwise the Lambda
//!   invokes itself asynchronously with the job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use tokio_util::task::TaskTracker;
use tracing::Instrument;

mod deferred;
mod denials;
mod gateway;
pub mod impact;

pub use deferred::{DEFERRED_JOB_KEY, DEFERRED_NOTICE_KEY, DeferredJob, DeferredJobError};
use denials::DenialNotices;
pub use gateway::AppGateway;

use crate::aws::{ApiGateway, GatewaySettings, SelfInvoker};
use crate::core::clock::unix_now;
use crate::core::outcome::{Label, News, Outcome};
use crate::core::requester::{ReplyTo, RequestId, Requester, Via};
use crate::core::runner::{Ask, Origin, ReplyOnce, Runner, Step};
use crate::domain::RecordSeal;
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::slack::SlackPoster;
use crate::slack::render;
use crate::slack::sealed::SealKey;
use crate::slack::signature::SigningSecret;

/// The pipeline with its production adapters (or, under `try`, the embedded account).
pub type AppRunner = Runner<AppGateway, SlackPoster>;

/// The pipeline for one process: API Gateway through the SDK, people through Slack. The
/// signing secret seals the records kept on stages; without one, timed changes are refused.
pub fn app_runner(
    aws: GatewaySettings,
    slack: SlackPoster,
    policy: Arc<PolicyHandle>,
    metrics: Arc<Metrics>,
    secret: Option<&SigningSecret>,
) -> AppRunner {
    let aws = GatewaySettings {
        records_mark: secret.map(records_mark),
        ..aws
    };
    let gateway = AppGateway::Aws(ApiGateway::new(aws));
    Runner::new(gateway, slack, policy, metrics).with_seal(secret.map(record_seal))
}

/// The value of the marker every record carries beside it: derived from the secret for this
/// purpose alone (it reveals nothing of it), the same in every replica and process of one
/// deployment, and different in another deployment sharing the account.
pub fn records_mark(secret: &SigningSecret) -> String {
    hex::encode(&secret.derive(RECORDS_MARK_KEY)[..8])
}

const RECORDS_MARK_KEY: &str = "records mark";

/// The key for records and claims on stages, derived for that purpose alone.
pub fn record_seal(secret: &SigningSecret) -> RecordSeal {
    RecordSeal::new(secret.derive(STAGE_RECORD_KEY))
}

const STAGE_RECORD_KEY: &str = "stage record";

/// How long shutdown may spend telling the users of interrupted commands.
const INTERRUPTED_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a Lambda waits for AWS before handing the job to an asynchronous invocation.
pub const INLINE_BUDGET: Duration = Duration::from_millis(2000);

/// What a Lambda keeps back from its deadline to send a final message.
const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// How long a sealed hand-off (a deferred job, an audit notice) stays valid: Lambda may retry
/// an asynchronous invocation, but a job older than this is refused rather than run late.
pub const HAND_OFF_TTL_SECS: i64 = 600;

/// On Lambda: leaves the impact report `outcome` calls for in a one-time schedule.
pub async fn report_later(hand_off: &HandOff, ask: &Ask, outcome: &Outcome) {
    let Some((after, later)) = &hand_off.impacts else {
        return;
    };
    if let Some(report) = impact::report_of(ask, outcome, *after)
        && let Err(error) = later.report_later(&report).await
    {
        tracing::warn!(%error, "could not schedule the impact report; none will follow");
    }
}

/// What a Lambda needs to hand work to an asynchronous invocation of itself, and to send an
/// impact report later.
pub struct HandOff {
    pub invoker: SelfInvoker,
    pub jobs: SealKey,
    pub notices: SealKey,
    /// Where impact reports wait (`IMPACT_AFTER`; zero: none), if anywhere.
    pub impacts: Option<(Duration, Arc<dyn impact::ReportLater>)>,
    /// This function's unqualified ARN, learnt from the first invocation: what every hand-off
    /// is bound to (a function of the same name in another account or region, sharing the
    /// signing secret, cannot be made to run one).
    function_arn: std::sync::OnceLock<String>,
}

impl HandOff {
    pub fn new(invoker: SelfInvoker, secret: &SigningSecret) -> Self {
        Self {
            invoker,
            jobs: SealKey::derive(secret, DEFERRED_JOB_KEY),
            notices: SealKey::derive(secret, DEFERRED_NOTICE_KEY),
            impacts: None,
            function_arn: std::sync::OnceLock::new(),
        }
    }

    /// Learns this function's ARN from an invocation's (`:alias` or `:version` dropped).
    pub fn know_function(&self, arn: &str) {
        let unqualified = match arn.match_indices(':').nth(6) {
            Some((at, _)) => &arn[..at],
            None => arn,
        };
        if !unqualified.is_empty() {
            let _ = self.function_arn.set(unqualified.to_owned());
        }
    }

    /// What hand-offs are bound to: the ARN, once known.
    pub fn function(&self) -> Option<&str> {
        self.function_arn.get().map(String::as_str)
    }
}

/// An audit notice handed to another invocation, bound to the function that sealed it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct BoundNotice {
    pub function: String,
    pub notice: serde_json::Value,
}

pub enum Mode {
    /// As a server: requests run in tracked background tasks, at most this many at once.
    Background {
        max_jobs: usize,
        /// How long after a change its impact report follows (`IMPACT_AFTER`; zero: none).
        impact_after: Duration,
    },
    Lambda(Arc<HandOff>),
}

/// When the Lambda invocation carrying a request must have answered.
#[derive(Debug, Clone, Copy)]
pub struct InvocationDeadline(pub Instant);

/// What became of a submitted command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Running in the background; its final reply will follow.
    Running,
    /// Done: its final reply has been sent.
    Finished,
    /// Handed to an asynchronous invocation; its final reply will follow.
    Deferred,
    /// Too many commands are running: nothing was started; the user must be told to retry.
    Busy,
}

/// The span that ties a request's log lines together, from acknowledgement to final message.
pub fn span(id: &RequestId) -> tracing::Span {
    tracing::info_span!("request", request_id = %id)
}

/// A background request and the flag that keeps it to one final message.
type Pending = (Ask, Arc<ReplyOnce>);

/// What to do with a request's outcome once it has one (see [`Jobs::submit_then`]).
pub type Done = Box<dyn FnOnce(&crate::core::outcome::Outcome) + Send>;

pub struct Jobs {
    tracker: TaskTracker,
    runner: Arc<AppRunner>,
    mode: Mode,
    /// Background commands not finished yet: enough to tell their users if shutdown cuts them short.
    pending: Arc<Mutex<HashMap<u64, Pending>>>,
    next_id: AtomicU64,
    /// Audit notices of refusals made at once, per person.
    denial_notices: DenialNotices,
}

impl Jobs {
    pub fn new(runner: Arc<AppRunner>, mode: Mode) -> Self {
        Self {
            tracker: TaskTracker::new(),
            runner,
            mode,
            pending: Arc::default(),
            next_id: AtomicU64::new(0),
            denial_notices: DenialNotices::default(),
        }
    }

    pub fn runner(&self) -> &AppRunner {
        &self.runner
    }

    /// Where work that shutdown must wait for runs (commands, and restores in flight).
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
    }

    pub fn shared_runner(&self) -> Arc<AppRunner> {
        Arc::clone(&self.runner)
    }

    /// Starts a request. As a server it returns at once; on Lambda it may run the request.
    pub async fn submit(&self, ask: Ask, deadline: Option<InvocationDeadline>) -> Submitted {
        self.submit_then(ask, deadline, None).await
    }

    /// The same, calling `done` with the request's outcome where this process runs it (not for
    /// a request handed on to another invocation).
    pub async fn submit_then(
        &self,
        ask: Ask,
        deadline: Option<InvocationDeadline>,
        done: Option<Done>,
    ) -> Submitted {
        match &self.mode {
            Mode::Background {
                max_jobs,
                impact_after,
            } => {
                if self.tracker.len() >= *max_jobs {
                    self.runner.count(Label::Busy);
                    span(&ask.id).in_scope(|| {
                        tracing::warn!(
                            max_jobs,
                            "too many commands running; asked the user to retry"
                        )
                    });
                    return Submitted::Busy;
                }
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let once = Arc::new(ReplyOnce::default());
                self.pending
                    .lock()
                    .expect("pending jobs")
                    .insert(id, (ask.clone(), Arc::clone(&once)));
                let runner = Arc::clone(&self.runner);
                let registry = Arc::clone(&self.pending);
                let span = span(&ask.id);
                let impact_after = *impact_after;
                self.tracker.spawn(
                    async move {
                        let outcome = runner.run(&ask, &once).await;
                        registry.lock().expect("pending jobs").remove(&id);
                        if let Some(done) = done {
                            done(&outcome);
                        }
                        impact::schedule(&runner, &ask, &outcome, impact_after);
                    }
                    .instrument(span),
                );
                Submitted::Running
            }
            Mode::Lambda(hand_off) => {
                let span = span(&ask.id);
                self.run_or_defer(hand_off, ask, deadline, done)
                    .instrument(span)
                    .await
            }
        }
    }

    /// On Lambda: prepare within the inline budget (reads only); if that is not enough, hand the
    /// request on before anything is written. A prepared write is seen through here.
    async fn run_or_defer(
        &self,
        hand_off: &HandOff,
        ask: Ask,
        deadline: Option<InvocationDeadline>,
        done: Option<Done>,
    ) -> Submitted {
        let started = Instant::now();
        let budget = left_before(deadline).map_or(INLINE_BUDGET, |left| left.min(INLINE_BUDGET));
        let outcome = match tokio::time::timeout(budget, self.runner.prepare(&ask)).await {
            Ok(Step::Done(outcome)) => outcome,
            Ok(Step::Write(prepared, held)) => {
                within(deadline, &ask, self.runner.commit(prepared, held)).await
            }
            Err(_) => match self.defer(hand_off, &ask).await {
                Ok(()) => return Submitted::Deferred,
                Err(()) => within(deadline, &ask, self.runner.perform(&ask)).await,
            },
        };
        self.finish_on_lambda(hand_off, &ask.origin, &outcome, started.elapsed())
            .await;
        report_later(hand_off, &ask, &outcome).await;
        if let Some(done) = done {
            done(&outcome);
        }
        Submitted::Finished
    }

    async fn defer(&self, hand_off: &HandOff, ask: &Ask) -> Result<(), ()> {
        let Some(function) = hand_off.function() else {
            tracing::error!("this function's ARN is not known; finishing the command inline");
            return Err(());
        };
        let Some(job) = DeferredJob::new(ask, function) else {
            tracing::error!("this request cannot be deferred; finishing it inline");
            return Err(());
        };
        let sealed = hand_off.jobs.seal(job, unix_now() + HAND_OFF_TTL_SECS);
        let payload = serde_json::to_vec(&serde_json::json!({ DEFERRED_JOB_KEY: sealed }))
            .expect("a job serialises to JSON");
        match hand_off.invoker.invoke_async(payload).await {
            Ok(()) => {
                tracing::info!("AWS is slow: the command continues in an asynchronous invocation");
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "could not invoke this function asynchronously; finishing the command inline");
                Err(())
            }
        }
    }

    /// On Lambda, nothing may run after the answer, and the answer must not wait for the audit
    /// webhook: count, log and reply here; the notice goes to an asynchronous invocation.
    async fn finish_on_lambda(
        &self,
        hand_off: &HandOff,
        origin: &Origin,
        outcome: &Outcome,
        took: Duration,
    ) {
        self.runner.record(&origin.requester, outcome, took);
        let news = News {
            requester: &origin.requester,
            via: origin.via,
            outcome,
        };
        self.runner.reply(origin, &news).await;
        self.hand_off_notice(hand_off, &news).await;
    }

    async fn hand_off_notice(&self, hand_off: &HandOff, news: &News<'_>) {
        if !news.outcome.is_audited() {
            return;
        }
        if let Some(notice) = render::notice(news) {
            self.hand_off_rendered(hand_off, notice).await;
        }
    }

    /// Seals an audit notice into an asynchronous invocation of this function, which posts it;
    /// if that invocation cannot be made, posts it now.
    async fn hand_off_rendered(&self, hand_off: &HandOff, notice: serde_json::Value) {
        if !self.runner.teller().has_webhook() {
            return;
        }
        let Some(function) = hand_off.function() else {
            if let Err(error) = self.runner.teller().notify(&notice).await {
                tracing::warn!(%error, "could not deliver the audit notice");
            }
            return;
        };
        let bound = BoundNotice {
            function: function.to_owned(),
            notice,
        };
        let sealed = hand_off
            .notices
            .seal(&bound, unix_now() + HAND_OFF_TTL_SECS);
        let payload = serde_json::to_vec(&serde_json::json!({ DEFERRED_NOTICE_KEY: sealed }))
            .expect("a notice serialises to JSON");
        if let Err(error) = hand_off.invoker.invoke_async(payload).await {
            tracing::warn!(%error, "could not hand the audit notice on; sending it now");
            if let Err(error) = self.runner.teller().notify(&bound.notice).await {
                self.runner.metrics().webhook_failed();
                tracing::warn!(%error, "could not deliver the audit notice");
            }
        }
    }

    /// Ends a request that was refused before any work: counts and logs it now, and sends the
    /// audit notice without delaying the reply (in the background as a server, through an
    /// asynchronous invocation on Lambda). A person's flood of refusals is audited at a bounded
    /// rate.
    pub async fn refused(&self, id: RequestId, requester: Requester, outcome: Outcome) {
        let span = span(&id);
        span.in_scope(|| self.runner.record(&requester, &outcome, Duration::ZERO));
        if let Some(who) = requester.user()
            && !self.denial_notices.admit(&who.user)
        {
            span.in_scope(|| {
                tracing::warn!(
                    user = who.user.as_str(),
                    "audit notices of this user's refused commands are paused for a minute"
                )
            });
            return;
        }
        match &self.mode {
            Mode::Background { .. } => {
                let runner = Arc::clone(&self.runner);
                let audit = async move {
                    let news = News {
                        requester: &requester,
                        via: Via::Command,
                        outcome: &outcome,
                    };
                    runner.audit(&news).await;
                };
                self.tracker.spawn(audit.instrument(span));
            }
            Mode::Lambda(hand_off) => {
                let news = News {
                    requester: &requester,
                    via: Via::Command,
                    outcome: &outcome,
                };
                self.hand_off_notice(hand_off, &news).instrument(span).await;
            }
        }
    }

    /// Sends a message that ends a button press handled without the pipeline (Cancel, Reject,
    /// a press by the wrong person), and its audit notice: in the background as a server,
    /// before the answer on Lambda.
    pub async fn tell(
        &self,
        to: ReplyTo,
        message: serde_json::Value,
        notice: Option<serde_json::Value>,
    ) {
        // On Lambda the answer to Slack must not wait for the webhook: hand the notice on.
        let notice = match (&self.mode, notice) {
            (Mode::Lambda(hand_off), Some(notice)) => {
                self.hand_off_rendered(hand_off, notice).await;
                None
            }
            (_, notice) => notice,
        };
        let runner = Arc::clone(&self.runner);
        let work = async move {
            let poster = runner.teller();
            let notified = async {
                if let Some(notice) = &notice
                    && let Err(error) = poster.notify(notice).await
                {
                    runner.metrics().webhook_failed();
                    tracing::warn!(%error, "could not deliver the audit notice");
                }
            };
            let (replied, ()) = tokio::join!(poster.respond(&to, &message), notified);
            if let Err(error) = replied {
                tracing::error!(%error, "could not deliver the reply to a button press");
            }
        };
        match &self.mode {
            Mode::Background { .. } => {
                self.tracker.spawn(work.in_current_span());
            }
            Mode::Lambda(_) => work.await,
        }
    }

    /// How many background commands are still running.
    pub fn in_flight(&self) -> usize {
        self.tracker.len()
    }

    /// Stops taking jobs and waits for those running, up to `deadline`. Commands still
    /// running then get their final message now, saying they were interrupted. Returns how
    /// many were.
    pub async fn drain(&self, deadline: Duration) -> usize {
        self.tracker.close();
        if tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
        {
            return 0;
        }
        let unfinished: Vec<Pending> = self
            .pending
            .lock()
            .expect("pending jobs")
            .drain()
            .map(|(_, pending)| pending)
            .collect();
        let count = unfinished.len();
        let mut replies = tokio::task::JoinSet::new();
        for (ask, once) in unfinished {
            let runner = Arc::clone(&self.runner);
            let span = span(&ask.id);
            replies.spawn(
                async move {
                    let outcome = Outcome::Interrupted {
                        text: ask.text.clone(),
                    };
                    let report = runner.conclude(&ask.origin, &outcome, Duration::ZERO, &once);
                    let _ = tokio::time::timeout(INTERRUPTED_REPLY_TIMEOUT, report).await;
                }
                .instrument(span),
            );
        }
        replies.join_all().await;
        count
    }
}

/// Runs `work` within what is left of the invocation (less a margin for the final message);
/// past that, the request ends as interrupted: its write may or may not have been applied.
async fn within(
    deadline: Option<InvocationDeadline>,
    ask: &Ask,
    work: impl std::future::Future<Output = Outcome>,
) -> Outcome {
    let Some(left) = left_before(deadline) else {
        return work.await;
    };
    tokio::time::timeout(left, work)
        .await
        .unwrap_or_else(|_| Outcome::Interrupted {
            text: ask.text.clone(),
        })
}

/// The time left before the deadline's margin, if there is a deadline.
pub fn left_before(deadline: Option<InvocationDeadline>) -> Option<Duration> {
    deadline.map(|InvocationDeadline(at)| {
        at.saturating_duration_since(Instant::now())
            .saturating_sub(DEADLINE_MARGIN)
    })
}
