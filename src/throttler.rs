//! The one path every piece of work takes, whatever asked for it: do it, log it, count it,
//! and report it to the user (for Slack commands) and to the audit webhook.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aws::ApiGateway;
use crate::domain::{Applied, ApplyError, ThrottleChange};
use crate::metrics::Metrics;
use crate::slack::command::{Invocation, ShowRequest};
use crate::slack::message::{self, Actor};
use crate::slack::poster::SlackPoster;

/// Slack work that needs AWS, so it runs after the acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Change(ThrottleChange),
    Show(ShowRequest),
}

/// The outcome of a piece of work, before it is reported.
pub enum Done {
    Change(Result<Applied, ApplyError>),
    Show(Result<crate::domain::ApiView, ApplyError>),
}

pub struct Throttler {
    gateway: Arc<ApiGateway>,
    slack: SlackPoster,
    metrics: Arc<Metrics>,
}

impl Throttler {
    pub fn new(gateway: Arc<ApiGateway>, slack: SlackPoster, metrics: Arc<Metrics>) -> Self {
        Self {
            gateway,
            slack,
            metrics,
        }
    }

    pub fn gateway(&self) -> &ApiGateway {
        &self.gateway
    }

    /// A Slack command from start to end: do it, then its one final reply (and the notice).
    pub async fn run_command(&self, work: &Work, who: &Invocation) {
        let started = Instant::now();
        let done = self.perform(work).await;
        self.report_command(work, who, done, started.elapsed())
            .await;
    }

    /// Does the AWS part of the work. Cancelling it part-way is safe: changes are `replace`s.
    pub async fn perform(&self, work: &Work) -> Done {
        match work {
            Work::Change(change) => Done::Change(self.gateway.apply(change).await),
            Work::Show(request) => Done::Show(
                self.gateway
                    .view(&request.api, request.stage.as_ref())
                    .await,
            ),
        }
    }

    /// Reports a Slack command's outcome: the final reply on `response_url`; for changes,
    /// also the audit notice.
    pub async fn report_command(&self, work: &Work, who: &Invocation, done: Done, took: Duration) {
        let (reply, notice) = match (work, &done) {
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
