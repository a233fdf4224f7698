//! `POST /slack/commands`: verify, parse, acknowledge, and hand the change to a job.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::signed::SlackBody;
use crate::jobs::Submitted;
use crate::policy::Decision;
use crate::slack::command::{Invocation, Request, SlashCommandForm, parse_text};
use crate::slack::message;
use crate::throttler::Work;

pub async fn slash_command(State(state): State<AppState>, body: SlackBody) -> Response {
    let body = match body {
        SlackBody::SslCheck => return StatusCode::OK.into_response(),
        SlackBody::Signed(body) => body,
    };
    let form = match SlashCommandForm::from_body(&body) {
        Ok(form) => form,
        Err(error) => return malformed(&state, error),
    };
    if form.is_ssl_check() {
        return StatusCode::OK.into_response();
    }
    let who = match form.invocation() {
        Ok(who) => who,
        Err(error) => return malformed(&state, error),
    };
    let policy = state.policy.current();
    if let Some(Err(reason)) = policy
        .as_ref()
        .map(|p| p.admits_team(who.team_id.as_ref().map(|t| t.as_str())))
    {
        state.metrics.command("denied");
        tracing::warn!(
            user = who.user_id.as_str(),
            team = who.team_id.as_ref().map_or("", |t| t.as_str()),
            outcome = "denied",
            "refused a command from another workspace"
        );
        state
            .jobs
            .audit(message::audit_foreign(&who, &form.text, &reason))
            .await;
        return Json(message::foreign_workspace(&reason)).into_response();
    }
    match parse_text(&form.text) {
        Ok(Request::Help) => {
            state.metrics.command("help");
            Json(message::usage(&who.command)).into_response()
        }
        Err(error) => {
            state.metrics.command("invalid");
            tracing::info!(user = who.user_id.as_str(), %error, "refused a command that does not parse");
            Json(message::invalid(&who.command, &error)).into_response()
        }
        Ok(Request::Change(change)) => {
            // Refuse at once what the policy refuses on what was typed; a decision that needs
            // the API's other name is made in the job, where AWS may be called.
            if let Some(Decision::Deny { reason }) = policy
                .as_ref()
                .map(|p| p.decide(who.subject(), &change, &[change.api.as_str()], false))
            {
                state.jobs.throttler().record_denial(&change, &who, &reason);
                state
                    .jobs
                    .audit(message::audit_denied(&change, &who, &reason))
                    .await;
                return Json(message::denied(&change, &reason)).into_response();
            }
            let ack = message::accepted(&change);
            submit(&state, Work::Change(change), who, &form.text, ack).await
        }
        Ok(Request::Show(request)) => {
            let ack = message::looking_up(&request);
            submit(&state, Work::Show(request), who, &form.text, ack).await
        }
    }
}

async fn submit(
    state: &AppState,
    work: Work,
    who: Invocation,
    text: &str,
    ack: serde_json::Value,
) -> Response {
    match state.jobs.submit(work, who, text).await {
        Submitted::Finished => StatusCode::OK.into_response(),
        Submitted::Running | Submitted::Deferred => Json(ack).into_response(),
    }
}

fn malformed(state: &AppState, error: impl std::fmt::Display) -> Response {
    state.metrics.rejected("not_a_command");
    tracing::warn!(%error, "signed request is not a usable slash command");
    (StatusCode::BAD_REQUEST, error.to_string()).into_response()
}
