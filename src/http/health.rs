use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// Whether the Socket Mode connections are up, for `/healthz` and `/readyz`. It lives here, with
/// the probes that read it, so the socket depends on the HTTP layer and not the other way round.
#[derive(Debug, Default)]
pub struct SocketStatus {
    connected: AtomicUsize,
    disabled: AtomicBool,
}

impl SocketStatus {
    /// `Ok` while at least one connection has said `hello`; else why not.
    pub fn ready(&self) -> Result<(), &'static str> {
        if self.disabled.load(Ordering::Relaxed) {
            Err("Socket Mode is turned off for this Slack app (link_disabled)")
        } else if self.connected.load(Ordering::Relaxed) == 0 {
            Err("not connected to Slack (Socket Mode)")
        } else {
            Ok(())
        }
    }

    /// A connection said `hello`.
    pub fn connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection that had said `hello` ended.
    pub fn dropped(&self) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
    }

    /// Slack turned Socket Mode off for the app (`link_disabled`).
    pub fn disable(&self) {
        self.disabled.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::SocketStatus;

    #[test]
    fn readiness_follows_the_connections() {
        let status = SocketStatus::default();
        assert!(status.ready().is_err());
        status.connected();
        assert_eq!(status.ready(), Ok(()));
        status.dropped();
        assert!(status.ready().is_err());
        status.connected();
        status.disable();
        assert!(status.ready().unwrap_err().contains("link_disabled"));
    }
}
