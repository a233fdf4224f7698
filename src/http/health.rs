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

/// Readiness: the AWS region and credentials were found. Otherwise 503, with the reason. Another
/// target that cannot be reached is named in the detail but does not make the service unready:
/// every other target still works.
pub async fn ready(State(state): State<Shared>) -> (StatusCode, String) {
    if let Some(Err(why)) = state.socket.as_ref().map(|socket| socket.ready()) {
        return (StatusCode::SERVICE_UNAVAILABLE, why.to_owned());
    }
    let gateway = state.jobs.runner().gateway();
    match gateway.readiness() {
        Readiness::Ready => {
            let problems = gateway.target_problems();
            let detail = if problems.is_empty() {
                "ready".to_owned()
            } else {
                format!("ready; {}", problems.join("; "))
            };
            (StatusCode::OK, detail)
        }
        Readiness::Starting => (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: resolving the AWS region and credentials".to_owned(),
        ),
        Readiness::NotReady(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
    }
}
