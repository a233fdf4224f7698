//! Usage plans through the SDK: find one by id or name (one GetUsagePlans), read it again when
//! its turn to be written comes (GetUsagePlan), and write its throttle (UpdateUsagePlan) only if
//! the level still holds what the user saw.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_apigateway::error::ProvideErrorMetadata;
use aws_sdk_apigateway::operation::get_usage_plan::GetUsagePlanOutput;
use aws_sdk_apigateway::types::{
    ApiStage, Op, PatchOperation, QuotaSettings, ThrottleSettings, UsagePlan,
};

use super::TargetGateway;
use crate::aws::partition::apigateway_arn;
use crate::core::ports::GatewayError;
use crate::domain::{Action, Configured, PlanLevel, PlanRef, PlanStage, PlanView, TAG_PREFIX};

/// UpdateUsagePlan is allowed about once every 20 s. The SDK's own retry waits a jittered
/// 0–20 s (full jitter), so a retry it made could land well inside the 20 s and be refused
/// again: the SDK does not retry, and a throttled write waits a full turn of the plan queue
/// before it is tried again, at most this many times in all.
const PLAN_ATTEMPTS: u32 = 3;

fn plan_retries() -> (RetryConfig, TimeoutConfig) {
    (
        RetryConfig::standard().with_max_attempts(1),
        TimeoutConfig::builder()
            .operation_timeout(Duration::from_secs(30))
            .build(),
    )
}

/// What a level holds once `action` is written.
fn intended(action: &Action) -> Configured {
    match action {
        Action::Set(limits) => (*limits).into(),
        Action::Reset => Configured::default(),
    }
}

/// Whether AWS refused a call for its rate (then a later turn may succeed).
fn is_throttled(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "TooManyRequestsException"
                | "LimitExceededException"
                | "ThrottlingException"
                | "Throttling"
        )
    )
}

/// Why one turn's write did not land: refused for its rate (worth another turn), or not.
enum Attempt {
    Throttled(GatewayError),
    Failed(GatewayError),
}

/// A plan's fields as both GetUsagePlans' items and GetUsagePlan's answer give them.
struct Parts<'a> {
    id: Option<&'a str>,
    name: Option<&'a str>,
    throttle: Option<&'a ThrottleSettings>,
    quota: Option<&'a QuotaSettings>,
    stages: &'a [ApiStage],
    tags: Option<&'a HashMap<String, String>>,
}

impl<'a> Parts<'a> {
    /// GetUsagePlan's answer: the same fields as a listed plan, in a type of its own.
    fn read(plan: &'a GetUsagePlanOutput) -> Self {
        Self {
            id: plan.id(),
            name: plan.name(),
            throttle: plan.throttle(),
            quota: plan.quota(),
            stages: plan.api_stages(),
            tags: plan.tags(),
        }
    }

    fn of(plan: &'a UsagePlan) -> Self {
        Self {
            id: plan.id(),
            name: plan.name(),
            throttle: plan.throttle(),
            quota: plan.quota(),
            stages: plan.api_stages(),
            tags: plan.tags(),
        }
    }
}

impl TargetGateway {
    fn plans_arn(&self) -> String {
        apigateway_arn(&self.region(), "/usageplans")
    }

    /// One plan's ARN: what UpdateUsagePlan's IAM resource and TagResource name.
    fn plan_arn(&self, plan: &PlanView) -> String {
        format!("{}/{}", self.plans_arn(), plan.bare_id())
    }

    /// Every usage plan of this target, with its tags (all pages of GetUsagePlans).
    pub(super) async fn list_plans(&self) -> Result<Vec<PlanView>, GatewayError> {
        let all = self.all_plans().await?;
        Ok(all.iter().map(|p| self.plan_view(Parts::of(p))).collect())
    }

