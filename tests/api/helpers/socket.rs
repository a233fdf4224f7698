//! A local stand-in for Slack's Socket Mode: `apps.connections.open` on a Web API base, which
//! hands out a fresh `ws://127.0.0.1:…` URL each time, and the WebSocket server behind it,
//! whose accepted connections the test drives (shapes from Slack's "Using Socket Mode").

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex as AsyncMutex, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::WAIT;

pub struct SocketStandIn {
    api: SocketAddr,
    opened: Arc<AtomicUsize>,
    authorizations: Arc<Mutex<Vec<String>>>,
    /// Every other Web API call (`views.open`, `files.*`…): its path and body.
    calls: Arc<Mutex<Vec<(String, Value)>>>,
    connections: AsyncMutex<mpsc::UnboundedReceiver<WebSocketStream<TcpStream>>>,
}

impl SocketStandIn {
    pub async fn start() -> Self {
        let sockets = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_addr = sockets.local_addr().unwrap();
        let (accepted, connections) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = sockets.accept().await {
                if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                    let _ = accepted.send(ws);
                }
            }
        });
        let opened = Arc::new(AtomicUsize::new(0));
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (Arc::clone(&opened), Arc::clone(&authorizations));
        let calls: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let recorded = Arc::clone(&calls);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = listener.local_addr().unwrap();
        let web_api = move |uri: axum::http::Uri, body: axum::body::Bytes| {
            let path = uri.path().to_owned();
            let body = super::slack::read_body(&path, &body);
            let answer = super::slack::web_api_answer(&path, &body, api_addr);
            recorded.lock().unwrap().push((path, body));
            async move {
                answer.unwrap_or_else(|| {
                    axum::response::IntoResponse::into_response(axum::Json(
                        json!({ "ok": false, "error": "unknown_method" }),
                    ))
                })
            }
        };
        let api = axum::Router::new().fallback(web_api).route(
            "/api/apps.connections.open",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().unwrap().push(auth);
                async move {
                    axum::Json(json!({
                        "ok": true,
                        "url": format!("ws://{ws_addr}/link/?ticket=t{n}&app_id=A0APP"),
                    }))
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, api).await });
        Self {
            api: api_addr,
            opened,
            authorizations,
            calls,
            connections: AsyncMutex::new(connections),
        }
    }

    /// The Web API base to give the service as `SLACK_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.api)
    }

    /// How many times `apps.connections.open` was called.
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// The bodies of the Web API calls to `path` (`/api/views.open`…), waiting for `count`.
    pub async fn wait_for_calls(&self, path: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let calls: Vec<Value> = self
                .calls
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, _)| p == path)
                .map(|(_, body)| body.clone())
                .collect();
            if calls.len() >= count {
                return calls;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} was called {} times, expected {count}",
                calls.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().unwrap().clone()
    }

    /// The next connection the service makes, greeted with `hello` as Slack does.
    pub async fn next_connection(&self) -> SlackSocket {
        self.next_connection_counting(1).await
    }

    /// The next connection, greeted with a `hello` that counts `connections` open to the app
    /// (this one included, as Slack's example greets a first connection with
    /// `"num_connections": 1`): more than the service holds when another process is connected.
    pub async fn next_connection_counting(&self, connections: u64) -> SlackSocket {
        let ws = tokio::time::timeout(WAIT, self.connections.lock().await.recv())
            .await
            .expect("the service connected to the socket")
            .expect("the stand-in is running");
        let mut socket = SlackSocket { ws };
        socket
            .send(json!({
                "type": "hello",
                "num_connections": connections,
                "debug_info": { "host": "applink-test", "approximate_connection_time": 18060 },
                "connection_info": { "app_id": "A0APP" }
            }))
            .await;
        socket
    }
}

/// One connection, from Slack's side.
pub struct SlackSocket {
    ws: WebSocketStream<TcpStream>,
}

impl SlackSocket {
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send a frame");
    }

    /// Sends an envelope and returns the service's acknowledgement of it.
    pub async fn deliver(&mut self, envelope: Value) -> Value {
        self.send(envelope).await;
        self.next_json().await
    }

    /// The next JSON text frame from the service.
    pub async fn next_json(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("the service answered on the socket")
                .expect("the socket is open")
                .expect("a frame");
            if let Message::Text(text) = frame {
                return serde_json::from_str(&text).expect("JSON");
            }
        }
    }

    /// Waits until the service closes this connection.
    pub async fn closed(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("the service closed the socket")
            {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    }
}

/// A `slash_commands` envelope for `/throttle <text>`, answering to `response_url`.
pub fn command_envelope(id: &str, text: &str, response_url: &str) -> Value {
    json!({
        "envelope_id": id,
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "token": "deprecated",
            "team_id": super::TEAM,
            "team_domain": "testteam",
            "channel_id": super::CHANNEL,
            "channel_name": "ops",
            "user_id": super::USER,
            "user_name": "roadrunner",
            "command": "/throttle",
            "text": text,
            "api_app_id": "A0APP",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": super::unique("398738663015.47445629121"),
        }
    })
}

/// An `interactive` envelope carrying a `block_actions` payload.
pub fn press_envelope(id: &str, payload: Value) -> Value {
    json!({
        "envelope_id": id,
        "type": "interactive",
        "accepts_response_payload": false,
        "payload": payload,
    })
}
