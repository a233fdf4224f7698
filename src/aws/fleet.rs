//! Every target one `/throttle` reaches: the home account and region, and each `[[target]]` of
//! the targets file. The core's gateway port, sending each call to the target its API id or
//! name names. Each account and region has its own pace, name cache and quota, and a target
//! that cannot be reached fails alone.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::gateway::{GatewaySettings, Paces, Readiness, TargetGateway};
use super::pacer::Pacer;
use super::plan_queue::PlanQueue;
use crate::core::ports::{Gateway, GatewayError, TrafficError};
use crate::domain::{
    AccountLimits, Action, ApiId, ApiKind, ApiMethod, ApiName, Configured, Level, PlanLevel,
    PlanRef, PlanView, ResolvedApi, StageName, StageView, TargetAlias, Traffic, Trail,
};

mod sweep;

pub use sweep::CallCount;

/// Half CloudTrail's LookupEvents quota of two per second per account and region (CloudTrail
/// API reference): the rest is left to the people reading event history in the console.
const TRAIL_LOOKUPS_PER_SECOND: f64 = 1.0;

/// API Gateway in every configured target.
pub struct ApiGateway {
    home: TargetGateway,
    others: BTreeMap<TargetAlias, TargetGateway>,
}

impl ApiGateway {
    /// Nothing is called until first use (or [`ApiGateway::warm_up`]).
    pub fn new(settings: GatewaySettings) -> Self {
        // One pace per account and region: targets that share both share one budget.
        let mut paces: HashMap<(Option<String>, Option<String>), Paces> = HashMap::new();
        let mut pace = |account: Option<&str>, region: Option<&str>| {
            let key = (account.map(str::to_owned), region.map(str::to_owned));
            let (pacer, plans, trail) = paces.entry(key).or_insert_with(|| {
                (
                    Arc::new(Pacer::new(settings.calls_per_second, settings.calls_burst)),
                    Arc::new(PlanQueue::new(settings.plan_spacing)),
                    // CloudTrail allows two LookupEvents a second per account and region.
                    Arc::new(Pacer::new(TRAIL_LOOKUPS_PER_SECOND, 1)),
                )
            });
            (Arc::clone(pacer), Arc::clone(plans), Arc::clone(trail))
        };
        let home_region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok();
        let home = TargetGateway::home(&settings, pace(None, home_region.as_deref()));
        let others = settings
            .targets
            .iter()
            .map(|target| {
                let pacer = pace(target.account(), Some(&target.region));
                let gateway = TargetGateway::reaching(&settings, Some(target.clone()), pacer);
                (target.alias.clone(), gateway)
            })
            .collect();
        Self { home, others }
    }

    /// Resolves every target's AWS setup now (each on its own: a role that cannot be assumed
    /// does not hold up the others), so that the first command does not wait for it.
    pub async fn warm_up(&self) {
        let all = std::iter::once(&self.home).chain(self.others.values());
        futures_util::future::join_all(all.map(TargetGateway::warm_up)).await;
    }

    /// Ready when the home target's setup is known; other targets' problems are detail.
    pub fn readiness(&self) -> Readiness {
        self.home.readiness()
    }

    /// Each other target whose setup failed, with why (for `/readyz`'s detail).
    pub fn target_problems(&self) -> Vec<String> {
        self.others
            .iter()
            .filter_map(|(alias, gateway)| match gateway.readiness() {
                Readiness::NotReady(why) => Some(format!("target {alias}: {why}")),
                _ => None,
            })
            .collect()
    }

    /// The target an id or name names, or why there is none.
    fn pick(&self, target: Option<&TargetAlias>) -> Result<&TargetGateway, GatewayError> {
        match target {
            None => Ok(&self.home),
            Some(alias) => self
                .others
                .get(alias)
                .ok_or_else(|| GatewayError::UnknownTarget {
                    alias: alias.to_string(),
                    known: std::iter::once(TargetAlias::HOME.to_owned())
                        .chain(self.others.keys().map(ToString::to_string))
                        .collect(),
                }),
        }
    }
}

impl Gateway for ApiGateway {
    async fn find_by_name(&self, name: &ApiName) -> Result<ResolvedApi, GatewayError> {
        self.pick(name.target())?.find_by_name(name).await
    }

    async fn name_of(&self, id: &ApiId) -> Result<Option<String>, GatewayError> {
        self.pick(id.target())?.name_of(id).await
    }

    fn known_name(&self, id: &ApiId) -> Option<String> {
        self.pick(id.target()).ok()?.known_name(id)
    }

    fn known_kind(&self, id: &ApiId) -> Option<ApiKind> {
        self.pick(id.target()).ok()?.known_kind(id)
    }

    async fn read_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageView, GatewayError> {
        self.pick(api.target())?.read_stage(api, stage).await
    }

