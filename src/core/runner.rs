//! The one path every request takes, whatever brought it in (a slash command over HTTP or
//! Lambda, a deferred Lambda job, `apply`, a schedule, an alarm): who asks → what → allowed? →
//! what is there now → plan → apply → count, log, tell.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::clock;
use super::grammar::{
    ListRequest, PlanRequest, PlanTimedRequest, Request, ShowRequest, TimedRequest,
};
use super::outcome::{Failure, Outcome, PlanTimedDone, TimedDone};
use super::plan::{DEFAULT_CUT_FRACTION, Risk, plan, risk};
use super::ports::{Deadlines, Gateway, GatewayError, Teller};
use super::recent::Recent;
use super::requester::{ChatId, ReplyTo, RequestId, Requester, Via};
use crate::domain::{
    Action, ApiId, Applied, Approval, Configured, Hold, Level, PlanApplied, PlanChange, PlanLevel,
    PlanView, RecordSeal, ResolvedApi, StageName, ThrottleChange, Timed, Unsealed, has_level,
    instead_of,
};
use crate::metrics::Metrics;
use crate::policy::{Allowed, ApiIdentity, Denial, PolicyHandle};

/// How many of a target's APIs `show <alias>:` reads the stages of (one management call each).
const LISTED_WITH_STAGES: usize = 20;

/// Work that needs AWS, so it runs after the acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Change(ThrottleChange),
    Show(ShowRequest),
    List(ListRequest),
    Timed(TimedRequest),
    Plan(PlanRequest),
}

/// Who asked, how, and where their final answer goes.
#[derive(Debug, Clone)]
pub struct Origin {
    pub requester: Requester,
    /// `None` for requesters nobody waits on (schedule, alarm): they are told via the audit.
    pub reply_to: Option<ReplyTo>,
    pub via: Via,
    /// The channel message this request's final answer replaces (an approval request's), when
    /// the chat told us its timestamp: a later post about it can be threaded under it.
    pub message_ts: Option<String>,
}

/// The second steps a change may have passed already.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gates {
    /// The values the person saw at the level: nothing is written if the level holds others.
    pub expect: Option<Configured>,
    /// The author confirmed it (pressed Apply on its preview).
    pub confirmed: bool,
    /// Who approved it (pressed Approve); checked against the rule's approvers here.
    pub approved_by: Option<ChatId>,
    /// The author asked to skip approval (`--now`); only a `break_glass` rule lets them.
    pub break_glass: bool,
}

/// One request, from whoever asked, ready to run.
#[derive(Debug, Clone)]
pub struct Ask {
    pub id: RequestId,
    pub origin: Origin,
    /// What was typed, for messages that must quote it (an interrupted command).
    pub text: String,
    pub work: Work,
    pub gates: Gates,
}

/// Where a request stands once prepared.
// One `Step` per request, moved once from `prepare` to `commit`: boxing either side would buy
// nothing but an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Step {
    /// Nothing to write: refused, failed, found unnecessary, or a read.
    Done(Outcome),
    /// Allowed and planned; the write is next, with the level still held.
    Write(Prepared, LevelGuard),
}

