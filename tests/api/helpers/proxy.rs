//! A recording proxy in front of moto: proves which AWS calls were (not) made, and can hold
//! every call until the test releases it (AWS "slow" for exactly as long as a test needs).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use tokio::sync::watch;

use super::{WAIT, moto};

/// A proxy in front of moto that records each call as `METHOD /path`.
pub struct AwsProxy {
    pub url: String,
    calls: Arc<Mutex<Vec<String>>>,
    gate: watch::Sender<Gate>,
}

/// Which calls the proxy lets through now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    Open,
    HoldAll,
    HoldWrites,
}

impl AwsProxy {
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Holds every call from now on until [`AwsProxy::release`].
    pub fn hold(&self) {
        self.gate.send_replace(Gate::HoldAll);
    }

    /// Holds only writes (anything but GET): reads are answered at once.
    pub fn hold_writes(&self) {
        self.gate.send_replace(Gate::HoldWrites);
    }

    pub fn release(&self) {
        self.gate.send_replace(Gate::Open);
    }

    /// Waits until at least `count` calls starting with `prefix` (`PATCH`, `GET /restapis`) have
    /// arrived.
    pub async fn wait_for_calls_matching(&self, prefix: &str, count: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self
            .calls()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
            < count
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "AWS never received {count} {prefix} calls: {:?}",
                self.calls()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Waits until at least `count` calls have arrived (answered or held).
    pub async fn wait_for_calls(&self, count: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "AWS received {} calls, expected {count}: {calls:?}",
                calls.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

#[derive(Clone)]
struct ProxyState {
    client: reqwest::Client,
    calls: Arc<Mutex<Vec<String>>>,
    gate: watch::Receiver<Gate>,
}

pub async fn aws_proxy() -> AwsProxy {
    async fn forward(
        State(mut state): State<ProxyState>,
        request: axum::extract::Request,
    ) -> axum::response::Response {
        state
            .calls
            .lock()
            .unwrap()
            .push(format!("{} {}", request.method(), request.uri().path()));
        let write = request.method() != axum::http::Method::GET;
        let _ = state
            .gate
            .wait_for(|gate| match gate {
                Gate::Open => true,
                Gate::HoldAll => false,
                Gate::HoldWrites => !write,
            })
            .await;
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let target = format!("{}{}", moto().endpoint, parts.uri.path_and_query().unwrap());
        let mut headers = parts.headers.clone();
        headers.remove(axum::http::header::HOST);
        let answer = state
            .client
            .request(parts.method, target)
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.bytes().await.unwrap();
        let mut response = axum::response::Response::new(axum::body::Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (gate, watching) = watch::channel(Gate::Open);
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(ProxyState {
            client: reqwest::Client::new(),
            calls: Arc::clone(&calls),
            gate: watching,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    AwsProxy {
        url: format!("http://{addr}"),
        calls,
        gate,
    }
}
