//! The HTTP surface: routes, the signed-request extractor, and health checks.

mod commands;
mod health;
mod interactions;
mod metrics;
pub mod replay;
pub mod server;
mod signed;

pub use signed::SIGNING_HEADERS;

pub use crate::slack::{COMMANDS_PATH, INTERACTIONS_PATH};
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::slack::signature::SigningSecret;
use crate::telemetry::LogBudget;
use replay::ReplayGuard;

/// Slack's forms are a few KiB; anything larger is refused with 413 without reading it all.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub secret: Arc<SigningSecret>,
    pub jobs: Arc<Jobs>,
    pub metrics: Arc<Metrics>,
    /// Log lines for rejected requests, bounded.
    pub rejection_log: Arc<LogBudget>,
    /// The longest a whole request may take.
    pub request_timeout: Duration,
    /// Signed requests that changed something, to refuse them played again.
    pub replays: Arc<ReplayGuard>,
    /// Previews, approval requests and changes already answered by a press: one outcome each.
    pub presses: Arc<ReplayGuard>,
}

/// The routes Slack calls: what faces the internet (and all a Lambda function URL serves).
pub fn slack_router(state: AppState) -> Router {
    Router::new()
        .route(COMMANDS_PATH, post(commands::slash_command))
        .route(INTERACTIONS_PATH, post(interactions::press))
        // The body is read (and limited) by the signed-request extractor itself.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.request_timeout,
            within_request_timeout,
        ))
        .with_state(state)
}

/// Liveness, readiness and metrics: for the orchestrator and Prometheus, not for Slack.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render))
        .with_state(state)
}

/// Both on one listener (when no separate `METRICS_ADDR` is configured).
pub fn router(state: AppState) -> Router {
    slack_router(state.clone()).merge(ops_router(state))
}

/// The longest a whole request may take, from its headers to its answer (a slow body, a stuck
/// handler); then it gets `408`.
async fn within_request_timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("a request took longer than {limit:?}; answered 408");
            axum::http::StatusCode::REQUEST_TIMEOUT.into_response()
        }
    }
}
