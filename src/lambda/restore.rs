//! On Lambda a timed change's deadline is a one-time EventBridge Scheduler schedule that invokes
//! this function with a sealed restore event. The event only says where to look: the record on
//! the stage decides, so a late, repeated or replayed event restores nothing it should not.
//! An impact report rides the same mechanism: a sealed impact event, due `IMPACT_AFTER` after
//! the change, that reads the traffic and tells the same conversation.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::{OneTime, Scheduler};
use crate::core::clock::unix_now;
use crate::core::ports::{DeadlineError, Deadlines, PlanReminder, Reminder};
use crate::core::requester::{ChatId, ReplyTo};
use crate::domain::{
    ApiId, ApiKind, HttpMethod, Level, PlanLevel, PlanRef, ResolvedApi, ResourcePath, StageName,
    is_message_ts,
};
use crate::jobs::impact::{Report, ReportLater, ReportLaterError};
use crate::slack::hosts::SlackHosts;
use crate::slack::sealed::{SealKey, Sealed};
use crate::slack::signature::SigningSecret;

/// The key a restore event's sealed body travels under.
pub const RESTORE_EVENT_KEY: &str = "throttle_bot_restore";

/// The key an impact event's sealed body travels under.
pub const IMPACT_EVENT_KEY: &str = "throttle_bot_impact";

/// An impact report stays valid this long after it is due: its reply address works 30 minutes
/// after the command, so a report much later has nowhere to go.
const IMPACT_TTL_SECS: i64 = 10 * 60;

/// An impact report due later, as the schedule carries it: the place and time of the change
/// (with the API's kind and name, which its metrics are keyed by) and where to tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactEvent {
    pub place: RestoreEvent,
    pub kind: String,
    pub name: Option<String>,
    pub minutes: i64,
    pub reply_to: String,
    pub thread: Option<(String, String)>,
}

/// How long a restore event stays valid after its deadline: EventBridge Scheduler retries a
/// failed invocation for up to a day.
const RESTORE_TTL_SECS: i64 = 2 * 24 * 60 * 60;

/// Where a deadline fell due, as the schedule carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreEvent {
    pub api: String,
    pub stage: String,
    pub method: Option<String>,
    pub path: Option<String>,
    pub at: i64,
    /// The function it was sealed for (unqualified ARN): another function sharing the signing
    /// secret refuses it.
    #[serde(default)]
    pub function: String,
    /// A usage plan's deadline: the plan's id (with its target); `api` and `stage` then name
    /// the API stage of a method level, or are empty for the plan's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

impl From<&Reminder> for RestoreEvent {
    fn from(reminder: &Reminder) -> Self {
        let (method, path) = match &reminder.level {
            Level::Stage => (None, None),
            Level::DefaultRoute => (Some(Level::DEFAULT_ROUTE.to_owned()), None),
            Level::Method { method, path } => (
                Some(method.as_str().to_owned()),
                Some(path.as_str().to_owned()),
            ),
        };
        Self {
            api: reminder.api.to_string(),
            stage: reminder.stage.to_string(),
            method,
            path,
            at: reminder.at,
            function: String::new(),
            plan: None,
        }
    }
}

impl From<&PlanReminder> for RestoreEvent {
    fn from(reminder: &PlanReminder) -> Self {
        let (api, stage, method, path) = match &reminder.level {
            PlanLevel::Plan => (String::new(), String::new(), None, None),
            PlanLevel::Method {
                api,
                stage,
                method,
                path,
            } => (
                api.id().to_owned(),
                stage.to_string(),
                Some(method.as_str().to_owned()),
                Some(path.as_str().to_owned()),
            ),
        };
        Self {
            api,
            stage,
            method,
            path,
            at: reminder.at,
            function: String::new(),
            plan: Some(reminder.plan.clone()),
        }
    }
}

