//! Lambda mode: the AWS Lambda runtime loop, with every event the function is wired to.

pub mod events;
mod http;
pub mod restore;

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::aws::SelfInvoker;
use crate::cli::LambdaArgs;
use crate::config::{self, ConfigError, webhook};
use crate::core::clock::unix_now;
use crate::core::outcome::Outcome;
use crate::core::ports::{Deadlines, PlanReminder};
use crate::core::requester::RequestId;
use crate::core::requester::Requester;
use crate::core::runner::{Ask, ReplyOnce, deadline_ask, plan_deadline_ask};
use crate::deadlines::CLAIM_SETTLE;
use crate::http::AppState;
use crate::jobs::impact::ReportLater;
use crate::jobs::{
    AppRunner, DeferredJob, HandOff, InvocationDeadline, Jobs, Mode, app_runner, left_before,
    report_later, span,
};
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::scheduled::{JobError, JobParams, run_job};
use crate::slack::SlackPoster;
use crate::slack::hosts::SlackHosts;
use crate::slack::sealed::{SealKey, Sealed};
use crate::slack::signature::SigningSecret;
use events::Event;
use restore::{ImpactEvent, RestoreEvent, ScheduledRestores};
use std::time::Duration;
use tracing::Instrument;

/// A failed invocation, reported to Lambda as a function error with this text.
#[derive(Debug)]
pub struct FunctionError(String);

impl From<FunctionError> for Diagnostic {
    fn from(error: FunctionError) -> Self {
        Diagnostic {
            error_type: "ThrottleBotError".to_owned(),
            error_message: error.0,
        }
    }
}

struct Function {
    runner: Arc<AppRunner>,
    /// Where timed changes' deadlines go; learns this function's ARN from each invocation.
    restores: Arc<ScheduledRestores>,
    /// Opens restore events; `None` without a signing secret.
    restore_key: Option<SealKey>,
    /// This execution environment's claims on due restores.
    claim_token: String,
    /// Opens what this function sealed for itself; `None` without a signing secret.
    hand_off: Option<Arc<HandOff>>,
    /// The axum router for Slack requests; `None` when no signing secret is configured.
    slack: Option<axum::Router>,
    /// Hand-offs already opened here (each is used once).
    used: crate::http::replay::ReplayGuard,
}

/// Why the Lambda runtime loop could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Lambda runtime: {0}")]
    Runtime(String),
}

