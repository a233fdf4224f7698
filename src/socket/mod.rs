//! Slack's Socket Mode: the service dials out to Slack over a WebSocket and Slack pushes slash
//! commands and button presses through it, so no public URL is needed.
//!
//! Each connection: `apps.connections.open` (a new single-use URL every time), connect, `hello`,
//! then envelopes, each acknowledged by its `envelope_id` with the immediate reply the HTTP
//! endpoint would have sent; a `disconnect` (or a dropped link) opens a new connection, with
//! backoff and jitter when it failed, and `link_disabled` stops. The payloads go to the same
//! handlers as over HTTP; no signature applies (the connection is authenticated by the app
//! token), every other rule does.

mod envelope;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use reqwest::Url;
use serde_json::Value;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

pub use envelope::{Delivered, Envelope, Frame, Kind, Reason};

use crate::http::Shared;
use crate::http::SocketStatus;
use crate::http::commands::{Once, command};
use crate::http::interactions::interaction;
use crate::slack::hosts::{HostError, SlackHosts};
use crate::slack::web_api::{API_HOSTS, error_code};

/// Slack's app-level token (`xapp-…`): a secret, never shown.
#[derive(Clone)]
pub struct AppToken(String);

impl AppToken {
    pub fn new(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (!raw.is_empty()).then(|| Self(raw.to_owned()))
    }
}

impl std::fmt::Debug for AppToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppToken(..)")
    }
}

/// How to reach Slack in Socket Mode.
#[derive(Debug, Clone)]
pub struct SocketSettings {
    pub token: AppToken,
    /// `apps.connections.open` on the Web API base.
    pub open_url: Url,
    pub hosts: SlackHosts,
    /// Connections held at once (Slack spreads envelopes across up to 10).
    pub connections: usize,
}

impl SocketSettings {
    pub fn new(
        token: AppToken,
        api_base: &str,
        hosts: SlackHosts,
        connections: usize,
    ) -> Result<Self, HostError> {
        let mut open_url = hosts.check(api_base, &API_HOSTS)?;
        open_url
            .path_segments_mut()
            .map_err(|_| HostError::NotAUrl)?
            .pop_if_empty()
            .push("apps.connections.open");
        Ok(Self {
            token,
            open_url,
            hosts,
            connections: connections.clamp(1, 10),
        })
    }
}

/// Why Socket Mode stopped for good and the service with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    /// Another process holds connections to this Slack app: a second replica, whose presses,
    /// replays and timed changes this one would race (one replica per Slack app).
    #[error(
        "another process is connected to this Slack app ({0} connections counting this one's first): run one replica per Slack app (docs/deploy.md); this one stops without taking any request"
    )]
    AnotherReplica(u64),
}

/// How many times the first connection looks for another process's connections before this
/// one refuses to start: a process that was just replaced may hold its link a few seconds.
const CROWDED_LOOKS: u32 = 2;
/// How long the second look waits after the first found another process connected, at the
/// least; a random part is added, so that two replicas started together do not both look
/// again at the same moment (and both refuse): one finds the app to itself.
const SECOND_LOOK: Duration = Duration::from_secs(2);
/// The random part's most.
const SECOND_LOOK_SPREAD: Duration = Duration::from_secs(6);

/// How a connection ended.
enum End {
    /// The process's first `hello` counted connections that are not this process's (how
    /// many): another replica of this Slack app is running.
    Crowded(u64),
    /// Slack asked for a new connection (`refresh_requested`, `warning`): open one now.
    Refresh,
    /// The link dropped or could not be made: open a new one after a backoff.
    Dropped,
    /// Socket Mode is off for the app: stop.
    Disabled,
    /// The service is stopping.
    Stopped,
}

/// Holds `settings.connections` connections until `stop` turns true. The first connects
/// alone: when Slack counts connections of this app that are not this process's, another
/// replica is running, and this one refuses to start ([`SocketError::AnotherReplica`]) before
/// it takes any request or runs `admitted` (the sweep starts there); the others connect once
/// the first found the app to itself.
pub async fn run(
    state: Shared,
    settings: SocketSettings,
    status: Arc<SocketStatus>,
    stop: watch::Receiver<bool>,
    admitted: impl FnOnce() + Send,
) -> Result<(), SocketError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    // Shared by every connection: Slack may redeliver on another one. Ten minutes outlast
    // Slack's retries (the last about five minutes after the first delivery).
    let delivered = Arc::new(Mutex::new(Delivered::new(Duration::from_secs(600), 10_000)));
    let link = |index: usize, admit: Option<watch::Sender<bool>>| Link {
        index,
        state: Arc::clone(&state),
        settings: settings.clone(),
        status: Arc::clone(&status),
        delivered: Arc::clone(&delivered),
        http: http.clone(),
        stop: stop.clone(),
        admit,
    };
    let (admit, mut admission) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(hold(link(0, Some(admit))));
    let mut admitted = Some(admitted);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                None => return Ok(()),
                Some(Ok(Err(refused))) => {
                    tasks.abort_all();
                    return Err(refused);
                }
                Some(_) => {}
            },
            changed = admission.changed(), if admitted.is_some() => {
                if changed.is_err() || !*admission.borrow() {
                    // The first link ended before it was admitted (stopped, or disabled).
                    admitted = None;
                    continue;
                }
                if let Some(admitted) = admitted.take() {
                    admitted();
                }
                for index in 1..settings.connections {
                    tasks.spawn(hold(link(index, None)));
                }
            }
        }
    }
}

