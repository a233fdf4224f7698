//! Usage plans: read one, or change its throttle at one level. The policy decides on the plan
//! as read (its id and name, in its target), with its rule's conditions — a preview for the
//! author, or an approver's yes — as for stages; the write compares before it sets, at the
//! moment its turn comes under the account's plan pace.

use std::time::Duration;

use super::super::grammar::PlanRequest;
use super::super::outcome::{Outcome, PlanFailure};
use super::super::ports::{Gateway, GatewayError, Teller};
use super::{Ask, LevelGuard, Prepared, Runner, Step};
use crate::domain::{ChatId, PlanApplied, PlanChange};

/// A wait shorter than this is not worth telling anyone about.
const WORTH_SAYING: Duration = Duration::from_secs(1);

/// Where a plan change stands once decided (reads only, so far).
enum Next {
    /// Nothing to write: the level already holds the values.
    Done(PlanApplied),
    /// Held for its author's confirmation (no approvers) or an approver's yes.
    Gated(PlanApplied, Vec<ChatId>),
    /// To be written.
    Write(PlanApplied),
}

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// Everything up to the write (reads only: on Lambda it may be cut short and redone).
    pub(super) async fn plan(&self, ask: &Ask, request: &PlanRequest) -> Step {
        let change = match request {
            PlanRequest::Show(plan) => {
                return Step::Done(Outcome::PlanShown {
                    plan: plan.clone(),
                    result: self.gateway.read_plan(plan).await,
                });
            }
            PlanRequest::Change(change) => change,
        };
        let done = |result| {
            Step::Done(Outcome::PlanChanged {
                change: change.clone(),
                result,
            })
        };
        match self.plan_change(ask, change).await {
            Ok(Next::Write(applied)) => Step::Write(
                Prepared::Plan {
                    change: change.clone(),
                    applied,
                },
                LevelGuard::default(),
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
    pub(super) async fn commit_plan(
        &self,
        change: PlanChange,
        mut applied: PlanApplied,
    ) -> Outcome {
        let written = self
            .gateway
            .write_plan(&applied.plan, &change.level, &change.action, applied.before)
            .await;
        let result = match written {
            Ok(waited) => {
                applied.changed = true;
                applied.queued_secs = (waited >= WORTH_SAYING).then_some(waited.as_secs());
                Ok(applied)
            }
            Err(error) => Err(error.into()),
        };
        Outcome::PlanChanged { change, result }
    }

    async fn plan_change(&self, ask: &Ask, change: &PlanChange) -> Result<Next, PlanFailure> {
        let policy = self.policy.current();
        let who = ask.origin.requester.user();
        let plan = match self.gateway.read_plan(&change.plan).await {
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
                let names = [plan.bare_id(), plan.name.as_str()];
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
        let applied = PlanApplied {
            plan,
            before,
            after,
            changed: false,
            queued_secs: None,
        };
        if before == after {
            return Ok(Next::Done(applied));
        }
        if let Some(allowed) = allowed {
            if !allowed.approvers.is_empty() && ask.gates.approved_by.is_none() {
                return Ok(Next::Gated(applied, allowed.approvers));
            }
            if allowed.confirm && !ask.gates.confirmed && ask.gates.approved_by.is_none() {
                return Ok(Next::Gated(applied, Vec::new()));
            }
        }
        Ok(Next::Write(applied))
    }
}
