//! `POST /slack/interactions`: a press of one of our buttons. Verified like a slash command
//! (the same extractor), acknowledged at once with an empty 200; the outcome goes to the
//! press's `response_url`.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::commands::Once;
use super::signed::SlackBody;
use super::{AppState, Shared};
use crate::core::clock::unix_now;
use crate::core::grammar::{PlanRequest, Request, parse_text};
use crate::core::outcome::{News, Outcome, PlanFailure};
use crate::core::requester::{ChatId, ChatUser, ReplyTo, RequestId, Requester, Via};
use crate::core::runner::{Ask, Gates, Origin, Work};
use crate::domain::PlanChange;
use crate::domain::{Configured, ThrottleChange};
use crate::jobs::{InvocationDeadline, Submitted, span};
use crate::metrics::Rejection;
use crate::policy::Denial;
use crate::slack::buttons::{ButtonValue, Press};
use crate::slack::interaction::ActionPayload;
use crate::slack::render;

pub async fn press(
    State(state): State<Shared>,
    deadline: Option<Extension<InvocationDeadline>>,
    body: SlackBody,
) -> Response {
    let (body, stamp) = match body {
        SlackBody::SslCheck => return StatusCode::OK.into_response(),
        SlackBody::Signed { body, stamp } => (body, stamp),
    };
    let once = Once::Signed(stamp.timestamp, &stamp.signature);
    Box::pin(interaction(&state, deadline.map(|d| d.0), &body, once)).await
}

