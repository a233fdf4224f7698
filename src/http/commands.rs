//! `POST /slack/commands`: verified by the extractor; here parsed, handed to the pipeline, and
//! acknowledged.

use axum::extract::State;
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::signed::SlackBody;
use super::{AppState, Shared};
use crate::core::clock::unix_now;
use crate::core::grammar::{
    PlanRequest, Request, TimedKind, asks_for_form, parse_text, wants_break_glass,
};
use crate::core::outcome::{Label, News, Outcome};
use crate::core::ports::Gateway;
use crate::core::requester::{RequestId, Requester, Via};
use crate::core::runner::{Ask, Gates, Origin, Work};
use crate::jobs::{InvocationDeadline, Submitted, span};
use crate::metrics::Rejection;
use crate::policy::Denial;
use crate::slack::form::SlashCommandForm;
use crate::slack::render;
use crate::slack::signature::Digest;

pub async fn slash_command(
    State(state): State<Shared>,
    deadline: Option<Extension<InvocationDeadline>>,
    body: SlackBody,
) -> Response {
    let (body, stamp) = match body {
        SlackBody::SslCheck => return StatusCode::OK.into_response(),
        SlackBody::Signed { body, stamp } => (body, stamp),
    };
    let once = Once::Signed(stamp.timestamp, &stamp.signature);
    command(&state, deadline.map(|d| d.0), &body, once).await
}

/// How a request is known to be acted on once.
#[derive(Debug, Clone, Copy)]
pub enum Once<'a> {
    /// A signed HTTP request: its timestamp and signature's bytes, remembered while valid.
    Signed(i64, &'a Digest),
    /// A Socket Mode envelope: the socket already handed over each `envelope_id` once.
    Delivered,
}

impl Once<'_> {
    /// Whether this is the first time the request is acted on.
    pub(super) fn first_use(self, state: &AppState) -> bool {
        match self {
            Self::Signed(timestamp, signature) => {
                state.replays.first_use(timestamp, signature, unix_now())
            }
            Self::Delivered => true,
        }
    }
}

/// A slash command's form as Slack sent it (verified by its signature over HTTP, or delivered
/// over the authenticated Socket Mode connection): parsed, handed to the pipeline, answered.
pub async fn command(
    state: &Shared,
    deadline: Option<InvocationDeadline>,
    body: &[u8],
    once: Once<'_>,
) -> Response {
    // Sorted without awaiting anything, so that what most requests are (`help`, a typo) is
    // answered without this future ever holding the form: it stays small, and needs no box.
    match triage(state, body, once) {
        Triage::Answered(response) => response,
        Triage::Refused {
            requester,
            outcome,
            reply,
        } => {
            // Boxed, as is `submit` below: rare, and this future stays small.
            Box::pin(state.jobs.refused(RequestId::new(), requester, outcome)).await;
            Json(reply).into_response()
        }
        Triage::Form(form) => Box::pin(super::views::open(state, deadline, form)).await,
        Triage::Accepted { ask, ack, command } => {
            match Box::pin(state.jobs.submit(ask, deadline)).await {
                Submitted::Finished => StatusCode::OK.into_response(),
                Submitted::Running | Submitted::Deferred => Json(ack).into_response(),
                Submitted::Busy => Json(render::busy(&command)).into_response(),
            }
        }
    }
}

/// What a command comes to before anything is awaited.
// One per request, moved once from triage to its answer: boxing the outcome would buy nothing
// but an allocation (as for the runner's `Step`).
#[allow(clippy::large_enum_variant)]
pub(super) enum Triage {
    /// Answered at once (help, a typo, a replay, a malformed form).
    Answered(Response),
    /// Refused by the policy's screen: told to the audit channel, then answered.
    Refused {
        requester: Requester,
        outcome: Outcome,
        reply: Option<serde_json::Value>,
    },
    /// `/throttle` alone, or `/throttle new`, where the form can be opened.
    Form(super::views::FormRequest),
    /// Work for the pipeline, acknowledged with `ack`.
    Accepted {
        ask: Ask,
        ack: serde_json::Value,
        command: String,
    },
}