/// One connection's part.
struct Link {
    index: usize,
    state: Shared,
    settings: SocketSettings,
    status: Arc<SocketStatus>,
    delivered: Arc<Mutex<Delivered>>,
    http: reqwest::Client,
    stop: watch::Receiver<bool>,
    /// The first connection's: set once Slack's first `hello` counted no other process's
    /// connections; `None` for the others, and once sent.
    admit: Option<watch::Sender<bool>>,
}

async fn hold(mut link: Link) -> Result<(), SocketError> {
    let mut failures: u32 = 0;
    let mut looks: u32 = 0;
    loop {
        if *link.stop.borrow() {
            return Ok(());
        }
        let end = match link.open().await {
            Ok(url) => link.session(&url, &mut failures).await,
            Err(why) => {
                tracing::warn!(
                    connection = link.index,
                    why = %why,
                    "could not open a Socket Mode connection"
                );
                End::Dropped
            }
        };
        match end {
            End::Stopped => return Ok(()),
            End::Disabled => {
                link.status.disable();
                tracing::error!(
                    "Slack turned Socket Mode off for this app (link_disabled); not reconnecting"
                );
                return Ok(());
            }
            End::Crowded(connections) => {
                looks += 1;
                if looks >= CROWDED_LOOKS {
                    return Err(SocketError::AnotherReplica(connections));
                }
                // `jitter` is in [0.5, 1.5): a wait in [2 s, 8 s).
                let wait = SECOND_LOOK + SECOND_LOOK_SPREAD.mul_f64(jitter() - 0.5);
                tracing::warn!(
                    connections,
                    wait_ms = wait.as_millis() as u64,
                    "Slack counts connections to this app that are not this process's; looking again before refusing to start"
                );
                let mut stop = link.stop.clone();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(&mut stop) => return Ok(()),
                }
            }
            End::Refresh => {
                link.state.metrics.socket_reconnected();
            }
            End::Dropped => {
                link.state.metrics.socket_reconnected();
                failures = failures.saturating_add(1);
                let wait = backoff(failures, jitter());
                tracing::info!(
                    connection = link.index,
                    wait_ms = wait.as_millis() as u64,
                    "reconnecting to Slack"
                );
                let mut stop = link.stop.clone();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(&mut stop) => return Ok(()),
                }
            }
        }
    }
}

/// Why no connection could be opened; the link tries again after a backoff.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("could not reach Slack's Web API")]
    Unreachable,
    #[error("apps.connections.open answered HTTP {0}")]
    Status(u16),
    #[error("apps.connections.open answered something other than JSON")]
    NotJson,
    #[error("apps.connections.open refused: {0}")]
    Refused(String),
    #[error("apps.connections.open gave a URL that is {0}")]
    NotSlack(HostError),
}

impl Link {
    /// `apps.connections.open`: a new single-use URL, checked to be Slack's.
    async fn open(&self) -> Result<Url, OpenError> {
        let answer = self
            .http
            .post(self.settings.open_url.clone())
            .bearer_auth(&self.settings.token.0)
            .send()
            .await
            .map_err(|_| OpenError::Unreachable)?;
        if !answer.status().is_success() {
            return Err(OpenError::Status(answer.status().as_u16()));
        }
        let answer: Value = answer.json().await.map_err(|_| OpenError::NotJson)?;
        if answer["ok"] != Value::Bool(true) {
            return Err(OpenError::Refused(error_code(&answer)));
        }
        let url = answer["url"].as_str().unwrap_or_default();
        self.settings
            .hosts
            .check_socket(url)
            .map_err(OpenError::NotSlack)
    }

