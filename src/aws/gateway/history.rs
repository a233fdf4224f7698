//! `history`'s read: CloudTrail's event history (`LookupEvents`) for the calls that change a
//! stage's throttling, one `EventName` per lookup, every page, at half CloudTrail's quota (it
//! allows two lookups a second per account and region, shared with whoever reads the event
//! history in the console), one read at a time. Each event's `CloudTrailEvent` is read here
//! into the domain's terms: who, what each level was set to, and whether this service made it.
//!
//! Matching is on the API id and stage in each event's `requestParameters`, never on the
//! summary's `Resources` (not documented per API Gateway call). Where a call's parameters are
//! nested (a REST body under `…Input`) is not documented either, so keys are found at any depth.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::TargetGateway;
use super::http::level_of;
use crate::aws::connection::APP_NAME;
use crate::aws::settings::parse_setting_key;
use crate::core::ports::GatewayError;
use crate::domain::{
    ApiId, Level, LevelChange, Principal, StageName, TAG_PREFIX, Trail, TrailCall, TrailEvent,
    TrailWhat, Written,
};

/// LookupEvents' largest page.
const PAGE: i32 = 50;
/// Pages read per event name at most (1,000 events): a busy account's history past that is
/// named as unread rather than paged through for minutes.
const MAX_PAGES: usize = 20;
/// One lookup a second: half of CloudTrail's two, the other half left to people.
const LOOKUP_SPACING: Duration = Duration::from_secs(1);

/// When each CloudTrail budget's last lookup was made, held across a whole `history` read so
/// that reads take turns. Keyed by the budget's pacer, which every target of one account and
/// region shares (and which lives as long as the process).
type Turn = Arc<tokio::sync::Mutex<Option<Instant>>>;
static TURNS: LazyLock<std::sync::Mutex<HashMap<usize, Turn>>> = LazyLock::new(Default::default);

