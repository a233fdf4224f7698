//! The HTTP surface: routes, the signed-request extractor, and health checks.

pub mod commands;
mod health;
pub mod home;
pub mod interactions;
mod metrics;
pub mod replay;
pub mod server;
mod signed;
mod views;
mod watchdog;

pub use health::SocketStatus;
pub use signed::SIGNING_HEADERS;

pub use crate::slack::{COMMANDS_PATH, EVENTS_PATH, INTERACTIONS_PATH};
use std::sync::Arc;

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
    /// Signed requests that changed something, to refuse them played again.
    pub replays: Arc<ReplayGuard>,
    /// Previews, approval requests and changes already answered by a press: one outcome each.
    pub presses: Arc<ReplayGuard>,
    /// Under `socket`: whether the Socket Mode connection is up (for `/readyz`).
    pub socket: Option<Arc<health::SocketStatus>>,
}

/// The handlers' state: one shared copy, so a request clones one `Arc`, not each part of it.
pub type Shared = Arc<AppState>;

/// The routes Slack calls: what faces the internet (and all a Lambda function URL serves).
pub fn slack_router(state: AppState) -> Router {
    Router::new()
        .route(COMMANDS_PATH, post(commands::slash_command))
        .route(INTERACTIONS_PATH, post(interactions::press))
        .route(EVENTS_PATH, post(home::event))
        // The body is read (and limited) by the signed-request extractor itself. A whole
        // request's time is bounded by the server loop (`server::Limits::request`).
        .layer(DefaultBodyLimit::disable())
        .with_state(Arc::new(state))
}

/// Liveness, readiness and metrics: for the orchestrator and Prometheus, not for Slack.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render))
        .with_state(Arc::new(state))
}

/// Both on one listener (when no separate `METRICS_ADDR` is configured).
pub fn router(state: AppState) -> Router {
    slack_router(state.clone()).merge(ops_router(state))
}