/// Runs the Lambda runtime loop until the runtime stops it.
pub async fn run(args: LambdaArgs) -> Result<(), LambdaError> {
    let hosts = SlackHosts::from(&args.slack_hosts);
    config::announce_hosts(&hosts);
    let webhook = webhook(args.webhook_url.as_deref(), &hosts)?;
    let secret = args.signing_secret.and_then(SigningSecret::new);
    // Schedules and alarms are authorised by whoever wired them; Slack commands need a policy.
    let policy = match args.policy.load() {
        Ok(policy) => {
            config::announce_policy(&policy);
            policy
        }
        Err(ConfigError::NoPolicy) if secret.is_none() => PolicyHandle::none(),
        Err(error) => return Err(error.into()),
    };
    let policy = Arc::new(policy);
    if webhook.is_none() {
        tracing::warn!("SLACK_WEBHOOK_URL is not set: audit notices are off");
    }
    let metrics = Arc::new(Metrics::new());
    let web_api = args
        .web_api
        .web_api(&hosts)
        .map_err(ConfigError::BadApiUrl)?;
    let slack = match &secret {
        Some(secret) => SlackPoster::new(webhook, hosts).with_buttons(secret),
        None => SlackPoster::new(webhook, hosts),
    }
    .with_web_api(web_api);
    let restores = Arc::new(ScheduledRestores::new(
        args.scheduler_role_arn,
        args.scheduler_group,
        secret.as_ref(),
    ));
    if let Err(why) = restores.ready()
        && !why.0.contains("ARN is not known")
    {
        tracing::warn!(reason = %why, "timed changes (`for 30m`) will be refused");
    }
    let restore_key = secret.as_ref().map(restore::restore_key);
    let runner = Arc::new(
        app_runner(
            args.aws.settings().map_err(ConfigError::from)?,
            slack,
            policy,
            Arc::clone(&metrics),
            secret.as_ref(),
        )
        .with_cut_fraction(args.safety.confirm_cut_fraction)
        .with_max_temporary(args.safety.max_temporary)
        .with_traffic_checks(args.safety.confirm_below_traffic)
        .with_deadlines(Arc::clone(&restores) as Arc<dyn Deadlines>),
    );
    let hand_off = secret.as_ref().map(|secret| {
        let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        let later = Arc::clone(&restores) as Arc<dyn ReportLater>;
        let mut hand_off = HandOff::new(SelfInvoker::new(function_name), secret);
        hand_off.impacts = Some((args.safety.impact_after, later));
        Arc::new(hand_off)
    });
    let slack = match (secret, &hand_off) {
        (Some(secret), Some(hand_off)) => {
            let jobs = Jobs::new(Arc::clone(&runner), Mode::Lambda(Arc::clone(hand_off)));
            Some(crate::http::slack_router(AppState {
                secret: Arc::new(secret),
                jobs: Arc::new(jobs),
                metrics,
                rejection_log: Arc::new(crate::startup::rejection_log()),
                // Per execution environment: Lambda may run several, see the README.
                replays: Arc::new(crate::http::replay::ReplayGuard::new(
                    crate::startup::REPLAY_MEMORY,
                )),
                presses: Arc::new(crate::startup::press_ledger()),
                socket: None,
            }))
        }
        _ => {
            tracing::warn!("SLACK_SIGNING_SECRET is not set: Slack requests will be refused");
            None
        }
    };
    let function = Arc::new(Function {
        runner,
        restores,
        restore_key,
        claim_token: RequestId::new().to_string(),
        hand_off,
        slack,
        used: crate::http::replay::ReplayGuard::remembering(
            crate::startup::REPLAY_MEMORY,
            crate::jobs::HAND_OFF_TTL_SECS,
        ),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        function
            .restores
            .know_function(&event.context.invoked_function_arn);
        if let Some(hand_off) = &function.hand_off {
            hand_off.know_function(&event.context.invoked_function_arn);
        }
        let deadline = deadline_of(&event.context);
        async move { function.handle(event.payload, deadline).await }
    }))
    .await
    .map_err(|e| LambdaError::Runtime(e.to_string()))
}

impl Function {
    async fn handle(
        &self,
        payload: Value,
        deadline: InvocationDeadline,
    ) -> Result<Value, FunctionError> {
        match events::classify(payload) {
            Event::Http(request) => match &self.slack {
                Some(router) => Ok(http::handle(router.clone(), *request, deadline).await),
                None => Ok(http::not_configured()),
            },
            Event::Notice(sealed) => self.notice(sealed).await,
            Event::Scheduled(params) => self.scheduled(params).await,
            Event::Alarm { name, state } => self.alarm(&name, &state).await,
            Event::Deferred(job) => self.deferred(job, deadline).await,
            Event::Restore(sealed) => self.restore(sealed, deadline).await,
            Event::Impact(sealed) => Ok(self.impact(sealed).await),
            Event::Unrecognised(shape) => {
                tracing::warn!(shape, "unrecognised event");
                Err(FunctionError(format!(
                    "event not recognised ({shape}); expected a schedule payload with API_ID/STAGE_NAME/RATE_LIMIT/BURST_LIMIT, an API Gateway or function URL request, or a CloudWatch alarm state change"
                )))
            }
        }
    }

    async fn scheduled(&self, event: Result<JobParams, JobError>) -> Result<Value, FunctionError> {
        let params = event.map(|e| e.or(JobParams::from_env(env)));
        let body = run_job(&self.runner, params, Requester::Schedule)
            .await
            .map_err(|e| FunctionError(e.to_string()))?;
        Ok(json!({ "statusCode": 200, "body": body }))
    }