impl TargetGateway {
    /// The calls that touched `api`'s stages (only `stage`, when given) since `since`, newest
    /// first. A lookup that fails is named in `unread` and the others go on; `Err` only when
    /// nothing could be read at all.
    pub(super) async fn history(
        &self,
        api: &ApiId,
        stage: Option<&StageName>,
        since: i64,
    ) -> Result<Trail, GatewayError> {
        let (connection, _) = self.connection().await;
        if let Err(GatewayError::NoRegion) = &connection.setup {
            return Err(GatewayError::NoRegion);
        }
        let client = self
            .trail
            .get_or_init(|| async { aws_sdk_cloudtrail::Client::new(&connection.config) })
            .await;
        let identity = self.own_identity().await;
        let own = Own {
            app: APP_NAME,
            identity: identity.as_ref(),
        };
        let wanted = Wanted {
            api: api.id(),
            stage: stage.map(StageName::as_str),
        };
        // A second read of this account and region waits for this one to finish.
        let turn = self.trail_turn();
        let mut last_lookup = turn.lock().await;
        let mut trail = Trail::default();
        // Each event with its time to the nanosecond, to merge the lookups in time order.
        let mut found: Vec<(i128, TrailEvent)> = Vec::new();
        let mut failures = Vec::new();
        for call in TrailCall::ALL {
            let mut token: Option<String> = None;
            for page in 0.. {
                if page == MAX_PAGES {
                    trail.unread.push(format!(
                        "only the newest {} {call} events of the account and region were read: ask for a shorter time",
                        MAX_PAGES * PAGE as usize
                    ));
                    break;
                }
                if let Some(last) = *last_lookup {
                    tokio::time::sleep_until(last + LOOKUP_SPACING).await;
                }
                self.trail_pacer.wait().await;
                *last_lookup = Some(Instant::now());
                let read = client
                    .lookup_events()
                    .lookup_attributes(
                        LookupAttribute::builder()
                            .attribute_key(LookupAttributeKey::EventName)
                            .attribute_value(call.as_str())
                            .build()
                            .expect("key and value are set"),
                    )
                    .start_time(DateTime::from_secs(since))
                    .max_results(PAGE)
                    .set_next_token(token.take())
                    .send()
                    .await;
                let output = match read {
                    Ok(output) => output,
                    Err(err) => {
                        let error = self
                            .named(self.explain(err, "cloudtrail:LookupEvents", "*", None))
                            .await;
                        tracing::warn!(%call, %error, "could not read CloudTrail's event history");
                        trail.unread.push(format!("{call}: {error}"));
                        failures.push(error);
                        break;
                    }
                };
                for summary in output.events() {
                    let raw = summary.cloud_trail_event();
                    let time = summary.event_time();
                    let at = time.map_or(0, DateTime::secs);
                    let precise = time.map_or(0, |t| {
                        i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos())
                    });
                    if let Some(event) = parse_event(raw, at, call, &wanted, &own) {
                        found.push((precise, event));
                    }
                }
                match output.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                    _ => break,
                }
            }
        }
        if failures.len() == TrailCall::ALL.len() {
            return Err(failures.swap_remove(0));
        }
        // Newest first; stable, so events of one second keep CloudTrail's order.
        found.sort_by_key(|(precise, _)| std::cmp::Reverse(*precise));
        trail.events = found.into_iter().map(|(_, event)| event).collect();
        Ok(trail)
    }

    /// The turn `history` reads take in this target's CloudTrail budget.
    fn trail_turn(&self) -> Turn {
        let budget = Arc::as_ptr(&self.trail_pacer) as usize;
        let mut turns = TURNS.lock().expect("history turns");
        Arc::clone(turns.entry(budget).or_default())
    }

    /// This service's own identity (`sts:GetCallerIdentity`, which needs no permission): in a
    /// target, the session it names; at home, whatever its credentials are. Kept once read;
    /// asked again next time when it could not be read (then nothing is verifiably its own).
    async fn own_identity(&self) -> Option<Principal> {
        remembered(&self.identity, || async {
            let (connection, _) = self.connection().await;
            let asked = aws_sdk_sts::Client::new(&connection.config)
                .get_caller_identity()
                .send()
                .await;
            match asked {
                Ok(me) => me
                    .arn()
                    .and_then(principal_of_arn)
                    .ok_or_else(|| IdentityError::NotUnderstood(me.arn().map(str::to_owned))),
                Err(error) => Err(IdentityError::Refused(
                    aws_sdk_sts::error::DisplayErrorContext(&error).to_string(),
                )),
            }
        })
        .await
    }
}

/// Why this service's own identity could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum IdentityError {
    #[error("an identity not understood ({0:?})")]
    NotUnderstood(Option<String>),
    #[error("{0}")]
    Refused(String),
}

/// The identity in `cell`, or asked for now; kept only once read.
async fn remembered<F, A>(cell: &OnceCell<Option<Principal>>, ask: F) -> Option<Principal>
where
    F: FnOnce() -> A,
    A: Future<Output = Result<Principal, IdentityError>>,
{
    let read = cell
        .get_or_try_init(|| async { ask().await.map(Some) })
        .await;
    match read {
        Ok(me) => me.clone(),
        Err(error) => {
            tracing::warn!(%error, "could not read this service's own AWS identity; `history` shows none of its calls as verifiably its own, and asks again next time");
            None
        }
    }
}

/// What this service knows of itself, to tell its own events.
pub struct Own<'a> {
    /// The app name at the end of its user agent (`app/<name>`).
    pub app: &'a str,
    pub identity: Option<&'a Principal>,
}

/// The API (bare id) and stage asked about.
pub struct Wanted<'a> {
    pub api: &'a str,
    pub stage: Option<&'a str>,
}

/// What one event is to the API asked about.
enum Read {
    /// Another API's, another stage's, another service's, or no stage's.
    Elsewhere,
    /// On this stage (empty: the stages a usage plan holds, for the core to say).
    Found(String, TrailWhat),
    /// Perhaps this API's, but its parameters could not be read: the stage where known, why.
    Unread(String, Unreadable),
}

/// Why an event's parameters could not be read (shown in `history` as such).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Unreadable {
    #[error("{0} without {1}")]
    Missing(TrailCall, &'static str),
    #[error("UpdateUsagePlan of `{0}` without patch operations")]
    PlanWithoutPatches(String),
    #[error("route key `{0}` not understood")]
    RouteKey(String),
    #[error("throttling path `{0}` not understood")]
    ThrottlingPath(String),
}

