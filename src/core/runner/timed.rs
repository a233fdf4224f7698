//! Timed changes after they are made: `extend`, `restore`, and the deadline. The record on the
//! stage is the only state; each step reads it with the stage and acts only on what it finds
//! (compare, then set), so a repeated or concurrent step finds nothing left to do.

use std::time::Duration;

use super::stamps::{stamped_long_ago, with_others};
use super::{Ask, Gates, Origin, Prepared, Runner, Step, Work};
use crate::core::clock::unix_now;
use crate::core::grammar::{TimedKind, TimedRequest};
use crate::core::outcome::{Failure, Outcome, TimedDone};
use crate::core::plan::plan;
use crate::core::ports::{DeadlineError, Gateway, GatewayError, Reminder, Teller};
use crate::core::requester::{RequestId, Requester, Via};
use crate::domain::{
    ApiId, ApiRef, Applied, Claim, Configured, Due, Hold, Place, RecordLevel, ResolvedApi,
    StageName, ThrottleChange, Timed,
};
use crate::policy::ApiIdentity;

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// A timed change kept `by` longer, if it is still in force: never one whose end has
    /// come, nor one whose values someone has changed since (`live` is what the level holds).
    pub(super) fn extended<L: RecordLevel>(
        &self,
        record: &Timed<L>,
        live: Configured,
        by: Hold,
        now: i64,
    ) -> Result<Timed<L>, Failure> {
        if record.is_due(now) {
            return Err(Failure::Ended);
        }
        if live != record.set {
            return Err(Failure::NoLongerHeld {
                set: record.set,
                found: live,
            });
        }
        self.deadlines_ready()?;
        Ok(record.extended(by, now, self.max_temporary)?)
    }

    /// Reads the stage and its record at the level, and decides what the request does to it.
    pub(super) async fn timed(&self, ask: &Ask, request: &TimedRequest) -> Step {
        // Where its end is told comes from the record, once there is one.
        let done = |api: Option<ResolvedApi>, result, record: Option<&Timed>| {
            Step::Done(Outcome::Timed {
                request: request.clone(),
                api,
                result,
                channel: record.and_then(|r| r.channel.clone()),
                thread: record.and_then(|r| r.thread.clone()),
            })
        };
        let requester = &ask.origin.requester;
        let policy = requester.user().and(self.policy.current());
        let (api, stage, held) = match self
            .locate_for(requester, &request.api, &request.stage, &request.level)
            .await
        {
            Ok(found) => found,
            Err(error) => return done(None, Err(error.into()), None),
        };
        // A record written before the stage's last update is never acted on; its end (or a
        // person's step on it) only removes it and tells what it would have done.
        let (record, outdated) = match stage.timed_at(&request.level).cloned() {
            Some(record) => (record, None),
            None => match self.outdated_at(&api.id, &stage, &request.level) {
                Some((record, updated)) => (record, Some(updated)),
                None => return done(Some(api), Ok(TimedDone::NothingPending), None),
            },
        };
        let at_level = |action| ThrottleChange {
            api: ApiRef::Id(api.id.clone()),
            stage: request.stage.clone(),
            level: request.level.clone(),
            action,
            hold: None,
        };
        let now = unix_now();
        // A person needs a rule that would let them set what the step leaves at the level.
        let judged = at_level(leaves(&record, request.kind, now).as_action());
        if let (Some(policy), Some(who)) = (&policy, requester.user()) {
            match policy.decide(who, ApiIdentity::Resolved(&api), &judged) {
                Err(denial) => {
                    return Step::Done(Outcome::Refused {
                        text: ask.text.clone(),
                        change: Some(judged),
                        denial,
                    });
                }
                // Keeping a change longer than was approved needs approval like the change
                // did: typing it again `for <duration>` asks for it (and re-times it).
                Ok(allowed)
                    if matches!(request.kind, TimedKind::Extend(_))
                        && !allowed.approvers.is_empty() =>
                {
                    return done(
                        Some(api),
                        Err(Failure::NeedsApproval { rule: allowed.rule }),
                        Some(&record),
                    );
                }
                Ok(_) => {}
            }
        }
        let live = stage.at(&request.level);
        let others = stage.others(&request.level);
        if let Some(updated) = outdated
            && (request.kind != TimedKind::Deadline || record.is_due(now))
        {
            return Step::Write(
                Prepared::Forget {
                    request: request.clone(),
                    api,
                    done: TimedDone::Outdated {
                        record: Box::new(record.clone()),
                        updated,
                    },
                    record,
                    next: None,
                    others,
                },
                held,
            );
        }
        match request.kind {
            TimedKind::Extend(by) => match self.extended(&record, live, by, now) {
                Ok(record) => Step::Write(
                    Prepared::Extend {
                        request: request.clone(),
                        api,
                        record,
                        others,
                    },
                    held,
                ),
                Err(error) => done(Some(api), Err(error), Some(&record)),
            },
            TimedKind::Deadline if !record.is_due(now) => Step::Done(Outcome::Timed {
                request: request.clone(),
                api: Some(api),
                channel: record.channel.clone(),
                thread: record.thread.clone(),
                result: Ok(TimedDone::NotDue(Box::new(record))),
            }),
            TimedKind::RestoreNow | TimedKind::Deadline => match record.check(live, now) {
                Due::Restore { action, next } => {
                    let change = at_level(action);
                    let account = self.gateway.account_limits(&api.id).await;
                    let plan = match plan(&change, &stage, account) {
                        Ok(plan) => plan,
                        Err(exceeded) => {
                            return done(Some(api), Err(exceeded.into()), Some(&record));
                        }
                    };
                    let applied = Applied {
                        until: next.as_ref().map(|next| next.until),
                        steps: next.as_ref().map(|next| next.steps()).unwrap_or_default(),
                        ..plan.applied(api, &stage)
                    };
                    Step::Write(
                        Prepared::Restore {
                            request: request.clone(),
                            change,
                            applied,
                            record,
                            next: next.map(|next| *next),
                            others,
                        },
                        held,
                    )
                }
                Due::AlreadyBack { next } => Step::Write(
                    Prepared::Forget {
                        request: request.clone(),
                        api,
                        done: TimedDone::AlreadyBack(Box::new(record.clone())),
                        record,
                        next: next.map(|next| *next),
                        others,
                    },
                    held,
                ),
                Due::Moved { found } => Step::Write(
                    Prepared::Forget {
                        request: request.clone(),
                        api,
                        done: TimedDone::Moved {
                            record: Box::new(record.clone()),
                            found,
                        },
                        record,
                        next: None,
                        others,
                    },
                    held,
                ),
            },
        }
    }

    /// Puts back what comes back when a timed change ends: the timed change under it, or the
    /// values from before the first. The level is written first and the record updated after:
    /// interrupted in between, the record still names the ended change over a level that holds
    /// what came back, which the next look recognises (see [`Timed::check`]) and finishes.
    pub(super) async fn commit_restore(
        &self,
        request: TimedRequest,
        change: ThrottleChange,
        mut applied: Applied,
        (record, next): (Timed, Option<Timed>),
        others: &[Timed],
    ) -> Outcome {
        let api = applied.api.clone();
        // The records (this one too) are written again just before the write dates the
        // stage, unless they just were (a claim): interrupted after the write, the next look
        // still finds this record describing the stage, and finishes it.
        let mut record = record;
        let all = with_others(&record, others);
        if all.iter().any(|r| stamped_long_ago(r.at))
            && let Some(stamp) = self.restamp(&api.id, &change.stage, &all).await
        {
            record = record.stamped(stamp);
        }
        let written = self
            .gateway
            .write(
                &api.id,
                &change.stage,
                &change.level,
                &applied.after.as_action(),
            )
            .await;
        if let Err(error) = written {
            // It may have landed (no answer is not "not written"): the records still count.
            self.restamp(&api.id, &change.stage, &all).await;
            return timed(request, api, &record, Err(error.into()));
        }
        applied.changed = true;
        // If this fails the record stays; the next look finds the values back and goes on.
        // The other levels' records are written again with it: the write dated the stage.
        match &next {
            Some(next) => {
                self.unkeep(&api.id, &change.stage, &record, Some(next), others)
                    .await;
                self.remind(&api.id, &change.stage, next).await;
            }
            None => {
                self.unkeep(&api.id, &change.stage, &record, None, others)
                    .await
            }
        }
        timed(
            request,
            api,
            &record.clone(),
            Ok(TimedDone::Restored {
                record: Box::new(record),
                applied: Box::new(applied),
            }),
        )
    }

    /// Updates the record of a timed change with nothing to put back: the one under it stays
    /// (and keeps its deadline), or the record goes.
    pub(super) async fn commit_forget(
        &self,
        request: TimedRequest,
        api: ResolvedApi,
        (record, next): (Timed, Option<Timed>),
        done: TimedDone,
        others: &[Timed],
    ) -> Outcome {
        match &next {
            Some(next) => {
                if let Err(error) = self.keep(&api.id, &request.stage, next, others).await {
                    return timed(request, api, &record, Err(error.into()));
                }
                self.remind(&api.id, &request.stage, next).await;
            }
            None => {
                self.unkeep(&api.id, &request.stage, &record, None, others)
                    .await
            }
        }
        timed(request, api, &record, Ok(done))
    }

    /// Rewrites a timed change's record with its new deadline, and hands that on.
    pub(super) async fn commit_extend(
        &self,
        request: TimedRequest,
        api: ResolvedApi,
        record: Timed,
        others: &[Timed],
    ) -> Outcome {
        if let Err(failure) = self.hand_on(&api.id, &request.stage, &record).await {
            return timed(request, api, &record, Err(failure));
        }
        if let Err(error) = self.keep(&api.id, &request.stage, &record, others).await {
            return timed(request, api, &record, Err(error.into()));
        }
        timed(
            request,
            api,
            &record.clone(),
            Ok(TimedDone::Extended(Box::new(record))),
        )
    }

    /// Claims a due restore for the process with `token`: leaves it to another process holding
    /// a fresh claim; otherwise writes its own, waits `settle` for other replicas' claims to
    /// land, and reads back. `Ok(true)`: this process's claim stayed, it runs the restore;
    /// `Ok(false)`: another process has it. `Err` is the failed attempt (AWS could not be
    /// asked), to report and retry like a failed restore.
    pub async fn claim(
        &self,
        reminder: &Reminder,
        token: &str,
        settle: Duration,
    ) -> Result<bool, Outcome> {
        let (Some(seal), Some(claim)) = (
            &self.seal,
            Claim::new(&reminder.level, token.to_owned(), unix_now()),
        ) else {
            return Ok(true);
        };
        let place = Place::Stage {
            api: &reminder.api,
            stage: &reminder.stage,
        };
        let (key, value) = claim.to_tag(seal, place);
        let (api, stage) = (&reminder.api, &reminder.stage);
        let unreached = |error: GatewayError| Outcome::Timed {
            request: deadline_request(reminder),
            api: None,
            result: Err(error.into()),
            channel: None,
            thread: None,
        };
        let held_elsewhere = |view: &crate::domain::StageView| {
            view.claims
                .iter()
                .any(|c| c.key == claim.key && c.by != claim.by && c.is_fresh(claim.at))
        };
        // Without this, two processes sweeping in step would overwrite each other's claims
        // for ever, and neither would restore. The stage is held from the read to the write:
        // its records are written again with the claim (see `Runner::tag_stage`).
        {
            let _held = self.hold_stage(api, stage).await;
            let before = self.read_stage(api, stage).await.map_err(unreached)?;
            if held_elsewhere(&before) {
                return Ok(false);
            }
            self.tag_stamped(api, stage, &[(key, value)], &before.timed)
                .await
                .map_err(unreached)?;
        }
        tokio::time::sleep(settle).await;
        let view = self.read_stage(api, stage).await.map_err(unreached)?;
        Ok(view.claims.contains(&claim))
    }

    /// The record at `level` set aside as written before the stage's last update, with that
    /// update's time: this service's own, so its end can be told, but never acted on.
    pub(super) fn outdated_at(
        &self,
        api: &ApiId,
        view: &crate::domain::StageView,
        level: &crate::domain::Level,
    ) -> Option<(Timed, i64)> {
        let records = view.outdated(self.seal.as_ref(), api);
        records
            .into_iter()
            .find(|(record, _)| &record.level == level)
    }

    /// Every record of a stage whose end a sweep hands on: those in force, and those set aside
    /// as written before its last update (see [`Runner::outdated_at`]), whose end is told.
    pub fn ending(&self, api: &ApiId, view: &crate::domain::StageView) -> Vec<Timed> {
        let outdated = view.outdated(self.seal.as_ref(), api);
        let outdated = outdated.into_iter().map(|(record, _)| record);
        view.timed.iter().cloned().chain(outdated).collect()
    }

    /// Removes this process's claim once its restore has run (the stage's records written
    /// again after it, see [`Runner::untag_stage`]).
    pub async fn release(&self, reminder: &Reminder) {
        if let Some(key) = Claim::tag_key(&reminder.level)
            && let Err(error) = self.untag_stage(&reminder.api, &reminder.stage, &key).await
        {
            tracing::warn!(%error, "could not remove a claim; the next claimant overwrites it");
        }
    }

    /// Writes a timed change's record to its stage, stamped now, with the stage's records at
    /// other levels (`others`, as read) written again in the same call. Returns the record as
    /// written.
    pub(super) async fn keep(
        &self,
        api: &ApiId,
        stage: &StageName,
        record: &Timed,
        others: &[Timed],
    ) -> Result<Timed, GatewayError> {
        if self
            .sealed(api, stage, &record.stamped(unix_now()))
            .is_none()
        {
            return Err(GatewayError::Rejected(Failure::NoRoomForRecord.to_string()));
        }
        let all = with_others(record, others);
        let stamp = self.tag_stamped(api, stage, &[], &all).await?;
        Ok(record.stamped(stamp))
    }

    /// Remembers a record's sealed value as finished by this process: every copy of it, at
    /// whatever time it was written (see [`crate::domain::unstamped`]).
    pub(super) fn finished(&self, value: String, until: i64) {
        let value = crate::domain::unstamped(&value);
        let now = super::super::clock::unix_now();
        let remember_until = until
            .max(now)
            .saturating_add(crate::domain::STALE_AFTER_SECS);
        self.finished
            .lock()
            .expect("finished records")
            .first(value, remember_until, now);
    }

    /// A record's sealed tag for this stage; `None` without a seal or when it does not fit.
    pub(super) fn sealed(
        &self,
        api: &ApiId,
        stage: &StageName,
        record: &Timed,
    ) -> Option<(String, String)> {
        record.to_tag(self.seal.as_ref()?, Place::Stage { api, stage })
    }

    /// Removes a timed change's record, or puts back the one it replaced. A failure is logged:
    /// whoever reads the record next finds it stale and removes it then.
    pub(super) async fn unkeep(
        &self,
        api: &ApiId,
        stage: &StageName,
        record: &Timed,
        prior: Option<&Timed>,
        others: &[Timed],
    ) {
        let result = match prior {
            Some(prior) => self.keep(api, stage, prior, others).await.map(|_| ()),
            None => match Timed::tag_key(&record.level) {
                // The others first: the removal may date the stage.
                Some(key) => {
                    self.restamp(api, stage, others).await;
                    self.gateway.untag(api, stage, &key).await
                }
                None => Ok(()),
            },
        };
        // The record replaced or removed is finished here: never acted on again if put back.
        if result.is_ok()
            && prior != Some(record)
            && let Some((_, value)) = self.sealed(api, stage, record)
        {
            self.finished(value, record.until);
        }
        if let Err(error) = result {
            tracing::warn!(%error, api = %api, stage = stage.as_str(), level = %record.level, "could not update a timed change's record on its stage; it is tidied when next read");
        }
    }

    /// Hands on the deadline of a record this process found on a stage (a sweep's).
    pub async fn keep_time(&self, reminder: &Reminder) {
        if let Some(deadlines) = &self.deadlines
            && let Err(error) = deadlines.remind(reminder).await
        {
            tracing::warn!(%error, api = %reminder.api, stage = reminder.stage.as_str(), "could not keep a timed change's deadline; the next sweep tries again");
        }
    }

    /// Hands a new deadline on, before its record is written; an error refuses the step.
    pub(super) async fn hand_on(
        &self,
        api: &ApiId,
        stage: &StageName,
        record: &Timed,
    ) -> Result<(), Failure> {
        let Some(deadlines) = &self.deadlines else {
            return Err(no_deadlines(DeadlineError(
                "nothing in this process keeps deadlines".to_owned(),
            )));
        };
        let reminder = Reminder {
            api: api.clone(),
            stage: stage.clone(),
            level: record.level.clone(),
            at: record.until,
        };
        deadlines.remind(&reminder).await.inspect_err(|error| {
            self.metrics.deadline_failed();
            tracing::error!(%error, api = %api, stage = stage.as_str(), level = %record.level, until = record.until, "could not schedule a timed change's restore; nothing was changed");
        }).map_err(no_deadlines)
    }

    /// Hands on the deadline of a timed change that comes back after the one above it ended.
    /// A failure is logged loudly but undoes nothing: the record on the stage lets a sweep or
    /// a person finish the restore.
    pub(super) async fn remind(&self, api: &ApiId, stage: &StageName, record: &Timed) {
        if self.hand_on(api, stage, record).await.is_err() {
            tracing::error!(
                api = %api,
                stage = stage.as_str(),
                "a sweep or `/throttle restore` must finish the timed change that came back"
            );
        }
    }
}

