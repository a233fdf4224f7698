//! The Home tab: `POST /slack/events` (the Events API, Slack's `url_verification` included)
//! and Socket Mode's `events_api` envelopes; `app_home_opened` publishes the viewer's Home
//! (`views.publish`) with the timed changes in force they may see and the last changes made
//! through this process. Its Extend and Restore buttons run `extend`/`restore` as the presser
//! typing them; the outcome is told where the timed change was made and on the Home tab.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::Shared;
use super::commands::Once;
use super::signed::SlackBody;
use crate::core::clock::unix_now;
use crate::core::grammar::{ListRequest, Request, parse_text};
use crate::core::outcome::News;
use crate::core::ports::Gateway;
use crate::core::requester::{ChatId, ChatUser, RequestId, Requester, Via};
use crate::core::runner::{Ask, Gates, Origin, ReplyOnce, Work};
use crate::domain::{ApiId, Holder, StageView};
use crate::jobs::InvocationDeadline;
use crate::slack::home::{InForce, MAX_SHOWN, home_view};
use crate::slack::interaction::ActionPayload;
use crate::slack::render;
use crate::slack::web_api::Body;

/// The timed changes in force are read at most this often (a stage read per API each time).
const IN_FORCE_TTL: Duration = Duration::from_secs(30);

/// Where the tagging API cannot say which stages hold timed changes, at most this many APIs'
/// stages are read for the Home tab (one management call each).
const APIS_READ: usize = MAX_SHOWN;

/// `POST /slack/events`, verified like every request from Slack.
pub async fn event(
    State(state): State<Shared>,
    deadline: Option<Extension<InvocationDeadline>>,
    body: SlackBody,
) -> Response {
    let SlackBody::Signed { body, .. } = body else {
        return StatusCode::OK.into_response();
    };
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if payload["type"] == "url_verification" {
        let challenge = payload["challenge"].as_str().unwrap_or_default();
        return Json(json!({ "challenge": challenge })).into_response();
    }
    delivered(&state, deadline.map(|d| d.0), &payload).await;
    StatusCode::OK.into_response()
}

/// An Events API payload (over HTTP, or a Socket Mode `events_api` envelope's): the Home
/// tab opened is published, from a task as a server (the acknowledgement makes no call).
pub async fn delivered(state: &Shared, deadline: Option<InvocationDeadline>, payload: &Value) {
    let event = &payload["event"];
    if payload["type"] != "event_callback"
        || event["type"] != "app_home_opened"
        || event["tab"] != "home"
    {
        return;
    }
    let Some(user) = event["user"].as_str().and_then(ChatId::parse) else {
        return;
    };
    let team = payload["team_id"].as_str().and_then(ChatId::parse);
    let viewer = ChatUser {
        user,
        channel: None,
        team,
        command: "/throttle".to_owned(),
    };
    let shared = Arc::clone(state);
    let work = async move { publish(&shared, &viewer, None).await };
    match deadline {
        Some(_) => work.await,
        None => {
            state.jobs.tracker().spawn(work);
        }
    }
}

/// The timed changes in force as read, and when.
type ReadAt = (Instant, Vec<InForce>);

/// The timed changes in force on the APIs the policy reaches, read at most every
/// [`IN_FORCE_TTL`] for every viewer (cleared by a press on the Home tab).
fn in_force_cache() -> &'static Mutex<Option<ReadAt>> {
    static CACHE: OnceLock<Mutex<Option<ReadAt>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

async fn in_force(state: &Shared) -> Vec<InForce> {
    if let Some((at, found)) = &*in_force_cache().lock().expect("home cache")
        && at.elapsed() < IN_FORCE_TTL
    {
        return found.clone();
    }
    let gateway = state.jobs.runner().gateway();
    let mut found = Vec::new();
    for (api, view) in holding_stages(state).await {
        for record in view.timed {
            found.push(InForce {
                api: api.to_string(),
                name: gateway.known_name(&api),
                stage: view.stage.clone(),
                record,
            });
        }
    }
    found.sort_by_key(|timed| timed.record.until);
    *in_force_cache().lock().expect("home cache") = Some((Instant::now(), found.clone()));
    found
}