const API_KEYS: [&str; 4] = ["restApiId", "apiId", "restapi_id", "api_id"];
const STAGE_KEYS: [&str; 2] = ["stageName", "stage_name"];

/// One event's `CloudTrailEvent` JSON (`None` when the summary has none), if it may have
/// touched the wanted API and stage: one that could not be read is kept, saying why.
pub fn parse_event(
    raw: Option<&str>,
    at: i64,
    call: TrailCall,
    wanted: &Wanted<'_>,
    own: &Own<'_>,
) -> Option<TrailEvent> {
    let event: Value = match raw.map(serde_json::from_str) {
        Some(Ok(event)) => event,
        Some(Err(_)) => return Some(not_read(call, at, "its CloudTrail record is not JSON")),
        None => return Some(not_read(call, at, "CloudTrail gave no record of it")),
    };
    let source = event.get("eventSource").and_then(Value::as_str);
    if source.is_some_and(|source| source != "apigateway.amazonaws.com") {
        return None;
    }
    let read = match event.get("requestParameters").filter(|p| p.is_object()) {
        None => Read::Unread(
            String::new(),
            Unreadable::Missing(call, "request parameters"),
        ),
        Some(params) => match call {
            TrailCall::TagResource | TrailCall::UntagResource => tags(params, call, wanted),
            TrailCall::UpdateUsagePlan => plan_change(params, wanted),
            _ => stage_call(params, call, wanted),
        },
    };
    let refused = event.get("errorCode").and_then(Value::as_str);
    let (stage, what) = match (read, refused) {
        (Read::Elsewhere, _) => return None,
        // A refused call changed nothing; one that cannot be tied to this API is left out.
        (Read::Unread(..), Some(_)) => return None,
        (Read::Found(stage, _), Some(code)) => (stage, TrailWhat::Refused(code.to_owned())),
        (Read::Found(stage, what), None) => (stage, what),
        (Read::Unread(stage, why), None) => (stage, TrailWhat::Unread(why.to_string())),
    };
    let principal = event
        .get("userIdentity")
        .map_or_else(|| Principal::Other("unknown".to_owned()), principal);
    let agent = event.get("userAgent").and_then(Value::as_str).unwrap_or("");
    let suffix = format!("app/{}", own.app);
    let bot_agent = agent.split_whitespace().any(|part| part == suffix);
    // The exact identity, session included: anyone who may assume the bot's role could name
    // a session and a user agent, but not the session the bot itself holds.
    let by_bot = bot_agent && own.identity == Some(&principal);
    Some(TrailEvent {
        id: event
            .get("eventID")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        call,
        at,
        principal,
        by_bot,
        bot_agent,
        stage,
        what,
    })
}

/// An event kept though nothing of it could be read.
fn not_read(call: TrailCall, at: i64, why: &str) -> TrailEvent {
    TrailEvent {
        id: String::new(),
        call,
        at,
        principal: Principal::Other("unknown".to_owned()),
        by_bot: false,
        bot_agent: false,
        stage: String::new(),
        what: TrailWhat::Unread(format!("{call}: {why}")),
    }
}

/// UpdateStage, CreateDeployment, DeleteRouteSettings: the API and stage in the parameters.
fn stage_call(params: &Value, call: TrailCall, wanted: &Wanted<'_>) -> Read {
    let Some(api) = find_str(params, &API_KEYS) else {
        return Read::Unread(String::new(), Unreadable::Missing(call, "an API id"));
    };
    if api != wanted.api {
        return Read::Elsewhere;
    }
    let stage = match find_str(params, &STAGE_KEYS) {
        Some(stage) => stage.to_owned(),
        // A deployment made to no stage changes none.
        None if call == TrailCall::CreateDeployment => return Read::Elsewhere,
        None => return Read::Unread(String::new(), Unreadable::Missing(call, "a stage name")),
    };
    if wanted.stage.is_some_and(|s| s != stage) {
        return Read::Elsewhere;
    }
    let what = match call {
        TrailCall::CreateDeployment => Ok(TrailWhat::Deployed),
        TrailCall::DeleteRouteSettings => match find_str(params, &["routeKey", "route_key"]) {
            None => Err(Unreadable::Missing(call, "a route key")),
            Some(key) => level_of(key)
                .map(|level| TrailWhat::Levels(vec![LevelChange::removed(level)]))
                .ok_or_else(|| Unreadable::RouteKey(key.to_owned())),
        },
        _ => stage_change(params),
    };
    match what {
        Ok(what) => Read::Found(stage, what),
        Err(why) => Read::Unread(stage, why),
    }
}

