//! CloudWatch in moto: the traffic API Gateway would publish, for the traffic checks.

use super::moto;

/// A CloudWatch client for the tests' own data points, talking to moto.
pub async fn cloudwatch() -> aws_sdk_cloudwatch::Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

/// Publishes what API Gateway would for a stage: per minute, `(seconds ago, requests, 4XX)`,
/// under a REST API's name (`4XXError`) or an HTTP API's id (`4xx`).
pub async fn publish_traffic(api: (&str, &str), stage: &str, minutes: &[(i64, f64, f64)]) {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let (dimension, value) = api;
    let errors = if dimension == "ApiId" {
        "4xx"
    } else {
        "4XXError"
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let dimensions = vec![
        Dimension::builder().name(dimension).value(value).build(),
        Dimension::builder().name("Stage").value(stage).build(),
    ];
    let mut request = cloudwatch()
        .await
        .put_metric_data()
        .namespace("AWS/ApiGateway");
    for (ago, requests, client_errors) in minutes {
        for (name, count) in [("Count", requests), (errors, client_errors)] {
            request = request.metric_data(
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dimensions.clone()))
                    .timestamp(DateTime::from_secs(now - ago))
                    .value(*count)
                    .build(),
            );
        }
    }
    request.send().await.expect("put metric data");
}