impl RestoreEvent {
    /// A usage plan's reminder again, validated as a command's target is; `None` for a
    /// stage's event or anything this service did not write.
    pub fn plan_reminder(&self) -> Option<PlanReminder> {
        let plan = self.plan.as_ref()?;
        PlanRef::parse_id(plan)?;
        let level = match (&self.method, &self.path) {
            (None, None) if self.api.is_empty() && self.stage.is_empty() => PlanLevel::Plan,
            (Some(method), Some(path)) => PlanLevel::Method {
                api: ApiId::parse(&self.api)
                    .ok()
                    .filter(|api| api.target().is_none())?,
                stage: StageName::parse(&self.stage).ok()?,
                method: HttpMethod::parse(method).ok()?,
                path: ResourcePath::parse(path).ok()?,
            },
            _ => return None,
        };
        Some(PlanReminder {
            plan: plan.clone(),
            level,
            at: self.at,
        })
    }

    /// The reminder again, validated as a command's target is; `None` for a plan's event.
    pub fn reminder(&self) -> Option<Reminder> {
        if self.plan.is_some() {
            return None;
        }
        let level = match (&self.method, &self.path) {
            (Some(method), Some(path)) => Level::method(
                HttpMethod::parse(method).ok()?,
                ResourcePath::parse(path).ok()?,
            ),
            (Some(route), None) if route == Level::DEFAULT_ROUTE => Level::DefaultRoute,
            (None, None) => Level::Stage,
            // Anything else was not written by this service.
            _ => return None,
        };
        Some(Reminder {
            api: ApiId::parse(&self.api).ok()?,
            stage: StageName::parse(&self.stage).ok()?,
            level,
            at: self.at,
        })
    }
}

/// Deadlines kept as one-time schedules that invoke this function.
pub struct ScheduledRestores {
    scheduler: Option<Scheduler>,
    key: Option<SealKey>,
    /// Seals impact events (a purpose of its own).
    impact_key: Option<SealKey>,
    /// This function's ARN, from the first invocation's context (the schedule's target).
    function_arn: OnceLock<String>,
}

impl ScheduledRestores {
    /// Without `SCHEDULER_ROLE_ARN` or a signing secret, timed changes are refused.
    pub fn new(role_arn: Option<String>, group: String, secret: Option<&SigningSecret>) -> Self {
        Self {
            scheduler: role_arn
                .filter(|arn| !arn.trim().is_empty())
                .map(|arn| Scheduler::new(group, arn)),
            key: secret.map(restore_key),
            impact_key: secret.map(|s| SealKey::derive(s, "impact event")),
            function_arn: OnceLock::new(),
        }
    }

    /// Whether a restore event was sealed for this function.
    pub fn is_own(&self, event: &RestoreEvent) -> bool {
        self.function_arn.get() == Some(&event.function)
    }

    /// Learns the function from an invocation's ARN. The schedule targets the unqualified
    /// function (the ARN without an alias or version): that is what `docs/deploy.md` lets the
    /// scheduler role invoke, and a restore must reach the function whatever alias made it.
    pub fn know_function(&self, arn: &str) {
        if !arn.is_empty() {
            let _ = self.function_arn.set(unqualified(arn).to_owned());
        }
    }
}