/// An UpdateStage's throttling per level: a REST API's patch operations, or an HTTP API's
/// settings objects (each sent whole); `Err` naming a throttling setting that is not understood.
fn stage_change(params: &Value) -> Result<TrailWhat, Unreadable> {
    let mut levels = match find(params, "patchOperations").and_then(Value::as_array) {
        Some(ops) => patched(ops, |path| Some(path.to_owned()))?,
        None => Vec::new(),
    };
    // Without its throttling fields, an HTTP API's default route settings set none.
    if let Some(default) = find(params, "defaultRouteSettings").filter(|d| d.is_object()) {
        levels.push(settings(Level::Stage, default));
    }
    if let Some(routes) = find(params, "routeSettings").and_then(Value::as_object) {
        for (key, object) in routes {
            let level = level_of(key).ok_or_else(|| Unreadable::RouteKey(key.clone()))?;
            levels.push(settings(level, object));
        }
    }
    Ok(if levels.is_empty() {
        TrailWhat::Other
    } else {
        TrailWhat::Levels(levels)
    })
}

/// An HTTP API's settings object: its two throttling fields, not set where it leaves one out.
fn settings(level: Level, object: &Value) -> LevelChange {
    LevelChange {
        level,
        rate: object
            .get("throttlingRateLimit")
            .and_then(number)
            .map_or(Written::Unset, Written::To),
        burst: object
            .get("throttlingBurstLimit")
            .and_then(number)
            .map_or(Written::Unset, |b| Written::To(b as i32)),
        before: None,
    }
}

/// REST patch operations on method settings, one change per level: `/{key}/throttling/…`
/// (`-1` is "not set") and `remove /{key}` (the entry removed); a usage plan's API stage has
/// `{key}/rateLimit` without `throttling/`. `key_of` turns an operation's
/// path into a method-setting path (`~1pets/GET/throttling/rateLimit`), or `None` to skip it.
/// `Err` names a throttling path whose method and resource are not understood.
fn patched(
    ops: &[Value],
    key_of: impl Fn(&str) -> Option<String>,
) -> Result<Vec<LevelChange>, Unreadable> {
    let mut levels: Vec<LevelChange> = Vec::new();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let Some(path) = op
            .get("path")
            .and_then(Value::as_str)
            .and_then(|p| key_of(p.trim_start_matches('/')))
        else {
            continue;
        };
        let mut parts = path.splitn(3, '/');
        let (Some(resource), Some(method)) = (parts.next(), parts.next()) else {
            continue;
        };
        let rest = parts.next();
        let throttling = matches!(
            rest,
            Some("throttling/rateLimit" | "rateLimit" | "throttling/burstLimit" | "burstLimit")
        );
        let Some(level) = parse_setting_key(&format!("{resource}/{method}")) else {
            if throttling {
                return Err(Unreadable::ThrottlingPath(path.to_owned()));
            }
            continue;
        };
        let value = op.get("value").and_then(number);
        let at = match levels.iter().position(|l| l.level == level) {
            Some(at) => at,
            None => {
                levels.push(LevelChange {
                    level,
                    rate: Written::Untouched,
                    burst: Written::Untouched,
                    before: None,
                });
                levels.len() - 1
            }
        };
        let change = &mut levels[at];
        match (kind, rest) {
            ("remove", None) => *change = LevelChange::removed(change.level.clone()),
            (_, Some("throttling/rateLimit" | "rateLimit")) => change.rate = written(kind, value),
            (_, Some("throttling/burstLimit" | "burstLimit")) => {
                change.burst = match written(kind, value) {
                    Written::To(burst) => Written::To(burst as i32),
                    Written::Unset => Written::Unset,
                    Written::Untouched => Written::Untouched,
                }
            }
            _ => {}
        }
    }
    // A level whose other settings alone were patched is no throttling change.
    levels.retain(|l| l.rate != Written::Untouched || l.burst != Written::Untouched);
    Ok(levels)
}

