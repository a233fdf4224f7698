//! What the sweep asks of each target on its own (a target that cannot be reached fails alone):
//! the resources holding this deployment's records, the listing to fall back on, and the calls
//! a target has made.

use super::ApiGateway;
use crate::core::ports::{Gateway, GatewayError};
use crate::domain::{ApiId, Held, Holder, PlanView, TargetAlias};

/// The AWS calls one target has made so far, by budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCount {
    /// API Gateway's management calls (the account's shared budget).
    pub management: u64,
    /// The Resource Groups Tagging API's (a quota of its own).
    pub tagging: u64,
}

impl ApiGateway {
    /// Every target: home (`None`) first, then each `[[target]]` by alias.
    pub fn targets(&self) -> Vec<Option<TargetAlias>> {
        std::iter::once(None)
            .chain(self.others.keys().cloned().map(Some))
            .collect()
    }

    /// The stages and usage plans of `target` that carry this deployment's records' marker,
    /// in ARN order (one paged GetResources).
    pub async fn holders(&self, target: Option<&TargetAlias>) -> Result<Vec<Held>, GatewayError> {
        self.pick(target)?.holders().await
    }

    /// Resources holding records written before the marker (at fixed keys only).
    pub async fn unmarked(&self, target: Option<&TargetAlias>) -> Result<Vec<Held>, GatewayError> {
        self.pick(target)?.unmarked().await
    }

    /// Puts the marker on a resource holding records written before it.
    pub async fn mark(
        &self,
        target: Option<&TargetAlias>,
        holder: &Holder,
    ) -> Result<(), GatewayError> {
        self.pick(target)?.mark(holder).await
    }

    /// Removes a marker left over no record (put back if a record came meanwhile).
    pub async fn unmark(
        &self,
        target: Option<&TargetAlias>,
        holder: &Holder,
    ) -> Result<(), GatewayError> {
        self.pick(target)?.unmark(holder).await
    }

    /// The fallback listing: every REST and HTTP API of one target.
    pub async fn target_apis(
        &self,
        target: Option<&TargetAlias>,
    ) -> Result<Vec<ApiId>, GatewayError> {
        self.pick(target)?.apis().await
    }

    /// The fallback listing: every usage plan of one target, with its tags.
    pub async fn target_plans(
        &self,
        target: Option<&TargetAlias>,
    ) -> Result<Vec<PlanView>, GatewayError> {
        self.pick(target)?.plans().await
    }

    /// The calls `target` has made so far (none for a target not configured).
    pub fn calls(&self, target: Option<&TargetAlias>) -> CallCount {
        self.pick(target).map_or_else(
            |_| CallCount::default(),
            |gateway| CallCount {
                management: gateway.calls().management(),
                tagging: gateway.calls().tagging(),
            },
        )
    }
}
