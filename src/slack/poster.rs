//! Posting JSON to Slack: a command's `response_url` and the audit incoming webhook.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::command::ResponseUrl;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_ATTEMPTS: u32 = 3;
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

/// The audit channel's incoming-webhook URL. It is a secret: `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub fn parse(raw: &str) -> Option<Self> {
        let url = Url::parse(raw.trim()).ok()?;
        matches!(url.scheme(), "https" | "http").then_some(Self(url))
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(..)")
    }
}

/// Why a post did not get a 2xx. The text never contains the URL.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PostError {
    #[error("Slack answered HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(&'static str),
}

/// Posts messages to Slack over one shared HTTP client.
#[derive(Clone)]
pub struct SlackPoster {
    http: reqwest::Client,
    webhook: Option<WebhookUrl>,
}

impl SlackPoster {
    pub fn new(webhook: Option<WebhookUrl>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("throttle-bot/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Self { http, webhook }
    }

    /// Answers a command on its `response_url`.
    pub async fn respond(&self, to: &ResponseUrl, message: &Value) -> Result<(), PostError> {
        self.post(to.url(), message).await
    }

    /// Sends a notice to the audit webhook. `Ok(false)` when no webhook is configured.
    pub async fn audit(&self, notice: &Value) -> Result<bool, PostError> {
        match &self.webhook {
            Some(webhook) => self.post(&webhook.0, notice).await.map(|()| true),
            None => Ok(false),
        }
    }

    async fn post(&self, url: &Url, body: &Value) -> Result<(), PostError> {
        let mut attempt = 1;
        loop {
            let (error, wait) = match self.http.post(url.clone()).json(body).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable {
                        return Err(PostError::Status(status.as_u16()));
                    }
                    (PostError::Status(status.as_u16()), retry_after(&response))
                }
                Err(err) => (PostError::Transport(transport_reason(&err)), None),
            };
            if attempt >= MAX_ATTEMPTS {
                return Err(error);
            }
            let backoff = Duration::from_millis(200 * u64::from(attempt));
            tokio::time::sleep(wait.unwrap_or(backoff).min(MAX_RETRY_WAIT)).await;
            attempt += 1;
        }
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

fn transport_reason(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    }
}
