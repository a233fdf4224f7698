//! Commands handed from one Lambda invocation to the next (sealed by the caller), checked again
//! on arrival exactly as the first time.

use serde::{Deserialize, Serialize};

use crate::core::grammar::{Request, parse_text};
use crate::core::requester::{ChatId, ChatUser, ReplyTo, RequestId, Requester, Via};
use crate::core::runner::{Ask, Gates, Origin, Work};
use crate::domain::Configured;
use crate::slack::hosts::SlackHosts;

/// A Slack command handed from one Lambda invocation to the next, as JSON: the command's text
/// and where it came from, checked again on arrival exactly as the first time.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeferredJob {
    text: String,
    user_id: String,
    channel_id: Option<String>,
    team_id: Option<String>,
    command: String,
    response_url: String,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    via: Via,
    /// The gates already passed ([`Gates`]), so a deferred button press stays one.
    #[serde(default)]
    expect: Option<(Option<f64>, Option<i32>)>,
    #[serde(default)]
    confirmed: bool,
    #[serde(default)]
    approved_by: Option<String>,
    #[serde(default)]
    break_glass: bool,
    /// The channel message the answer replaces, when known ([`Origin::message_ts`]). Left out
    /// when unknown, so jobs sealed by a release without it still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_ts: Option<String>,
    /// The function that sealed it: another function sharing the signing secret (a staging
    /// deployment of the same Slack app) cannot be made to run it.
    #[serde(default)]
    function: String,
}

/// The key that marks an invocation's payload as a deferred job.
pub const DEFERRED_JOB_KEY: &str = "throttle_bot_job";

/// The key that marks an invocation's payload as an audit notice to post.
pub const DEFERRED_NOTICE_KEY: &str = "throttle_bot_notice";

/// Why a deferred job's payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeferredJobError {
    #[error("deferred job has an invalid {0}")]
    Invalid(&'static str),
}

impl DeferredJob {
    /// The job for a person's request, sealed by `function`; `None` for requesters nobody
    /// waits on.
    pub fn new(ask: &Ask, function: &str) -> Option<Self> {
        let who = ask.origin.requester.user()?;
        Some(Self {
            text: ask.text.clone(),
            user_id: who.user.to_string(),
            channel_id: who.channel.as_ref().map(ToString::to_string),
            team_id: who.team.as_ref().map(ToString::to_string),
            command: who.command.clone(),
            response_url: ask.origin.reply_to.as_ref()?.as_str().to_owned(),
            request_id: Some(ask.id.to_string()),
            via: ask.origin.via,
            expect: ask.gates.expect.map(|c| (c.rate, c.burst)),
            confirmed: ask.gates.confirmed,
            approved_by: ask.gates.approved_by.as_ref().map(ToString::to_string),
            break_glass: ask.gates.break_glass,
            message_ts: ask.origin.message_ts.clone(),
            function: function.to_owned(),
        })
    }

    /// Whether this function (by name) sealed it.
    pub fn is_for(&self, function: &str) -> bool {
        self.function == function
    }

    /// The request again, validated as when it first arrived.
    pub fn into_ask(self, hosts: &SlackHosts) -> Result<Ask, DeferredJobError> {
        let work = match parse_text(&self.text) {
            Ok(Request::Change(change)) => Work::Change(change),
            Ok(Request::Show(show)) => Work::Show(show),
            Ok(Request::List(list)) => Work::List(list),
            Ok(Request::Plan(plan)) => Work::Plan(plan),
            Ok(Request::Timed(request)) => Work::Timed(request),
            Ok(Request::Help) | Err(_) => return Err(DeferredJobError::Invalid("text")),
        };
        let who = ChatUser {
            user: ChatId::parse(&self.user_id).ok_or(DeferredJobError::Invalid("user_id"))?,
            channel: self.channel_id.as_deref().and_then(ChatId::parse),
            team: self.team_id.as_deref().and_then(ChatId::parse),
            command: self.command,
        };
        let reply_to = hosts
            .check_hook(&self.response_url)
            .map_err(|_| DeferredJobError::Invalid("response_url"))?;
        Ok(Ask {
            id: self
                .request_id
                .as_deref()
                .and_then(RequestId::parse)
                .unwrap_or_default(),
            origin: Origin {
                requester: Requester::User(who),
                reply_to: Some(ReplyTo::new(reply_to.as_str())),
                via: self.via,
                message_ts: self.message_ts,
            },
            gates: Gates {
                expect: self.expect.map(|(rate, burst)| Configured { rate, burst }),
                confirmed: self.confirmed,
                approved_by: match self.approved_by.as_deref() {
                    Some(id) => {
                        Some(ChatId::parse(id).ok_or(DeferredJobError::Invalid("approved_by"))?)
                    }
                    None => None,
                },
                break_glass: self.break_glass,
            },
            text: self.text,
            work,
        })
    }
}