    /// One connection, from connect to its end.
    async fn session(&mut self, url: &Url, failures: &mut u32) -> End {
        let (mut socket, _) = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok(connected) => connected,
            Err(error) => {
                tracing::warn!(connection = self.index, %error, "could not connect to Slack's WebSocket");
                return End::Dropped;
            }
        };
        let mut said_hello = false;
        let end = loop {
            let message = tokio::select! {
                message = socket.next() => message,
                () = stopped(&mut self.stop) => {
                    let _ = socket.close(None).await;
                    break End::Stopped;
                }
            };
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(
                    Message::Ping(_) | Message::Pong(_) | Message::Binary(_) | Message::Frame(_),
                )) => {
                    // Pongs to pings are queued by the library; flushing sends them.
                    if socket.flush().await.is_err() {
                        break End::Dropped;
                    }
                    continue;
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break End::Dropped,
            };
            match envelope::parse(&text) {
                Some(Frame::Hello { connections }) => {
                    if let Some(admit) = self.admit.take() {
                        match connections {
                            Some(n) if n > 1 => {
                                self.admit = Some(admit);
                                let _ = socket.close(None).await;
                                break End::Crowded(n);
                            }
                            Some(_) => {}
                            None => tracing::warn!(
                                "Slack's hello did not count this app's connections; cannot tell whether another replica runs"
                            ),
                        }
                        admit.send_replace(true);
                    } else if connections.is_some_and(|n| n > self.settings.connections as u64 + 1)
                    {
                        // More than this process holds, with one of its own being replaced:
                        // someone else connected after this process started.
                        tracing::warn!(
                            connections,
                            "Slack counts more connections to this app than this process holds: another replica may be running (run one replica per Slack app)"
                        );
                    }
                    if !said_hello {
                        said_hello = true;
                        *failures = 0;
                        self.status.connected();
                        tracing::info!(connection = self.index, "connected to Slack (Socket Mode)");
                    }
                }
                Some(Frame::Disconnect(Reason::LinkDisabled)) => break End::Disabled,
                Some(Frame::Disconnect(reason)) => {
                    tracing::info!(
                        connection = self.index,
                        ?reason,
                        "Slack asked for a new connection"
                    );
                    break End::Refresh;
                }
                Some(Frame::Envelope(envelope)) => {
                    let ack = self.handle(envelope).await;
                    if socket.send(Message::Text(ack.into())).await.is_err() {
                        break End::Dropped;
                    }
                }
                Some(Frame::Other) | None => {}
            }
        };
        if said_hello {
            self.status.dropped();
        }
        end
    }

    /// Hands the envelope's payload to the same handler as over HTTP (once per envelope id)
    /// and returns its acknowledgement.
    async fn handle(&self, envelope: Envelope) -> String {
        let first = self
            .delivered
            .lock()
            .expect("delivered envelopes")
            .first(&envelope.id, Instant::now());
        if !first {
            tracing::info!(
                retry = true,
                "an envelope delivered again was acknowledged, not run again"
            );
            return envelope::ack(&envelope.id, None);
        }
        if envelope.kind == Kind::Other("events_api".to_owned()) {
            crate::http::home::delivered(&self.state, None, &envelope.payload).await;
            return envelope::ack(&envelope.id, None);
        }
        let Some(body) = envelope.form_body() else {
            return envelope::ack(&envelope.id, None);
        };
        let response = match envelope.kind {
            Kind::SlashCommands => command(&self.state, None, &body, Once::Delivered).await,
            Kind::Interactive => interaction(&self.state, None, &body, Once::Delivered).await,
            Kind::Other(_) => return envelope::ack(&envelope.id, None),
        };
        let reply = match envelope.accepts_response_payload {
            true => reply_of(response).await,
            false => None,
        };
        envelope::ack(&envelope.id, reply)
    }
}

/// Resolves once the service is stopping (or the sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The JSON body of a handler's answer, if it has one.
async fn reply_of(response: Response) -> Option<Value> {
    if response.status() != StatusCode::OK {
        return None;
    }
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The wait before the next attempt after `failures` failures in a row: doubling from 1 s up to
/// 30 s, scaled by `jitter` in [0.5, 1.5) so that replicas do not reconnect in step.
fn backoff(failures: u32, jitter: f64) -> Duration {
    let base = 2f64
        .powi(failures.saturating_sub(1).min(5) as i32)
        .min(30.0);
    Duration::from_secs_f64(base * jitter.clamp(0.5, 1.5))
}

/// A number in [0.5, 1.5), different in every process and call (std's randomly keyed hasher;
/// no cryptographic quality is needed to spread reconnections).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    0.5 + (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_and_jitter_spreads_it() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(4, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(6, 1.0), Duration::from_secs(30));
        assert_eq!(backoff(60, 1.0), Duration::from_secs(30));
        assert_eq!(backoff(1, 0.5), Duration::from_millis(500));
        assert_eq!(backoff(1, 9.0), Duration::from_millis(1500));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.5..1.5).contains(&j), "{j}");
        }
    }

    #[test]
    fn the_app_token_never_shows() {
        let token = AppToken::new(" xapp-1-secret ").unwrap();
        assert_eq!(format!("{token:?}"), "AppToken(..)");
        assert!(AppToken::new("  ").is_none());
    }
}
