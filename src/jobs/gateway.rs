//! The account the pipeline runs against: AWS through the SDK, or, under `throttle-bot try`,
//! the embedded one in memory. One type, so every entry point (commands, presses, timers,
//! impact reports) is the same code in both.

use std::time::Duration;

use crate::aws::{ApiGateway, CallCount, Readiness};
use crate::core::ports::{Gateway, GatewayError, TrafficError};
use crate::domain::{
    AccountLimits, Action, ApiId, ApiKind, ApiMethod, ApiName, Configured, Held, Holder, Level,
    PlanLevel, PlanRef, PlanView, ResolvedApi, StageName, StageView, TargetAlias, Traffic, Trail,
};
use crate::embedded::Account;

// One per process, built once and never moved after: boxing either side would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum AppGateway {
    Aws(ApiGateway),
    Embedded(Account),
}

/// The same call on whichever account this is.
macro_rules! either {
    ($self:ident, $gateway:ident => $call:expr) => {
        match $self {
            AppGateway::Aws($gateway) => $call,
            AppGateway::Embedded($gateway) => $call,
        }
    };
}

impl AppGateway {
    /// The embedded account, under `try`.
    pub fn embedded(&self) -> Option<&Account> {
        match self {
            Self::Aws(_) => None,
            Self::Embedded(account) => Some(account),
        }
    }

    pub async fn warm_up(&self) {
        if let Self::Aws(aws) = self {
            aws.warm_up().await;
        }
    }

    /// The embedded account is ready from the start.
    pub fn readiness(&self) -> Readiness {
        match self {
            Self::Aws(aws) => aws.readiness(),
            Self::Embedded(_) => Readiness::Ready,
        }
    }

    pub fn target_problems(&self) -> Vec<String> {
        match self {
            Self::Aws(aws) => aws.target_problems(),
            Self::Embedded(_) => Vec::new(),
        }
    }

    /// The targets the sweep goes through: the embedded account has none to sweep (its
    /// process keeps every deadline it made).
    pub fn targets(&self) -> Vec<Option<TargetAlias>> {
        match self {
            Self::Aws(aws) => aws.targets(),
            Self::Embedded(_) => Vec::new(),
        }
    }

    pub async fn holders(&self, target: Option<&TargetAlias>) -> Result<Vec<Held>, GatewayError> {
        match self {
            Self::Aws(aws) => aws.holders(target).await,
            Self::Embedded(_) => Ok(Vec::new()),
        }
    }

    pub async fn unmark(
        &self,
        target: Option<&TargetAlias>,
        holder: &Holder,
    ) -> Result<(), GatewayError> {
        match self {
            Self::Aws(aws) => aws.unmark(target, holder).await,
            Self::Embedded(_) => Ok(()),
        }
    }

    /// Resources holding records written before the marker (none in the embedded account).
    pub async fn unmarked(&self, target: Option<&TargetAlias>) -> Result<Vec<Held>, GatewayError> {
        match self {
            Self::Aws(aws) => aws.unmarked(target).await,
            Self::Embedded(_) => Ok(Vec::new()),
        }
    }

    pub async fn mark(
        &self,
        target: Option<&TargetAlias>,
        holder: &Holder,
    ) -> Result<(), GatewayError> {
        match self {
            Self::Aws(aws) => aws.mark(target, holder).await,
            Self::Embedded(_) => Ok(()),
        }
    }

    pub async fn target_apis(
        &self,
        target: Option<&TargetAlias>,
    ) -> Result<Vec<ApiId>, GatewayError> {
        match self {
            Self::Aws(aws) => aws.target_apis(target).await,
            Self::Embedded(account) => account.apis().await,
        }
    }

    pub async fn target_plans(
        &self,
        target: Option<&TargetAlias>,
    ) -> Result<Vec<PlanView>, GatewayError> {
        match self {
            Self::Aws(aws) => aws.target_plans(target).await,
            Self::Embedded(account) => account.plans().await,
        }
    }