/// The stages the policy reaches that may hold timed changes, read (at most [`APIS_READ`]
/// reads): those carrying this deployment's marker, found with one `GetResources` per target
/// (the sweep's index, so the reads follow the records in force, not the fleet); where the
/// tagging API is refused, every stage of that target's first APIs; with no target to ask
/// (the embedded account), every stage of the first APIs.
async fn holding_stages(state: &Shared) -> Vec<(ApiId, StageView)> {
    let runner = state.jobs.runner();
    let gateway = runner.gateway();
    let targets = gateway.targets();
    let mut read: Vec<(ApiId, StageView)> = Vec::new();
    let mut reads = 0;
    // The targets whose APIs are listed instead.
    let mut unasked = Vec::new();
    for target in &targets {
        let held = match gateway.holders(target.as_ref()).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(%error, "could not find the stages holding timed changes for the Home tab; reading the first APIs instead");
                unasked.push(target.clone());
                continue;
            }
        };
        for held in held {
            let Holder::Stage { api, stage, .. } = held.holder else {
                continue;
            };
            if reads >= APIS_READ || !runner.reaches_found(&api).await {
                continue;
            }
            reads += 1;
            if let Ok(view) = runner.read_stage(&api, &stage).await {
                read.push((api, view));
            }
        }
    }
    let mut listed = Vec::new();
    if targets.is_empty() {
        match gateway.apis().await {
            Ok(apis) => listed = apis,
            Err(error) => tracing::warn!(%error, "could not list APIs for the Home tab"),
        }
    }
    for target in &unasked {
        match gateway.listing(target.as_ref()).await {
            Ok(apis) => listed.extend(apis.into_iter().map(|api| api.id)),
            Err(error) => tracing::warn!(%error, "could not list APIs for the Home tab"),
        }
    }
    for api in listed.into_iter().filter(|a| runner.reaches(a)) {
        if reads >= APIS_READ {
            break;
        }
        reads += 1;
        let Ok(views) = runner.read_stages(&api).await else {
            continue;
        };
        read.extend(views.into_iter().map(|view| (api.clone(), view)));
    }
    read
}

/// Publishes `viewer`'s Home tab, with `note` (the outcome of their last press) on top.
/// Someone the policy does not let read sees no timed change.
async fn publish(state: &Shared, viewer: &ChatUser, note: Option<String>) {
    let runner = state.jobs.runner();
    let teller = runner.teller();
    let Some((http, web_api)) = teller.web_api() else {
        return;
    };
    let requester = Requester::User(viewer.clone());
    let list = Request::List(ListRequest { target: None });
    let may_read = runner.screen(&requester, Some(&list)).is_ok();
    let (timed, recent) = match may_read {
        true => (in_force(state).await, teller.recent_changes()),
        false => (Vec::new(), Vec::new()),
    };
    let team = viewer.team.as_ref().map(ChatId::as_str);
    let view = home_view(
        (viewer.user.as_str(), team),
        &timed,
        &recent,
        note.as_deref(),
        teller.buttons(),
    );
    let body = json!({ "user_id": viewer.user.as_str(), "view": view });
    match web_api.call(http, "views.publish", Body::Json(&body)).await {
        Ok(_) => tracing::info!(user = viewer.user.as_str(), "published the Home tab"),
        Err(error) => tracing::warn!(%error, "could not publish the Home tab"),
    }
}

/// A press of Extend or Restore on the Home tab: the sealed command run as the presser
/// typing it (policy and all), with no reply address; its outcome goes to the audit channel
/// and where the timed change was made, and the presser's Home tab is published again with it.
pub(super) async fn press(
    state: &Shared,
    deadline: Option<InvocationDeadline>,
    payload: &ActionPayload,
    once: Once<'_>,
) -> Response {
    let Some(presser) = payload.user.as_ref().and_then(|u| ChatId::parse(&u.id)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if !once.first_use(state) {
        tracing::warn!("refused a signed button press played again");
        return StatusCode::OK.into_response();
    }
    let raw = payload.actions.first().and_then(|a| a.value.as_deref());
    let runner = state.jobs.runner();
    let opened = runner
        .teller()
        .buttons()
        .and_then(|buttons| buttons.open(raw.unwrap_or_default(), unix_now()).ok());
    let team = payload.presser_team().and_then(ChatId::parse);
    let Some(value) = opened else {
        tracing::warn!(
            user = presser.as_str(),
            "refused a Home tab press: not our button, or expired"
        );
        return StatusCode::OK.into_response();
    };
    let Ok(Request::Timed(request)) = parse_text(&value.text) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let who = ChatUser {
        user: presser.clone(),
        channel: value.channel.as_deref().and_then(ChatId::parse),
        team,
        command: "/throttle".to_owned(),
    };
    let ask = Ask {
        id: RequestId::new(),
        origin: Origin {
            requester: Requester::User(who.clone()),
            reply_to: None,
            via: Via::Command,
            message_ts: None,
        },
        text: value.text.clone(),
        work: Work::Timed(request.clone()),
        gates: Gates::default(),
    };
    if let Err(denial) = runner.screen(&ask.origin.requester, Some(&Request::Timed(request))) {
        let note = format!("Nothing was done: {denial}.");
        publish(state, &who, Some(note)).await;
        return StatusCode::OK.into_response();
    }
    crate::jobs::span(&ask.id).in_scope(|| {
        tracing::info!(
            user = presser.as_str(),
            button = value.press.label(),
            "Home tab button pressed"
        )
    });
    let shared = Arc::clone(state);
    let work = async move {
        let runner = shared.jobs.runner();
        let outcome = runner.run(&ask, &ReplyOnce::default()).await;
        *in_force_cache().lock().expect("home cache") = None;
        let news = News {
            requester: &ask.origin.requester,
            via: ask.origin.via,
            outcome: &outcome,
        };
        let note =
            render::notice(&news).and_then(|notice| notice["text"].as_str().map(str::to_owned));
        publish(&shared, &who, note).await;
    };
    match deadline {
        Some(_) => work.await,
        None => {
            state.jobs.tracker().spawn(work);
        }
    }
    StatusCode::OK.into_response()
}
