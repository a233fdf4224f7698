//! `throttle-bot apply` and the scheduled Lambda event: the original RateLimitCanary job.

use std::io::Read;
use std::sync::Arc;

use crate::aws::ApiGateway;
use crate::cli::ApplyArgs;
use crate::config;
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::slack::poster::SlackPoster;

use crate::scheduled::{JobError, JobParams, success_text};
use crate::slack::message::Actor;
use crate::throttler::Throttler;

/// `throttle-bot apply`: flags, then `--event`, then the environment; notices to the webhook.
pub async fn run(args: ApplyArgs) -> Result<String, String> {
    let webhook = config::webhook(args.webhook_url.as_deref()).map_err(|e| e.to_string())?;
    let throttler = Throttler::new(
        Arc::new(ApiGateway::new()),
        SlackPoster::new(webhook),
        Arc::new(Metrics::new()),
        // Scheduled jobs are authorised by IAM (who may run them), not the Slack policy.
        Arc::new(PolicyHandle::none()),
    );
    let flags = JobParams {
        api_id: args.api_id,
        stage: args.stage,
        rate: args.rate,
        burst: args.burst,
    };
    let params = resolve(flags, args.event.as_deref(), |key| std::env::var(key).ok());
    run_job(&throttler, params, Actor::Schedule).await
}

/// Runs one job: resolve and validate its parameters, apply the change, notify the webhook.
/// Every outcome, including bad parameters, reaches the webhook. Returns the original's text.
pub async fn run_job(
    throttler: &Throttler,
    params: Result<JobParams, JobError>,
    actor: Actor<'_>,
) -> Result<String, String> {
    let change = match params.and_then(JobParams::into_change) {
        Ok(change) => change,
        Err(error) => {
            let reason = error.to_string();
            throttler.report_failure(actor, &reason).await;
            return Err(reason);
        }
    };
    throttler
        .run_trusted(&change, actor)
        .await
        .map(|_| success_text(&change))
        .map_err(|error| error.to_string())
}

/// Reads `--event`: JSON text, `-` for standard input, or `@FILE`.
pub fn read_event(arg: &str) -> Result<JobParams, JobError> {
    let text = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| JobError::BadEvent(format!("cannot read standard input ({e})")))?;
        text
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| JobError::BadEvent(format!("cannot read {path} ({e})")))?
    } else {
        arg.to_owned()
    };
    JobParams::from_event_text(&text)
}

/// Flags, then the event, then the environment.
pub fn resolve(
    flags: JobParams,
    event: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<JobParams, JobError> {
    let event = event.map(read_event).transpose()?.unwrap_or_default();
    Ok(flags.or(event).or(JobParams::from_env(env)))
}
