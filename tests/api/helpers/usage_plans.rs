//! Usage plans in moto, for the tests' own setup and checks.

use super::aws;

/// Creates a usage plan covering `stages` (API id, stage), with a plan-wide throttle if given;
/// returns its id.
pub async fn create_usage_plan(
    name: &str,
    stages: &[(&str, &str)],
    throttle: Option<(f64, i32)>,
) -> String {
    use aws_sdk_apigateway::types::{ApiStage, ThrottleSettings};
    let mut create = aws().await.create_usage_plan().name(name);
    for (api, stage) in stages {
        create = create.api_stages(ApiStage::builder().api_id(*api).stage(*stage).build());
    }
    if let Some((rate, burst)) = throttle {
        create = create.throttle(
            ThrottleSettings::builder()
                .rate_limit(rate)
                .burst_limit(burst)
                .build(),
        );
    }
    create
        .send()
        .await
        .expect("create usage plan")
        .id()
        .unwrap()
        .to_owned()
}

/// A usage plan's own throttle and each method throttle in its API stages (`api stage key`).
pub async fn plan_throttles(
    plan: &str,
) -> (
    Option<(f64, i32)>,
    std::collections::BTreeMap<String, (f64, i32)>,
) {
    let found = aws()
        .await
        .get_usage_plan()
        .usage_plan_id(plan)
        .send()
        .await
        .expect("get usage plan");
    let own = found.throttle().map(|t| (t.rate_limit(), t.burst_limit()));
    let mut methods = std::collections::BTreeMap::new();
    for stage in found.api_stages() {
        for (key, t) in stage.throttle().into_iter().flatten() {
            methods.insert(
                format!(
                    "{} {} {key}",
                    stage.api_id().unwrap_or_default(),
                    stage.stage().unwrap_or_default()
                ),
                (t.rate_limit(), t.burst_limit()),
            );
        }
    }
    (own, methods)
}

/// Sets a plan's own throttle directly, as someone in the console would.
pub async fn set_plan_throttle(plan: &str, rate: f64, burst: i32) {
    use aws_sdk_apigateway::types::{Op, PatchOperation};
    let replace = |field: &str, value: String| {
        PatchOperation::builder()
            .op(Op::Replace)
            .path(format!("/throttle/{field}"))
            .value(value)
            .build()
    };
    aws()
        .await
        .update_usage_plan()
        .usage_plan_id(plan)
        .patch_operations(replace("rateLimit", rate.to_string()))
        .patch_operations(replace("burstLimit", burst.to_string()))
        .send()
        .await
        .expect("update usage plan");
}
