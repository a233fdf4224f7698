//! Slack's Web API, for messages that come after a command's `response_url` has expired (30
//! minutes): a timed change's end, posted in the channel where it was made.

use reqwest::Url;
use serde_json::{Value, json};

use super::hosts::{HostError, SlackHosts};
use super::outbox::Outbox;
use crate::core::ports::TellError;

/// Slack's Web API base, unless `SLACK_API_URL` says otherwise (tests only).
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Slack's Web API hosts (GovSlack has its own).
pub const API_HOSTS: [&str; 2] = ["slack.com", "slack-gov.com"];

/// The `error` of a Web API answer with `ok: false`: Slack's codes are short words
/// (`not_in_channel`); only those characters are kept, so nothing else reaches a log.
pub fn error_code(answer: &Value) -> String {
    answer["error"]
        .as_str()
        .unwrap_or("unknown_error")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// A bot token (`xoxb-…`). It is a secret: `Debug` never shows it.
#[derive(Clone)]
pub struct BotToken(String);

impl BotToken {
    /// `None` for an empty setting.
    pub fn new(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (!raw.is_empty()).then(|| Self(raw.to_owned()))
    }
}

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotToken(..)")
    }
}

/// A Web API call's arguments: JSON, or a form (`files.getUploadURLExternal` and
/// `files.completeUploadExternal` take only forms).
pub enum Body<'a> {
    Json(&'a Value),
    Form(&'a [(&'a str, String)]),
}

/// Where and as whom we call the Web API.
#[derive(Debug, Clone)]
pub struct WebApi {
    token: BotToken,
    post_message: Url,
    /// The base every other method is called under (`…/api/`).
    base: Url,
    /// Under `try`: calls go here instead of to Slack.
    outbox: Option<Outbox>,
}

impl WebApi {
    /// The Web API at `base`: https to Slack's hosts, or a stand-in `INSECURE_TEST_HOSTS` allows.
    pub fn new(token: BotToken, base: &str, hosts: &SlackHosts) -> Result<Self, HostError> {
        let base = hosts.check(base, &API_HOSTS)?;
        let mut post_message = base.clone();
        post_message
            .path_segments_mut()
            .map_err(|_| HostError::NotAUrl)?
            .pop_if_empty()
            .push("chat.postMessage");
        Ok(Self {
            token,
            post_message,
            base,
            outbox: None,
        })
    }

    /// A Web API whose every call goes to `outbox` and works (`try`): no token, no network.
    pub fn outbox(outbox: Outbox) -> Self {
        let token = BotToken("xoxb-try".to_owned());
        let mut api = Self::new(token, DEFAULT_API_URL, &SlackHosts::default())
            .expect("Slack's own Web API URL is one of Slack's hosts");
        api.outbox = Some(outbox);
        api
    }

    /// Calls the Web API method `method` with `body` (JSON, or a form where Slack takes only
    /// forms) and the bot token; the answer when Slack says `ok`, else why not.
    pub async fn call(
        &self,
        http: &reqwest::Client,
        method: &str,
        body: Body<'_>,
    ) -> Result<Value, TellError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| TellError::Address("not a URL"))?
            .pop_if_empty()
            .push(method);
        if let Some(outbox) = &self.outbox {
            let body = match body {
                Body::Json(json) => json.clone(),
                Body::Form(fields) => fields.iter().map(|(k, v)| (*k, v.as_str())).collect(),
            };
            return outbox.call(url.as_str(), body);
        }
        let request = http.post(url).bearer_auth(&self.token.0);
        let request = match body {
            Body::Json(json) => request.json(json),
            Body::Form(fields) => request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(serde_urlencoded::to_string(fields).unwrap_or_default()),
        };
        let response = request
            .send()
            .await
            .map_err(|_| TellError::Transport("could not reach Slack's Web API"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(TellError::Status(status.as_u16()));
        }
        let answer: Value = response.json().await.map_err(|_| {
            TellError::Transport("Slack's Web API answered something other than JSON")
        })?;
        if answer["ok"] == json!(true) {
            Ok(answer)
        } else {
            Err(TellError::Refused(error_code(&answer)))
        }
    }

    /// `chat.postMessage` to `channel`, under `thread_ts` when given. Slack answers HTTP 200
    /// with `ok: false` for most errors; those come back as [`TellError::Refused`].
    pub async fn post_message(
        &self,
        http: &reqwest::Client,
        channel: &str,
        thread_ts: Option<&str>,
        message: &Value,
    ) -> Result<(), TellError> {
        let mut body = json!({
            "channel": channel,
            "text": message["text"],
            "blocks": message["blocks"],
            "unfurl_links": false,
        });
        if let Some(ts) = thread_ts {
            body["thread_ts"] = json!(ts);
        }
        if let Some(outbox) = &self.outbox {
            return outbox.call(self.post_message.as_str(), body).map(|_| ());
        }
        let response = http
            .post(self.post_message.clone())
            .bearer_auth(&self.token.0)
            .json(&body)
            .send()
            .await
            .map_err(|_| TellError::Transport("could not reach Slack's Web API"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(TellError::Status(status.as_u16()));
        }
        let answer: Value = response.json().await.map_err(|_| {
            TellError::Transport("Slack's Web API answered something other than JSON")
        })?;
        if answer["ok"] == json!(true) {
            Ok(())
        } else {
            Err(TellError::Refused(error_code(&answer)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_api_is_slacks_unless_a_test_host_is_allowed() {
        let token = || BotToken::new("test-token").unwrap();
        let api = WebApi::new(token(), DEFAULT_API_URL, &SlackHosts::default()).unwrap();
        assert_eq!(
            api.post_message.as_str(),
            "https://slack.com/api/chat.postMessage"
        );
        let none = SlackHosts::default();
        assert!(WebApi::new(token(), "https://evil.example/api", &none).is_err());
        assert!(WebApi::new(token(), "http://127.0.0.1:9/api/", &none).is_err());
        let local = SlackHosts::from_setting(Some("127.0.0.1"));
        let api = WebApi::new(token(), "http://127.0.0.1:9/api/", &local).unwrap();
        assert_eq!(
            api.post_message.as_str(),
            "http://127.0.0.1:9/api/chat.postMessage"
        );
        assert_eq!(format!("{:?}", token()), "BotToken(..)");
        assert!(BotToken::new("  ").is_none());
    }
}