/// The record of a timed change that `ask` makes at `level` from the values `(live, set)`, on
/// top of `prior` (the timed change in force there, if any): its end is told in the asker's
/// channel.
pub(super) fn start_record<L: RecordLevel>(
    ask: &Ask,
    level: L,
    (live, set): (Configured, Configured),
    prior: Option<&Timed<L>>,
    hold: Hold,
) -> Timed<L> {
    let requester = &ask.origin.requester;
    let channel = requester
        .user()
        .and_then(|who| who.channel.as_ref())
        .map(ToString::to_string);
    let mut record = Timed::start(
        level,
        live,
        set,
        prior,
        (unix_now(), hold),
        requester.recorded(),
        channel,
    );
    // Only an approved change's message takes the place of one whose time we know.
    if ask.origin.via == Via::Approve {
        record.thread = ask.origin.message_ts.clone();
    }
    record
}

/// A deadline that cannot be handed on refuses the timed step that needs it.
pub(super) fn no_deadlines(error: DeadlineError) -> Failure {
    Failure::NoDeadlines(error.to_string())
}

/// What a step leaves at the level, which a person needs a rule to let them set: an extend
/// keeps what the timed change set; a restore or deadline brings back what comes back now.
pub(super) fn leaves<L: RecordLevel>(record: &Timed<L>, kind: TimedKind, now: i64) -> Configured {
    match kind {
        TimedKind::Extend(_) => record.set,
        TimedKind::RestoreNow | TimedKind::Deadline => record.comes_back(now),
    }
}

/// A deadline's restore as a request: nobody waits on it; the audit (and, with a bot token,
/// the channel the change was made in) hears of it.
pub fn deadline_ask(reminder: &Reminder) -> Ask {
    unasked(Work::Timed(deadline_request(reminder)))
}

/// Work that no person asked for (a deadline's): no reply, no message, no gates.
pub(super) fn unasked(work: Work) -> Ask {
    Ask {
        id: RequestId::new(),
        origin: Origin {
            requester: Requester::Deadline,
            reply_to: None,
            via: Via::Command,
            message_ts: None,
        },
        text: String::new(),
        work,
        gates: Gates::default(),
    }
}

fn deadline_request(reminder: &Reminder) -> TimedRequest {
    TimedRequest {
        api: ApiRef::Id(reminder.api.clone()),
        stage: reminder.stage.clone(),
        level: reminder.level.clone(),
        kind: TimedKind::Deadline,
    }
}

fn timed(
    request: TimedRequest,
    api: ResolvedApi,
    record: &Timed,
    result: Result<TimedDone, Failure>,
) -> Outcome {
    Outcome::Timed {
        request,
        api: Some(api),
        channel: record.channel.clone(),
        thread: record.thread.clone(),
        result,
    }
}