impl ScheduledRestores {
    /// An impact event sealed by this function, checked as a command's parts are: the place,
    /// the kind, the reply address (Slack's hosts only) and the thread.
    pub fn open_impact(
        &self,
        sealed: Sealed<ImpactEvent>,
        hosts: &SlackHosts,
    ) -> Result<Report, &'static str> {
        let key = self
            .impact_key
            .as_ref()
            .ok_or("no signing secret to open it with")?;
        let event = key
            .open(sealed, unix_now())
            .map_err(|_| "not sealed by this service, or expired")?;
        if !self.is_own(&event.place) {
            return Err("sealed for another function");
        }
        let reminder = event.place.reminder().ok_or("an invalid place")?;
        let kind = ApiKind::from_label(&event.kind).ok_or("an unknown kind of API")?;
        let reply_to = hosts
            .check_hook(&event.reply_to)
            .map_err(|_| "a reply address off Slack's hosts")?;
        let thread = match event.thread {
            Some((channel, ts)) => {
                let channel = ChatId::parse(&channel).ok_or("an invalid channel")?;
                if !is_message_ts(&ts) {
                    return Err("an invalid message timestamp");
                }
                Some((channel.to_string(), ts))
            }
            None => None,
        };
        Ok(Report {
            api: ResolvedApi {
                id: reminder.api,
                name: event.name,
                kind,
            },
            stage: reminder.stage,
            level: reminder.level,
            at: event.place.at,
            minutes: event.minutes.clamp(1, 30),
            after: std::time::Duration::ZERO,
            reply_to: ReplyTo::new(reply_to.as_str()),
            thread,
        })
    }
}

impl ReportLater for ScheduledRestores {
    fn report_later<'a>(
        &'a self,
        report: &'a Report,
    ) -> Pin<Box<dyn Future<Output = Result<(), ReportLaterError>> + Send + 'a>> {
        Box::pin(async move {
            let (Some(scheduler), Some(key), Some(function_arn)) =
                (&self.scheduler, &self.impact_key, self.function_arn.get())
            else {
                return Err(ReportLaterError::NotReady);
            };
            let reminder = Reminder {
                api: report.api.id.clone(),
                stage: report.stage.clone(),
                level: report.level.clone(),
                at: report.at,
            };
            let due = report.at + report.after.as_secs() as i64;
            let event = ImpactEvent {
                place: RestoreEvent {
                    function: function_arn.clone(),
                    ..RestoreEvent::from(&reminder)
                },
                kind: report.api.kind.label().to_owned(),
                name: report.api.name.clone(),
                minutes: report.minutes,
                reply_to: report.reply_to.as_str().to_owned(),
                thread: report.thread.clone(),
            };
            let sealed = key.seal(event, due + IMPACT_TTL_SECS);
            let input = serde_json::json!({ IMPACT_EVENT_KEY: sealed }).to_string();
            let name =
                schedule_name(&reminder).replacen("throttle-bot-", "throttle-bot-impact-", 1);
            scheduler
                .create(OneTime {
                    name: &name,
                    at: due,
                    target_arn: function_arn,
                    input: &input,
                })
                .await
                .map_err(ReportLaterError::from)
        })
    }
}

/// When a restore's schedule fires: EventBridge Scheduler runs a one-time schedule within the
/// minute of its time, so a schedule at the deadline itself could end a `for 90s` change up to
/// ~59 s late (EventBridge Scheduler user guide, "Schedule types"). The schedule is set for a
/// whole minute that ends by the deadline, and the function waits for the deadline itself
/// (at most two minutes; see `docs/lambda.md` for the timeout this asks for).
pub fn wake_at(deadline: i64) -> i64 {
    (deadline - 60).div_euclid(60) * 60
}

/// When to set a restore's schedule made at `now`: [`wake_at`], but never a minute already
/// begun (AWS refuses a one-time schedule in the past). A change shorter than about two minutes
/// can therefore end up to a minute late on Lambda.
pub fn fire_at(deadline: i64, now: i64) -> i64 {
    let next_minute = (now.div_euclid(60) + 1) * 60;
    wake_at(deadline).max(next_minute)
}

/// `arn:aws:lambda:region:account:function:name`, without a `:alias` or `:version` after it.
fn unqualified(arn: &str) -> &str {
    match arn.match_indices(':').nth(6) {
        Some((at, _)) => &arn[..at],
        None => arn,
    }
}

/// The key that seals restore events.
pub fn restore_key(secret: &SigningSecret) -> SealKey {
    SealKey::derive(secret, RESTORE_EVENT_KEY)
}