/// One patched value: a number of 0 or more, or not set (`-1`, removed, or no value).
fn written(kind: &str, value: Option<f64>) -> Written<f64> {
    match value.filter(|v| *v >= 0.0 && kind != "remove") {
        Some(value) => Written::To(value),
        None => Written::Unset,
    }
}

/// An UpdateUsagePlan that names the API stage: its methods' throttles in the plan
/// (`/apiStages/<api>:<stage>/throttle/<key>/…`), or the stage added to or removed from it;
/// or one that changes the plan's own throttle (`/throttle/…`), for every stage it holds:
/// which those are, the core tells (the stage is left empty).
fn plan_change(params: &Value, wanted: &Wanted<'_>) -> Read {
    let Some(plan) = find_str(params, &["usagePlanId", "usageplanId", "usageplan_id"]) else {
        return Read::Unread(
            String::new(),
            Unreadable::Missing(TrailCall::UpdateUsagePlan, "a usage plan id"),
        );
    };
    let Some(ops) = find(params, "patchOperations").and_then(Value::as_array) else {
        return Read::Unread(
            String::new(),
            Unreadable::PlanWithoutPatches(plan.to_owned()),
        );
    };
    let named = |api_stage: &str| {
        let (api, stage) = api_stage.split_once(':')?;
        (api == wanted.api && wanted.stage.is_none_or(|s| s == stage)).then(|| stage.to_owned())
    };
    let mut stage = None;
    for op in ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
        let value = op.get("value").and_then(Value::as_str).unwrap_or_default();
        let api_stage = match path.strip_prefix("/apiStages/") {
            Some(rest) => rest.split('/').next().unwrap_or_default(),
            None if path == "/apiStages" => value,
            None => continue,
        };
        if let Some(found) = named(api_stage) {
            stage = Some(found);
        }
    }
    let wide = plan_wide(ops);
    let levels = match &stage {
        Some(stage) => {
            let prefix = format!("apiStages/{}:{stage}/throttle/", wanted.api);
            match patched(ops, |path| path.strip_prefix(&prefix).map(str::to_owned)) {
                Ok(levels) => levels,
                Err(why) => return Read::Unread(stage.clone(), why),
            }
        }
        None if wide.is_some() => Vec::new(),
        None => return Read::Elsewhere,
    };
    let what = TrailWhat::Plan {
        plan: plan.to_owned(),
        levels,
        wide,
    };
    Read::Found(stage.unwrap_or_default(), what)
}

/// The plan's own throttle (`/throttle/rateLimit`, `/throttle/burstLimit`, `remove /throttle`).
fn plan_wide(ops: &[Value]) -> Option<LevelChange> {
    let mut wide = LevelChange {
        level: Level::Stage,
        rate: Written::Untouched,
        burst: Written::Untouched,
        before: None,
    };
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let value = op.get("value").and_then(number);
        match op.get("path").and_then(Value::as_str).unwrap_or_default() {
            "/throttle" if kind == "remove" => wide = LevelChange::removed(Level::Stage),
            "/throttle/rateLimit" => wide.rate = written(kind, value),
            "/throttle/burstLimit" => {
                wide.burst = match written(kind, value) {
                    Written::To(burst) => Written::To(burst as i32),
                    _ => Written::Unset,
                }
            }
            _ => {}
        }
    }
    (wide.rate != Written::Untouched || wide.burst != Written::Untouched).then_some(wide)
}