    pub fn calls(&self, target: Option<&TargetAlias>) -> CallCount {
        match self {
            Self::Aws(aws) => aws.calls(target),
            Self::Embedded(_) => CallCount::default(),
        }
    }
}

impl Gateway for AppGateway {
    async fn find_by_name(&self, name: &ApiName) -> Result<ResolvedApi, GatewayError> {
        either!(self, g => g.find_by_name(name).await)
    }

    async fn name_of(&self, id: &ApiId) -> Result<Option<String>, GatewayError> {
        either!(self, g => g.name_of(id).await)
    }

    fn known_name(&self, id: &ApiId) -> Option<String> {
        either!(self, g => g.known_name(id))
    }

    fn known_kind(&self, id: &ApiId) -> Option<ApiKind> {
        either!(self, g => g.known_kind(id))
    }

    async fn read_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageView, GatewayError> {
        either!(self, g => g.read_stage(api, stage).await)
    }

    async fn read_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        either!(self, g => g.read_stages(api).await)
    }

    async fn write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> Result<(), GatewayError> {
        either!(self, g => g.write(api, stage, level, action).await)
    }

    async fn listing(
        &self,
        target: Option<&TargetAlias>,
    ) -> Result<Vec<ResolvedApi>, GatewayError> {
        either!(self, g => g.listing(target).await)
    }

    async fn apis(&self) -> Result<Vec<ApiId>, GatewayError> {
        either!(self, g => g.apis().await)
    }

    async fn tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        tags: &[(String, String)],
    ) -> Result<(), GatewayError> {
        either!(self, g => g.tag(api, stage, tags).await)
    }

    async fn untag(&self, api: &ApiId, stage: &StageName, key: &str) -> Result<(), GatewayError> {
        either!(self, g => g.untag(api, stage, key).await)
    }

    async fn read_plan(&self, plan: &PlanRef) -> Result<PlanView, GatewayError> {
        either!(self, g => g.read_plan(plan).await)
    }

    async fn plans(&self) -> Result<Vec<PlanView>, GatewayError> {
        either!(self, g => g.plans().await)
    }

    async fn tag_plan(&self, plan: &PlanView, key: &str, value: &str) -> Result<(), GatewayError> {
        either!(self, g => g.tag_plan(plan, key, value).await)
    }

    async fn untag_plan(&self, plan: &PlanView, key: &str) -> Result<(), GatewayError> {
        either!(self, g => g.untag_plan(plan, key).await)
    }

    fn plan_wait(&self, target: Option<&TargetAlias>) -> Duration {
        either!(self, g => g.plan_wait(target))
    }

    async fn write_plan(
        &self,
        plan: &PlanView,
        level: &PlanLevel,
        action: &Action,
        expected: Configured,
    ) -> Result<Duration, GatewayError> {
        either!(self, g => g.write_plan(plan, level, action, expected).await)
    }

    async fn methods(&self, api: &ApiId) -> Option<Vec<ApiMethod>> {
        either!(self, g => g.methods(api).await)
    }

    async fn account_limits(&self, api: &ApiId) -> Option<AccountLimits> {
        either!(self, g => g.account_limits(api).await)
    }

    async fn history(
        &self,
        api: &ApiId,
        stage: Option<&StageName>,
        since: i64,
    ) -> Result<Trail, GatewayError> {
        either!(self, g => g.history(api, stage, since).await)
    }

    async fn traffic(
        &self,
        api: &ResolvedApi,
        levels: &[(StageName, Level)],
        from: i64,
        to: i64,
    ) -> Result<Vec<Traffic>, TrafficError> {
        either!(self, g => g.traffic(api, levels, from, to).await)
    }

    async fn traffic_picture(
        &self,
        api: &ResolvedApi,
        stage: &StageName,
        level: &Level,
        limits: &[(String, f64)],
        window: (i64, i64),
    ) -> Result<Vec<u8>, TrafficError> {
        either!(self, g => g.traffic_picture(api, stage, level, limits, window).await)
    }
}