    async fn all_plans(&self) -> Result<Vec<UsagePlan>, GatewayError> {
        let mut all: Vec<UsagePlan> = Vec::new();
        let mut pages = self
            .clients()
            .await?
            .rest
            .get_usage_plans()
            .limit(500)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => all.extend(page.items().iter().cloned()),
                Err(err) => {
                    let error = self.explain(err, "apigateway:GET", &self.plans_arn(), None);
                    return Err(self.named(error).await);
                }
            }
        }
        Ok(all)
    }

    /// The plan whose id, else whose name, is `plan`'s text (all pages of GetUsagePlans).
    pub(super) async fn find_plan(&self, plan: &PlanRef) -> Result<PlanView, GatewayError> {
        let wanted = plan.bare();
        let all = self.all_plans().await?;
        if let Some(found) = all.iter().find(|p| p.id() == Some(wanted)) {
            return Ok(self.plan_view(Parts::of(found)));
        }
        let named: Vec<&UsagePlan> = all.iter().filter(|p| p.name() == Some(wanted)).collect();
        match named.as_slice() {
            [only] => Ok(self.plan_view(Parts::of(only))),
            [] => Err(GatewayError::UnknownPlan {
                plan: plan.to_string(),
                known: all
                    .iter()
                    .filter_map(|p| p.name())
                    .take(5)
                    .map(|name| self.qualified(name))
                    .collect(),
            }),
            several => Err(GatewayError::AmbiguousPlan {
                plan: plan.to_string(),
                ids: several
                    .iter()
                    .filter_map(|p| p.id())
                    .map(|id| self.qualified(id))
                    .collect(),
            }),
        }
    }

    /// Waits for this account's next plan turn, reads the plan again, and writes only if the
    /// level still holds `expected`. Returns how long the turn took to come.
    pub(super) async fn update_plan(
        &self,
        plan: &PlanView,
        level: &PlanLevel,
        action: &Action,
        expected: Configured,
    ) -> Result<Duration, GatewayError> {
        let mut waited = self.plan_queue.turn().await;
        let mut attempt = 1;
        loop {
            match self.plan_attempt(plan, level, action, expected).await {
                Err(Attempt::Throttled(_)) if attempt < PLAN_ATTEMPTS => {
                    attempt += 1;
                    self.plan_queue.refused();
                    waited += self.plan_queue.turn().await;
                }
                Err(Attempt::Throttled(error) | Attempt::Failed(error)) => return Err(error),
                Ok(()) => return Ok(waited),
            }
        }
    }

    /// One turn's read, compare and write.
    async fn plan_attempt(
        &self,
        plan: &PlanView,
        level: &PlanLevel,
        action: &Action,
        expected: Configured,
    ) -> Result<(), Attempt> {
        let id = plan.bare_id();
        let resource = self.plan_arn(plan);
        let not_found = || GatewayError::UnknownPlan {
            plan: plan.id.clone(),
            known: Vec::new(),
        };
        let clients = self.clients().await.map_err(Attempt::Failed)?;
        let now = match clients.rest.get_usage_plan().usage_plan_id(id).send().await {
            Ok(now) => now,
            Err(err) => {
                let error = self.explain(err, "apigateway:GET", &resource, Some(not_found()));
                return Err(Attempt::Failed(self.named(error).await));
            }
        };
        let now = self.plan_view(Parts::read(&now));
        let held = now.at(level).unwrap_or_default();
        if held != expected {
            return Err(Attempt::Failed(GatewayError::PlanMoved {
                plan: plan.id.clone(),
                now: held.to_string(),
            }));
        }
        let (attempts, timeouts) = plan_retries();
        let result = self
            .clients()
            .await
            .map_err(Attempt::Failed)?
            .rest
            .update_usage_plan()
            .usage_plan_id(id)
            .set_patch_operations(Some(patch(level, action)))
            .customize()
            .config_override(
                aws_sdk_apigateway::config::Builder::default()
                    .retry_config(attempts)
                    .timeout_config(timeouts),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let throttled = is_throttled(err.code());
                let error = self.explain(err, "apigateway:PATCH", &resource, Some(not_found()));
                let error = self.named(error).await;
                if throttled {
                    return Err(Attempt::Throttled(error));
                }
                // No answer is not "not written": AWS may have applied it. Read again; the
                // level holding what was asked is a write that landed.
                let unanswered = matches!(
                    error,
                    GatewayError::Timeout { .. } | GatewayError::Unreachable { .. }
                );
                if unanswered && self.plan_holds(id, level, intended(action)).await {
                    return Ok(());
                }
                Err(Attempt::Failed(error))
            }
        }
    }

    /// Whether the plan's level holds `values` now (`false` when it cannot be read).
    async fn plan_holds(&self, id: &str, level: &PlanLevel, values: Configured) -> bool {
        let Ok(clients) = self.clients().await else {
            return false;
        };
        match clients.rest.get_usage_plan().usage_plan_id(id).send().await {
            Ok(now) => {
                let view = self.plan_view(Parts::read(&now));
                view.at(level).unwrap_or_default() == values
            }
            Err(_) => false,
        }
    }

    /// Sets one tag on a plan (TagResource on the plan's ARN; the general pace, not the
    /// plan writes' turn: it is not an UpdateUsagePlan).
    pub(super) async fn tag_plan(
        &self,
        plan: &PlanView,
        key: &str,
        value: &str,
    ) -> Result<(), GatewayError> {
        let resource = self.plan_arn(plan);
        self.tag_rest_resource(&resource, (key, Some(value)), None)
            .await
    }

    /// Removes one tag from a plan.
    pub(super) async fn untag_plan(&self, plan: &PlanView, key: &str) -> Result<(), GatewayError> {
        let resource = self.plan_arn(plan);
        self.tag_rest_resource(&resource, (key, None), None).await
    }

    fn plan_view(&self, plan: Parts<'_>) -> PlanView {
        let values = |t: Option<&ThrottleSettings>| {
            t.map_or_else(Configured::default, |t| Configured {
                rate: Some(t.rate_limit()),
                burst: Some(t.burst_limit()),
            })
        };
        let mut stages: Vec<PlanStage> = plan
            .stages
            .iter()
            .map(|stage| {
                let mut methods: Vec<(String, Configured)> = stage
                    .throttle()
                    .map(|map| {
                        map.iter()
                            .map(|(k, v)| (k.clone(), values(Some(v))))
                            .collect()
                    })
                    .unwrap_or_default();
                methods.sort_by(|a, b| a.0.cmp(&b.0));
                PlanStage {
                    api: stage.api_id().unwrap_or_default().to_owned(),
                    stage: stage.stage().unwrap_or_default().to_owned(),
                    methods,
                }
            })
            .collect();
        stages.sort_by(|a, b| (&a.api, &a.stage).cmp(&(&b.api, &b.stage)));
        PlanView {
            id: self.qualified(plan.id.unwrap_or_default()),
            target: self.target.clone(),
            name: plan.name.unwrap_or_default().to_owned(),
            throttle: values(plan.throttle),
            quota: plan.quota.map(|q| {
                let period = q.period().map_or("period", |p| p.as_str());
                format!("{} requests a {period}", q.limit())
            }),
            stages,
            tags: plan
                .tags
                .into_iter()
                .flatten()
                .filter(|(key, _)| key.starts_with(TAG_PREFIX))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            timed: Vec::new(),
            unsealed: Vec::new(),
        }
    }
}

