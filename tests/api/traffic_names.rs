//! Which CloudWatch names `show` reads traffic under, against moto's PutMetricData,
//! GetMetricData and ListMetrics: a REST API's name as AWS publishes it, the `$default` route's
//! documented dimensions, an API with no metrics at all, and two REST APIs sharing a name.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use serde_json::Value;

use crate::helpers::*;

async fn reply_to(app: &TestApp, text: &str, nth: usize) -> Value {
    app.command(text).await;
    app.slack.wait_for("/reply", nth).await[nth - 1].clone()
}

/// Publishes `Count` data points, `(seconds ago, requests)`, under exactly these dimensions.
async fn publish_count(dimensions: &[(&str, &str)], minutes: &[(i64, f64)]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let dimensions: Vec<Dimension> = dimensions
        .iter()
        .map(|(name, value)| Dimension::builder().name(*name).value(*value).build())
        .collect();
    let mut request = cloudwatch()
        .await
        .put_metric_data()
        .namespace("AWS/ApiGateway");
    for (ago, requests) in minutes {
        request = request.metric_data(
            MetricDatum::builder()
                .metric_name("Count")
                .set_dimensions(Some(dimensions.clone()))
                .timestamp(DateTime::from_secs(now - ago))
                .value(*requests)
                .build(),
        );
    }
    request.send().await.expect("put metric data");
}

/// AWS, "Amazon API Gateway dimensions and metrics": "API Gateway removes non-ASCII characters
/// from the ApiName dimension before sending metrics to CloudWatch."
#[tokio::test]
async fn a_rest_apis_traffic_is_read_under_its_name_without_non_ascii_characters() {
    let app = TestApp::spawn().await;
    let published = format!("{}-", unique("zahlungsdienst"));
    let api = create_api(&format!("{published}ä"), "prod").await;
    publish_traffic(("ApiName", &published), "prod", &[(300, 7200.0, 0.0)]).await;

    let text = shown(&reply_to(&app, &format!("show {api}"), 1).await);

    assert!(text.contains("peak 120 req/s"), "{text}");
}

/// The same page: "If the APIName contains no ASCII characters, the API ID is used as the
/// ApiName."
#[tokio::test]
async fn a_rest_api_named_without_ascii_characters_is_read_under_its_id() {
    let app = TestApp::spawn().await;
    let api = create_api("支付", "prod").await;
    publish_traffic(("ApiName", &api), "prod", &[(300, 3000.0, 0.0)]).await;

    let text = shown(&reply_to(&app, &format!("show {api}"), 1).await);

    assert!(text.contains("peak 50 req/s"), "{text}");
}

/// CloudWatch's ListMetrics lists the metrics with data in the last two weeks: none under an
/// API's name is not the same as no requests in the last hour.
#[tokio::test]
async fn an_api_with_no_metrics_under_its_name_is_not_shown_as_one_without_traffic() {
    let app = TestApp::spawn().await;
    let name = unique("ghost");
    create_api(&name, "prod").await;
    publish_traffic(
        ("ApiName", &format!("{name}-elsewhere")),
        "prod",
        &[(300, 600.0, 0.0)],
    )
    .await;
    let quiet = unique("quiet");
    create_api(&quiet, "prod").await;
    publish_traffic(("ApiName", &quiet), "prod", &[(7200, 600.0, 0.0)]).await;

    let ghost = shown(&reply_to(&app, &format!("show {name} prod"), 1).await);
    let idle = shown(&reply_to(&app, &format!("show {quiet} prod"), 2).await);

    assert!(
        ghost.contains(&format!(
            "no metrics are published under ApiName `{name}` at all"
        )),
        "{ghost}"
    );
    assert!(!ghost.contains("no requests"), "{ghost}");
    assert!(idle.contains("none published (no requests"), "{idle}");
    assert!(!idle.contains("no metrics are published"), "{idle}");
}

/// AWS, "Monitor CloudWatch metrics for HTTP APIs": route metrics are published under ApiId,
/// Method, Resource, Stage; the `$default` route's Method is `ANY` (see `DEFAULT_ROUTE_METHOD`).
#[tokio::test]
async fn the_default_routes_traffic_is_read_under_the_documented_route_dimensions() {
    let app = TestApp::spawn().await;
    let api = create_http_api(&unique("catchall"), "prod", &["$default"], None).await;
    reply_to(&app, &format!("{api} prod 100 200 $default"), 1).await;
    publish_count(
        &[
            ("ApiId", &api),
            ("Method", "ANY"),
            ("Resource", "$default"),
            ("Stage", "prod"),
        ],
        &[(300, 3000.0)],
    )
    .await;

    let view = reply_to(&app, &format!("show {api} prod"), 2)
        .await
        .to_string();

    let (stage, route) = view.split_once("`$default`:").expect("the route is shown");
    assert!(
        route.contains("Traffic, last hour (1-minute averages): peak 50 req/s"),
        "{view}"
    );
    assert!(
        !stage.contains("peak 50 req/s"),
        "the stage's own line: {view}"
    );
}

/// REST metrics are keyed by name (AWS, "Amazon API Gateway dimensions and metrics"): two REST
/// APIs with one name are counted together.
#[tokio::test]
async fn two_rest_apis_with_one_name_are_shown_sharing_its_metrics() {
    let app = TestApp::spawn().await;
    let name = unique("twin");
    let first = create_api(&name, "prod").await;
    create_api(&name, "prod").await;
    publish_traffic(("ApiName", &name), "prod", &[(300, 600.0, 0.0)]).await;
    let single = unique("single");
    let alone = create_api(&single, "prod").await;
    publish_traffic(("ApiName", &single), "prod", &[(300, 600.0, 0.0)]).await;

    let twin = shown(&reply_to(&app, &format!("show {first}"), 1).await);
    let one = shown(&reply_to(&app, &format!("show {alone}"), 2).await);

    assert!(twin.contains("peak 10 req/s"), "{twin}");
    assert!(
        twin.contains(&format!(
            "another REST API is published under the same ApiName `{name}`"
        )),
        "{twin}"
    );
    assert!(one.contains("peak 10 req/s"), "{one}");
    assert!(!one.contains("another REST API"), "{one}");
}
