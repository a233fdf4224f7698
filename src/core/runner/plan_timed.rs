//! A usage plan's timed changes after they are made: `extend plan`, `restore plan`, and the
//! deadline. As for stages, the record (in the plan's tags) is the only state, and each step
//! acts only on what it finds: the write happens at the plan's turn in its account, and only
//! if the level still holds what the timed change set (compare, then set).

use super::timed::{leaves, no_deadlines, unasked};
use super::{Ask, Prepared, Runner, Step, Work};
use crate::core::clock::unix_now;
use crate::core::grammar::{PlanRequest, PlanTimedRequest, TimedKind};
use crate::core::outcome::{Failure, Outcome, PlanFailure, PlanTimedDone, TimedDone};
use crate::core::ports::{DeadlineError, Gateway, GatewayError, PlanReminder, Teller};
use crate::domain::{Due, Place, PlanApplied, PlanLevel, PlanRef, PlanView, Timed, Unsealed};

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// A usage plan as it is now, with only the records this service sealed for it trusted
    /// (the others are listed by `show plan` for a person, and never acted on).
    pub async fn read_plan(&self, plan: &PlanRef) -> Result<PlanView, GatewayError> {
        let mut view = self.gateway.read_plan(plan).await?;
        self.open_plan(&mut view).await;
        Ok(view)
    }

    /// Checks a plan's records' seals; what does not verify is told to the audit channel once
    /// per process, and is otherwise left alone for a person.
    async fn open_plan(&self, view: &mut PlanView) {
        view.open(self.seal.as_ref());
        let now = unix_now();
        self.set_aside_old(&mut view.timed, &view.tags, &mut view.unsealed, now);
        let held: Vec<Timed<PlanLevel>> = std::mem::take(&mut view.timed)
            .into_iter()
            .map(|record| {
                let live = view.at(&record.level).unwrap_or_default();
                record.as_held(live)
            })
            .collect();
        view.timed = held;
        let fresh: Vec<Unsealed> = {
            let mut reported = self.reported_plans.lock().expect("reported set");
            view.unsealed
                .iter()
                .filter(|found| reported.insert((view.id.clone(), (*found).clone())))
                .cloned()
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        self.alert(Outcome::UntrustedPlan {
            plan: view.id.clone(),
            found: fresh,
        })
        .await;
    }

    /// Reads the plan and its record at the level, and decides what the request does to it.
    pub(super) async fn plan_timed(&self, ask: &Ask, request: &PlanTimedRequest) -> Step {
        let done = |plan: Option<PlanView>, result, record: Option<&Timed<PlanLevel>>| {
            Step::Done(Outcome::PlanTimed {
                request: request.clone(),
                plan,
                result,
                channel: record.and_then(|r| r.channel.clone()),
                thread: record.and_then(|r| r.thread.clone()),
            })
        };
        let requester = &ask.origin.requester;
        let policy = requester.user().and(self.policy.current());
        let held = self.hold_plans(&request.plan).await;
        let plan = match self.read_plan(&request.plan).await {
            Ok(plan) => plan,
            Err(error) => return done(None, Err(error.into()), None),
        };
        let Some(record) = plan.timed_at(&request.level).cloned() else {
            return done(Some(plan), Ok(TimedDone::NothingPending), None);
        };
        let now = unix_now();
        // A person needs a rule that would let them set what the step leaves at the level.
        let judged = leaves(&record, request.kind, now).as_action();
        if let (Some(policy), Some(who)) = (&policy, requester.user()) {
            let names = plan.names();
            match policy.decide_plan(who, plan.target.as_ref(), &names, &judged) {
                Err(denial) => {
                    return done(Some(plan), Err(PlanFailure::Denied(denial)), Some(&record));
                }
                // Keeping a change longer than was approved needs approval like the change.
                Ok(allowed)
                    if matches!(request.kind, TimedKind::Extend(_))
                        && !allowed.approvers.is_empty() =>
                {
                    let failure = Failure::NeedsApproval { rule: allowed.rule };
                    return done(Some(plan), Err(PlanFailure::Timed(failure)), Some(&record));
                }
                Ok(_) => {}
            }
        }
        let live = plan.at(&request.level).unwrap_or_default();
        match request.kind {
            TimedKind::Extend(by) => match self.extended(&record, live, by, now) {
                Ok(record) => Step::Write(
                    Prepared::PlanExtend {
                        request: request.clone(),
                        plan,
                        record,
                    },
                    held,
                ),
                Err(error) => done(Some(plan), Err(PlanFailure::Timed(error)), Some(&record)),
            },
            TimedKind::Deadline if !record.is_due(now) => {
                let result = Ok(TimedDone::NotDue(Box::new(record.clone())));
                done(Some(plan), result, Some(&record))
            }
            TimedKind::RestoreNow | TimedKind::Deadline => match record.check(live, now) {
                Due::Restore { next, .. } => {
                    let next = next.map(|next| *next);
                    let back = record.back_with(next.as_ref());
                    let applied = PlanApplied {
                        plan,
                        before: live,
                        after: back,
                        changed: false,
                        queued_secs: None,
                        until: next.as_ref().map(|next| next.until),
                        steps: next.as_ref().map(Timed::steps).unwrap_or_default(),
                        replaces_timed: None,
                        replaces_below: Vec::new(),
                    };
                    Step::Write(
                        Prepared::PlanRestore {
                            request: request.clone(),
                            applied,
                            record,
                            next,
                        },
                        held,
                    )
                }
                Due::AlreadyBack { next } => Step::Write(
                    Prepared::PlanForget {
                        request: request.clone(),
                        plan,
                        done: TimedDone::AlreadyBack(Box::new(record.clone())),
                        record,
                        next: next.map(|next| *next),
                    },
                    held,
                ),
                Due::Moved { found } => Step::Write(
                    Prepared::PlanForget {
                        request: request.clone(),
                        plan,
                        done: TimedDone::Moved {
                            record: Box::new(record.clone()),
                            found,
                        },
                        record,
                        next: None,
                    },
                    held,
                ),
            },
        }
    }

    /// Puts back what comes back, at the plan's turn and only over what the timed change set:
    /// the timed change under it, or the values from before the first. The plan is written
    /// first and the record updated after, as for stages (`commit_restore`).
    pub(super) async fn commit_plan_restore(
        &self,
        request: PlanTimedRequest,
        mut applied: PlanApplied,
        record: Timed<PlanLevel>,
        next: Option<Timed<PlanLevel>>,
    ) -> Outcome {
        let plan = applied.plan.clone();
        let told = |plan: PlanView, result| plan_timed(request.clone(), plan, &record, result);
        let written = self
            .gateway
            .write_plan(
                &plan,
                &request.level,
                &applied.after.as_action(),
                record.set,
            )
            .await;
        match written {
            Ok(_) => {}
            // Someone (or another replica) got there first: the level holds what comes back,
            // or something else, which a person decides about.
            Err(GatewayError::PlanMoved { .. }) => {
                return self.moved_meanwhile(request, plan, record, next).await;
            }
            Err(error) => return told(plan, Err(error.into())),
        }
        applied.changed = true;
        match &next {
            Some(next) => {
                self.unkeep_plan(&plan, &record, Some(next)).await;
                self.remind_plan(&plan, next).await;
            }
            None => self.unkeep_plan(&plan, &record, None).await,
        }
        let result = Ok(TimedDone::Restored {
            record: Box::new(record.clone()),
            applied: Box::new(applied),
        });
        told(plan, result)
    }

    /// The write found the level changed between the read and the plan's turn: read it again
    /// and end as a look at that moment would have (already back, or moved).
    async fn moved_meanwhile(
        &self,
        request: PlanTimedRequest,
        plan: PlanView,
        record: Timed<PlanLevel>,
        next: Option<Timed<PlanLevel>>,
    ) -> Outcome {
        // By the id the record names (never by a name someone could reuse).
        let now = match PlanRef::parse_id(&plan.id) {
            Some(id) => self.read_plan(&id).await,
            None => Err(GatewayError::Unexpected(format!(
                "usage plan `{}` has an id AWS does not make",
                plan.id
            ))),
        };
        let now = match now {
            Ok(now) => now,
            Err(error) => return plan_timed(request, plan, &record, Err(error.into())),
        };
        let found = now.at(&request.level).unwrap_or_default();
        let back = record.back_with(next.as_ref());
        let (done, next) = if found == back {
            (TimedDone::AlreadyBack(Box::new(record.clone())), next)
        } else {
            (
                TimedDone::Moved {
                    record: Box::new(record.clone()),
                    found,
                },
                None,
            )
        };
        self.commit_plan_forget(request, now, record, done, next)
            .await
    }

    /// Updates the record of a plan's timed change with nothing to put back.
    pub(super) async fn commit_plan_forget(
        &self,
        request: PlanTimedRequest,
        plan: PlanView,
        record: Timed<PlanLevel>,
        done: PlanTimedDone,
        next: Option<Timed<PlanLevel>>,
    ) -> Outcome {
        match &next {
            Some(next) => {
                if let Err(error) = self.keep_plan(&plan, next).await {
                    return plan_timed(request, plan, &record, Err(error.into()));
                }
                self.remind_plan(&plan, next).await;
            }
            None => self.unkeep_plan(&plan, &record, None).await,
        }
        plan_timed(request, plan, &record, Ok(done))
    }

    /// Rewrites a plan's timed change's record with its new deadline, and hands that on.
    pub(super) async fn commit_plan_extend(
        &self,
        request: PlanTimedRequest,
        plan: PlanView,
        record: Timed<PlanLevel>,
    ) -> Outcome {
        if let Err(failure) = self.hand_on_plan(&plan, &record).await {
            return plan_timed(request, plan, &record, Err(PlanFailure::Timed(failure)));
        }
        if let Err(error) = self.keep_plan(&plan, &record).await {
            return plan_timed(request, plan, &record, Err(error.into()));
        }
        let done = Ok(TimedDone::Extended(Box::new(record.clone())));
        plan_timed(request, plan, &record, done)
    }

    /// A record's sealed tag for this plan; `None` without a seal or when it does not fit.
    pub(super) fn sealed_plan(
        &self,
        plan: &PlanView,
        record: &Timed<PlanLevel>,
    ) -> Option<(String, String)> {
        record.to_tag(self.seal.as_ref()?, Place::Plan(&plan.id))
    }

    /// Writes a timed change's record to its plan.
    pub(super) async fn keep_plan(
        &self,
        plan: &PlanView,
        record: &Timed<PlanLevel>,
    ) -> Result<(), GatewayError> {
        let Some((key, value)) = self.sealed_plan(plan, record) else {
            return Err(GatewayError::Rejected(Failure::NoRoomForRecord.to_string()));
        };
        self.gateway.tag_plan(plan, &key, &value).await
    }

    /// Removes a plan's timed-change record, or puts back the one it replaced; a failure is
    /// logged (whoever reads the record next finds it stale and removes it then).
    pub(super) async fn unkeep_plan(
        &self,
        plan: &PlanView,
        record: &Timed<PlanLevel>,
        prior: Option<&Timed<PlanLevel>>,
    ) {
        let result = match prior {
            Some(prior) => self.keep_plan(plan, prior).await,
            None => match Timed::tag_key(&record.level) {
                Some(key) => self.gateway.untag_plan(plan, &key).await,
                None => Ok(()),
            },
        };
        if result.is_ok()
            && prior != Some(record)
            && let Some((_, value)) = self.sealed_plan(plan, record)
        {
            self.finished(value, record.until);
        }
        if let Err(error) = result {
            tracing::warn!(%error, plan = %plan.id, level = %record.level, "could not update a timed change's record on its usage plan; it is tidied when next read");
        }
    }

    /// Hands a plan's new deadline on, before its record is written; an error refuses it.
    pub(super) async fn hand_on_plan(
        &self,
        plan: &PlanView,
        record: &Timed<PlanLevel>,
    ) -> Result<(), Failure> {
        let Some(deadlines) = &self.deadlines else {
            return Err(no_deadlines(DeadlineError(
                "nothing in this process keeps deadlines".to_owned(),
            )));
        };
        let reminder = PlanReminder {
            plan: plan.id.clone(),
            level: record.level.clone(),
            at: record.until,
        };
        deadlines.remind_plan(&reminder).await.inspect_err(|error| {
            self.metrics.deadline_failed();
            tracing::error!(%error, plan = %plan.id, level = %record.level, until = record.until, "could not schedule a usage plan's timed change's restore; nothing was changed");
        }).map_err(no_deadlines)
    }

    /// Hands on the deadline of a plan's timed change that came back after the one above it.
    async fn remind_plan(&self, plan: &PlanView, record: &Timed<PlanLevel>) {
        if self.hand_on_plan(plan, record).await.is_err() {
            tracing::error!(plan = %plan.id, "a sweep or `/throttle restore plan` must finish the timed change that came back");
        }
    }

    /// Hands on the deadline of a record this process found on a plan (a sweep's).
    pub async fn keep_plan_time(&self, reminder: &PlanReminder) {
        if let Some(deadlines) = &self.deadlines
            && let Err(error) = deadlines.remind_plan(reminder).await
        {
            tracing::warn!(%error, plan = %reminder.plan, "could not keep a usage plan's timed change's deadline; the next sweep tries again");
        }
    }
}

/// A plan's deadline as a request: nobody waits on it; the audit (and, with a bot token, the
/// channel the change was made in) hears of it. `None` for a reminder whose plan id is not one.
pub fn plan_deadline_ask(reminder: &PlanReminder) -> Option<Ask> {
    Some(unasked(Work::Plan(PlanRequest::Timed(PlanTimedRequest {
        plan: PlanRef::parse_id(&reminder.plan)?,
        level: reminder.level.clone(),
        kind: TimedKind::Deadline,
    }))))
}

fn plan_timed(
    request: PlanTimedRequest,
    plan: PlanView,
    record: &Timed<PlanLevel>,
    result: Result<PlanTimedDone, PlanFailure>,
) -> Outcome {
    Outcome::PlanTimed {
        request,
        plan: Some(plan),
        channel: record.channel.clone(),
        thread: record.thread.clone(),
        result,
    }
}
