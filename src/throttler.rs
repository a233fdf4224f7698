//! The one path every piece of work takes, whatever asked for it: do it, log it, count it,
//! and report it to the user (for Slack commands) and to the audit webhook.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::aws::ApiGateway;
use crate::domain::{Applied, ApplyError, ThrottleChange};
use crate::metrics::Metrics;
use crate::policy::{Decision, Policy, PolicyHandle, Subject};
use crate::slack::command::{Invocation, ShowRequest};
use crate::slack::message::{self, Actor};
use crate::slack::poster::SlackPoster;

/// Makes sure a command gets one final message, whoever sends it first: its job, or the
/// shutdown that interrupted it.
#[derive(Debug, Default)]
pub struct ReplyOnce(AtomicBool);

impl ReplyOnce {
    /// True for the first caller only.
    pub fn claim(&self) -> bool {
        !self.0.swap(true, Ordering::SeqCst)
    }
}

/// Slack work that needs AWS, so it runs after the acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Change(ThrottleChange),
    Show(ShowRequest),
}

/// The outcome of a piece of work, before it is reported.
pub enum Done {
    /// The access policy refused the change; the text says why.
    Denied(String),
    Change(Result<Applied, ApplyError>),
    Show(Result<crate::domain::ApiView, ApplyError>),
}

pub struct Throttler {
    gateway: Arc<ApiGateway>,
    slack: SlackPoster,
    metrics: Arc<Metrics>,
    policy: Arc<PolicyHandle>,
}

impl Throttler {
    pub fn new(
        gateway: Arc<ApiGateway>,
        slack: SlackPoster,
        metrics: Arc<Metrics>,
        policy: Arc<PolicyHandle>,
    ) -> Self {
        Self {
            gateway,
            slack,
            metrics,
            policy,
        }
    }

    pub fn policy(&self) -> &PolicyHandle {
        &self.policy
    }

    /// The policy's decision on a Slack change. When the API's other identity is needed
    /// (a rule names APIs by name and the user gave an id, or the reverse), it is looked up.
    async fn authorise(&self, change: &ThrottleChange, who: &Invocation) -> Result<(), String> {
        let Some(policy) = self.policy.current() else {
            return Ok(());
        };
        let subject = who.subject();
        match policy.decide(subject, change, &[change.api.as_str()], false) {
            Decision::Allow { rule } => {
                tracing::debug!(rule, "allowed by the access policy");
                Ok(())
            }
            Decision::Deny { reason } => Err(reason),
            Decision::NeedsApiIdentity => {
                let known = match self.gateway.identify(&change.api).await {
                    Ok(api) => api,
                    // An API that cannot be identified matches no rule by its other name.
                    Err(_) => return Err(deny_unknown(&policy, subject, change)),
                };
                let mut names = vec![change.api.as_str(), known.id.as_str()];
                names.extend(known.name.as_deref());
                match policy.decide(subject, change, &names, true) {
                    Decision::Allow { .. } => Ok(()),
                    Decision::Deny { reason } => Err(reason),
                    Decision::NeedsApiIdentity => Err(deny_unknown(&policy, subject, change)),
                }
            }
        }
    }

    pub fn gateway(&self) -> &ApiGateway {
        &self.gateway
    }

    /// A Slack command from start to end: do it, then its one final reply (and the notice).
    pub async fn run_command(&self, work: &Work, who: &Invocation, once: &ReplyOnce) {
        let started = Instant::now();
        let done = self.perform(work, who).await;
        self.report_command(work, who, done, started.elapsed(), once)
            .await;
    }

    /// Does the AWS part of the work. Cancelling it part-way is safe: changes are `replace`s.
    pub async fn perform(&self, work: &Work, who: &Invocation) -> Done {
        match work {
            Work::Change(change) => match self.authorise(change, who).await {
                Ok(()) => Done::Change(self.gateway.apply(change).await),
                Err(reason) => Done::Denied(reason),
            },
            Work::Show(request) => Done::Show(
                self.gateway
                    .view(&request.api, request.stage.as_ref())
                    .await,
            ),
        }
    }

    /// Reports a Slack command's outcome: the final reply on `response_url`; for changes,
    /// also the audit notice.
    pub async fn report_command(
        &self,
        work: &Work,
        who: &Invocation,
        done: Done,
        took: Duration,
        once: &ReplyOnce,
    ) {
        let (reply, notice) = match (work, &done) {
            (Work::Change(change), Done::Denied(reason)) => {
                self.record_denial(change, who, reason);
                (
                    message::denied(change, reason),
                    Some(message::audit_denied(change, who, reason)),
                )
            }
            (Work::Change(change), Done::Change(outcome)) => {
                self.record(change, Actor::Slack(who), outcome, took);
                let reply = match outcome {
                    Ok(applied) => message::applied(change, applied, who),
                    Err(error) => message::failed(change, error),
                };
                (
                    reply,
                    Some(message::audit_notice(change, Actor::Slack(who), outcome)),
                )
            }
            (Work::Show(request), Done::Show(outcome)) => {
                self.metrics
                    .command(outcome.as_ref().map_or_else(ApplyError::kind, |_| "show"));
                let reply = match outcome {
                    Ok(view) => message::view(view),
                    Err(error) => {
                        tracing::warn!(user = who.user_id.as_str(), api = request.api.as_str(), %error, "show failed");
                        message::view_failed(request, error)
                    }
                };
                (reply, None)
            }
            _ => unreachable!("perform returns the outcome of the work it was given"),
        };
        if !once.claim() {
            tracing::warn!(
                user = who.user_id.as_str(),
                "the command finished after shutdown had already told its user it was interrupted"
            );
            return;
        }
        let audit = async {
            if let Some(notice) = &notice {
                self.audit(notice).await;
            }
        };
        let (replied, ()) = tokio::join!(self.slack.respond(&who.response_url, &reply), audit);
        if let Err(error) = replied {
            tracing::error!(user = who.user_id.as_str(), %error, "could not deliver the final reply to response_url");
        }
    }

