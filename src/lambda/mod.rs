//! Lambda mode: the AWS Lambda runtime loop, with every event the function is wired to.

mod events;
mod http;

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::aws::SelfInvoker;
use crate::cli::LambdaArgs;
use crate::config::{self, ConfigError, webhook};
use crate::core::requester::Requester;
use crate::core::runner::ReplyOnce;
use crate::http::AppState;
use crate::jobs::{AppRunner, DeferredJob, Jobs, Mode, app_runner, span};
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::scheduled::{JobError, JobParams, run_job};
use crate::slack::SlackPoster;
use crate::slack::hosts::SlackHosts;
use crate::slack::signature::SigningSecret;
use events::Event;
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
    /// The axum router for Slack requests; `None` when no signing secret is configured.
    slack: Option<axum::Router>,
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
    let policy = match config::policy(&args.policy) {
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
    let slack = SlackPoster::new(webhook, hosts);
    let runner = app_runner((&args.aws).into(), slack, policy, Arc::clone(&metrics));
    let slack = match secret {
        Some(secret) => {
            let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
            let invoker = Arc::new(SelfInvoker::new(function_name));
            let jobs = Jobs::new(Arc::clone(&runner), Mode::Lambda(invoker));
            Some(crate::http::slack_router(AppState {
                secret: Arc::new(secret),
                jobs: Arc::new(jobs),
                metrics,
                rejection_log: Arc::new(crate::startup::rejection_log()),
                // A function URL is bounded by the function's own timeout as well.
                request_timeout: crate::http::server::Limits::default().request,
            }))
        }
        None => {
            tracing::warn!("SLACK_SIGNING_SECRET is not set: Slack requests will be refused");
            None
        }
    };
    let function = Arc::new(Function { runner, slack });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        async move { function.handle(event.payload).await }
    }))
    .await
    .map_err(|e| LambdaError::Runtime(e.to_string()))
}

impl Function {
    async fn handle(&self, payload: Value) -> Result<Value, FunctionError> {
        match events::classify(payload) {
            Event::Http(request) => match &self.slack {
                Some(router) => Ok(http::handle(router.clone(), *request).await),
                None => Ok(http::not_configured()),
            },
            Event::Scheduled(params) => self.scheduled(params).await,
            Event::Alarm { name, state } => self.alarm(&name, &state).await,
            Event::Deferred(job) => self.deferred(job).await,
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

    async fn deferred(&self, job: DeferredJob) -> Result<Value, FunctionError> {
        let ask = job
            .into_ask(self.runner.teller().hosts())
            .map_err(|e| FunctionError(e.to_string()))?;
        self.runner
            .run(&ask, &ReplyOnce::default())
            .instrument(span(&ask.id))
            .await;
        Ok(json!({ "statusCode": 200 }))
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}
