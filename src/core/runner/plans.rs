//! Usage plans: read one, or change its throttle at one level. The policy decides on the plan
//! as read (its id and name, in its target); the write compares before it sets, at the moment
//! its turn comes under the account's plan pace.

use std::time::Duration;

use super::super::grammar::PlanRequest;
use super::super::outcome::{Outcome, PlanFailure};
use super::super::ports::{Gateway, GatewayError, Teller};
use super::{Ask, Runner};
use crate::domain::{PlanApplied, PlanChange, PlanLevel};

/// A wait shorter than this is not worth telling anyone about.
const WORTH_SAYING: Duration = Duration::from_secs(1);

impl<G: Gateway, T: Teller> Runner<G, T> {
    pub(super) async fn plan(&self, ask: &Ask, request: &PlanRequest) -> Outcome {
        match request {
            PlanRequest::Show(plan) => Outcome::PlanShown {
                plan: plan.clone(),
                result: self.gateway.read_plan(plan).await,
            },
            PlanRequest::Change(change) => Outcome::PlanChanged {
                change: change.clone(),
                result: self.plan_change(ask, change).await,
            },
        }
    }

    async fn plan_change(
        &self,
        ask: &Ask,
        change: &PlanChange,
    ) -> Result<PlanApplied, PlanFailure> {
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
        if let (Some(policy), Some(who)) = (policy, who) {
            let names = [plan.bare_id(), plan.name.as_str()];
            policy
                .decide_plan(who, plan.target.as_ref(), &names, &change.action)
                .map_err(PlanFailure::Denied)?;
        }
        // Only a method level can be missing: its API stage is not in the plan.
        let Some(before) = plan.at(&change.level) else {
            let (api, stage) = match &change.level {
                PlanLevel::Method { api, stage, .. } => (api.id().to_owned(), stage.to_string()),
                PlanLevel::Plan => (String::new(), String::new()),
            };
            return Err(PlanFailure::NotInPlan { api, stage });
        };
        // An Undo acts only on the values its message showed.
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
        if before == after {
            return Ok(PlanApplied {
                plan,
                before,
                after,
                changed: false,
                queued_secs: None,
            });
        }
        let waited = self
            .gateway
            .write_plan(&plan, &change.level, &change.action, before)
            .await?;
        Ok(PlanApplied {
            plan,
            before,
            after,
            changed: true,
            queued_secs: (waited >= WORTH_SAYING).then_some(waited.as_secs()),
        })
    }
}
