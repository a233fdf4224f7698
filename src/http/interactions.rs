//! `POST /slack/interactions`: a press of one of our buttons. Verified like a slash command
//! (the same extractor), acknowledged at once with an empty 200; the outcome goes to the
//! press's `response_url`.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::signed::{SlackBody, now};
use crate::core::grammar::{Request, parse_text};
use crate::core::requester::{ChatId, ChatUser, ReplyTo, RequestId, Requester, Via};
use crate::core::runner::{Ask, Gates, Origin, Work};
use crate::domain::Configured;
use crate::jobs::{InvocationDeadline, Submitted, span};
use crate::metrics::Rejection;
use crate::slack::buttons::{ButtonValue, Press};
use crate::slack::interaction::ActionPayload;
use crate::slack::render;

pub async fn press(
    State(state): State<AppState>,
    deadline: Option<Extension<InvocationDeadline>>,
    body: SlackBody,
) -> Response {
    let (body, stamp) = match body {
        SlackBody::SslCheck => return StatusCode::OK.into_response(),
        SlackBody::Signed { body, stamp } => (body, stamp),
    };
    let payload = match ActionPayload::from_body(&body) {
        Ok(payload) => payload,
        Err(error) => {
            state.metrics.rejected(Rejection::NotACommand);
            tracing::warn!(%error, "signed request is not a usable interaction");
            return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
        }
    };
    if payload.kind != "block_actions" {
        tracing::info!(kind = ?payload.kind, "ignored an interaction of a kind we do not handle");
        return StatusCode::OK.into_response();
    }
    let hosts = state.jobs.runner().teller().hosts();
    let (Some(action), Some(presser), Some(reply_to)) = (
        payload.actions.first(),
        payload.user.as_ref().and_then(|u| ChatId::parse(&u.id)),
        payload
            .response_url
            .as_deref()
            .and_then(|url| hosts.check_hook(url).ok()),
    ) else {
        state.metrics.rejected(Rejection::NotACommand);
        tracing::warn!("a button press without an action, a user or a Slack response_url");
        return StatusCode::BAD_REQUEST.into_response();
    };
    let reply_to = ReplyTo::new(reply_to.as_str());
    // A press is acted on once: a captured one played again does nothing.
    if !state
        .replays
        .first_use(stamp.timestamp, &stamp.signature, now())
    {
        state.metrics.rejected(Rejection::Replay);
        tracing::warn!("refused a signed button press played again");
        return StatusCode::OK.into_response();
    }
    let opened = state
        .jobs
        .runner()
        .teller()
        .buttons()
        .ok_or("this service has no signing secret to check buttons with")
        .and_then(|buttons| {
            buttons
                .open(action.value.as_deref().unwrap_or_default(), now())
                .map_err(|e| match e {
                    crate::slack::sealed::SealError::Expired => "this button has expired",
                    crate::slack::sealed::SealError::Forged => {
                        "this button is not one of throttle-bot's (or was altered)"
                    }
                })
        });
    let value = match opened {
        Ok(value) => value,
        Err(why) => {
            if let Some(suppressed) = state.rejection_log.admit() {
                tracing::warn!(
                    user = presser.as_str(),
                    why,
                    suppressed,
                    "refused a button press"
                );
            }
            let message = render::press_refused(&format!("{why}; nothing was changed"));
            state.jobs.tell(reply_to, message, None).await;
            return StatusCode::OK.into_response();
        }
    };
    let team = payload.team.as_ref().and_then(|t| ChatId::parse(&t.id));
    let channel = payload.channel.as_ref().and_then(|c| ChatId::parse(&c.id));
    let Some(author) = author_of(&value) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let is_author = presser == author.user;
    let is_approver = value.approvers.iter().any(|a| a == presser.as_str());
    let (via, requester, gates) = match value.press {
        Press::Cancel | Press::Apply if !is_author => {
            let message = render::press_refused(&format!(
                "only <@{}> can {} this change; nothing was changed",
                author.user,
                value.press.label().to_lowercase()
            ));
            state.jobs.tell(reply_to, message, None).await;
            return StatusCode::OK.into_response();
        }
        Press::Cancel => {
            let message = render::closed(
                &format!(":wastebasket: Cancelled by <@{presser}>. Nothing was changed."),
                false,
            );
            state.jobs.tell(reply_to, message, None).await;
            return StatusCode::OK.into_response();
        }
        Press::Reject if !is_approver && !is_author => {
            let message = render::press_refused(&format!(
                "you are not an approver of this change (approvers: {}); nothing was changed",
                value
                    .approvers
                    .iter()
                    .map(|a| format!("<@{a}>"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            state.jobs.tell(reply_to, message, None).await;
            return StatusCode::OK.into_response();
        }
        Press::Reject => {
            let text = format!(
                ":no_entry_sign: Rejected by <@{presser}>: <@{}>'s request to run {}. Nothing was changed.",
                author.user,
                render::quoted(&value.text)
            );
            let notice = render::notice_text(&text);
            state
                .jobs
                .tell(reply_to, render::closed(&text, true), Some(notice))
                .await;
            return StatusCode::OK.into_response();
        }
        Press::Apply => (
            Via::Apply,
            author,
            Gates {
                expect: expected(&value),
                confirmed: true,
                ..Gates::default()
            },
        ),
        Press::Undo => (
            Via::Undo,
            ChatUser {
                user: presser.clone(),
                channel,
                team,
                command: author.command.clone(),
            },
            Gates {
                expect: expected(&value),
                confirmed: true,
                ..Gates::default()
            },
        ),
        Press::Approve => (
            Via::Approve,
            author,
            Gates {
                expect: expected(&value),
                approved_by: Some(presser.clone()),
                ..Gates::default()
            },
        ),
    };
    let Ok(Request::Change(change)) = parse_text(&value.text) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let ask = Ask {
        id: RequestId::new(),
        origin: Origin {
            requester: Requester::User(requester),
            reply_to: Some(reply_to.clone()),
            via,
        },
        text: value.text.clone(),
        work: Work::Change(change),
        gates,
    };
    span(&ask.id).in_scope(|| {
        tracing::info!(
            user = presser.as_str(),
            button = value.press.label(),
            "button pressed"
        )
    });
    if state.jobs.submit(ask, deadline.map(|d| d.0)).await == Submitted::Busy {
        let message = render::press_refused(
            "throttle-bot is busy; nothing was changed, press again in a moment",
        );
        state.jobs.tell(reply_to, message, None).await;
    }
    StatusCode::OK.into_response()
}

/// Who asked for the change a button carries.
fn author_of(value: &ButtonValue) -> Option<ChatUser> {
    Some(ChatUser {
        user: ChatId::parse(&value.author)?,
        channel: value.channel.as_deref().and_then(ChatId::parse),
        team: value.team.as_deref().and_then(ChatId::parse),
        command: "/throttle".to_owned(),
    })
}

fn expected(value: &ButtonValue) -> Option<Configured> {
    value.expect.map(|(rate, burst)| Configured { rate, burst })
}
