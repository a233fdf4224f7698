//! Posting JSON to Slack: a command's `response_url` and the audit incoming webhook. This is the
//! core's telling port for Slack.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use super::buttons::Buttons;
use super::hosts::{HostError, SlackHosts};
use super::outbox::Outbox;
use super::render::{self, Delivery};
use super::signature::SigningSecret;
use super::web_api::WebApi;
use crate::core::outcome::News;
use crate::core::ports::{TellError, Teller};
use crate::core::requester::ReplyTo;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_ATTEMPTS: u32 = 3;
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

/// The audit channel's incoming-webhook URL. It is a secret: `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// Only Slack's hooks hosts, over https.
    pub fn parse(raw: &str, hosts: &SlackHosts) -> Result<Self, HostError> {
        hosts.check_hook(raw).map(Self)
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(..)")
    }
}

/// Posts messages to Slack over one shared HTTP client.
#[derive(Clone)]
pub struct SlackPoster {
    http: reqwest::Client,
    webhook: Option<WebhookUrl>,
    hosts: SlackHosts,
    /// Our buttons; without a signing secret to seal them, messages go without.
    buttons: Option<Buttons>,
    /// With a bot token: posts in channels after a command's `response_url` has expired.
    web_api: Option<WebApi>,
    /// Under `try`: every message goes here instead of over HTTP.
    outbox: Option<Outbox>,
    /// The last changes made through this process (when, and their audit notice's text), for
    /// the Home tab.
    recent: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<(i64, String)>>>,
}

/// How many of the last changes the Home tab can show.
const RECENT_CHANGES: usize = 10;

impl SlackPoster {
    pub fn new(webhook: Option<WebhookUrl>, hosts: SlackHosts) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect could take a message (and its URL's secret) off Slack's hosts.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("throttle-bot/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Self {
            http,
            webhook,
            hosts,
            buttons: None,
            web_api: None,
            outbox: None,
            recent: std::sync::Arc::default(),
        }
    }

    /// Hands every message to `outbox` instead of posting it (`try`).
    pub fn with_outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// Posts timed changes' ends in their channels through the Web API.
    pub fn with_web_api(mut self, web_api: Option<WebApi>) -> Self {
        self.web_api = web_api;
        self
    }

    /// Messages carry buttons sealed with a key from this secret.
    pub fn with_buttons(mut self, secret: &SigningSecret) -> Self {
        self.buttons = Some(Buttons::new(secret));
        self
    }

    pub fn buttons(&self) -> Option<&Buttons> {
        self.buttons.as_ref()
    }

    pub fn hosts(&self) -> &SlackHosts {
        &self.hosts
    }

    /// The last changes made through this process, oldest first (for the Home tab).
    pub fn recent_changes(&self) -> Vec<(i64, String)> {
        self.recent
            .lock()
            .expect("recent changes")
            .iter()
            .cloned()
            .collect()
    }

    /// The Web API with the bot token and the client to call it with; `None` without a token.
    pub fn web_api(&self) -> Option<(&reqwest::Client, &WebApi)> {
        self.web_api.as_ref().map(|api| (&self.http, api))
    }

    /// Posts `message` in `channel` under the message `thread`, with the bot token;
    /// `Ok(false)` without one.
    pub async fn post_in_thread(
        &self,
        channel: &str,
        thread: &str,
        message: &Value,
    ) -> Result<bool, TellError> {
        match &self.web_api {
            Some(web_api) => web_api
                .post_message(&self.http, channel, Some(thread), message)
                .await
                .map(|()| true),
            None => Ok(false),
        }
    }

    pub fn has_webhook(&self) -> bool {
        self.webhook.is_some()
    }

    /// Answers on a `response_url`.
    pub async fn respond(&self, to: &ReplyTo, message: &Value) -> Result<(), TellError> {
        let url = self
            .hosts
            .check_hook(to.as_str())
            .map_err(|_| TellError::Address("not one of Slack's hosts"))?;
        self.post(&url, message).await
    }