/// An interaction's form as Slack sent it (verified over HTTP, or delivered over Socket Mode).
pub async fn interaction(
    state: &Shared,
    deadline: Option<InvocationDeadline>,
    body: &[u8],
    once: Once<'_>,
) -> Response {
    let payload = match ActionPayload::from_body(body) {
        Ok(payload) => payload,
        Err(error) => {
            state.metrics.rejected(Rejection::NotACommand);
            tracing::warn!(%error, "signed request is not a usable interaction");
            return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
        }
    };
    if matches!(
        payload.kind.as_str(),
        "view_submission" | "block_suggestion"
    ) {
        return Box::pin(super::views::dispatch(state, deadline, body, once)).await;
    }
    let on_home = payload.actions.first().is_some_and(|a| {
        a.action_id == Press::Extend.action_id() || a.action_id == Press::Restore.action_id()
    });
    if payload.kind == "block_actions" && on_home {
        return Box::pin(super::home::press(state, deadline, &payload, once)).await;
    }
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
    if !once.first_use(state) {
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
                .open(action.value.as_deref().unwrap_or_default(), unix_now())
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
    // Slack Connect: the presser's own workspace, not the channel's host.
    let team = payload.presser_team().and_then(ChatId::parse);
    let channel = payload.channel.as_ref().and_then(|c| ChatId::parse(&c.id));
    // One outcome per preview or approval request: the first press that ends it wins; a
    // double click, or Approve and Reject pressed together, finds it answered.
    let key = press_key(&value, payload.message_ts_any());
    let answered = || !state.presses.first_use(unix_now(), &key, unix_now());
    let already = || {
        render::press_refused("this was already answered by another press; nothing more was done")
    };
    let Some(pressed) = Pressed::read(&value.text) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    // A press that cannot be allowed (not an approver, or no rule could allow it) is refused
    // before any AWS call, and audited at the same bounded rate per person as a refused
    // command.
    let allowed = match handling(&value, &presser, channel, team) {
        Some(Handling::Run(via, requester, gates)) => {
            let requester = Requester::User(requester);
            let screened = state
                .jobs
                .runner()
                .screen(&requester, Some(&pressed.request()));
            match screened {
                Ok(()) => Ok((via, requester, gates)),
                Err(denial) => Err((via, requester, denial)),
            }
        }
        Some(Handling::Refuse(via, presser, denial)) => {
            Err((via, Requester::User(presser), denial))
        }
        Some(Handling::Close(_, _)) if answered() => {
            state.jobs.tell(reply_to, already(), None).await;
            return StatusCode::OK.into_response();
        }
        Some(Handling::Tell(message, notice) | Handling::Close(message, notice)) => {
            state.jobs.tell(reply_to, message, notice).await;
            return StatusCode::OK.into_response();
        }
        None => return StatusCode::BAD_REQUEST.into_response(),
    };
    let (via, requester, gates) = match allowed {
        Ok(allowed) => allowed,
        Err((via, requester, denial)) => {
            let outcome = pressed.refused(&value.text, denial);
            refuse(state, reply_to, requester, via, outcome).await;
            return StatusCode::OK.into_response();
        }
    };
    if via != Via::Undo && answered() {
        state.jobs.tell(reply_to, already(), None).await;
        return StatusCode::OK.into_response();
    }
    let ask = Ask {
        id: RequestId::new(),
        origin: Origin {
            requester,
            reply_to: Some(reply_to.clone()),
            via,
            message_ts: payload.message_ts().map(str::to_owned),
        },
        text: value.text.clone(),
        work: pressed.work(),
        gates,
    };
    span(&ask.id).in_scope(|| {
        tracing::info!(
            user = presser.as_str(),
            button = value.press.label(),
            "button pressed"
        )
    });
    // A press that could not run, or failed for a reason that may pass (AWS throttled or out
    // of reach), is not an answer: the same button may be pressed again.
    let presses = std::sync::Arc::clone(&state.presses);
    let release: crate::jobs::Done = Box::new(move |outcome| {
        if outcome.may_pass() {
            presses.forget(&key);
        }
    });
    if state.jobs.submit_then(ask, deadline, Some(release)).await == Submitted::Busy {
        state.presses.forget(&key);
        let message = render::press_refused(
            "throttle-bot is busy; nothing was changed, press again in a moment",
        );
        state.jobs.tell(reply_to, message, None).await;
    }
    StatusCode::OK.into_response()
}

/// Tells the presser why their press was refused, and audits it at the bounded per-person
/// rate of refused commands.
async fn refuse(
    state: &AppState,
    reply_to: ReplyTo,
    requester: Requester,
    via: Via,
    outcome: Outcome,
) {
    let news = News {
        requester: &requester,
        via,
        outcome: &outcome,
    };
    if let Some(mut message) = render::reply(&news, None) {
        // The request stays for whoever may answer it.
        message["replace_original"] = serde_json::json!(false);
        state.jobs.tell(reply_to, message, None).await;
    }
    state
        .jobs
        .refused(RequestId::new(), requester, outcome)
        .await;
}

/// The change a button carries: a stage's or a usage plan's.
enum Pressed {
    Stage(ThrottleChange),
    Plan(PlanChange),
}

impl Pressed {
    fn read(text: &str) -> Option<Self> {
        match parse_text(text) {
            Ok(Request::Change(change)) => Some(Self::Stage(change)),
            Ok(Request::Plan(PlanRequest::Change(change))) => Some(Self::Plan(change)),
            _ => None,
        }
    }

    fn request(&self) -> Request {
        match self {
            Self::Stage(change) => Request::Change(change.clone()),
            Self::Plan(change) => Request::Plan(PlanRequest::Change(change.clone())),
        }
    }

    fn work(self) -> Work {
        match self {
            Self::Stage(change) => Work::Change(change),
            Self::Plan(change) => Work::Plan(PlanRequest::Change(change)),
        }
    }

    /// The outcome of a press the policy refused before any AWS call.
    fn refused(&self, text: &str, denial: Denial) -> Outcome {
        match self {
            Self::Stage(change) => Outcome::Refused {
                text: text.to_owned(),
                change: Some(change.clone()),
                denial,
            },
            Self::Plan(change) => Outcome::PlanChanged {
                change: change.clone(),
                result: Err(PlanFailure::Denied(denial)),
            },
        }
    }
}

/// What a press leads to.
#[derive(Debug, PartialEq)]
enum Handling {
    /// Through the pipeline, as this person, with these second steps passed.
    Run(Via, ChatUser, Gates),
    /// The request ends here (Cancel, Reject): this message in place of it, and maybe an
    /// audit notice; nothing else.
    Close(serde_json::Value, Option<serde_json::Value>),
    /// A message to the presser only; the request stays.
    Tell(serde_json::Value, Option<serde_json::Value>),
    /// A press the policy cannot allow, refused before any AWS call; the request stays.
    Refuse(Via, ChatUser, Denial),
}

/// What one request (a preview, an approval request, a change's Undo) is, whichever of its
/// buttons was pressed: Apply and Cancel, or Approve and Reject, share it.
fn press_key(value: &ButtonValue, message_ts: Option<&str>) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let group = match value.press {
        Press::Undo => "undo",
        Press::Apply | Press::Cancel | Press::Approve | Press::Reject => "decide",
        Press::Extend | Press::Restore => "timed",
    };
    let identity = serde_json::json!([
        group,
        value.text,
        value.author,
        value.channel,
        value.expect,
        value.approvers,
        message_ts
    ]);
    Sha256::digest(identity.to_string().as_bytes()).into()
}

