//! The HTTP surface: routes, the signed-request extractor, and health checks.

mod commands;
mod health;
mod metrics;
mod signed;

pub use signed::SIGNING_HEADERS;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::slack::signature::SigningSecret;
use crate::telemetry::LogBudget;

/// The path Slack posts slash commands to; the manifest's command URL must end with it.
pub const COMMANDS_PATH: &str = "/slack/commands";

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
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(COMMANDS_PATH, post(commands::slash_command))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render))
        .with_state(state)
}
