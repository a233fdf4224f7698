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
    /// Where the stand-in listens (its upload URLs point back at it).
    addr: SocketAddr,
}

/// A local HTTP server that records every JSON POST: `/reply` stands in for `response_url`,
/// `/webhook` for the audit incoming webhook.
pub struct SlackStandIn {
    pub addr: SocketAddr,
    state: CaptureState,
}

impl SlackStandIn {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = CaptureState {
            posts: Arc::default(),
            webhook_status: Arc::default(),
            webhook_open: Arc::new(tokio::sync::watch::channel(true).0),
            addr,
        };
        let app = axum::Router::new()
            .fallback(capture)
            .with_state(state.clone());
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
    let body = read_body(&path, &body);
    let answer = web_api_answer(&path, &body, state.addr);
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
    if let Some(answer) = answer {
        return answer;
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

/// A post's body as recorded: JSON as sent; a form (what `files.*` take) as an object of its
/// fields; the bytes of an upload as their length and whether they are a PNG.
pub(super) fn read_body(path: &str, body: &[u8]) -> Value {
    if path.starts_with("/upload/") {
        return serde_json::json!({
            "length": body.len(),
            "png": body.starts_with(b"\x89PNG\r\n\x1a\n"),
        });
    }
    if let Ok(json) = serde_json::from_slice(body) {
        return json;
    }
    match serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        Ok(fields) if !fields.is_empty() => fields
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => Value::Null,
    }
}

/// What Slack's Web API answers to the calls of the form, the Home tab and the file upload
/// flow (shapes from each method's reference: `views.open`, `views.publish`,
/// `files.getUploadURLExternal`, `files.completeUploadExternal`), and the upload URL's answer.
pub(super) fn web_api_answer(
    path: &str,
    body: &Value,
    addr: SocketAddr,
) -> Option<axum::response::Response> {
    let answer = match path {
        "/api/views.open" | "/api/views.publish" => serde_json::json!({
            "ok": true,
            "view": { "id": "V0TESTVIEW", "type": body["view"]["type"] },
        }),
        "/api/files.getUploadURLExternal" => {
            let complete = body["filename"].is_string() && body["length"].is_string();
            if !complete {
                return Some(
                    axum::Json(serde_json::json!({ "ok": false, "error": "invalid_arguments" }))
                        .into_response(),
                );
            }
            serde_json::json!({
                "ok": true,
                "upload_url": format!("http://{addr}/upload/v1/F0TESTFILE"),
                "file_id": "F0TESTFILE",
            })
        }
        "/api/files.completeUploadExternal" => serde_json::json!({
            "ok": true,
            "files": serde_json::from_str::<Value>(body["files"].as_str().unwrap_or("[]")).unwrap_or_default(),
        }),
        upload if upload.starts_with("/upload/") => {
            return Some((StatusCode::OK, format!("OK - {}", body["length"])).into_response());
        }
        _ => return None,
    };
    Some(axum::Json(answer).into_response())
}