/// A name unique to the deadline (≤ 64 of `[0-9a-zA-Z-_.]`): the same deadline twice is one
/// schedule. The API's bare id names it for people; the digest covers its target (`prod:`,
/// whose colon no schedule name may hold), stage and level.
fn schedule_name(reminder: &Reminder) -> String {
    let place = format!("{} {} {}", reminder.api, reminder.stage, reminder.level);
    let digest = hex::encode(Sha256::digest(place.as_bytes()));
    format!(
        "throttle-bot-{}-{}-{}",
        reminder.api.id(),
        &digest[..16],
        reminder.at
    )
}

/// The same for a usage plan's deadline: `throttle-bot-plan-<digest>-<at>`, the digest
/// covering the plan (with its target) and the level.
fn plan_schedule_name(reminder: &PlanReminder) -> String {
    let place = format!("{} {}", reminder.plan, reminder.level);
    let digest = hex::encode(Sha256::digest(place.as_bytes()));
    format!("throttle-bot-plan-{}-{}", &digest[..24], reminder.at)
}

impl ScheduledRestores {
    /// Seals `event` and creates its one-time schedule, due `at`.
    async fn schedule(&self, event: RestoreEvent, name: String) -> Result<(), DeadlineError> {
        self.ready()?;
        let (Some(scheduler), Some(key), Some(function_arn)) =
            (&self.scheduler, &self.key, self.function_arn.get())
        else {
            return Err(DeadlineError("not ready".to_owned()));
        };
        let at = event.at;
        let event = RestoreEvent {
            function: function_arn.clone(),
            ..event
        };
        let sealed = key.seal(event, at + RESTORE_TTL_SECS);
        let input = serde_json::json!({ RESTORE_EVENT_KEY: sealed }).to_string();
        scheduler
            .create(OneTime {
                name: &name,
                at: fire_at(at, unix_now()),
                target_arn: function_arn,
                input: &input,
            })
            .await
            .map_err(|e| DeadlineError(e.to_string()))
    }
}

impl ScheduledRestores {
    /// A restore event that fired too early for this invocation to wait out: a new one-time
    /// schedule for it (the one that fired deletes itself), named after the original and the
    /// moment, so a repeated delivery makes the same one.
    pub async fn reschedule(&self, event: RestoreEvent, now: i64) -> Result<(), DeadlineError> {
        let original = match (event.plan_reminder(), event.reminder()) {
            (Some(plan), _) => plan_schedule_name(&plan),
            (None, Some(stage)) => schedule_name(&stage),
            (None, None) => return Err(DeadlineError("an invalid place".to_owned())),
        };
        let name = format!("{original}-r{}", now.div_euclid(60).rem_euclid(100_000));
        self.schedule(event, name).await
    }
}

impl Deadlines for ScheduledRestores {
    fn ready(&self) -> Result<(), DeadlineError> {
        if self.scheduler.is_none() {
            return Err(DeadlineError(
                "set SCHEDULER_ROLE_ARN (the role EventBridge Scheduler assumes to invoke this function)".to_owned(),
            ));
        }
        if self.key.is_none() {
            return Err(DeadlineError(
                "set SLACK_SIGNING_SECRET (it signs the restore event)".to_owned(),
            ));
        }
        if self.function_arn.get().is_none() {
            return Err(DeadlineError("this function's ARN is not known".to_owned()));
        }
        Ok(())
    }