/// The patch operations for one level: `/throttle/…` for the plan's own, and
/// `/apiStages/<api>:<stage>/throttle/<path>/<METHOD>/…` for a method (the form the AWS
/// provider for Terraform sends).
fn patch(level: &PlanLevel, action: &Action) -> Vec<PatchOperation> {
    let base = match level {
        PlanLevel::Plan => "/throttle".to_owned(),
        PlanLevel::Method {
            api,
            stage,
            method,
            path,
        } => format!(
            "/apiStages/{}:{stage}/throttle/{}",
            api.id(),
            PlanLevel::method_key(path, method)
        ),
    };
    let op = |op: Op, path: String, value: Option<String>| {
        PatchOperation::builder()
            .op(op)
            .path(path)
            .set_value(value)
            .build()
    };
    match action {
        Action::Set(limits) => vec![
            op(
                Op::Replace,
                format!("{base}/rateLimit"),
                Some(limits.rate.to_string()),
            ),
            op(
                Op::Replace,
                format!("{base}/burstLimit"),
                Some(limits.burst.to_string()),
            ),
        ],
        Action::Reset => vec![op(Op::Remove, base, None)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        ApiId, BurstLimit, HttpMethod, RateLimit, ResourcePath, StageName, ThrottleLimits,
    };

    fn ops(level: &PlanLevel, action: &Action) -> Vec<(String, String, Option<String>)> {
        patch(level, action)
            .iter()
            .map(|p| {
                (
                    p.op().map_or(String::new(), |o| o.as_str().to_owned()),
                    p.path().unwrap_or_default().to_owned(),
                    p.value().map(str::to_owned),
                )
            })
            .collect()
    }

    #[test]
    fn the_sdk_never_retries_a_plan_write_itself_and_throttling_is_told_apart() {
        // A retry of the SDK's lands 0–20 s later (full jitter), inside AWS's 20 s: the plan
        // queue's turn is the only wait before another try.
        assert_eq!(plan_retries().0.max_attempts(), 1);
        assert!(is_throttled(Some("TooManyRequestsException")));
        assert!(!is_throttled(Some("BadRequestException")));
        assert!(!is_throttled(None));
    }

    #[test]
    fn each_level_is_patched_at_its_own_path() {
        let set = Action::Set(ThrottleLimits {
            rate: RateLimit::new(2.5).unwrap(),
            burst: BurstLimit::new(5).unwrap(),
        });
        assert_eq!(
            ops(&PlanLevel::Plan, &set),
            vec![
                (
                    "replace".into(),
                    "/throttle/rateLimit".into(),
                    Some("2.5".into())
                ),
                (
                    "replace".into(),
                    "/throttle/burstLimit".into(),
                    Some("5".into())
                ),
            ]
        );
        assert_eq!(
            ops(&PlanLevel::Plan, &Action::Reset),
            vec![("remove".into(), "/throttle".into(), None)]
        );
        let method = PlanLevel::Method {
            api: ApiId::parse("prod:a1b2c3d4e5").unwrap(),
            stage: StageName::parse("live").unwrap(),
            method: HttpMethod::parse("get").unwrap(),
            path: ResourcePath::parse("/pets/{id}").unwrap(),
        };
        assert_eq!(
            ops(&method, &set)[0],
            (
                "replace".into(),
                "/apiStages/a1b2c3d4e5:live/throttle//pets/{id}/GET/rateLimit".into(),
                Some("2.5".into())
            )
        );
        assert_eq!(
            ops(&method, &Action::Reset),
            vec![(
                "remove".into(),
                "/apiStages/a1b2c3d4e5:live/throttle//pets/{id}/GET".into(),
                None
            )]
        );
    }
}
