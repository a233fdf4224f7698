//! `history`'s read: CloudTrail's event history (`LookupEvents`) for the calls that change a
//! stage's throttling, one `EventName` per lookup, every page, at CloudTrail's own pace (two
//! lookups a second per account and region). Each event's `CloudTrailEvent` is read here into
//! the domain's terms: who, what each level was set to, and whether this service made it.
//!
//! Matching is on the API id and stage in each event's `requestParameters`, never on the
//! summary's `Resources` (not documented per API Gateway call). Where a call's parameters are
//! nested (a REST body under `…Input`) is not documented either, so keys are found at any depth.

use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde_json::Value;
use tokio::sync::OnceCell;

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
                self.trail_pacer.wait().await;
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
                    let Some(raw) = summary.cloud_trail_event() else {
                        continue;
                    };
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
                    .ok_or_else(|| format!("an identity not understood ({:?})", me.arn())),
                Err(error) => Err(aws_sdk_sts::error::DisplayErrorContext(&error).to_string()),
            }
        })
        .await
    }
}

/// The identity in `cell`, or asked for now; kept only once read.
async fn remembered<F, A>(cell: &OnceCell<Option<Principal>>, ask: F) -> Option<Principal>
where
    F: FnOnce() -> A,
    A: Future<Output = Result<Principal, String>>,
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

/// One event's `CloudTrailEvent` JSON, if it touched the wanted API and stage.
pub fn parse_event(
    raw: &str,
    at: i64,
    call: TrailCall,
    wanted: &Wanted<'_>,
    own: &Own<'_>,
) -> Option<TrailEvent> {
    let event: Value = serde_json::from_str(raw).ok()?;
    let params = event.get("requestParameters").filter(|p| p.is_object())?;
    let (stage, what) = match call {
        TrailCall::TagResource => tagged(params, wanted)?,
        TrailCall::UpdateUsagePlan => plan_change(params, wanted)?,
        _ => {
            let api = find_str(params, &["restApiId", "apiId", "restapi_id", "api_id"])?;
            let stage = find_str(params, &["stageName", "stage_name"])?;
            if api != wanted.api || wanted.stage.is_some_and(|s| s != stage) {
                return None;
            }
            let what = match call {
                TrailCall::CreateDeployment => TrailWhat::Deployed,
                TrailCall::DeleteRouteSettings => {
                    let key = find_str(params, &["routeKey", "route_key"])?;
                    TrailWhat::Levels(vec![LevelChange::removed(level_of(key)?)])
                }
                _ => stage_change(params),
            };
            (stage.to_owned(), what)
        }
    };
    let principal = principal(event.get("userIdentity")?);
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

/// An UpdateStage's throttling per level: a REST API's patch operations, or an HTTP API's
/// settings objects (each sent whole).
fn stage_change(params: &Value) -> TrailWhat {
    let mut levels = match find(params, "patchOperations").and_then(Value::as_array) {
        Some(ops) => patched(ops, |path| Some(path.to_owned())),
        None => Vec::new(),
    };
    // An HTTP API's default route settings without the throttling fields read back as 0/0.
    if let Some(default) = find(params, "defaultRouteSettings").filter(|d| d.is_object()) {
        levels.push(settings(
            Level::Stage,
            default,
            Written::To(0.0),
            Written::To(0),
        ));
    }
    if let Some(routes) = find(params, "routeSettings").and_then(Value::as_object) {
        for (key, object) in routes {
            if let Some(level) = level_of(key) {
                levels.push(settings(level, object, Written::Unset, Written::Unset));
            }
        }
    }
    if levels.is_empty() {
        TrailWhat::Other
    } else {
        TrailWhat::Levels(levels)
    }
}

/// An HTTP API's settings object: its two throttling fields, `absent` where it leaves one out.
fn settings(
    level: Level,
    object: &Value,
    absent_rate: Written<f64>,
    absent_burst: Written<i32>,
) -> LevelChange {
    LevelChange {
        level,
        rate: object
            .get("throttlingRateLimit")
            .and_then(number)
            .map_or(absent_rate, Written::To),
        burst: object
            .get("throttlingBurstLimit")
            .and_then(number)
            .map_or(absent_burst, |b| Written::To(b as i32)),
        before: None,
    }
}

/// REST patch operations on method settings, one change per level: `/{key}/throttling/…`
/// (`-1` is "not set") and `remove /{key}` (the entry removed); a usage plan's API stage has
/// `{key}/rateLimit` without `throttling/`. `key_of` turns an operation's
/// path into a method-setting path (`~1pets/GET/throttling/rateLimit`), or `None` to skip it.
fn patched(ops: &[Value], key_of: impl Fn(&str) -> Option<String>) -> Vec<LevelChange> {
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
        let Some(level) = parse_setting_key(&format!("{resource}/{method}")) else {
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
        match (kind, parts.next()) {
            ("remove", None) => *change = LevelChange::removed(change.level.clone()),
            (_, Some("throttling/rateLimit" | "rateLimit")) => {
                change.rate = match value.filter(|v| *v >= 0.0 && kind != "remove") {
                    Some(rate) => Written::To(rate),
                    None => Written::Unset,
                }
            }
            (_, Some("throttling/burstLimit" | "burstLimit")) => {
                change.burst = match value.filter(|v| *v >= 0.0 && kind != "remove") {
                    Some(burst) => Written::To(burst as i32),
                    None => Written::Unset,
                }
            }
            _ => {}
        }
    }
    // A level whose other settings alone were patched is no throttling change.
    levels.retain(|l| l.rate != Written::Untouched || l.burst != Written::Untouched);
    levels
}

/// An UpdateUsagePlan that names the API stage: its methods' throttles in the plan
/// (`/apiStages/<api>:<stage>/throttle/<key>/…`), or the stage added to or removed from it.
fn plan_change(params: &Value, wanted: &Wanted<'_>) -> Option<(String, TrailWhat)> {
    let plan = find_str(params, &["usagePlanId", "usageplanId", "usageplan_id"])?;
    let ops = find(params, "patchOperations").and_then(Value::as_array)?;
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
    let stage = stage?;
    let prefix = format!("apiStages/{}:{stage}/throttle/", wanted.api);
    let levels = patched(ops, |path| path.strip_prefix(&prefix).map(str::to_owned));
    Some((
        stage,
        TrailWhat::Plan {
            plan: plan.to_owned(),
            levels,
        },
    ))
}

/// A TagResource on the wanted stage that wrote `throttle-bot:` tags (timed changes' records).
fn tagged(params: &Value, wanted: &Wanted<'_>) -> Option<(String, TrailWhat)> {
    let arn = find_str(
        params,
        &["resourceArn", "resource-arn", "resource_arn", "ResourceArn"],
    )?;
    let path = arn.split("::").nth(1)?;
    let stage = match path.split('/').collect::<Vec<_>>()[..] {
        ["", "restapis" | "apis", api, "stages", stage] if api == wanted.api => stage,
        _ => return None,
    };
    if wanted.stage.is_some_and(|s| s != stage) {
        return None;
    }
    let tags: Vec<(String, String)> = find(params, "tags")
        .and_then(Value::as_object)?
        .iter()
        .filter(|(key, _)| key.starts_with(TAG_PREFIX))
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect();
    (!tags.is_empty()).then(|| (stage.to_owned(), TrailWhat::Tagged(tags)))
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