    fn remind<'a>(
        &'a self,
        reminder: &'a Reminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        Box::pin(self.schedule(RestoreEvent::from(reminder), schedule_name(reminder)))
    }

    fn remind_plan<'a>(
        &'a self,
        reminder: &'a PlanReminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        Box::pin(self.schedule(RestoreEvent::from(reminder), plan_schedule_name(reminder)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_never_set_in_a_minute_already_begun() {
        let now = 1_795_703_410;
        // Far enough ahead: the early whole minute.
        assert_eq!(fire_at(now + 600, now), wake_at(now + 600));
        // A short change: the next minute, though that is after the deadline.
        for deadline in [now + 2, now + 60, now + 100] {
            let at = fire_at(deadline, now);
            assert_eq!(at % 60, 0);
            assert!(at > now, "{deadline}: not in the past");
            assert!(at <= now + 60, "{deadline}: the next minute");
        }
    }

    #[test]
    fn a_restore_wakes_within_the_two_minutes_before_its_deadline_on_a_whole_minute() {
        for deadline in [1_795_703_400, 1_795_703_401, 1_795_703_459, 1_795_703_430] {
            let wake = wake_at(deadline);
            assert_eq!(wake % 60, 0, "{deadline}: a whole minute");
            assert!(wake + 60 <= deadline, "{deadline}: fires by the deadline");
            assert!(
                wake > deadline - 120,
                "{deadline}: at most two minutes early"
            );
        }
    }

    fn reminder(level: Level) -> Reminder {
        Reminder {
            api: ApiId::parse("a1b2c3d4e5").unwrap(),
            stage: StageName::parse(&"s".repeat(128)).unwrap(),
            level,
            at: 1_795_703_400,
        }
    }

    #[test]
    fn a_restore_event_reads_back_its_reminder() {
        let pets = Level::method(
            HttpMethod::parse("GET").unwrap(),
            ResourcePath::parse("/pets/{id}").unwrap(),
        );
        for level in [Level::Stage, pets, Level::DefaultRoute] {
            let reminder = reminder(level);
            assert_eq!(RestoreEvent::from(&reminder).reminder(), Some(reminder));
        }
        // A path without a method, or a method without a path that is not `$default`, was
        // not written by this service.
        let mut odd = RestoreEvent::from(&reminder(Level::Stage));
        odd.path = Some("/pets".to_owned());
        assert_eq!(odd.reminder(), None);
        odd.path = None;
        odd.method = Some("GET".to_owned());
        assert_eq!(odd.reminder(), None);
        let mut bad = RestoreEvent::from(&reminder(Level::Stage));
        bad.api = "<!channel>".to_owned();
        assert_eq!(bad.reminder(), None);
    }

    #[test]
    fn a_plans_restore_event_reads_back_as_the_plans_and_never_as_a_stages() {
        let method = PlanLevel::Method {
            api: ApiId::parse("a1b2c3d4e5").unwrap(),
            stage: StageName::parse("live").unwrap(),
            method: HttpMethod::parse("GET").unwrap(),
            path: ResourcePath::parse("/pets/{id}").unwrap(),
        };
        for level in [PlanLevel::Plan, method] {
            let reminder = PlanReminder {
                plan: "prod:abc123".to_owned(),
                level,
                at: 1_795_703_400,
            };
            let event = RestoreEvent::from(&reminder);
            assert_eq!(event.plan_reminder(), Some(reminder.clone()));
            // A method level names a real API stage: it must not restore that stage.
            assert_eq!(event.reminder(), None);
            let name = plan_schedule_name(&reminder);
            assert!(name.starts_with("throttle-bot-plan-"), "{name}");
            assert!(name.ends_with("-1795703400"), "{name}");
            // Another plan, the same plan in another target, or another level: another name.
            for other in ["prod:abc124", "abc123"] {
                let elsewhere = PlanReminder {
                    plan: other.to_owned(),
                    ..reminder.clone()
                };
                assert_ne!(plan_schedule_name(&elsewhere), name);
            }
            let other_level = PlanReminder {
                level: match &reminder.level {
                    PlanLevel::Plan => PlanLevel::Method {
                        api: ApiId::parse("a1b2c3d4e5").unwrap(),
                        stage: StageName::parse("live").unwrap(),
                        method: HttpMethod::parse("GET").unwrap(),
                        path: ResourcePath::parse("/").unwrap(),
                    },
                    PlanLevel::Method { .. } => PlanLevel::Plan,
                },
                ..reminder.clone()
            };
            assert_ne!(plan_schedule_name(&other_level), name);
            assert!(name.len() <= 64, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{name}"
            );
        }
        // A stage's event is not a plan's.
        assert_eq!(
            RestoreEvent::from(&reminder(Level::Stage)).plan_reminder(),
            None
        );
        let plan_wide = RestoreEvent::from(&PlanReminder {
            plan: "abc123".to_owned(),
            level: PlanLevel::Plan,
            at: 1,
        });
        for odd in [
            RestoreEvent {
                plan: Some("<!channel>".to_owned()),
                ..plan_wide.clone()
            },
            RestoreEvent {
                api: "a1b2c3d4e5".to_owned(),
                ..plan_wide.clone()
            },
            RestoreEvent {
                method: Some("GET".to_owned()),
                ..plan_wide.clone()
            },
            RestoreEvent {
                api: "prod:a1b2c3d4e5".to_owned(),
                stage: "live".to_owned(),
                method: Some("GET".to_owned()),
                path: Some("/".to_owned()),
                ..plan_wide.clone()
            },
        ] {
            assert_eq!(odd.plan_reminder(), None, "{odd:?}");
        }
    }

    #[test]
    fn schedule_names_fit_the_schedulers_rules_and_differ_by_place_and_time() {
        let stage = reminder(Level::Stage);
        let name = schedule_name(&stage);
        assert!(name.len() <= 64, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{name}"
        );
        let method = reminder(Level::method(
            HttpMethod::parse("GET").unwrap(),
            ResourcePath::parse("/").unwrap(),
        ));
        assert_ne!(schedule_name(&method), name);
        let later = Reminder {
            at: stage.at + 1,
            ..stage.clone()
        };
        assert_ne!(schedule_name(&later), name);
        // Another target: the same API id there is another place, and the name stays valid.
        let elsewhere = Reminder {
            api: ApiId::parse(&format!("{}:{}", "a".repeat(32), stage.api)).unwrap(),
            ..stage.clone()
        };
        let other = schedule_name(&elsewhere);
        assert_ne!(other, name);
        assert!(other.len() <= 64, "{other}");
        assert!(
            other
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{other}"
        );
    }

    #[test]
    fn schedules_target_the_function_the_scheduler_role_may_invoke() {
        let plain = "arn:aws:lambda:us-east-1:123456789012:function:throttle-bot";
        assert_eq!(unqualified(plain), plain);
        assert_eq!(unqualified(&format!("{plain}:live")), plain);
        assert_eq!(unqualified(&format!("{plain}:7")), plain);
        let secret = SigningSecret::new("s").unwrap();
        let restores =
            ScheduledRestores::new(Some("arn:role".into()), "default".into(), Some(&secret));
        restores.know_function(&format!("{plain}:live"));
        assert_eq!(restores.function_arn.get().map(String::as_str), Some(plain));
    }

    #[test]
    fn without_a_role_or_a_secret_timed_changes_are_refused() {
        let secret = SigningSecret::new("s").unwrap();
        let none = ScheduledRestores::new(None, "default".into(), Some(&secret));
        assert!(none.ready().unwrap_err().0.contains("SCHEDULER_ROLE_ARN"));
        let no_secret = ScheduledRestores::new(Some("arn:role".into()), "default".into(), None);
        assert!(
            no_secret
                .ready()
                .unwrap_err()
                .0
                .contains("SLACK_SIGNING_SECRET")
        );
        let ready =
            ScheduledRestores::new(Some("arn:role".into()), "default".into(), Some(&secret));
        assert!(ready.ready().is_err(), "no function ARN yet");
        ready.know_function("arn:aws:lambda:us-east-1:1:function:f");
        assert_eq!(ready.ready(), Ok(()));
    }
}