pub(super) fn triage(state: &Shared, body: &[u8], once: Once<'_>) -> Triage {
    let form = match SlashCommandForm::from_body(body) {
        Ok(form) if form.is_ssl_check() => return Triage::Answered(StatusCode::OK.into_response()),
        Ok(form) => form,
        Err(error) => return Triage::Answered(malformed(state, error)),
    };
    let hosts = state.jobs.runner().teller().hosts();
    let (who, reply_to) = match form.requester(hosts) {
        Ok(found) => found,
        Err(error) => return Triage::Answered(malformed(state, error)),
    };
    let command = who.command.clone();
    let requester = Requester::User(who);
    let request = parse_text(&form.text);
    let change = match &request {
        Ok(Request::Change(change)) => Some(change),
        _ => None,
    };
    if request.as_ref().is_ok_and(changes_something) && !once.first_use(state) {
        state.metrics.rejected(Rejection::Replay);
        if let Some(suppressed) = state.rejection_log.admit() {
            tracing::warn!(suppressed, "refused a signed request played again");
        }
        return Triage::Answered(Json(render::replayed()).into_response());
    }
    if let Err(denial) = state
        .jobs
        .runner()
        .screen(&requester, request.as_ref().ok())
    {
        // Another workspace learns nothing about its text, not even whether it parsed.
        let change = change
            .filter(|_| !matches!(denial, Denial::ForeignWorkspace { .. }))
            .cloned();
        let outcome = Outcome::Refused {
            text: form.text.into_owned(),
            change,
            denial,
        };
        let news = News {
            requester: &requester,
            via: Via::Command,
            outcome: &outcome,
        };
        let reply = render::reply(&news, None);
        return Triage::Refused {
            requester,
            outcome,
            reply,
        };
    }
    if asks_for_form(&form.text)
        && let Some(wanted) = super::views::form_request(state, &requester, &reply_to, &form)
    {
        return Triage::Form(wanted);
    }
    let (work, ack) = match request {
        Ok(Request::Help) => {
            state.jobs.runner().count(Label::Help);
            return Triage::Answered(usage_reply(&command));
        }
        Err(error) => {
            state.jobs.runner().count(Label::Invalid);
            tracing::info!(error = ?error.to_string(), "refused a command that does not parse");
            return Triage::Answered(Json(render::invalid(&command, &error)).into_response());
        }
        Ok(Request::Change(change)) => {
            let ack = render::accepted(&change);
            (Work::Change(change), ack)
        }
        Ok(Request::Show(show)) => {
            let ack = render::looking_up(&show);
            (Work::Show(show), ack)
        }
        Ok(Request::List(list)) => {
            let ack = render::listing_apis(&list);
            (Work::List(list), ack)
        }
        Ok(Request::Plan(request)) => {
            let wait = match &request {
                PlanRequest::Change(change) => state
                    .jobs
                    .runner()
                    .gateway()
                    .plan_wait(change.plan.target()),
                // `restore plan` writes at the plan's turn; `extend plan` only tags the plan.
                PlanRequest::Timed(timed) if timed.kind == TimedKind::RestoreNow => {
                    state.jobs.runner().gateway().plan_wait(timed.plan.target())
                }
                PlanRequest::Show(_) | PlanRequest::Timed(_) => Duration::ZERO,
            };
            let ack = render::plans::accepted(&request, wait);
            (Work::Plan(request), ack)
        }
        Ok(Request::Timed(request)) => {
            let ack = render::timed::accepted(&request);
            (Work::Timed(request), ack)
        }
    };
    let ask = Ask {
        id: RequestId::new(),
        origin: Origin {
            requester,
            reply_to: Some(reply_to),
            via: Via::Command,
            message_ts: None,
        },
        gates: Gates {
            break_glass: wants_break_glass(&form.text),
            ..Gates::default()
        },
        text: form.text.into_owned(),
        work,
    };
    span(&ask.id).in_scope(|| {
        let user = ask.origin.requester.user().map_or("", |u| u.user.as_str());
        tracing::info!(user, "command accepted");
    });
    Triage::Accepted { ask, ack, command }
}

/// Whatever may change something (a change, `extend`, `restore`, and the same for a usage
/// plan) is done once per signed request: a captured one played again changes nothing. Every
/// kind of request is named here, so a new one must be sorted.
fn changes_something(request: &Request) -> bool {
    match request {
        Request::Change(_) | Request::Timed(_) => true,
        Request::Plan(PlanRequest::Change(_) | PlanRequest::Timed(_)) => true,
        Request::Plan(PlanRequest::Show(_)) | Request::Show(_) | Request::List(_) => false,
        Request::Help => false,
    }
}

/// The usage, rendered and serialised once: `help` is the commonest request and its ~3 KB answer
/// never changes, so it is not escaped and serialised again each time. The first command name
/// asked under is remembered (a workspace has one); any other name is rendered fresh.
fn usage_reply(command: &str) -> Response {
    static FIRST: OnceLock<(String, &'static [u8])> = OnceLock::new();
    let render = |command: &str| {
        serde_json::to_vec(&render::usage(command)).expect("a JSON value serialises")
    };
    let (name, rendered) = FIRST.get_or_init(|| (command.to_owned(), Vec::leak(render(command))));
    let body = if name == command {
        Body::from(*rendered)
    } else {
        Body::from(render(command))
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn malformed(state: &AppState, error: impl std::fmt::Display) -> Response {
    state.metrics.rejected(Rejection::NotACommand);
    if let Some(suppressed) = state.rejection_log.admit() {
        tracing::warn!(%error, suppressed, "signed request is not a usable slash command");
    }
    (StatusCode::BAD_REQUEST, error.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatever_may_change_something_is_done_once_per_signed_request() {
        let guarded = |text: &str| changes_something(&parse_text(text).unwrap());
        for text in [
            "petstore prod 5 10",
            "reset petstore prod",
            "extend petstore prod 30m",
            "restore petstore prod",
            "plan gold 5 10",
            "reset plan gold",
            "extend plan gold 30m",
            "restore plan gold",
        ] {
            assert!(guarded(text), "{text}");
        }
        for text in ["help", "show petstore prod", "show plan gold", "show prod:"] {
            assert!(!guarded(text), "{text}");
        }
    }
}
