//! The form: `/throttle` alone (or `/throttle new`) opens a modal where a bot token allows;
//! the API picker's suggestions come from the name caches of every target; a submission is
//! turned into the command it stands for and triaged exactly as that command typed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::commands::{Once, Triage, triage};
use crate::core::clock::unix_now;
use crate::core::grammar::{ListRequest, Request};
use crate::core::ports::Gateway;
use crate::core::requester::{ChatId, ChatUser, ReplyTo, RequestId, Requester};
use crate::jobs::{InvocationDeadline, Submitted};
use crate::slack::form::SlashCommandForm;
use crate::slack::modal::{self, FormOrigin, Forms};
use crate::slack::render;
use crate::slack::web_api::Body;

/// A form to open: for whom, where its answers go, and the trigger that lets us open it.
pub struct FormRequest {
    origin: FormOrigin,
    trigger_id: String,
}

/// How long `views.open` may take: the trigger itself lasts 3 s from the command.
const OPEN_TIMEOUT: Duration = Duration::from_millis(2500);

/// How long the API picker waits for the listings (Slack waits 3 s for its options).
const SUGGEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The form, when it can be opened: a bot token to call `views.open` with and a trigger id
/// that looks like Slack's. Without a token, `None` (the usage, as before), said once in the log.
pub(super) fn form_request(
    state: &Shared,
    requester: &Requester,
    reply_to: &ReplyTo,
    form: &SlashCommandForm<'_>,
) -> Option<FormRequest> {
    static TOLD: AtomicBool = AtomicBool::new(false);
    if state.jobs.runner().teller().web_api().is_none() {
        if !TOLD.swap(true, Ordering::Relaxed) {
            tracing::info!(
                "SLACK_BOT_TOKEN is not set: `/throttle` alone shows the usage instead of opening the form (views.open needs the bot token)"
            );
        }
        return None;
    }
    let trigger_id = form.trigger_id.as_deref()?.trim();
    let looks_like_slacks = !trigger_id.is_empty()
        && trigger_id.len() <= 255
        && trigger_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let who = requester.user()?;
    looks_like_slacks.then(|| FormRequest {
        origin: FormOrigin {
            user: who.user.to_string(),
            channel: who.channel.as_ref().map(ToString::to_string),
            team: who.team.as_ref().map(ToString::to_string),
            command: who.command.clone(),
            response_url: reply_to.as_str().to_owned(),
        },
        trigger_id: trigger_id.to_owned(),
    })
}

/// Acknowledges with an empty 200 (Slack shows nothing) and opens the form within the
/// trigger's 3 s: from a task as a server, so the acknowledgement makes no network call;
/// before the answer on Lambda, where nothing runs after it.
pub(super) async fn open(
    state: &Shared,
    deadline: Option<InvocationDeadline>,
    form: FormRequest,
) -> Response {
    let tracker = state.jobs.tracker();
    let shared = std::sync::Arc::clone(state);
    let work = async move { open_now(&shared, form).await };
    match deadline {
        Some(_) => work.await,
        None => {
            tracker.spawn(tracing::Instrument::in_current_span(work));
        }
    }
    StatusCode::OK.into_response()
}

/// `views.open`; when it fails, the person gets the usage on the command's reply address, with
/// why (the command still works typed).
async fn open_now(state: &Shared, form: FormRequest) {
    let teller = state.jobs.runner().teller();
    let Some((http, web_api)) = teller.web_api() else {
        return;
    };
    let reply_to = ReplyTo::new(form.origin.response_url.clone());
    let command = form.origin.command.clone();
    let view = Forms::new(&state.secret).view(form.origin, unix_now());
    let body = json!({ "trigger_id": form.trigger_id, "view": view });
    let opened = tokio::time::timeout(
        OPEN_TIMEOUT,
        web_api.call(http, "views.open", Body::Json(&body)),
    )
    .await;
    let why = match opened {
        Ok(Ok(_)) => {
            tracing::info!("opened the form");
            return;
        }
        Ok(Err(error)) => error.to_string(),
        Err(_) => "Slack did not answer in time".to_owned(),
    };
    tracing::warn!(why, "could not open the form; sent the usage instead");
    let mut message = render::usage(&command);
    let note = format!(
        ":warning: The form could not be opened ({}); type the command instead.\n\n",
        render::escape(&why)
    );
    if let Some(text) = message["text"].as_str() {
        message["text"] = json!(format!("{note}{text}"));
    }
    message["blocks"] =
        json!([{ "type": "section", "text": { "type": "mrkdwn", "text": note.trim_end() } }])
            .as_array()
            .into_iter()
            .flatten()
            .chain(message["blocks"].as_array().into_iter().flatten())
            .cloned()
            .collect();
    if let Err(error) = teller.respond(&reply_to, &message).await {
        tracing::warn!(%error, "could not tell that the form could not be opened");
    }
}