/// Who may press what: Apply and Cancel only the author; Reject an approver or the author;
/// Undo and Approve anyone, judged by the policy in the pipeline. `None` for a value that does
/// not name its author.
fn handling(
    value: &ButtonValue,
    presser: &ChatId,
    channel: Option<ChatId>,
    team: Option<ChatId>,
) -> Option<Handling> {
    let author = author_of(value)?;
    let is_author = *presser == author.user;
    let is_approver = value.approvers.iter().any(|a| a == presser.as_str());
    let expect = expected(value);
    Some(match value.press {
        // The Home tab's buttons are run by `super::home`, never here.
        Press::Extend | Press::Restore => return None,
        Press::Cancel | Press::Apply if !is_author => Handling::Tell(
            render::press_refused(&format!(
                "only <@{}> can {} this change; nothing was changed",
                author.user,
                value.press.label().to_lowercase()
            )),
            None,
        ),
        Press::Cancel => Handling::Close(
            render::closed(
                &format!(":wastebasket: Cancelled by <@{presser}>. Nothing was changed."),
                false,
            ),
            None,
        ),
        Press::Reject if !is_approver && !is_author => {
            let approvers: Vec<String> =
                value.approvers.iter().map(|a| format!("<@{a}>")).collect();
            Handling::Tell(
                render::press_refused(&format!(
                    "you are not an approver of this change (approvers: {}); nothing was changed",
                    approvers.join(", ")
                )),
                None,
            )
        }
        // Only an approver (never the author) may approve: refused here, before any AWS call;
        // the pipeline checks again against the policy in force when it acts.
        Press::Approve if !is_approver || is_author => Handling::Refuse(
            Via::Approve,
            ChatUser {
                user: presser.clone(),
                channel,
                team,
                command: author.command,
            },
            Denial::NotAnApprover {
                user: presser.clone(),
                author: is_author,
                approvers: value
                    .approvers
                    .iter()
                    .filter_map(|a| ChatId::parse(a))
                    .collect(),
            },
        ),
        Press::Reject => {
            let text = format!(
                ":no_entry_sign: Rejected by <@{presser}>: <@{}>'s request to run {}. Nothing was changed.",
                author.user,
                render::quoted(&value.text)
            );
            Handling::Close(
                render::closed(&text, true),
                Some(render::notice_text(&text)),
            )
        }
        Press::Apply => Handling::Run(
            Via::Apply,
            author,
            Gates {
                expect,
                confirmed: true,
                break_glass: value.break_glass,
                ..Gates::default()
            },
        ),
        // Undo is the change it equals, typed by the presser: the same risk, confirmation and
        // approval rules apply (undoing a recovery from 0/0 is previewed like typing 0 0).
        Press::Undo => Handling::Run(
            Via::Undo,
            ChatUser {
                user: presser.clone(),
                channel,
                team,
                command: author.command,
            },
            Gates {
                expect,
                ..Gates::default()
            },
        ),
        Press::Approve => Handling::Run(
            Via::Approve,
            author,
            Gates {
                expect,
                approved_by: Some(presser.clone()),
                ..Gates::default()
            },
        ),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn value(press: Press) -> ButtonValue {
        ButtonValue {
            press,
            text: "a1b2c3d4e5 prod 0 10".to_owned(),
            author: "U0AUTHOR".to_owned(),
            channel: Some("C0OPS".to_owned()),
            team: Some("T1".to_owned()),
            expect: Some((Some(100.0), Some(200))),
            approvers: vec!["U0APPROVER".to_owned()],
            break_glass: false,
        }
    }

    fn outcome(press: Press, presser: &str) -> &'static str {
        match handling(&value(press), &ChatId::parse(presser).unwrap(), None, None) {
            Some(Handling::Run(via, requester, gates)) => {
                assert_eq!(
                    gates.expect,
                    Some(Configured {
                        rate: Some(100.0),
                        burst: Some(200)
                    })
                );
                match via {
                    Via::Apply => {
                        assert!(gates.confirmed && requester.user.as_str() == "U0AUTHOR");
                        "apply as the author"
                    }
                    Via::Undo => {
                        assert!(!gates.confirmed && requester.user.as_str() == presser);
                        "undo as the presser"
                    }
                    Via::Approve => {
                        assert_eq!(
                            gates.approved_by.as_ref().map(ChatId::as_str),
                            Some(presser)
                        );
                        assert_eq!(requester.user.as_str(), "U0AUTHOR");
                        "approve for the author"
                    }
                    Via::Command => "command",
                }
            }
            Some(Handling::Close(message, notice)) => {
                assert_eq!(message["replace_original"], true);
                if notice.is_some() {
                    "close and audit"
                } else {
                    "close"
                }
            }
            Some(Handling::Tell(..)) => "tell the presser",
            Some(Handling::Refuse(..)) => "refuse before any AWS call",
            None => "refuse",
        }
    }

    #[test]
    fn apply_and_cancel_or_approve_and_reject_answer_the_same_request() {
        let key = |press, ts| press_key(&value(press), ts);
        assert_eq!(
            key(Press::Apply, Some("1.2")),
            key(Press::Cancel, Some("1.2"))
        );
        assert_eq!(
            key(Press::Approve, Some("1.2")),
            key(Press::Reject, Some("1.2"))
        );
        assert_ne!(
            key(Press::Apply, Some("1.2")),
            key(Press::Apply, Some("1.3"))
        );
        assert_ne!(
            key(Press::Undo, Some("1.2")),
            key(Press::Apply, Some("1.2"))
        );
        let mut other = value(Press::Apply);
        other.expect = Some((Some(1.0), Some(1)));
        assert_ne!(
            press_key(&other, Some("1.2")),
            key(Press::Apply, Some("1.2"))
        );
    }

    #[test]
    fn who_may_press_what() {
        for (press, presser, expected) in [
            (Press::Apply, "U0AUTHOR", "apply as the author"),
            (Press::Apply, "U0OTHER", "tell the presser"),
            (Press::Cancel, "U0AUTHOR", "close"),
            (Press::Cancel, "U0OTHER", "tell the presser"),
            (Press::Undo, "U0OTHER", "undo as the presser"),
            (Press::Approve, "U0APPROVER", "approve for the author"),
            // An author or a stranger approving is refused before any AWS call (and the
            // pipeline checks again with the policy in force).
            (Press::Approve, "U0OTHER", "refuse before any AWS call"),
            (Press::Approve, "U0AUTHOR", "refuse before any AWS call"),
            (Press::Reject, "U0APPROVER", "close and audit"),
            (Press::Reject, "U0AUTHOR", "close and audit"),
            (Press::Reject, "U0OTHER", "tell the presser"),
        ] {
            assert_eq!(outcome(press, presser), expected, "{press:?} by {presser}");
        }
    }
}