    async fn alarm(&self, name: &str, state: &str) -> Result<Value, FunctionError> {
        if state != "ALARM" {
            tracing::info!(alarm = name, state, "alarm is not in ALARM; nothing to do");
            return Ok(
                json!({ "statusCode": 200, "body": format!("Ignored: alarm {name} is {state}") }),
            );
        }
        let from_env = JobParams::from_env(env);
        let params = match (env("ALARM_RATE_LIMIT"), env("ALARM_BURST_LIMIT")) {
            (Some(rate), Some(burst)) => Ok(JobParams {
                rate: Some(rate),
                burst: Some(burst),
                // An alarm's clamp may end by itself; DURATION does not apply to alarms.
                duration: env("ALARM_DURATION"),
                ..from_env
            }),
            _ => Err(JobError::Invalid {
                key: "ALARM_RATE_LIMIT/ALARM_BURST_LIMIT",
                reason: "both must be set to handle alarm events".to_owned(),
            }),
        };
        let body = run_job(&self.runner, params, Requester::Alarm(name.to_owned()))
            .await
            .map_err(|e| FunctionError(e.to_string()))?;
        Ok(json!({ "statusCode": 200, "body": body }))
    }

    /// Opens something this function sealed for itself: only a signing secret's holder could
    /// have made it, and only recently.
    fn open<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        sealed: Sealed<T>,
        what: &str,
        key: impl Fn(&HandOff) -> &SealKey,
    ) -> Result<T, FunctionError> {
        let Some(hand_off) = &self.hand_off else {
            return Err(FunctionError(format!(
                "a {what} arrived but SLACK_SIGNING_SECRET is not set to verify it"
            )));
        };
        let mac = hex::decode(&sealed.mac).unwrap_or_default();
        let opened = key(hand_off).open(sealed, unix_now()).map_err(|error| {
            tracing::warn!(%error, "refused a {what}");
            FunctionError(format!("refused a {what}: {error}"))
        })?;
        // Used once (in this execution environment): a hand-off delivered again, or captured
        // and played back within its life, does nothing the second time.
        let once: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&mac).into();
        let now = unix_now();
        if !self.used.first_use(now, &once, now) {
            tracing::warn!("refused a {what} already used");
            return Err(FunctionError(format!("refused a {what}: already used")));
        }
        Ok(opened)
    }

    async fn deferred(
        &self,
        sealed: Sealed<DeferredJob>,
        deadline: InvocationDeadline,
    ) -> Result<Value, FunctionError> {
        let job = self.open(sealed, "deferred job", |h| &h.jobs)?;
        let own = self.hand_off.as_ref().and_then(|h| h.function());
        if !own.is_some_and(|own| job.is_for(own)) {
            tracing::warn!("refused a deferred job sealed by another function");
            return Err(FunctionError(
                "refused a deferred job: it was sealed by another function".to_owned(),
            ));
        }
        let ask = job
            .into_ask(self.runner.teller().hosts())
            .map_err(|e| FunctionError(e.to_string()))?;
        let once = ReplyOnce::default();
        let run = self.runner.run(&ask, &once).instrument(span(&ask.id));
        let left = left_before(Some(deadline)).unwrap_or_default();
        let ran = tokio::time::timeout(left, run).await;
        if let (Ok(outcome), Some(hand_off)) = (&ran, &self.hand_off) {
            report_later(hand_off, &ask, outcome).await;
        }
        if ran.is_err() {
            // Out of time: the one final message says so.
            let outcome = Outcome::Interrupted {
                text: ask.text.clone(),
            };
            self.runner
                .conclude(&ask.origin, &outcome, Duration::ZERO, &once)
                .instrument(span(&ask.id))
                .await;
        }
        Ok(json!({ "statusCode": 200 }))
    }

    /// An impact report whose time came. Informational: whatever happens, the invocation
    /// succeeds (the schedule is not retried), and a refusal is logged.
    async fn impact(&self, sealed: Sealed<ImpactEvent>) -> Value {
        let report = self
            .restores
            .open_impact(sealed, self.runner.teller().hosts());
        match report {
            Ok(report) => crate::jobs::impact::send(&self.runner, &report).await,
            Err(why) => tracing::warn!(why, "refused an impact report event"),
        }
        json!({ "statusCode": 200 })
    }

    /// A timed change's deadline. A failed restore fails the invocation, so that EventBridge
    /// Scheduler retries it (with backoff, for up to a day); each failure is told.
    async fn restore(
        &self,
        sealed: Sealed<RestoreEvent>,
        deadline: InvocationDeadline,
    ) -> Result<Value, FunctionError> {
        let Some(key) = &self.restore_key else {
            return Err(FunctionError(
                "a restore event arrived but SLACK_SIGNING_SECRET is not set to verify it"
                    .to_owned(),
            ));
        };
        let event = key.open(sealed, unix_now()).map_err(|error| {
            tracing::warn!(%error, "refused a restore event");
            FunctionError(format!("refused a restore event: {error}"))
        })?;
        if !self.restores.is_own(&event) {
            tracing::warn!("refused a restore event sealed for another function");
            return Err(FunctionError(
                "refused a restore event: it was sealed for another function".to_owned(),
            ));
        }
        if !wait_for_deadline(event.at, deadline).await {
            // Never an error for "too early": Lambda's own retries of an asynchronous
            // invocation are few (or none), and the schedule that fired is gone.
            let now = unix_now();
            return match self.restores.reschedule(event, now).await {
                Ok(()) => Ok(json!({ "statusCode": 200, "body": "rescheduled" })),
                Err(error) => Err(FunctionError(format!(
                    "woke before the restore's deadline with too little time to wait, and could not schedule it again: {error}"
                ))),
            };
        }
        if let Some(reminder) = event.plan_reminder() {
            return self.restore_plan(&reminder, deadline).await;
        }
        let reminder = event
            .reminder()
            .ok_or_else(|| FunctionError("a restore event with an invalid target".to_owned()))?;
        let ask = deadline_ask(&reminder);
        let started = std::time::Instant::now();
        // Bounded by the invocation's time, keeping back enough to tell people: a restore cut
        // off by Lambda would be neither reported nor cleanly retried.
        let work = async {
            let claimed = self
                .runner
                .claim(&reminder, &self.claim_token, CLAIM_SETTLE)
                .await;
            match claimed {
                // Held by another invocation: an error, so that the scheduler tries again
                // (and does not delete the schedule) in case that one fails.
                Ok(false) => None,
                Ok(true) => {
                    let outcome = self.runner.perform(&ask).await;
                    self.runner.release(&reminder).await;
                    Some(outcome)
                }
                Err(unreached) => Some(unreached),
            }
        };
        let budget = left_before(Some(deadline)).unwrap_or_default();
        let outcome = match tokio::time::timeout(budget, work).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => {
                return Err(FunctionError(
                    "another invocation holds this restore's claim; retried later".to_owned(),
                ));
            }
            Err(_) => {
                return Err(FunctionError(
                    "the restore did not finish in this invocation's time; retried later"
                        .to_owned(),
                ));
            }
        };
        self.concluded_restore(&ask, &outcome, started).await
    }

    /// A usage plan's timed change's deadline. No claim: the write waits for the plan's turn
    /// and happens only over what the timed change set, so a second invocation finds the
    /// values back and only tidies the record. A failure fails the invocation (retried).
    async fn restore_plan(
        &self,
        reminder: &PlanReminder,
        deadline: InvocationDeadline,
    ) -> Result<Value, FunctionError> {
        let ask = plan_deadline_ask(reminder)
            .ok_or_else(|| FunctionError("a restore event with an invalid plan".to_owned()))?;
        let started = std::time::Instant::now();
        let budget = left_before(Some(deadline)).unwrap_or_default();
        let Ok(outcome) = tokio::time::timeout(budget, self.runner.perform(&ask)).await else {
            return Err(FunctionError(
                "the restore did not finish in this invocation's time; retried later".to_owned(),
            ));
        };
        self.concluded_restore(&ask, &outcome, started).await
    }

    /// A restore's end told as any other outcome; a failed restore fails the invocation so
    /// that the scheduler retries it.
    async fn concluded_restore(
        &self,
        ask: &Ask,
        outcome: &Outcome,
        started: std::time::Instant,
    ) -> Result<Value, FunctionError> {
        self.runner
            .conclude(
                &ask.origin,
                outcome,
                started.elapsed(),
                &ReplyOnce::default(),
            )
            .instrument(span(&ask.id))
            .await;
        let error = match outcome {
            Outcome::Timed {
                result: Err(error), ..
            } => error.to_string(),
            Outcome::PlanTimed {
                result: Err(error), ..
            } => error.to_string(),
            outcome => return Ok(json!({ "statusCode": 200, "body": outcome.label().as_str() })),
        };
        Err(FunctionError(format!(
            "the restore failed and will be retried: {error}"
        )))
    }

    async fn notice(
        &self,
        sealed: Sealed<crate::jobs::BoundNotice>,
    ) -> Result<Value, FunctionError> {
        let bound = self.open(sealed, "deferred notice", |h| &h.notices)?;
        let own = self.hand_off.as_ref().and_then(|h| h.function());
        if own != Some(bound.function.as_str()) {
            tracing::warn!("refused an audit notice sealed by another function");
            return Err(FunctionError(
                "refused a deferred notice: it was sealed by another function".to_owned(),
            ));
        }
        if let Err(error) = self.runner.teller().notify(&bound.notice).await {
            self.runner.metrics().webhook_failed();
            tracing::warn!(%error, "could not deliver the audit notice");
        }
        Ok(json!({ "statusCode": 200 }))
    }
}

