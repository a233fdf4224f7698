//! `throttle-bot apply`: the original RateLimitCanary job, run once from the command line.

use std::io::Read;
use std::sync::Arc;

use super::ApplyArgs;
use crate::config::{self, ConfigError};
use crate::core::requester::Requester;
use crate::deadlines::LeftToSweep;
use crate::jobs::app_runner;
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::scheduled::{JobError, JobFailed, JobParams, run_job};
use crate::slack::SlackPoster;
use crate::slack::hosts::SlackHosts;
use crate::slack::signature::SigningSecret;

/// Why `apply` failed; printed on stderr.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Job(#[from] JobFailed),
}

/// `throttle-bot apply`: flags, then `--event`, then the environment; notices to the webhook.
pub async fn run(args: ApplyArgs) -> Result<String, ApplyError> {
    let hosts = SlackHosts::from(&args.slack_hosts);
    config::announce_hosts(&hosts);
    let webhook = config::webhook(args.webhook_url.as_deref(), &hosts)?;
    // Scheduled jobs are authorised by IAM (who may run them), not the Slack policy.
    let runner = app_runner(
        args.aws.settings().map_err(ConfigError::from)?,
        SlackPoster::new(webhook, hosts),
        Arc::new(PolicyHandle::none()),
        Arc::new(Metrics::new()),
        args.signing_secret.and_then(SigningSecret::new).as_ref(),
    )
    .with_max_temporary(args.max_temporary)
    .with_deadlines(Arc::new(LeftToSweep));
    let flags = JobParams {
        api_id: args.api_id,
        stage: args.stage,
        rate: args.rate,
        burst: args.burst,
        duration: args.hold,
    };
    let params = resolve(flags, args.event.as_deref(), |key| std::env::var(key).ok());
    let done = run_job(&runner, params, Requester::Schedule).await?;
    Ok(if done.contains(" until ") {
        format!(
            "{done} (the values before come back then through a running throttle-bot service's sweep, or `/throttle restore`)"
        )
    } else {
        done
    })
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