/// A TagResource or UntagResource on the wanted stage that wrote or removed `throttle-bot:`
/// tags (timed changes' records).
fn tags(params: &Value, call: TrailCall, wanted: &Wanted<'_>) -> Read {
    let Some(arn) = find_str(
        params,
        &["resourceArn", "resource-arn", "resource_arn", "ResourceArn"],
    ) else {
        return Read::Unread(String::new(), Unreadable::Missing(call, "a resource ARN"));
    };
    // A path parameter may be recorded as sent, percent-encoded.
    let arn = percent_encoding::percent_decode_str(arn).decode_utf8_lossy();
    let Some(path) = arn.split("::").nth(1) else {
        return Read::Elsewhere;
    };
    let stage = match path.split('/').collect::<Vec<_>>()[..] {
        ["", "restapis" | "apis", api, "stages", stage] if api == wanted.api => stage.to_owned(),
        _ => return Read::Elsewhere,
    };
    if wanted.stage.is_some_and(|s| s != stage) {
        return Read::Elsewhere;
    }
    let what = match call {
        TrailCall::TagResource => {
            let Some(tags) = find(params, "tags").and_then(Value::as_object) else {
                return Read::Unread(stage, Unreadable::Missing(call, "tags"));
            };
            let ours: Vec<(String, String)> = tags
                .iter()
                .filter(|(key, _)| key.starts_with(TAG_PREFIX))
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
                .collect();
            (!ours.is_empty()).then_some(TrailWhat::Tagged(ours))
        }
        _ => {
            let keys: Vec<String> = match find_any(params, &["tagKeys", "tag_keys", "TagKeys"]) {
                Some(Value::Array(keys)) => keys
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                Some(Value::String(keys)) => keys.split(',').map(|k| k.trim().to_owned()).collect(),
                _ => return Read::Unread(stage, Unreadable::Missing(call, "tag keys")),
            };
            let ours: Vec<String> = keys
                .into_iter()
                .filter(|key| key.starts_with(TAG_PREFIX))
                .collect();
            (!ours.is_empty()).then_some(TrailWhat::Untagged(ours))
        }
    };
    match what {
        Some(what) => Read::Found(stage, what),
        None => Read::Elsewhere,
    }
}

/// Who made the call: an IAM user by name, a role's session, or anything else as recorded.
fn principal(identity: &Value) -> Principal {
    let text = |key: &str| identity.get(key).and_then(Value::as_str);
    let account = text("accountId").unwrap_or_default().to_owned();
    match text("type") {
        Some("IAMUser") => match text("userName") {
            Some(name) => Principal::User {
                account,
                name: name.to_owned(),
            },
            None => text("arn")
                .and_then(principal_of_arn)
                .unwrap_or_else(|| Principal::Other("an IAM user".to_owned())),
        },
        Some("AssumedRole") => text("arn").and_then(principal_of_arn).unwrap_or_else(|| {
            let issuer = identity.pointer("/sessionContext/sessionIssuer/userName");
            Principal::Other(format!(
                "role {}",
                issuer.and_then(Value::as_str).unwrap_or("(unnamed)")
            ))
        }),
        Some(kind) => Principal::Other(match text("arn").or(text("invokedBy")) {
            Some(who) => format!("{kind} {who}"),
            None => kind.to_owned(),
        }),
        None => Principal::Other("unknown".to_owned()),
    }
}

/// `arn:aws:iam::ACCOUNT:user/[path/]NAME` (or `…:sts::…:user/NAME`), or
/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
fn principal_of_arn(arn: &str) -> Option<Principal> {
    let mut parts = arn.splitn(6, ':');
    let account = parts.nth(4)?.to_owned();
    let resource = parts.next()?;
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let (role, session) = rest.split_once('/')?;
        return Some(Principal::Role {
            account,
            role: role.to_owned(),
            session: session.to_owned(),
        });
    }
    let name = resource.strip_prefix("user/")?.rsplit('/').next()?;
    Some(Principal::User {
        account,
        name: name.to_owned(),
    })
}

/// The first value under `key` at any depth.
fn find<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|v| find(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find(v, key)),
        _ => None,
    }
}

/// The first value under any of `keys` at any depth.
fn find_any<'v>(value: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter().find_map(|key| find(value, key))
}

/// The first string under any of `keys` at any depth.
fn find_str<'v>(value: &'v Value, keys: &[&str]) -> Option<&'v str> {
    keys.iter()
        .find_map(|key| find(value, key).and_then(Value::as_str))
}

/// A number, or a string holding one (patch values are strings).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|v: &f64| v.is_finite()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