/// One level of one stage held by one request in this process, from its read to its write:
/// changes, restores and extends there run one at a time, each on what the last one left.
#[derive(Debug, Default)]
pub struct LevelGuard {
    _held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// A request resolved, allowed and planned against the stage as read, not yet written.
#[derive(Debug)]
pub enum Prepared {
    /// A change; a timed one records itself on the stage first (`record`, and the record it
    /// replaces, put back if the write fails).
    Change {
        change: ThrottleChange,
        applied: Applied,
        record: RecordStep,
        /// The stage's records at other levels, as read: written again after this write.
        others: Vec<Timed>,
    },
    /// What comes back when a timed change ends, put back; then its record updated (the
    /// timed change under it, `next`) or removed.
    Restore {
        request: TimedRequest,
        change: ThrottleChange,
        applied: Applied,
        record: Timed,
        next: Option<Timed>,
        others: Vec<Timed>,
    },
    /// A timed change with nothing to put back: its record updated or removed, and this told.
    Forget {
        request: TimedRequest,
        api: ResolvedApi,
        record: Timed,
        done: TimedDone,
        next: Option<Timed>,
        others: Vec<Timed>,
    },
    /// A usage plan change, decided: the write (at the plan's turn, if the level still holds
    /// `applied.before` then).
    Plan {
        change: PlanChange,
        applied: PlanApplied,
        record: RecordStep<PlanLevel>,
    },
    /// A usage plan's timed change ended (or restored early): what comes back put back, at
    /// the plan's turn, if the level still holds what it set; then its record updated.
    PlanRestore {
        request: PlanTimedRequest,
        applied: PlanApplied,
        record: Timed<PlanLevel>,
        next: Option<Timed<PlanLevel>>,
    },
    /// A plan's timed change with nothing to put back: its record updated or removed.
    PlanForget {
        request: PlanTimedRequest,
        plan: PlanView,
        record: Timed<PlanLevel>,
        done: PlanTimedDone,
        next: Option<Timed<PlanLevel>>,
    },
    /// A plan's timed change that now ends later: its record rewritten.
    PlanExtend {
        request: PlanTimedRequest,
        plan: PlanView,
        record: Timed<PlanLevel>,
    },
    /// A timed change that now ends later: its record rewritten.
    Extend {
        request: TimedRequest,
        api: ResolvedApi,
        record: Timed,
        others: Vec<Timed>,
    },
}

/// What a change does to the timed-change record at its level.
// One per request, moved once from `prepare` to `commit` (as `Step`): boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RecordStep<L = Level> {
    /// Nothing: no timed change there, and this one is not timed either.
    Untouched,
    /// A timed change: its record, written before the change (and the record it replaces, put
    /// back if the write fails).
    Keep(Timed<L>, Option<Timed<L>>),
    /// A change for good over a timed one: that record goes before the write (and comes back if
    /// the write fails), so its deadline puts nothing back over the decision; if it cannot be
    /// removed, nothing is changed.
    End(Timed<L>),
    /// A change for good over a record set aside as written before the stage's last update:
    /// removed, and never written again (not even if the write fails), nor waited for.
    Discard(Timed<L>),
}

/// How many finished records a process remembers (each for [`crate::domain::STALE_AFTER_SECS`],
/// after which its age sets it aside anyway).
const FINISHED_MEMORY: usize = 10_000;

/// Makes sure a request gets one final message, whoever sends it first: its job, or the
/// shutdown that interrupted it.
#[derive(Debug, Default)]
pub struct ReplyOnce(AtomicBool);

impl ReplyOnce {
    /// True for the first caller only.
    pub fn claim(&self) -> bool {
        !self.0.swap(true, Ordering::SeqCst)
    }
}

pub struct Runner<G, T> {
    gateway: G,
    teller: T,
    policy: Arc<PolicyHandle>,
    metrics: Arc<Metrics>,
    /// A cut of a level's own value by more than this share asks for confirmation.
    cut_fraction: f64,
    /// A rate below the last hour's busiest minute asks for confirmation
    /// (`CONFIRM_BELOW_TRAFFIC`).
    confirm_below_traffic: bool,
    /// The longest a timed change may last (`MAX_TEMPORARY`).
    max_temporary: Hold,
    /// What makes timed changes' restores run on time; without it, only a sweep does.
    deadlines: Option<Arc<dyn Deadlines>>,
    /// Seals the records and claims this service keeps on stages; without it (no signing
    /// secret) no record is trusted and no timed change is made.
    seal: Option<RecordSeal>,
    /// Records not sealed by this service that were already reported, so each is told once.
    reported: Mutex<Reported<(ApiId, String, Unsealed)>>,
    /// Records this process finished (restored, replaced or ended), by their sealed value:
    /// put back on a stage later, they are set aside as stale, never acted on again.
    finished: Mutex<super::recent::Recent<String, i64>>,
    /// The same for usage plans' unsealed records (by plan id).
    reported_plans: Mutex<Reported<(String, Unsealed)>>,
    /// The levels requests are reading and writing now (see [`LevelGuard`]).
    levels: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Records not sealed here that the audit channel was told of: each told again after a day if
/// it is still there, and at most [`Reported::CAPACITY`] remembered (the oldest forgotten
/// first), however many tags someone writes.
struct Reported<K>(Recent<K, i64>);

impl<K: std::hash::Hash + Eq + Clone> Reported<K> {
    const CAPACITY: usize = 10_000;
    const AGAIN_AFTER_SECS: i64 = 24 * 60 * 60;

