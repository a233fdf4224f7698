//! The one path every change takes, whatever asked for it: apply it, log it, count it, and
//! report it to the user (for Slack commands) and to the audit webhook.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aws::ApiGateway;
use crate::domain::{ApplyError, ThrottleChange};
use crate::metrics::Metrics;
use crate::slack::command::Invocation;
use crate::slack::message::{self, Actor};
use crate::slack::poster::SlackPoster;

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

    /// A Slack command from start to end: apply, then its one final reply and the notice.
    pub async fn run_command(&self, change: &ThrottleChange, who: &Invocation) {
        let started = Instant::now();
        let outcome = self.gateway.apply(change).await;
        self.report_command(change, who, outcome, started.elapsed())
            .await;
    }

    /// Reports a Slack command's outcome: the final reply on `response_url`, and the notice.
    pub async fn report_command(
        &self,
        change: &ThrottleChange,
        who: &Invocation,
        outcome: Result<(), ApplyError>,
        took: Duration,
    ) {
        self.record(change, Actor::Slack(who), &outcome, took);
        let reply = match &outcome {
            Ok(()) => message::applied(change, who),
            Err(error) => message::failed(change, error),
        };
        let notice = message::audit_notice(change, Actor::Slack(who), &outcome);
        let (replied, ()) = tokio::join!(
            self.slack.respond(&who.response_url, &reply),
            self.audit(&notice)
        );
        if let Err(error) = replied {
            tracing::error!(user = who.user_id.as_str(), %error, "could not deliver the final reply to response_url");
        }
    }

    /// A change that IAM, not Slack, authorised (the scheduled job, an alarm): apply and notify.
    pub async fn run_trusted(
        &self,
        change: &ThrottleChange,
        actor: Actor<'_>,
    ) -> Result<(), ApplyError> {
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
        outcome: &Result<(), ApplyError>,
        took: Duration,
    ) {
        self.metrics.aws_call(took.as_secs_f64());
        self.metrics.command(
            outcome
                .as_ref()
                .map_or_else(ApplyError::kind, |()| "applied"),
        );
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
        let rate = change.limits.rate.value();
        let burst = change.limits.burst.value();
        let latency_ms = took.as_millis() as u64;
        match outcome {
            Ok(()) => tracing::info!(
                source,
                user,
                channel,
                api,
                stage,
                rate,
                burst,
                outcome = "applied",
                latency_ms,
                "throttling changed"
            ),
            Err(error) => {
                tracing::warn!(source, user, channel, api, stage, rate, burst, outcome = error.kind(), %error, latency_ms, "throttling change failed")
            }
        }
    }
}