    async fn read_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        self.pick(api.target())?.read_stages(api).await
    }

    async fn write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> Result<(), GatewayError> {
        self.pick(api.target())?
            .write(api, stage, level, action)
            .await
    }

    async fn listing(
        &self,
        target: Option<&TargetAlias>,
    ) -> Result<Vec<ResolvedApi>, GatewayError> {
        self.pick(target)?.listing(target).await
    }

    /// Every target's APIs. A target that cannot be listed is logged and left out, so the
    /// others are still swept; only home's failure is the caller's.
    async fn apis(&self) -> Result<Vec<ApiId>, GatewayError> {
        let mut all = self.home.apis().await?;
        for (alias, gateway) in &self.others {
            match gateway.apis().await {
                Ok(apis) => all.extend(apis),
                Err(error) => {
                    tracing::warn!(target_alias = %alias, %error, "could not list the target's APIs");
                }
            }
        }
        Ok(all)
    }

    async fn tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        tags: &[(String, String)],
    ) -> Result<(), GatewayError> {
        self.pick(api.target())?.tag(api, stage, tags).await
    }

    async fn untag(&self, api: &ApiId, stage: &StageName, key: &str) -> Result<(), GatewayError> {
        self.pick(api.target())?.untag(api, stage, key).await
    }

    async fn read_plan(&self, plan: &PlanRef) -> Result<PlanView, GatewayError> {
        self.pick(plan.target())?.read_plan(plan).await
    }

    /// Every target's plans; a target that cannot be listed is logged and left out, so the
    /// others are still swept; only home's failure is the caller's.
    async fn plans(&self) -> Result<Vec<PlanView>, GatewayError> {
        let mut all = self.home.plans().await?;
        for (alias, gateway) in &self.others {
            match gateway.plans().await {
                Ok(plans) => all.extend(plans),
                Err(error) => {
                    tracing::warn!(target_alias = %alias, %error, "could not list the target's usage plans");
                }
            }
        }
        Ok(all)
    }

    async fn tag_plan(&self, plan: &PlanView, key: &str, value: &str) -> Result<(), GatewayError> {
        self.pick(plan.target.as_ref())?
            .tag_plan(plan, key, value)
            .await
    }

    async fn untag_plan(&self, plan: &PlanView, key: &str) -> Result<(), GatewayError> {
        self.pick(plan.target.as_ref())?.untag_plan(plan, key).await
    }

    fn plan_wait(&self, target: Option<&TargetAlias>) -> Duration {
        self.pick(target)
            .map_or(Duration::ZERO, |gateway| gateway.plan_wait(target))
    }

    async fn write_plan(
        &self,
        plan: &PlanView,
        level: &PlanLevel,
        action: &Action,
        expected: Configured,
    ) -> Result<Duration, GatewayError> {
        self.pick(plan.target.as_ref())?
            .write_plan(plan, level, action, expected)
            .await
    }

    async fn methods(&self, api: &ApiId) -> Option<Vec<ApiMethod>> {
        self.pick(api.target()).ok()?.methods(api).await
    }

    async fn account_limits(&self, api: &ApiId) -> Option<AccountLimits> {
        self.pick(api.target()).ok()?.account_limits(api).await
    }

    /// In the target the API lives in: CloudTrail's event history is per account and region.
    async fn history(
        &self,
        api: &ApiId,
        stage: Option<&StageName>,
        since: i64,
    ) -> Result<Trail, GatewayError> {
        self.pick(api.target())?.history(api, stage, since).await
    }

    async fn traffic(
        &self,
        api: &ResolvedApi,
        levels: &[(StageName, Level)],
        from: i64,
        to: i64,
    ) -> Result<Vec<Traffic>, TrafficError> {
        match self.pick(api.id.target()) {
            Ok(gateway) => gateway.traffic(api, levels, from, to).await,
            Err(error) => Err(TrafficError(error.to_string())),
        }
    }

    /// In the target the API lives in, as its traffic is read.
    async fn traffic_picture(
        &self,
        api: &ResolvedApi,
        stage: &StageName,
        level: &Level,
        limits: &[(String, f64)],
        window: (i64, i64),
    ) -> Result<Vec<u8>, TrafficError> {
        match self.pick(api.id.target()) {
            Ok(gateway) => {
                gateway
                    .traffic_picture(api, stage, level, limits, window)
                    .await
            }
            Err(error) => Err(TrafficError(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::targets;

    #[test]
    fn targets_in_one_account_and_region_share_one_pace_and_others_do_not() {
        let targets = targets::parse(
            "t",
            r#"
[[target]]
alias = "prod-a"
region = "eu-west-1"
role_arn = "arn:aws:iam::111122223333:role/a"

[[target]]
alias = "prod-b"
region = "eu-west-1"
role_arn = "arn:aws:iam::111122223333:role/b"

[[target]]
alias = "prod-us"
region = "us-east-1"
role_arn = "arn:aws:iam::111122223333:role/a"

[[target]]
alias = "stage"
region = "eu-west-1"
role_arn = "arn:aws:iam::444455556666:role/a"
"#,
        )
        .unwrap();
        let fleet = ApiGateway::new(GatewaySettings {
            targets,
            ..GatewaySettings::default()
        });
        let target = |alias: &str| {
            fleet
                .pick(TargetAlias::parse(alias).unwrap().as_ref())
                .unwrap()
        };
        assert!(target("prod-a").shares_paces_with(target("prod-b")));
        assert!(!target("prod-a").shares_paces_with(target("prod-us")));
        assert!(!target("prod-a").shares_paces_with(target("stage")));
        assert!(!target("prod-a").shares_paces_with(target("home")));
        let unknown = fleet.pick(TargetAlias::parse("nope").unwrap().as_ref());
        assert!(
            matches!(unknown, Err(GatewayError::UnknownTarget { ref known, .. }) if known == &["home", "prod-a", "prod-b", "prod-us", "stage"])
        );
    }
}
