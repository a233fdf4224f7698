//! A change and its restore touch throttling and nothing else: caching, execution logs and
//! detailed metrics of a REST stage and its methods, an HTTP API's route settings, a usage plan's
//! quota and stages. Each test compares the whole resource before a timed change and after its
//! restore. moto does not model what AWS does to the rest of a method's entry or a route's
//! object; the stand-ins in `tests/support/moto_server.py` do, from AWS's reference (each
//! source is cited there).

use std::collections::BTreeMap;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_apigatewayv2::types::RouteSettings;
use serde_json::Value;

use crate::helpers::*;

async fn reply_to(app: &TestApp, text: &str) -> Value {
    let before = app.slack.posts_to("/reply").len();
    app.command(text).await;
    app.slack.wait_for("/reply", before + 1).await[before].clone()
}

/// Waits until the audit channel has heard that a timed change ended.
async fn ended(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    loop {
        let notices = app.slack.posts_to("/webhook");
        if notices.iter().map(shown).any(|text| text.contains("ended")) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no end notice: {notices:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn replace(path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

/// A REST API with `GET /pets` whose stage `prod` has caching, INFO execution logs with data
/// trace, and detailed metrics on, stage-wide.
async fn busy_rest_api() -> String {
    let aws = aws().await;
    let api = create_api(&unique("harm"), "prod").await;
    let root = aws
        .get_resources()
        .rest_api_id(&api)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id())
        .unwrap()
        .to_owned();
    add_resource(&aws, &api, &root, "pets", &["GET"]).await;
    aws.update_stage()
        .rest_api_id(&api)
        .stage_name("prod")
        .patch_operations(replace("/*/*/metrics/enabled", "true"))
        .patch_operations(replace("/*/*/logging/loglevel", "INFO"))
        .patch_operations(replace("/*/*/logging/dataTrace", "true"))
        .patch_operations(replace("/*/*/caching/enabled", "true"))
        .patch_operations(replace("/*/*/caching/ttlInSeconds", "60"))
        .send()
        .await
        .expect("stage settings");
    api
}

/// Everything GetStage says of a REST stage but when it was last updated and this service's
/// own records.
async fn rest_stage(api: &str) -> String {
    let stage = aws()
        .await
        .get_stage()
        .rest_api_id(api)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    let settings: BTreeMap<_, _> = stage
        .method_settings()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{v:?}")))
        .collect();
    let tags: BTreeMap<_, _> = stage
        .tags()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("throttle-bot:"))
        .collect();
    format!(
        "{settings:?} {tags:?} cache={:?}/{:?} tracing={:?} variables={:?} deployment={:?}",
        stage.cache_cluster_enabled(),
        stage.cache_cluster_size(),
        stage.tracing_enabled(),
        stage.variables(),
        stage.deployment_id()
    )
}

#[tokio::test]
async fn a_rest_stages_timed_change_leaves_everything_else_as_it_was() {
    let app = TestApp::spawn().await;
    let api = busy_rest_api().await;
    let before = rest_stage(&api).await;

    // Not a cut by half or more (that is previewed first): the stage is at the account's
    // 10,000/5,000 since its settings were first written.
    reply_to(&app, &format!("{api} prod 6000 3000 for 2s")).await;
    ended(&app).await;

    assert_eq!(rest_stage(&api).await, before);
}

#[tokio::test]
async fn a_methods_throttle_keeps_the_stages_caching_logging_and_metrics_and_its_end_leaves_no_entry()
 {
    let app = TestApp::spawn().await;
    let api = busy_rest_api().await;
    let before = rest_stage(&api).await;

    reply_to(&app, &format!("{api} prod 5 10 GET /pets for 2s")).await;

    // Mid-incident, the throttled method is still cached, logged and measured as the stage is.
    let stage = aws()
        .await
        .get_stage()
        .rest_api_id(&api)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    let entry = &stage.method_settings().unwrap()["~1pets/GET"];
    assert!(entry.caching_enabled(), "{entry:?}");
    assert_eq!(entry.cache_ttl_in_seconds(), 60, "{entry:?}");
    assert!(entry.metrics_enabled(), "{entry:?}");
    assert_eq!(entry.logging_level(), Some("INFO"), "{entry:?}");
    assert!(entry.data_trace_enabled(), "{entry:?}");
    assert_eq!(
        (
            entry.throttling_rate_limit(),
            entry.throttling_burst_limit()
        ),
        (5.0, 10)
    );

    ended(&app).await;
    // The entry the change made is gone: the method inherits the stage again, whatever the
    // stage's settings become later.
    assert_eq!(rest_stage(&api).await, before);
    let shown_after = shown(&reply_to(&app, &format!("show {api} prod")).await);
    assert!(!shown_after.contains("GET /pets"), "{shown_after}");
}

#[tokio::test]
async fn a_method_someone_configured_keeps_its_entry_when_reset() {
    let app = TestApp::spawn().await;
    let api = busy_rest_api().await;
    // The team turned caching off for this one method, and throttled it.
    aws()
        .await
        .update_stage()
        .rest_api_id(&api)
        .stage_name("prod")
        .patch_operations(replace("/~1pets/GET/caching/enabled", "false"))
        .patch_operations(replace("/~1pets/GET/throttling/rateLimit", "50"))
        .patch_operations(replace("/~1pets/GET/throttling/burstLimit", "100"))
        .send()
        .await
        .unwrap();

    reply_to(&app, &format!("reset {api} prod GET /pets")).await;

    let stage = aws()
        .await
        .get_stage()
        .rest_api_id(&api)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    let entry = &stage.method_settings().unwrap()["~1pets/GET"];
    assert!(!entry.caching_enabled(), "their setting stays: {entry:?}");
    assert!(entry.throttling_rate_limit() < 0.0, "{entry:?}");
    let shown_after = shown(&reply_to(&app, &format!("show {api} prod")).await);
    assert!(
        !shown_after.contains("GET /pets"),
        "an entry without throttling is no override: {shown_after}"
    );
}

/// Everything GetStage says of an HTTP API stage's settings objects.
async fn http_objects(api: &str) -> String {
    let stage = http_stage(api, "prod").await;
    let routes: BTreeMap<_, _> = stage
        .route_settings()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{v:?}")))
        .collect();
    format!(
        "{:?} {routes:?} {:?}",
        stage.default_route_settings(),
        stage.description()
    )
}

/// An HTTP API whose stage is throttled and measured, and whose `GET /orders` route has detailed
/// metrics of its own and no throttling.
async fn busy_http_api() -> String {
    let api = create_http_api(
        &unique("harm-http"),
        "prod",
        &["GET /orders", "$default"],
        Some((100.0, 200)),
    )
    .await;
    aws_v2()
        .await
        .update_stage()
        .api_id(&api)
        .stage_name("prod")
        .route_settings(
            "GET /orders",
            RouteSettings::builder()
                .detailed_metrics_enabled(true)
                .build(),
        )
        .send()
        .await
        .expect("route settings");
    api
}

#[tokio::test]
async fn an_http_stages_timed_change_leaves_its_settings_as_they_were() {
    let app = TestApp::spawn().await;
    let api = busy_http_api().await;
    let before = http_objects(&api).await;

    let changed = shown(&reply_to(&app, &format!("{api} prod 80 160 for 2s")).await);
    assert!(changed.contains("80 req/s"), "{changed}");
    ended(&app).await;

    assert_eq!(http_objects(&api).await, before);
}

#[tokio::test]
async fn an_http_routes_timed_change_keeps_its_detailed_metrics_when_it_ends() {
    let app = TestApp::spawn().await;
    let api = busy_http_api().await;
    let before = http_objects(&api).await;

    reply_to(&app, &format!("{api} prod 5 10 GET /orders for 2s")).await;
    let during = http_stage(&api, "prod").await;
    let route = &during.route_settings().unwrap()["GET /orders"];
    assert_eq!(route.detailed_metrics_enabled(), Some(true), "{route:?}");
    assert_eq!(throttling(Some(route)), Some((5.0, 10)));

    ended(&app).await;
    assert_eq!(http_objects(&api).await, before);
}

#[tokio::test]
async fn a_route_reset_where_nothing_is_left_to_remove_is_not_an_error() {
    let app = TestApp::spawn().await;
    let api = busy_http_api().await;
    reply_to(&app, &format!("{api} prod 5 10 $default")).await;
    // Someone removed the route's settings meanwhile (the console, a deploy).
    aws_v2()
        .await
        .delete_route_settings()
        .api_id(&api)
        .stage_name("prod")
        .route_key("$default")
        .send()
        .await
        .unwrap();

    let reset = shown(&reply_to(&app, &format!("reset {api} prod $default")).await);

    assert!(!reset.to_lowercase().contains("not found"), "{reset}");
    assert!(
        !http_stage(&api, "prod")
            .await
            .route_settings()
            .is_some_and(|r| r.contains_key("$default"))
    );
}

/// Everything GetUsagePlan says of a plan but this service's own records.
async fn usage_plan(id: &str) -> String {
    let plan = aws()
        .await
        .get_usage_plan()
        .usage_plan_id(id)
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<_, _> = plan
        .tags()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("throttle-bot:"))
        .collect();
    format!(
        "{:?} {:?} {:?} {:?} {:?} {tags:?}",
        plan.name(),
        plan.description(),
        plan.throttle(),
        plan.quota(),
        plan.api_stages()
    )
}

fn plan_env() -> Options {
    Options {
        extra_env: vec![("PLAN_CALLS_INTERVAL_SECS", "2".to_owned())],
        ..Options::default()
    }
}

#[tokio::test]
async fn a_usage_plans_timed_change_leaves_its_quota_and_stages_as_they_were() {
    use aws_sdk_apigateway::types::{ApiStage, QuotaPeriodType, QuotaSettings, ThrottleSettings};
    let app = TestApp::spawn_with(plan_env()).await;
    let api = create_api(&unique("harm-plan"), "prod").await;
    let name = unique("harm-plan");
    let id = aws()
        .await
        .create_usage_plan()
        .name(&name)
        .description("gold customers")
        .api_stages(ApiStage::builder().api_id(&api).stage("prod").build())
        .throttle(
            ThrottleSettings::builder()
                .rate_limit(100.0)
                .burst_limit(200)
                .build(),
        )
        .quota(
            QuotaSettings::builder()
                .limit(5000)
                .period(QuotaPeriodType::Day)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let before = usage_plan(&id).await;

    reply_to(&app, &format!("plan {name} 5 10 for 2s")).await;
    ended(&app).await;

    assert_eq!(usage_plan(&id).await, before);
}

#[tokio::test]
async fn a_throttled_plan_write_waits_a_full_turn_and_lands() {
    let app = TestApp::spawn_with(plan_env()).await;
    let name = unique("paced-plan");
    let id = create_usage_plan(&name, &[], Some((100.0, 200))).await;

    // The stand-in refuses the first write (a pipeline's call just landed): AWS allows one
    // UpdateUsagePlan per spacing, and a retry inside it is refused again.
    let reply = shown(&reply_to(&app, &format!("plan {name} 5 10")).await);
    // moto routes a request by the service its credential scope names.
    let calls = reqwest::Client::new()
        .get(format!("{}/_stand_in/plan_calls/{id}", moto().endpoint))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/apigateway/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let calls: Vec<Value> = serde_json::from_str(&calls).unwrap();

    assert!(reply.contains("5 req/s"), "{reply}");
    assert_eq!(plan_throttles(&id).await.0, Some((5.0, 10)));
    let refused = calls.iter().filter(|c| c["accepted"] == false).count();
    assert_eq!(
        refused, 1,
        "one refusal, then a write a full turn later: {calls:?}"
    );
}