    /// The final message of a command that shutdown interrupted, unless it already had one.
    pub async fn report_interrupted(&self, text: &str, who: &Invocation, once: &ReplyOnce) {
        if !once.claim() {
            return;
        }
        self.metrics.command("interrupted");
        tracing::error!(
            user = who.user_id.as_str(),
            outcome = "interrupted",
            "shutdown interrupted a command before it finished"
        );
        let reply = message::interrupted(&who.command, text);
        let notice = message::audit_interrupted(&who.command, text, who);
        let (replied, ()) = tokio::join!(
            self.slack.respond(&who.response_url, &reply),
            self.audit(&notice)
        );
        if let Err(error) = replied {
            tracing::error!(user = who.user_id.as_str(), %error, "could not deliver the final reply to response_url");
        }
    }

    /// Logs and counts a refused change. Its reply and notice are the caller's to send.
    pub fn record_denial(&self, change: &ThrottleChange, who: &Invocation, reason: &str) {
        self.metrics.command("denied");
        tracing::warn!(
            user = who.user_id.as_str(),
            channel = who.channel_id.as_ref().map_or("", |c| c.as_str()),
            api = change.api.as_str(),
            stage = change.stage.as_str(),
            level = change.level.to_string(),
            outcome = "denied",
            reason,
            "throttling command denied by the access policy"
        );
    }

    /// A change that IAM, not Slack, authorised (the scheduled job, an alarm): apply and notify.
    pub async fn run_trusted(
        &self,
        change: &ThrottleChange,
        actor: Actor<'_>,
    ) -> Result<Applied, ApplyError> {
        let started = Instant::now();
        let outcome = self.gateway.apply(change).await;
        self.record(change, actor, &outcome, started.elapsed());
        self.audit(&message::audit_notice(change, actor, &outcome))
            .await;
        outcome
    }

    /// Tells the audit channel about a job that failed before it had a valid change.
    pub async fn report_failure(&self, actor: Actor<'_>, reason: &str) {
        tracing::warn!(reason, "throttling job failed");
        self.metrics.command("invalid");
        self.audit(&message::audit_failure(actor, reason)).await;
    }

    pub async fn audit(&self, notice: &serde_json::Value) {
        if let Err(error) = self.slack.audit(notice).await {
            self.metrics.webhook_failed();
            tracing::warn!(%error, "could not deliver the audit notice to the webhook");
        }
    }

    fn record(
        &self,
        change: &ThrottleChange,
        actor: Actor<'_>,
        outcome: &Result<Applied, ApplyError>,
        took: Duration,
    ) {
        self.metrics.aws_call(took.as_secs_f64());
        let label = match outcome {
            Ok(applied) if applied.changed => "applied",
            Ok(_) => "unchanged",
            Err(error) => error.kind(),
        };
        self.metrics.command(label);
        let (user, channel, source) = match actor {
            Actor::Slack(who) => (
                who.user_id.as_str(),
                who.channel_id.as_ref().map_or("", |c| c.as_str()),
                "slack",
            ),
            Actor::Schedule => ("", "", "schedule"),
            Actor::Alarm(_) => ("", "", "alarm"),
        };
        let api = change.api.as_str();
        let stage = change.stage.as_str();
        let level = change.level.to_string();
        let after = change.after();
        let rate = after.rate.unwrap_or(-1.0);
        let burst = after.burst.unwrap_or(-1);
        let latency_ms = took.as_millis() as u64;
        match outcome {
            Ok(_) => tracing::info!(
                source,
                user,
                channel,
                api,
                stage,
                level,
                rate,
                burst,
                outcome = label,
                latency_ms,
                "throttling command done"
            ),
            Err(error) => {
                tracing::warn!(source, user, channel, api, stage, level, rate, burst, outcome = label, %error, latency_ms, "throttling command failed")
            }
        }
    }
}

fn deny_unknown(policy: &Policy, who: Subject<'_>, change: &ThrottleChange) -> String {
    match policy.decide(who, change, &[change.api.as_str()], true) {
        Decision::Deny { reason } => reason,
        _ => format!("no rule lets you change API `{}`", change.api),
    }
}
