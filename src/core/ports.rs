//! The two ports of the core: what it needs from API Gateway, and how it tells people. Production
//! has one adapter for each (`aws::ApiGateway`, `slack::SlackTeller`); core tests use in-memory ones.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use super::errors::{GatewayError, TellError, TrafficError};
use super::outcome::News;
use super::requester::ReplyTo;
use crate::domain::{
    AccountLimits, Action, ApiId, ApiKind, ApiMethod, ApiName, Configured, Level, PlanLevel,
    PlanRef, PlanView, ResolvedApi, StageName, StageView, TargetAlias, Traffic, Trail,
};

/// A timed change's deadline: where and when its restore must run.
#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    pub api: ApiId,
    pub stage: StageName,
    pub level: Level,
    /// Unix seconds.
    pub at: i64,
}

/// A usage plan's timed change's deadline: the plan (its id as records name it, with its
/// target), the level, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanReminder {
    pub plan: String,
    pub level: PlanLevel,
    /// Unix seconds.
    pub at: i64,
}

/// Why a deadline could not be handed on (the record on the stage stays, so a sweep or a
/// person can still finish the restore).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeadlineError(pub String);

/// Makes a timed change's restore run at its deadline: a timer in this process, or a one-time
/// schedule that invokes a Lambda. Boxed so the runner can hold whichever the process has.
pub trait Deadlines: Send + Sync {
    /// Whether deadlines can be kept at all; a timed change is refused before any write if not.
    fn ready(&self) -> Result<(), DeadlineError> {
        Ok(())
    }

    fn remind<'a>(
        &'a self,
        reminder: &'a Reminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>>;

    /// The same for a usage plan's timed change. Where deadlines cannot be kept for plans,
    /// `Err`: the change is refused before anything is written.
    fn remind_plan<'a>(
        &'a self,
        reminder: &'a PlanReminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        let _ = reminder;
        Box::pin(async {
            Err(DeadlineError(
                "a usage plan's timed change ends on time only under `serve` or `socket`"
                    .to_owned(),
            ))
        })
    }
}

/// What the core needs from API Gateway, in terms every kind of API shares: an API id, a stage,
/// a level and an action. Which calls an action takes, and what "not set" is, are the
/// adapter's (each call costs as few management calls as the kind allows, cached where the
/// adapter says so); errors are already in terms an operator can act on.
pub trait Gateway: Send + Sync {
    /// The API with this exact name (the list of APIs is cached; a miss refreshes it once).
    fn find_by_name(
        &self,
        name: &ApiName,
    ) -> impl Future<Output = Result<ResolvedApi, GatewayError>> + Send;

    /// The name of the API with this id, from the (cached) list of APIs; `None` if unlisted.
    fn name_of(
        &self,
        id: &ApiId,
    ) -> impl Future<Output = Result<Option<String>, GatewayError>> + Send;

    /// The name of the API with this id if the cached list already knows it; never calls AWS.
    fn known_name(&self, id: &ApiId) -> Option<String>;

    /// The kind of the API with this id if a listing already found it; never calls AWS.
    fn known_kind(&self, id: &ApiId) -> Option<ApiKind>;

    /// One stage's throttling as it is now.
    fn read_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> impl Future<Output = Result<StageView, GatewayError>> + Send;

    /// Every stage's throttling.
    fn read_stages(
        &self,
        api: &ApiId,
    ) -> impl Future<Output = Result<Vec<StageView>, GatewayError>> + Send;

    /// Sets (or removes, for a reset) the limits at one level of one stage.
    fn write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// One target's APIs (of every kind this service changes), from its (cached) list.
    fn listing(
        &self,
        target: Option<&TargetAlias>,
    ) -> impl Future<Output = Result<Vec<ResolvedApi>, GatewayError>> + Send;

    /// Every API's id (of every kind this service changes), from the (cached) list of APIs.
    fn apis(&self) -> impl Future<Output = Result<Vec<ApiId>, GatewayError>> + Send;