/// Lambda's longest timeout: a deadline further away than this (plus a little clock skew) is
/// not one Lambda sent.
const LONGEST_INVOCATION: Duration = Duration::from_secs(15 * 60 + 60);

/// Time a restore keeps for its own work after waiting: a throttled write is retried for up
/// to 45 s, and the end must still be told.
const RESTORE_ROOM: Duration = Duration::from_secs(50);

/// A restore's schedule fires up to two minutes before the deadline (see
/// [`restore::wake_at`]): wait for the deadline itself, by the wall clock the record is judged
/// by. `false` when this invocation has not the time to wait and still restore.
async fn wait_for_deadline(at: i64, deadline: InvocationDeadline) -> bool {
    let due_ms = u128::try_from(at.max(0)).unwrap_or_default() * 1000;
    let early = || {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        due_ms.checked_sub(now_ms).filter(|ms| *ms > 0)
    };
    let Some(first) = early() else {
        return true;
    };
    let wait = Duration::from_millis(u64::try_from(first).unwrap_or(u64::MAX));
    let budget = left_before(Some(deadline)).unwrap_or_default();
    if wait + RESTORE_ROOM > budget {
        return false;
    }
    tokio::time::sleep(wait).await;
    // A clock that slewed while asleep: a little more, within the same room.
    while let Some(left) = early() {
        if left_before(Some(deadline)).unwrap_or_default() < RESTORE_ROOM {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(
            u64::try_from(left).unwrap_or(100).min(100),
        ))
        .await;
    }
    true
}

