use axum::extract::State;
use axum::http::StatusCode;

use super::Shared;
use crate::aws::Readiness;

/// Liveness: the process is up and serving (200 either way); under Socket Mode the body also
/// says whether the socket is connected, which `/readyz` turns into its status.
pub async fn live(State(state): State<Shared>) -> &'static str {
    match state.socket.as_ref().map(|socket| socket.ready()) {
        None => "ok",
        Some(Ok(())) => "ok (socket connected)",
        Some(Err(_)) => "ok (socket not connected)",
    }
}

/// Readiness: the AWS region and credentials were found. Otherwise 503, with the reason.
pub async fn ready(State(state): State<Shared>) -> (StatusCode, String) {
    if let Some(Err(why)) = state.socket.as_ref().map(|socket| socket.ready()) {
        return (StatusCode::SERVICE_UNAVAILABLE, why.to_owned());
    }
    match state.jobs.runner().gateway().readiness() {
        Readiness::Ready => (StatusCode::OK, "ready".to_owned()),
        Readiness::Starting => (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: resolving the AWS region and credentials".to_owned(),
        ),
        Readiness::NotReady(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
    }
}