    /// Sets tags on a stage in one call (where a timed change keeps its record, written with
    /// the stage's other records so that none is dated before the stage's last update).
    fn tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// Removes one tag from a stage; removing a tag that is not there is not an error.
    fn untag(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// A usage plan by id or name in its target, as it is now.
    fn read_plan(
        &self,
        plan: &PlanRef,
    ) -> impl Future<Output = Result<PlanView, GatewayError>> + Send {
        let plan = plan.to_string();
        async move {
            Err(GatewayError::Unexpected(format!(
                "usage plan `{plan}`: usage plans are not reachable here"
            )))
        }
    }

    /// Every target's usage plans, with their tags (where timed changes keep their records).
    fn plans(&self) -> impl Future<Output = Result<Vec<PlanView>, GatewayError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Sets one tag on a usage plan (where a plan's timed change keeps its record).
    fn tag_plan(
        &self,
        plan: &PlanView,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send {
        let _ = (key, value);
        let plan = plan.id.clone();
        async move {
            Err(GatewayError::Unexpected(format!(
                "usage plan `{plan}`: its tags are not reachable here"
            )))
        }
    }

    /// Removes one tag from a usage plan; removing a tag that is not there is not an error.
    fn untag_plan(
        &self,
        plan: &PlanView,
        key: &str,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send {
        let _ = key;
        let plan = plan.id.clone();
        async move {
            Err(GatewayError::Unexpected(format!(
                "usage plan `{plan}`: its tags are not reachable here"
            )))
        }
    }

    /// How long a usage plan write in this target would wait for its turn if asked now (AWS
    /// allows about one UpdateUsagePlan every 20 seconds per account); never calls AWS.
    fn plan_wait(&self, target: Option<&TargetAlias>) -> Duration {
        let _ = target;
        Duration::ZERO
    }

    /// Sets or removes a usage plan's throttle at one level, after its turn comes, if the
    /// level still holds `expected` then (else [`GatewayError::PlanMoved`], nothing written).
    /// Returns how long it waited for its turn.
    fn write_plan(
        &self,
        plan: &PlanView,
        level: &PlanLevel,
        action: &Action,
        expected: Configured,
    ) -> impl Future<Output = Result<Duration, GatewayError>> + Send {
        let _ = (level, action, expected);
        let plan = plan.id.clone();
        async move {
            Err(GatewayError::Unexpected(format!(
                "usage plan `{plan}`: usage plans are not reachable here"
            )))
        }
    }

    /// The API's methods (a REST API's resources' methods, an HTTP API's route keys), for a
    /// level no setting names yet; `None` where they cannot be read (the change then goes on:
    /// the check helps, it never blocks).
    fn methods(&self, api: &ApiId) -> impl Future<Output = Option<Vec<ApiMethod>>> + Send {
        let _ = api;
        async { None }
    }

    /// The regional quota of the account `api` lives in (cached); `None` when it cannot be read.
    fn account_limits(&self, api: &ApiId) -> impl Future<Output = Option<AccountLimits>> + Send;

    /// The calls CloudTrail recorded since `since` (Unix seconds) that touched the API's
    /// stages (only `stage`, when given), newest first, read in the target the API lives in.
    /// CloudTrail's own budget, not the management one.
    fn history(
        &self,
        api: &ApiId,
        stage: Option<&StageName>,
        since: i64,
    ) -> impl Future<Output = Result<Trail, GatewayError>> + Send {
        let _ = (api, stage, since);
        async {
            Err(GatewayError::Unexpected(
                "CloudTrail's event history is not reachable here".to_owned(),
            ))
        }
    }

    /// The traffic each of `levels` (a stage and one of its levels) served between `from` and
    /// `to` (Unix seconds), minute by minute, in one read with a short timeout. Not part of
    /// the management budget; without a source of metrics, `Err`.
    fn traffic(
        &self,
        api: &ResolvedApi,
        levels: &[(StageName, Level)],
        from: i64,
        to: i64,
    ) -> impl Future<Output = Result<Vec<Traffic>, TrafficError>> + Send {
        let _ = (api, levels, from, to);
        async { Err(TrafficError("no source of metrics".to_owned())) }
    }

    /// A PNG of one level's traffic between `from` and `to` (Unix seconds): requests per
    /// second (1-minute averages) and the 4XX share, with each of `limits` (a label, requests
    /// per second) drawn as a line, rendered by the source of metrics itself. Without one,
    /// `Err`.
    fn traffic_picture(
        &self,
        api: &ResolvedApi,
        stage: &StageName,
        level: &Level,
        limits: &[(String, f64)],
        (from, to): (i64, i64),
    ) -> impl Future<Output = Result<Vec<u8>, TrafficError>> + Send {
        let _ = (api, stage, level, limits, from, to);
        async { Err(TrafficError("no source of metrics".to_owned())) }
    }
}

/// How the core tells people: the person who asked (on their reply address) and the audit
/// channel. Delivery failures come back typed; the core logs them once.
pub trait Teller: Send + Sync {
    fn reply(
        &self,
        to: &ReplyTo,
        news: &News<'_>,
    ) -> impl Future<Output = Result<(), TellError>> + Send;

    /// Sends the audit notice; `Ok(false)` when no audit channel is configured.
    fn audit(&self, news: &News<'_>) -> impl Future<Output = Result<bool, TellError>> + Send;

    /// Posts news nobody waits on (a timed change's end) in a chat channel; `Ok(false)` when
    /// this teller cannot post there (no bot token).
    /// Threaded under the message with timestamp `thread` when given.
    fn announce(
        &self,
        channel: &str,
        thread: Option<&str>,
        news: &News<'_>,
    ) -> impl Future<Output = Result<bool, TellError>> + Send;

    /// Whether [`Teller::picture`] can post at all, asked before a picture is drawn.
    fn shows_pictures(&self) -> bool {
        false
    }

    /// Posts a picture (a PNG) in a chat channel, under the message `thread` when given, with
    /// `comment`; `Ok(false)` when this teller cannot post pictures.
    fn picture(
        &self,
        channel: &str,
        thread: Option<&str>,
        title: &str,
        comment: &str,
        png: Vec<u8>,
    ) -> impl Future<Output = Result<bool, TellError>> + Send {
        let _ = (channel, thread, title, comment, png);
        async { Ok(false) }
    }
}