/// When this invocation must have answered, from the runtime's deadline (Unix milliseconds).
/// Real Lambda always sends a Unix time; local emulators (`cargo lambda watch`) may send a
/// duration (`600000`), which read as a Unix time passed in 1970. A deadline that is not a
/// plausible Unix time within the next 15 minutes is unknown: logged once, and the invocation
/// runs as with Lambda's longest timeout, as it would in production.
fn deadline_of(context: &lambda_runtime::Context) -> InvocationDeadline {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = time_left(context.deadline, now_ms).unwrap_or_else(|| {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                deadline_ms = context.deadline,
                "the runtime's deadline is not a Unix time within Lambda's longest timeout (a local emulator?); running as with a 15-minute timeout"
            );
        });
        Duration::from_secs(15 * 60)
    });
    InvocationDeadline(tokio::time::Instant::now() + left)
}

/// The time left until `deadline_ms`, if it is a plausible Lambda deadline at `now_ms`.
fn time_left(deadline_ms: u64, now_ms: u64) -> Option<Duration> {
    let left = Duration::from_millis(deadline_ms.checked_sub(now_ms)?);
    (left <= LONGEST_INVOCATION).then_some(left)
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_unix_time_within_lambdas_longest_timeout_is_a_deadline() {
        let now = 1_795_700_000_000;
        assert_eq!(time_left(now + 3_000, now), Some(Duration::from_secs(3)));
        assert_eq!(
            time_left(now + 900_000, now),
            Some(Duration::from_secs(900))
        );
        // `cargo lambda watch` sends the timeout itself: 600000 ms.
        assert_eq!(time_left(600_000, now), None);
        assert_eq!(time_left(now + 24 * 3_600_000, now), None, "a day away");
        assert_eq!(time_left(now - 1, now), None, "already past");
    }
}