/// A `view_submission`: one of our forms (by its `callback_id` and sealed metadata), read
/// into the command it stands for. Mistakes go back on their fields and keep the form open;
/// otherwise the form closes and the command is triaged as typed, its answers on the reply
/// address of the `/throttle` that opened the form.
pub(super) async fn submitted(
    state: &Shared,
    deadline: Option<InvocationDeadline>,
    payload: &Value,
    once: Once<'_>,
) -> Response {
    let view = &payload["view"];
    if view["callback_id"] != modal::CALLBACK_ID {
        return StatusCode::OK.into_response();
    }
    let metadata = view["private_metadata"].as_str().unwrap_or_default();
    let origin = match Forms::new(&state.secret).open(metadata, unix_now()) {
        Ok(origin) => origin,
        Err(error) => {
            tracing::warn!(%error, "refused a form submission");
            let errors = [(
                modal::API,
                "This form has expired or is not throttle-bot's; close it and open a new one."
                    .to_owned(),
            )]
            .into_iter()
            .collect();
            return Json(modal::errors_answer(&errors)).into_response();
        }
    };
    if payload["user"]["id"].as_str() != Some(origin.user.as_str()) {
        tracing::warn!("refused a form submitted by someone other than who opened it");
        return StatusCode::BAD_REQUEST.into_response();
    }
    let text = match modal::command_text(&view["state"]["values"]) {
        Ok(text) => text,
        Err(errors) => return Json(modal::errors_answer(&errors)).into_response(),
    };
    let body = command_form(&origin, &text);
    let reply_to = ReplyTo::new(origin.response_url.clone());
    match triage(state, &body, once) {
        Triage::Answered(answer) => {
            if let Some(message) = json_of(answer).await {
                state.jobs.tell(reply_to, message, None).await;
            }
        }
        Triage::Refused {
            requester,
            outcome,
            reply,
        } => {
            Box::pin(state.jobs.refused(RequestId::new(), requester, outcome)).await;
            if let Some(reply) = reply {
                state.jobs.tell(reply_to, reply, None).await;
            }
        }
        Triage::Accepted { ask, command, .. } => {
            if Box::pin(state.jobs.submit(ask, deadline)).await == Submitted::Busy {
                state
                    .jobs
                    .tell(reply_to, render::busy(&command), None)
                    .await;
            }
        }
        Triage::Form(_) => {}
    }
    StatusCode::OK.into_response()
}

/// The JSON body of an answer, if it has one.
async fn json_of(answer: Response) -> Option<Value> {
    let bytes = axum::body::to_bytes(answer.into_body(), 64 * 1024)
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A `block_suggestion` from the form's API picker: the APIs of every target (from the
/// listings' caches, refreshed at most as a lookup by name would) that the policy reaches,
/// whose name or id holds what was typed. Someone from another workspace gets none.
pub(super) async fn suggest(state: &Shared, payload: &Value) -> Response {
    let empty = || Json(json!({ "options": [] })).into_response();
    if payload["action_id"] != modal::API_ACTION {
        return empty();
    }
    let Some(user) = payload["user"]["id"].as_str().and_then(ChatId::parse) else {
        return empty();
    };
    let team = payload["user"]["team_id"]
        .as_str()
        .or(payload["team"]["id"].as_str())
        .and_then(ChatId::parse);
    let requester = Requester::User(ChatUser {
        user,
        channel: None,
        team,
        command: "/throttle".to_owned(),
    });
    let runner = state.jobs.runner();
    // Names are shown only to whom the policy lets read them (its `readers`).
    let list = Request::List(ListRequest { target: None });
    if runner.screen(&requester, Some(&list)).is_err() {
        return empty();
    }
    let gateway = runner.gateway();
    let apis = match tokio::time::timeout(SUGGEST_TIMEOUT, gateway.apis()).await {
        Ok(Ok(apis)) => apis,
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not list APIs for the form's picker");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!("the APIs for the form's picker were not listed in time");
            Vec::new()
        }
    };
    let mut labelled: Vec<(String, String)> = apis
        .into_iter()
        .filter(|api| runner.reaches(api))
        .map(|api| {
            let label = match gateway.known_name(&api) {
                Some(name) => format!("{name} ({api})"),
                None => api.to_string(),
            };
            (api.to_string(), label)
        })
        .collect();
    labelled.sort_by_key(|(_, label)| label.to_lowercase());
    let typed = payload["value"].as_str().unwrap_or_default();
    Json(modal::api_options(&labelled, typed)).into_response()
}

/// A form's submission or its picker's question, from an interaction's form body.
pub(super) async fn dispatch(
    state: &Shared,
    deadline: Option<InvocationDeadline>,
    body: &[u8],
    once: Once<'_>,
) -> Response {
    let payload: Option<Value> = form_urlencoded::parse(body)
        .find(|(key, _)| key == "payload")
        .and_then(|(_, payload)| serde_json::from_str(&payload).ok());
    let Some(payload) = payload else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match payload["type"].as_str() {
        Some("block_suggestion") => suggest(state, &payload).await,
        Some("view_submission") => submitted(state, deadline, &payload, once).await,
        _ => StatusCode::OK.into_response(),
    }
}

/// The slash-command form the submission stands for, as Slack would have sent it typed.
fn command_form(origin: &FormOrigin, text: &str) -> Vec<u8> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("user_id", &origin.user)
        .append_pair("command", &origin.command)
        .append_pair("text", text)
        .append_pair("response_url", &origin.response_url);
    for (key, value) in [("channel_id", &origin.channel), ("team_id", &origin.team)] {
        if let Some(value) = value {
            form.append_pair(key, value);
        }
    }
    form.finish().into_bytes()
}
