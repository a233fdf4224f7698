//! A local HTTP server standing in for Slack: `response_url`s and the audit webhook.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;

use super::WAIT;

#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub body: Value,
    pub authorization: Option<String>,
}

#[derive(Clone)]
struct CaptureState {
    posts: Arc<Mutex<Vec<Captured>>>,
    webhook_status: Arc<Mutex<Option<StatusCode>>>,
    /// While false, the webhook holds every post unanswered.
    webhook_open: Arc<tokio::sync::watch::Sender<bool>>,
}

/// A local HTTP server that records every JSON POST: `/reply` stands in for `response_url`,
/// `/webhook` for the audit incoming webhook.
pub struct SlackStandIn {
    pub addr: SocketAddr,
    state: CaptureState,
}

impl SlackStandIn {
    pub async fn start() -> Self {
        let state = CaptureState {
            posts: Arc::default(),
            webhook_status: Arc::default(),
            webhook_open: Arc::new(tokio::sync::watch::channel(true).0),
        };
        let app = axum::Router::new()
            .fallback(capture)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Makes the webhook answer with this status from now on.
    pub fn webhook_answers(&self, status: StatusCode) {
        *self.state.webhook_status.lock().unwrap() = Some(status);
    }

    /// Makes the webhook hold every post unanswered until [`SlackStandIn::release_webhook`].
    pub fn hold_webhook(&self) {
        self.state.webhook_open.send_replace(false);
    }

    pub fn release_webhook(&self) {
        self.state.webhook_open.send_replace(true);
    }

    pub fn posts_to(&self, path: &str) -> Vec<Value> {
        self.state
            .posts
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.path == path)
            .map(|c| c.body.clone())
            .collect()
    }

    /// The `Authorization` header of each post to `path`.
    pub fn authorizations(&self, path: &str) -> Vec<Option<String>> {
        self.state
            .posts
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.path == path)
            .map(|c| c.authorization.clone())
            .collect()
    }

    /// Waits until `path` has received at least `count` posts.
    pub async fn wait_for(&self, path: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let posts = self.posts_to(path);
            if posts.len() >= count {
                return posts;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} received {} posts, expected {count}",
                posts.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn capture(
    State(state): State<CaptureState>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let path = uri.path().to_owned();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state.posts.lock().unwrap().push(Captured {
        path: path.clone(),
        body,
        authorization,
    });
    // The Web API answers HTTP 200 with `ok` in the JSON, as Slack's does.
    if path == "/api/chat.postMessage" {
        let answer = serde_json::json!({ "ok": true, "channel": "C1", "ts": "1764170000.000100" });
        return axum::Json(answer).into_response();
    }
    if path == "/webhook" {
        let _ = state.webhook_open.subscribe().wait_for(|open| *open).await;
    }
    match (*state.webhook_status.lock().unwrap(), path.as_str()) {
        (Some(status), "/webhook") => (status, [("location", "/webhook")], "rollup_error"),
        // Stands in for a host that sends its callers elsewhere.
        (_, "/redirect") => (StatusCode::FOUND, [("location", "/reply")], ""),
        _ => (StatusCode::OK, [("location", "")], "ok"),
    }
    .into_response()
}

/// The text of a Slack message as a person sees it: the fallback `text`, unescaped.
pub fn shown(message: &Value) -> String {
    text_of(message)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of a Slack message: the fallback `text`, as sent.
pub fn text_of(message: &Value) -> String {
    message["text"].as_str().unwrap_or_default().to_owned()
}
