use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// Liveness: the process is up and serving.
pub async fn live() -> &'static str {
    "ok"
}

/// Readiness: configuration loaded and the AWS client built.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.jobs.throttler().gateway().is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: AWS client not built yet",
        )
    }
}
