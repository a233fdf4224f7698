//! Accepted commands run here, after the acknowledgement: apply the change, then report it.
//!
//! Every job ends with exactly one final message on the command's `response_url`. Jobs are
//! tracked so that shutdown can wait for those in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::task::TaskTracker;

use crate::aws::ApiGateway;
use crate::domain::{ApplyError, ThrottleChange};
use crate::metrics::Metrics;
use crate::slack::command::Invocation;
use crate::slack::message;
use crate::slack::poster::SlackPoster;

/// Runs throttling changes in the background and reports their outcome to Slack.
pub struct Jobs {
    tracker: TaskTracker,
    gateway: Arc<ApiGateway>,
    slack: SlackPoster,
    metrics: Arc<Metrics>,
}

impl Jobs {
    pub fn new(gateway: Arc<ApiGateway>, slack: SlackPoster, metrics: Arc<Metrics>) -> Self {
        Self {
            tracker: TaskTracker::new(),
            gateway,
            slack,
            metrics,
        }
    }

    /// Starts a change; returns at once.
    pub fn submit(&self, change: ThrottleChange, who: Invocation) {
        let gateway = Arc::clone(&self.gateway);
        let slack = self.slack.clone();
        let metrics = Arc::clone(&self.metrics);
        self.tracker
            .spawn(async move { run(&gateway, &slack, &metrics, change, who).await });
    }

    /// How many jobs are still running.
    pub fn in_flight(&self) -> usize {
        self.tracker.len()
    }

    /// Stops taking jobs and waits for those running, up to `deadline`. True when all finished.
    pub async fn drain(&self, deadline: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }
}

async fn run(
    gateway: &ApiGateway,
    slack: &SlackPoster,
    metrics: &Metrics,
    change: ThrottleChange,
    who: Invocation,
) {
    let started = Instant::now();
    let outcome = gateway.apply(&change).await;
    let elapsed = started.elapsed();
    metrics.aws_call(elapsed.as_secs_f64());
    metrics.command(
        outcome
            .as_ref()
            .map_or_else(ApplyError::kind, |()| "applied"),
    );
    let latency_ms = elapsed.as_millis() as u64;
    log_outcome(&change, &who, &outcome, latency_ms);

    let reply = match &outcome {
        Ok(()) => message::applied(&change, &who),
        Err(error) => message::failed(&change, error),
    };
    let notice = message::audit_notice(&change, &who, &outcome);
    let (replied, audited) = tokio::join!(
        slack.respond(&who.response_url, &reply),
        slack.audit(&notice)
    );
    if let Err(error) = replied {
        tracing::error!(user = who.user_id.as_str(), %error, "could not deliver the final reply to response_url");
    }
    if let Err(error) = audited {
        metrics.webhook_failed();
        tracing::warn!(%error, "could not deliver the audit notice to the webhook");
    }
}

fn log_outcome(
    change: &ThrottleChange,
    who: &Invocation,
    outcome: &Result<(), ApplyError>,
    latency_ms: u64,
) {
    let user = who.user_id.as_str();
    let channel = who.channel_id.as_ref().map_or("", |c| c.as_str());
    let api = change.api.as_str();
    let stage = change.stage.as_str();
    let rate = change.limits.rate.value();
    let burst = change.limits.burst.value();
    match outcome {
        Ok(()) => tracing::info!(
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
            tracing::warn!(user, channel, api, stage, rate, burst, outcome = error.kind(), %error, latency_ms, "throttling change failed")
        }
    }
}