    /// Sends a notice to the audit webhook. `Ok(false)` when no webhook is configured.
    pub async fn notify(&self, notice: &Value) -> Result<bool, TellError> {
        match &self.webhook {
            Some(webhook) => self.post(&webhook.0, notice).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Posts, retrying only when Slack cannot have acted on the request: it could not be sent
    /// (connection refused), or Slack said so (429, 5xx). A timeout after sending is not retried:
    /// the message may have been posted, and a retry could post it twice in the channel.
    async fn post(&self, url: &Url, body: &Value) -> Result<(), TellError> {
        if let Some(outbox) = &self.outbox {
            return outbox.post(url.as_str(), body);
        }
        let mut attempt = 1;
        loop {
            let (error, wait) = match self.http.post(url.clone()).json(body).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable {
                        return Err(TellError::Status(status.as_u16()));
                    }
                    (TellError::Status(status.as_u16()), retry_after(&response))
                }
                Err(err) if err.is_connect() => (TellError::Transport("could not connect"), None),
                Err(err) => return Err(TellError::Transport(transport_reason(&err))),
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

impl Teller for SlackPoster {
    async fn reply(&self, to: &ReplyTo, news: &News<'_>) -> Result<(), TellError> {
        let Some(mut message) = render::reply(news, self.buttons.as_ref()) else {
            return Ok(());
        };
        match render::delivery(news) {
            Delivery::New => self.respond(to, &message).await,
            Delivery::ReplaceOriginal => {
                message["replace_original"] = json!(true);
                self.respond(to, &message).await
            }
            Delivery::NewThenDeleteOriginal => {
                message["replace_original"] = json!(false);
                self.respond(to, &message).await?;
                self.respond(to, &json!({ "delete_original": true })).await
            }
        }
    }

    async fn audit(&self, news: &News<'_>) -> Result<bool, TellError> {
        let notice = render::notice(news);
        if let Some(text) = notice.as_ref().and_then(|n| n["text"].as_str())
            && landed(news.outcome)
        {
            let mut recent = self.recent.lock().expect("recent changes");
            if recent.len() >= RECENT_CHANGES {
                recent.pop_front();
            }
            recent.push_back((crate::core::clock::unix_now(), text.to_owned()));
        }
        match notice {
            Some(notice) => self.notify(&notice).await,
            None => Ok(false),
        }
    }

    async fn announce(
        &self,
        channel: &str,
        thread: Option<&str>,
        news: &News<'_>,
    ) -> Result<bool, TellError> {
        let (Some(web_api), Some(message)) = (&self.web_api, render::notice(news)) else {
            return Ok(false);
        };
        web_api
            .post_message(&self.http, channel, thread, &message)
            .await
            .map(|()| true)
    }

    /// With a bot token only (`files:write`); without one, said once.
    fn shows_pictures(&self) -> bool {
        static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let can = self.web_api.is_some();
        if !can && !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::info!(
                "SLACK_BOT_TOKEN is not set: no traffic pictures (Slack's file upload needs the bot token and files:write)"
            );
        }
        can
    }

    async fn picture(
        &self,
        channel: &str,
        thread: Option<&str>,
        title: &str,
        comment: &str,
        png: Vec<u8>,
    ) -> Result<bool, TellError> {
        let Some(web_api) = &self.web_api else {
            return Ok(false);
        };
        let png = super::files::Png {
            filename: "traffic.png",
            title,
            comment,
            bytes: png,
        };
        super::files::share_png(&self.http, web_api, &self.hosts, (channel, thread), png)
            .await
            .map(|()| true)
    }
}

/// A change that wrote something: what the Home tab lists as the last changes.
fn landed(outcome: &crate::core::outcome::Outcome) -> bool {
    use crate::core::outcome::{Outcome, TimedDone};
    match outcome {
        Outcome::Change {
            result: Ok(applied),
            ..
        } => applied.changed,
        Outcome::Timed {
            result: Ok(done), ..
        } => {
            matches!(done, TimedDone::Extended(_) | TimedDone::Restored { .. })
        }
        Outcome::PlanChanged { result: Ok(_), .. } => true,
        _ => false,
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
        "timed out (not retried: Slack may have posted it)"
    } else {
        "request failed"
    }
}