    /// True if `found` is to be told now (as a set's `insert`: true the first time).
    fn insert(&mut self, found: K) -> bool {
        let now = clock::unix_now();
        self.0.first(found, now + Self::AGAIN_AFTER_SECS, now)
    }
}

impl<K: std::hash::Hash + Eq + Clone> Default for Reported<K> {
    fn default() -> Self {
        Self(Recent::new(Self::CAPACITY))
    }
}

impl<G: Gateway, T: Teller> Runner<G, T> {
    pub fn new(gateway: G, teller: T, policy: Arc<PolicyHandle>, metrics: Arc<Metrics>) -> Self {
        Self {
            gateway,
            teller,
            policy,
            metrics,
            cut_fraction: DEFAULT_CUT_FRACTION,
            confirm_below_traffic: true,
            max_temporary: Hold::DEFAULT_MAX,
            deadlines: None,
            seal: None,
            reported: Mutex::new(Reported::default()),
            finished: Mutex::new(super::recent::Recent::new(FINISHED_MEMORY)),
            reported_plans: Mutex::new(Reported::default()),
            levels: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_seal(mut self, seal: Option<RecordSeal>) -> Self {
        self.seal = seal;
        self
    }

    pub fn with_max_temporary(mut self, max: Hold) -> Self {
        self.max_temporary = max;
        self
    }

    pub fn with_deadlines(mut self, deadlines: Arc<dyn Deadlines>) -> Self {
        self.deadlines = Some(deadlines);
        self
    }

    /// Whether a timed change made now would end by itself.
    fn deadlines_ready(&self) -> Result<(), Failure> {
        if self.seal.is_none() {
            return Err(Failure::NoDeadlines(
                "without SLACK_SIGNING_SECRET its record on the stage cannot be sealed".to_owned(),
            ));
        }
        match &self.deadlines {
            Some(deadlines) => deadlines
                .ready()
                .map_err(|e| Failure::NoDeadlines(e.to_string())),
            None => Err(Failure::NoDeadlines(
                "nothing in this process keeps deadlines".to_owned(),
            )),
        }
    }

    /// Sets the share of a level's own rate or burst a change may cut without confirmation.
    pub fn with_cut_fraction(mut self, fraction: f64) -> Self {
        self.cut_fraction = fraction.clamp(0.0, 1.0);
        self
    }

    /// Whether a rate below the traffic of the last hour's busiest minute asks to confirm.
    pub fn with_traffic_checks(mut self, on: bool) -> Self {
        self.confirm_below_traffic = on;
        self
    }

    pub fn gateway(&self) -> &G {
        &self.gateway
    }

    pub fn teller(&self) -> &T {
        &self.teller
    }

    /// Whether the policy's rules reach this API (by id, or by its name in the cached list);
    /// without a policy (`allow-all`, schedules) every API is reached.
    pub fn reaches(&self, api: &ApiId) -> bool {
        let Some(policy) = self.policy.current() else {
            return true;
        };
        let name = self.gateway.known_name(api);
        let mut names = vec![api.id()];
        names.extend(name.as_deref());
        policy.reaches(api.target(), &names)
    }

    /// [`Runner::reaches`] for an API found by other means than a listing (a tag index): where
    /// a rule names APIs and the name is not known yet, it is read first (the cached list,
    /// listed at most once).
    pub async fn reaches_found(&self, api: &ApiId) -> bool {
        let names = self.policy.current().is_some_and(|p| p.names_apis());
        if names && self.gateway.known_name(api).is_none() {
            let _ = self.gateway.name_of(api).await;
        }
        self.reaches(api)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// What can be refused at once, with no AWS call: another workspace, or a change no rule
    /// could allow this person whatever the API. Schedules and alarms are never screened.
    pub fn screen(&self, requester: &Requester, request: Option<&Request>) -> Result<(), Denial> {
        let (Some(who), Some(policy)) = (requester.user(), self.policy.current()) else {
            return Ok(());
        };
        match request {
            Some(Request::Change(change)) => policy.screen(who, change),
            Some(Request::Show(_) | Request::List(_)) => policy.may_read(who),
            // A step's refusal names the values it judged (the live ones, for `extend`): only
            // those who may read the fleet are told anything of a timed change.
            Some(Request::Timed(_)) => policy.may_read(who),
            Some(Request::Plan(PlanRequest::Show(_))) => policy.may_read(who),
            Some(Request::Plan(PlanRequest::Change(change))) => {
                policy.screen_plan(who, change.plan.target(), &change.action)
            }
            Some(Request::Plan(PlanRequest::Timed(_))) => policy.may_read(who),
            Some(Request::Help) | None => policy.admits_team(who.team.as_ref()),
        }
    }

    /// A request from start to end: its work, then its one final message and audit notice.
    pub async fn run(&self, ask: &Ask, once: &ReplyOnce) -> Outcome {
        let started = Instant::now();
        let outcome = self.perform(ask).await;
        self.conclude(&ask.origin, &outcome, started.elapsed(), once)
            .await;
        outcome
    }

    /// Does the AWS part: prepares, then writes if the plan says so.
    pub async fn perform(&self, ask: &Ask) -> Outcome {
        match self.prepare(ask).await {
            Step::Done(outcome) => outcome,
            Step::Write(prepared, held) => self.commit(prepared, held).await,
        }
    }

    /// Everything up to the write: resolve, read, decide, plan. Reads only, so it may be cut
    /// short and redone at no cost (a Lambda does, to hand a slow request on before writing).
    pub async fn prepare(&self, ask: &Ask) -> Step {
        match &ask.work {
            Work::Change(change) => self.change(ask, change).await,
            Work::Show(request) => Step::Done(match request.history {
                Some(lookback) => Outcome::History {
                    request: request.clone(),
                    result: self.history(request, lookback).await,
                },
                None => Outcome::Show {
                    request: request.clone(),
                    result: self.show(request).await,
                },
            }),
            Work::List(request) => Step::Done(Outcome::Listed {
                request: request.clone(),
                result: self.list(request).await,
            }),
            Work::Timed(request) => self.timed(ask, request).await,
            Work::Plan(request) => self.plan(ask, request).await,
        }
    }

    /// The write of a prepared request. Once started it is seen through (bounded by the
    /// gateway's own timeout): an abandoned write would leave the channel unsure what happened.
    pub async fn commit(&self, prepared: Prepared, held: LevelGuard) -> Outcome {
        let outcome = match prepared {
            Prepared::Change {
                change,
                applied,
                record,
                others,
            } => self.commit_change(change, applied, record, &others).await,
            Prepared::Restore {
                request,
                change,
                applied,
                record,
                next,
                others,
            } => {
                let ended = (record, next);
                self.commit_restore(request, change, applied, ended, &others)
                    .await
            }
            Prepared::Forget {
                request,
                api,
                record,
                done,
                next,
                others,
            } => {
                self.commit_forget(request, api, (record, next), done, &others)
                    .await
            }
            Prepared::Extend {
                request,
                api,
                record,
                others,
            } => self.commit_extend(request, api, record, &others).await,
            Prepared::Plan {
                change,
                applied,
                record,
            } => self.commit_plan(change, applied, record).await,
            Prepared::PlanRestore {
                request,
                applied,
                record,
                next,
            } => {
                self.commit_plan_restore(request, applied, record, next)
                    .await
            }
            Prepared::PlanForget {
                request,
                plan,
                record,
                done,
                next,
            } => {
                self.commit_plan_forget(request, plan, record, done, next)
                    .await
            }
            Prepared::PlanExtend {
                request,
                plan,
                record,
            } => self.commit_plan_extend(request, plan, record).await,
        };
        drop(held);
        outcome
    }

    /// Waits for this stage to be free in this process, and holds it (whichever `level` is
    /// asked): a write at one level writes the records of the others again (see
    /// [`Timed::written_for`]), which must not race a step at another level.
    async fn hold(&self, api: &ApiId, stage: &StageName, _level: &Level) -> LevelGuard {
        self.hold_stage(api, stage).await
    }

    /// Waits for a stage to be free in this process, and holds it.
    pub(super) async fn hold_stage(&self, api: &ApiId, stage: &StageName) -> LevelGuard {
        self.hold_key(format!("{api} {stage}")).await
    }

    /// Waits for the usage plans of a target to be free in this process, and holds them: from
    /// the read a plan step decides on to its record, as [`Runner::hold`] does for a stage's
    /// level. One writer for all of a target's plans costs nothing: AWS takes one
    /// UpdateUsagePlan per account every 20 s anyway. (A plan named or typed by id is the same
    /// plan, which a key per plan could not tell before reading it.)
    async fn hold_plans(&self, plan: &crate::domain::PlanRef) -> LevelGuard {
        let target = plan.target().map_or("home", |t| t.as_str());
        self.hold_key(format!("usage plans in {target}")).await
    }

    async fn hold_key(&self, key: String) -> LevelGuard {
        let lock = {
            let mut levels = self.levels.lock().expect("level locks");
            // Bounded: locks nobody holds or waits for are dropped as new ones come.
            levels.retain(|_, lock| Arc::strong_count(lock) > 1);
            Arc::clone(levels.entry(key).or_default())
        };
        LevelGuard {
            _held: Some(lock.lock_owned().await),
        }
    }

    /// A setting for a method the API lacks would throttle nothing (API Gateway stores a REST
    /// method setting for any path): refused, with what the API has instead. `Ok` when the API's
    /// methods cannot be read: the check helps, it never blocks.
    async fn has_method(
        &self,
        api: &ApiId,
        name: Option<&str>,
        level: &Level,
    ) -> Result<(), GatewayError> {
        match self.gateway.methods(api).await {
            Some(methods) if !has_level(&methods, level) => Err(GatewayError::NoSuchMethod {
                api: name.map_or_else(|| api.to_string(), str::to_owned),
                level: level.to_string(),
                instead: instead_of(&methods, level),
            }),
            _ => Ok(()),
        }
    }

    async fn change(&self, ask: &Ask, change: &ThrottleChange) -> Step {
        let requester = &ask.origin.requester;
        let gates = &ask.gates;
        if let Some(hold) = change.hold {
            if let Err(error) = hold.at_most(self.max_temporary) {
                return Step::Done(changed(change, Err(error.into())));
            }
            if let Err(why) = self.deadlines_ready() {
                return Step::Done(changed(change, Err(why)));
            }
        }
        let policy = requester.user().and(self.policy.current());
        let (api, stage, held) = match self
            .locate_for(requester, &change.api, &change.stage, &change.level)
            .await
        {
            Ok(found) => found,
            Err(error) => return Step::Done(changed(change, Err(error.into()))),
        };
        if let Err(error) = stage.kind.check(&change.level) {
            return Step::Done(changed(change, Err(GatewayError::from(error).into())));
        }
        // The one decision, on exactly the API that will be written.
        let refused = |denial| {
            Step::Done(Outcome::Refused {
                text: ask.text.clone(),
                change: Some(change.clone()),
                denial,
            })
        };
        let allowed = match (&policy, requester.user()) {
            (Some(policy), Some(who)) => {
                match policy.decide(who, ApiIdentity::Resolved(&api), change) {
                    Ok(allowed) => Some(allowed),
                    Err(denial) => return refused(denial),
                }
            }
            _ => None,
        };
        if let (Some(allowed), Some(approver), Some(author)) =
            (&allowed, &gates.approved_by, requester.user())
            && let Err(denial) = allowed.approval_by(approver, &author.user)
        {
            return refused(denial);
        }
        // Compare, then set: a button acts only on the values its message showed. After the
        // decision, so that a press the policy refuses learns nothing of the live values.
        let found = stage.at(&change.level);
        if let Some(expected) = gates.expect
            && found != expected
        {
            return Step::Done(Outcome::Moved {
                change: change.clone(),
                api,
                expected,
                found,
            });
        }
        if matches!(change.action, Action::Set(_))
            && !stage.knows(&change.level)
            && let Err(error) = self
                .has_method(&api.id, api.name.as_deref(), &change.level)
                .await
        {
            return Step::Done(changed(change, Err(error.into())));
        }
        let account = self.gateway.account_limits(&api.id).await;
        let plan = match plan(change, &stage, account) {
            Ok(plan) => plan,
            Err(exceeded) => return Step::Done(changed(change, Err(exceeded.into()))),
        };
        let mut applied = plan.applied(api, &stage);
        let record = match change.hold {
            Some(hold) => {
                let prior = stage.timed_at(&change.level).cloned();
                let values = (found, plan.after);
                let record = start_record(ask, change.level.clone(), values, prior.as_ref(), hold);
                if self
                    .sealed(&applied.api.id, &change.stage, &record)
                    .is_none()
                {
                    return Step::Done(changed(change, Err(Failure::NoRoomForRecord)));
                }
                applied.until = Some(record.until);
                applied.steps = record.steps();
                RecordStep::Keep(record, prior)
            }
            None => match stage.timed_at(&change.level) {
                // Back to the values of the timed change under it (Undo of the newest, or
                // those values typed): that one stays in force and ends at its own time, as it
                // would have; it is not made permanent.
                Some(timed)
                    if let Some(next) = timed.next(super::clock::unix_now())
                        && found == timed.set
                        && next.set == plan.after =>
                {
                    applied.until = Some(next.until);
                    applied.steps = next.steps();
                    RecordStep::Keep(next, Some(timed.clone()))
                }
                Some(timed) => {
                    applied.replaces_timed = Some(timed.until);
                    applied.replaces_below = timed
                        .below
                        .iter()
                        .map(|layer| (layer.until, layer.by.clone()))
                        .collect();
                    RecordStep::End(timed.clone())
                }
                // A record set aside as written before the stage's last update goes with a
                // change for good: never acted on, its end would only tell of a decision
                // already made. Nothing of it is kept or shown as ended.
                None => match self.outdated_at(&applied.api.id, &stage, &change.level) {
                    Some((outdated, _)) => RecordStep::Discard(outdated),
                    None => RecordStep::Untouched,
                },
            },
        };
        // The same values again still end (for good) or re-time (timed) a timed change there.
        if !plan.changes_anything() && matches!(record, RecordStep::Untouched) {
            return Step::Done(changed(change, Ok(applied)));
        }
        // No policy (allow-all), or not a person: no conditions.
        let allowed = allowed.unwrap_or_else(|| Allowed::unconditionally("no policy"));
        let mut risk = risk(change, &plan, self.cut_fraction);
        // Only a person can confirm, and only before they did; then the traffic is worth a read.
        if risk.is_none()
            && self.confirm_below_traffic
            && requester.user().is_some()
            && !gates.confirmed
        {
            risk = self.below_traffic(&applied.api, change).await;
        }
        // What approval the change has, or still needs: an approver's yes, or break glass where
        // the rules grant it (decided before the confirmation, so that its preview's Apply
        // keeps the break glass).
        let awaiting_approval = if allowed.approvers.is_empty() {
            false
        } else {
            match (&gates.approved_by, gates.break_glass && allowed.break_glass) {
                (Some(approver), _) => {
                    applied.approval = Approval::By(approver.to_string());
                    false
                }
                (None, true) => {
                    applied.approval = Approval::Skipped {
                        rule: allowed.rule.clone(),
                    };
                    false
                }
                (None, false) => true,
            }
        };
        // A rule's `confirm` is the author's own step: neither another admitting rule's
        // approval nor break glass stands in for it. It comes first, so an approval is only
        // ever asked for (and given on) a change its author confirmed.
        if requester.user().is_some()
            && allowed.confirm
            && !gates.confirmed
            && gates.approved_by.is_none()
        {
            return Step::Done(Outcome::NeedsConfirmation {
                change: change.clone(),
                planned: applied,
                risk,
            });
        }
        if awaiting_approval {
            return Step::Done(Outcome::AwaitingApproval {
                change: change.clone(),
                planned: applied,
                approvers: allowed.approvers,
                rule: allowed.rule,
            });
        }
        // A risky change: approved and break-glass changes had their second step, except that
        // `--now` never skips confirming a change that blocks traffic.
        let second_step_done = gates.confirmed
            || match applied.approval {
                Approval::NotNeeded => false,
                Approval::By(_) => true,
                Approval::Skipped { .. } => risk != Some(Risk::BlocksTraffic),
            };
        if requester.user().is_some() && !second_step_done && risk.is_some() {
            return Step::Done(Outcome::NeedsConfirmation {
                change: change.clone(),
                planned: applied,
                risk,
            });
        }
        Step::Write(
            Prepared::Change {
                change: change.clone(),
                applied,
                record,
                others: stage.others(&change.level),
            },
            held,
        )
    }
}

/// How far back `show` and the confirmation of a change look at traffic.
pub const TRAFFIC_WINDOW_SECS: i64 = 3600;

fn changed(change: &ThrottleChange, result: Result<Applied, Failure>) -> Outcome {
    Outcome::Change {
        change: change.clone(),
        result,
    }
}

mod commit;
mod history;
mod log;
mod picture;
mod plan_timed;
mod plans;
mod reads;
mod stamps;
mod sweep;
mod tell;
mod timed;

pub use picture::Picture;
pub use plan_timed::plan_deadline_ask;
pub use timed::deadline_ask;
use timed::start_record;

#[cfg(test)]
mod tests;
