//! Usage plans: read one, or change its throttle at one level. The policy decides on the plan
//! as read (its id and name, in its target), with its rule's conditions — a preview for the
//! author, or an approver's yes — as for stages; the write compares before it sets, at the
//! moment its turn comes under the account's plan pace.

use std::time::Duration;

use crate::core::clock::unix_now;

use super::super::grammar::PlanRequest;
use super::super::outcome::{Failure, Outcome, PlanFailure};
use super::super::ports::{Gateway, GatewayError, Teller};
use super::timed::start_record;
use super::{Ask, Prepared, RecordStep, Runner, Step};
use crate::domain::{Action, ChatId, Level, PlanApplied, PlanChange, PlanLevel};

/// A wait shorter than this is not worth telling anyone about.
const WORTH_SAYING: Duration = Duration::from_secs(1);

/// Where a plan change stands once decided (reads only, so far).
// One per request, moved once from the decision to the step: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
enum Next {
    /// Nothing to write: the level already holds the values.
    Done(PlanApplied),
    /// Held for its author's confirmation (no approvers) or an approver's yes.
    Gated(PlanApplied, Vec<ChatId>),
    /// To be written, with what it does to the level's timed-change record.
    Write(PlanApplied, RecordStep<PlanLevel>),
}

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// Everything up to the write (reads only: on Lambda it may be cut short and redone).
    pub(super) async fn plan(&self, ask: &Ask, request: &PlanRequest) -> Step {
        let change = match request {
            PlanRequest::Show(plan) => {
                return Step::Done(Outcome::PlanShown {
                    plan: plan.clone(),
                    result: self.read_plan(plan).await,
                });
            }
            PlanRequest::Timed(timed) => return self.plan_timed(ask, timed).await,
            PlanRequest::Change(change) => change,
        };
        let done = |result| {
            Step::Done(Outcome::PlanChanged {
                change: change.clone(),
                result,
            })
        };
        let held = self.hold_plans(&change.plan).await;
        match self.plan_change(ask, change).await {
            Ok(Next::Write(applied, record)) => Step::Write(
                Prepared::Plan {
                    change: change.clone(),
                    applied,
                    record,
                },
                held,
            ),
            Ok(Next::Gated(planned, approvers)) => Step::Done(Outcome::PlanGated {
                change: change.clone(),
                planned,
                approvers,
            }),
            Ok(Next::Done(applied)) => done(Ok(applied)),
            Err(failure) => done(Err(failure)),
        }
    }

    /// The write of a decided plan change, at the plan's turn in its account.
    /// A timed change hands its deadline on and records itself in the plan's tags first; a
    /// change for good over a timed one removes that record once written.
    pub(super) async fn commit_plan(
        &self,
        change: PlanChange,
        mut applied: PlanApplied,
        record: RecordStep<PlanLevel>,
    ) -> Outcome {
        let done = |result| Outcome::PlanChanged {
            change: change.clone(),
            result,
        };
        let plan = applied.plan.clone();
        if let RecordStep::Keep(record, _) = &record {
            if let Err(failure) = self.hand_on_plan(&plan, record).await {
                return done(Err(PlanFailure::Timed(failure)));
            }
            if let Err(error) = self.keep_plan(&plan, record).await {
                return done(Err(error.into()));
            }
        }
        // A change for good over a timed change: its record goes first (see `commit_change`).
        if let RecordStep::End(record) = &record
            && let Some(key) = crate::domain::Timed::tag_key(&record.level)
            && let Err(error) = self.gateway.untag_plan(&plan, &key).await
        {
            let failure = Failure::RecordStays(error.to_string());
            return done(Err(PlanFailure::Timed(failure)));
        }
        // The same values again only end or re-time the timed change: no write is needed.
        if applied.before != applied.after {
            let written = self
                .gateway
                .write_plan(
                    &plan,
                    &change.level,
                    &applied.after.as_action(),
                    applied.before,
                )
                .await;
            match written {
                Ok(waited) => {
                    applied.changed = true;
                    applied.queued_secs = (waited >= WORTH_SAYING).then_some(waited.as_secs());
                }
                Err(error) => {
                    match &record {
                        RecordStep::Keep(record, prior) => {
                            self.unkeep_plan(&plan, record, prior.as_ref()).await;
                        }
                        RecordStep::End(record) => {
                            self.unkeep_plan(&plan, record, Some(record)).await;
                        }
                        RecordStep::Untouched | RecordStep::Discard(_) => {}
                    }
                    return done(Err(error.into()));
                }
            }
        }
        done(Ok(applied))
    }

    async fn plan_change(&self, ask: &Ask, change: &PlanChange) -> Result<Next, PlanFailure> {
        let policy = self.policy.current();
        let who = ask.origin.requester.user();
        if let Some(hold) = change.hold {
            hold.at_most(self.max_temporary)
                .map_err(|error| PlanFailure::Timed(error.into()))?;
            self.deadlines_ready().map_err(PlanFailure::Timed)?;
        }
        let plan = match self.read_plan(&change.plan).await {
            Ok(plan) => plan,
            // Someone who may not read names is not told other plans' names either.
            Err(error) => match (&policy, who) {
                (Some(policy), Some(who)) if policy.may_read(who).is_err() => {
                    return Err(error.without_other_apis().into());
                }
                _ => return Err(error.into()),
            },
        };
        // The one decision, on the plan as read, by the policy in force now.
        let allowed = match (&policy, who) {
            (Some(policy), Some(who)) => {
                let names = plan.names();
                let allowed = policy
                    .decide_plan(who, plan.target.as_ref(), &names, &change.action)
                    .map_err(PlanFailure::Denied)?;
                Some(allowed)
            }
            _ => None,
        };
        if let (Some(allowed), Some(approver), Some(author)) =
            (&allowed, &ask.gates.approved_by, who)
        {
            allowed
                .approval_by(approver, &author.user)
                .map_err(PlanFailure::Denied)?;
        }
        // Only a method level can be missing: its API stage is not in the plan.
        let Some(before) = plan.at(&change.level) else {
            let (api, stage) = change
                .level
                .api_stage()
                .map(|(api, stage)| (api.id().to_owned(), stage.to_string()))
                .unwrap_or_default();
            return Err(PlanFailure::NotInPlan { api, stage });
        };
        // As for a stage: a throttle for a method the API lacks would throttle nothing.
        if let PlanLevel::Method {
            api, method, path, ..
        } = &change.level
            && matches!(change.action, Action::Set(_))
            && !plan.knows(&change.level)
        {
            let api = api.clone().in_target(plan.target.clone());
            let level = Level::method(method.clone(), path.clone());
            self.has_method(&api, None, &level).await?;
        }
        // A button acts only on the values its message showed.
        if let Some(expected) = ask.gates.expect
            && expected != before
        {
            return Err(GatewayError::PlanMoved {
                plan: plan.id.clone(),
                now: before.to_string(),
            }
            .into());
        }
        let after = change.after();
        let prior = plan.timed_at(&change.level).cloned();
        let mut applied = PlanApplied {
            plan,
            before,
            after,
            changed: false,
            queued_secs: None,
            until: None,
            steps: Vec::new(),
            replaces_timed: None,
            replaces_below: Vec::new(),
        };
        let record = match (change.hold, prior) {
            (Some(hold), prior) => {
                let values = (before, after);
                let record = start_record(ask, change.level.clone(), values, prior.as_ref(), hold);
                if self.sealed_plan(&applied.plan, &record).is_none() {
                    return Err(PlanFailure::Timed(Failure::NoRoomForRecord));
                }
                applied.until = Some(record.until);
                applied.steps = record.steps();
                RecordStep::Keep(record, prior)
            }
            // Back to the values of the timed change under the newest (Undo): that one stays
            // in force and ends at its own time, as for a stage.
            (None, Some(prior))
                if let Some(next) = prior.next(unix_now())
                    && before == prior.set
                    && next.set == after =>
            {
                applied.until = Some(next.until);
                applied.steps = next.steps();
                RecordStep::Keep(next, Some(prior))
            }
            (None, Some(prior)) => {
                applied.replaces_timed = Some(prior.until);
                applied.replaces_below = prior
                    .below
                    .iter()
                    .map(|layer| (layer.until, layer.by.clone()))
                    .collect();
                RecordStep::End(prior)
            }
            (None, None) => RecordStep::Untouched,
        };
        // The same values again still end (for good) or re-time (timed) a timed change there.
        if before == after && matches!(record, RecordStep::Untouched) {
            return Ok(Next::Done(applied));
        }
        if let Some(allowed) = allowed {
            // The author's confirmation first (no approval stands in for it), then approval.
            if allowed.confirm && !ask.gates.confirmed && ask.gates.approved_by.is_none() {
                return Ok(Next::Gated(applied, Vec::new()));
            }
            if !allowed.approvers.is_empty() && ask.gates.approved_by.is_none() {
                return Ok(Next::Gated(applied, allowed.approvers));
            }
        }
        Ok(Next::Write(applied, record))
    }
}
