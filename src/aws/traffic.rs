//! A stage's traffic from CloudWatch (`AWS/ApiGateway`), through `GetMetricData`: one call per
//! question (every level asked about in one request), a short timeout and no retries, so
//! metrics never hold a command up. REST APIs publish by API *name*, HTTP APIs by id. When a
//! read finds nothing at all, one `ListMetrics` tells "nothing published under this key" apart
//! from "no traffic".

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat};
use serde_json::json;
use tokio::sync::OnceCell;

use crate::core::ports::TrafficError;
use crate::domain::{ApiKind, Caveat, Level, MetricsKey, Minute, StageName, Traffic};

/// How long one read may take before `show` or a change goes on without it.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Stages whose failures were logged, at most this many (then no more lines).
const MAX_TOLD: usize = 10_000;

/// The API whose traffic is asked for, as CloudWatch names it.
pub struct Published<'a> {
    pub kind: ApiKind,
    pub id: &'a str,
    /// A REST API's name (its metrics are keyed by it).
    pub name: Option<&'a str>,
    /// Another REST API in the target is published under the same `ApiName`.
    pub shares_name: bool,
}

/// The `ApiName` a REST API's metrics are published under: its name without its non-ASCII
/// characters, or its id when none are left. AWS, "Amazon API Gateway dimensions and metrics":
/// "API Gateway removes non-ASCII characters from the ApiName dimension before sending metrics
/// to CloudWatch. If the APIName contains no ASCII characters, the API ID is used as the
/// ApiName."
pub fn published_name(name: &str, id: &str) -> String {
    let kept: String = name.chars().filter(char::is_ascii).collect();
    if kept.is_empty() { id.to_owned() } else { kept }
}

/// Whether another of `rest_apis` (id, name) is published under the same `ApiName` as the REST
/// API `id` named `name`: CloudWatch then adds both APIs' traffic up.
pub fn shares_name<'a>(
    id: &str,
    name: &str,
    rest_apis: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> bool {
    let published = published_name(name, id);
    rest_apis
        .into_iter()
        .any(|(other, other_name)| other != id && published_name(other_name, other) == published)
}

/// Answers kept, at most this many (then the oldest minute's are dropped).
const MAX_CACHED: usize = 1_000;

/// Reads traffic; logs each stage's failure once. The same question within the same minute is
/// answered from memory (CloudWatch publishes per minute, and is priced per metric read).
#[derive(Default)]
pub struct CloudWatch {
    client: OnceCell<Client>,
    told: Mutex<HashSet<String>>,
    answers: Mutex<HashMap<String, Vec<Traffic>>>,
    /// Whether a failed `ListMetrics` was logged (once per process).
    list_told: AtomicBool,
    /// `GetMetricWidgetImage`'s client: rendering takes longer than a read.
    picture_client: OnceCell<Client>,
    /// Whether a picture that could not be drawn was logged (once per process).
    picture_told: AtomicBool,
}

impl CloudWatch {
    pub async fn read(
        &self,
        config: &SdkConfig,
        api: Published<'_>,
        levels: &[(StageName, Level)],
        from: i64,
        to: i64,
    ) -> Result<Vec<Traffic>, TrafficError> {
        // Minutes, not seconds: a question asked again within the minute is the same question.
        let key = format!("{}|{}|{}|{levels:?}", api.id, from / 60, to / 60);
        if let Some(known) = self.answers.lock().expect("traffic answers").get(&key) {
            return Ok(known.clone());
        }
        let result = self.query(config, &api, levels, from, to).await;
        if let Ok(read) = &result {
            let mut answers = self.answers.lock().expect("traffic answers");
            if answers.len() >= MAX_CACHED {
                answers.clear();
            }
            answers.insert(key, read.clone());
        }
        if let Err(error) = &result {
            for (stage, _) in levels {
                let key = format!("{}/{stage}", api.id);
                let mut told = self.told.lock().expect("stages told");
                if told.len() < MAX_TOLD && told.insert(key) {
                    tracing::warn!(api = api.id, %stage, %error, "could not read the stage's traffic from CloudWatch; going on without it (logged once per stage)");
                }
            }
        }
        result
    }

    async fn query(
        &self,
        config: &SdkConfig,
        api: &Published<'_>,
        levels: &[(StageName, Level)],
        from: i64,
        to: i64,
    ) -> Result<Vec<Traffic>, TrafficError> {
        let client = self
            .client
            .get_or_init(|| async {
                let config = aws_sdk_cloudwatch::config::Builder::from(config)
                    .retry_config(RetryConfig::standard().with_max_attempts(1))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_timeout(READ_TIMEOUT)
                            .build(),
                    )
                    .build();
                Client::from_conf(config)
            })
            .await;
        let key = key(api)?;
        let mut request = client
            .get_metric_data()
            .start_time(DateTime::from_secs(from))
            .end_time(DateTime::from_secs(to));
        for (index, (stage, level)) in levels.iter().enumerate() {
            let dimensions = dimensions(&key, stage, level);
            for (prefix, name) in [("c", "Count"), ("e", client_errors(api.kind))] {
                request = request.metric_data_queries(query(
                    &format!("{prefix}{index}"),
                    name,
                    &dimensions,
                ));
            }
        }
        let answer = request.send().await.map_err(|err| {
            TrafficError(match err.code() {
                Some("AccessDenied" | "AccessDeniedException") => {
                    "not allowed: the service's AWS identity needs `cloudwatch:GetMetricData`"
                        .to_owned()
                }
                Some(code) => format!("CloudWatch answered {code}"),
                None => "CloudWatch could not be reached, or did not answer in time".to_owned(),
            })
        })?;
        let mut series: HashMap<&str, Vec<(i64, f64)>> = HashMap::new();
        for result in answer.metric_data_results() {
            let points = result
                .timestamps()
                .iter()
                .map(DateTime::secs)
                .zip(result.values().iter().copied())
                .collect();
            series.insert(result.id().unwrap_or_default(), points);
        }
        let mut read: Vec<Traffic> = (0..levels.len())
            .map(|index| {
                let requests = series
                    .remove(format!("c{index}").as_str())
                    .unwrap_or_default();
                let errors: HashMap<i64, f64> = series
                    .remove(format!("e{index}").as_str())
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                Traffic::new(
                    requests
                        .into_iter()
                        .map(|(at, requests)| Minute {
                            at,
                            requests,
                            client_errors: errors.get(&at).copied().unwrap_or(0.0),
                        })
                        .collect(),
                )
            })
            .collect();
        let caveat = if read.iter().all(|traffic| traffic.minutes.is_empty())
            && self.lists_nothing(client, &key).await
        {
            Some(Caveat::Unpublished(key))
        } else if api.shares_name {
            Some(Caveat::SharedName(key))
        } else {
            None
        };
        for traffic in &mut read {
            traffic.caveat.clone_from(&caveat);
        }
        Ok(read)
    }

    /// Whether CloudWatch lists no `Count` metric at all under `key` (of any stage or level):
    /// `ListMetrics` lists metrics with data in the last two weeks, and a filter's dimension
    /// matches metrics that have it among others (AWS, CloudWatch API reference, ListMetrics).
    /// `false` when it cannot tell.
    async fn lists_nothing(&self, client: &Client, key: &MetricsKey) -> bool {
        let listed = client
            .list_metrics()
            .namespace("AWS/ApiGateway")
            .metric_name("Count")
            .dimensions(
                DimensionFilter::builder()
                    .name(key.dimension)
                    .value(&key.value)
                    .build(),
            )
            .send()
            .await;
        match listed {
            Ok(answer) => answer.metrics().is_empty(),
            Err(err) => {
                if !self.list_told.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        code = err.code().unwrap_or("none"),
                        "could not list CloudWatch metrics (ListMetrics needs `cloudwatch:ListMetrics`): an API without metrics reads as one without traffic (logged once)"
                    );
                }
                false
            }
        }
    }
}

/// How long CloudWatch may take to draw a picture.
const PICTURE_TIMEOUT: Duration = Duration::from_secs(8);

impl CloudWatch {
    /// A PNG of the level's traffic, drawn by CloudWatch (`GetMetricWidgetImage`) from the
    /// same metrics `read` reads: requests per second (the per-minute `Sum` of `Count` over
    /// 60) and the 4XX share on the right axis, each limit a horizontal line. The first
    /// failure is logged, naming the permission when it is the cause; later ones are not.
    pub async fn picture(
        &self,
        config: &SdkConfig,
        api: Published<'_>,
        (stage, level): (&StageName, &Level),
        limits: &[(String, f64)],
        (from, to): (i64, i64),
    ) -> Result<Vec<u8>, TrafficError> {
        let client = self
            .picture_client
            .get_or_init(|| async {
                let config = aws_sdk_cloudwatch::config::Builder::from(config)
                    .retry_config(RetryConfig::standard().with_max_attempts(1))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_timeout(PICTURE_TIMEOUT)
                            .build(),
                    )
                    .build();
                Client::from_conf(config)
            })
            .await;
        let widget = widget(&key(&api)?, api.kind, stage, level, limits, (from, to));
        let drawn = client
            .get_metric_widget_image()
            .metric_widget(widget.to_string())
            .output_format("png")
            .send()
            .await;
        let error = match drawn {
            Ok(answer) => match answer.metric_widget_image() {
                Some(png) => return Ok(png.as_ref().to_vec()),
                None => TrafficError("CloudWatch drew no picture".to_owned()),
            },
            Err(err) => TrafficError(match err.code() {
                Some("AccessDenied" | "AccessDeniedException") => {
                    "not allowed: the service's AWS identity needs `cloudwatch:GetMetricWidgetImage`"
                        .to_owned()
                }
                Some(code) => format!("CloudWatch answered {code}"),
                None => "CloudWatch could not be reached, or did not answer in time".to_owned(),
            }),
        };
        if !self.picture_told.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "could not draw a traffic picture; messages go without one (logged once)");
        }
        Err(error)
    }
}

/// The metric widget CloudWatch draws (the JSON of the console's "Source" tab; CloudWatch API
/// reference, "GetMetricWidgetImage: Metric Widget Structure"): both metrics hidden, drawn
/// through metric math as requests per second and a 4XX percentage; limits as annotations.
fn widget(
    key: &MetricsKey,
    kind: ApiKind,
    stage: &StageName,
    level: &Level,
    limits: &[(String, f64)],
    (from, to): (i64, i64),
) -> serde_json::Value {
    let names: Vec<String> = dimensions(key, stage, level)
        .iter()
        .flat_map(|d| {
            [
                d.name().unwrap_or_default().to_owned(),
                d.value().unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    let metric = |name: &str, id: &str| {
        let mut line = vec![json!("AWS/ApiGateway"), json!(name)];
        line.extend(names.iter().map(|n| json!(n)));
        line.push(json!({ "id": id, "stat": "Sum", "period": 60, "visible": false }));
        serde_json::Value::Array(line)
    };
    let horizontal: Vec<serde_json::Value> = limits
        .iter()
        .map(|(label, value)| json!({ "label": label, "value": value }))
        .collect();
    let iso = |at: i64| {
        DateTime::from_secs(at)
            .fmt(aws_sdk_cloudwatch::primitives::DateTimeFormat::DateTime)
            .unwrap_or_default()
    };
    json!({
        "width": 800,
        "height": 400,
        "start": iso(from),
        "end": iso(to),
        "period": 60,
        "view": "timeSeries",
        "stacked": false,
        "timezone": "+0000",
        "metrics": [
            metric("Count", "c"),
            metric(client_errors(kind), "e"),
            [{ "expression": "c/60", "label": "requests/s (1-minute average)", "id": "rps" }],
            [{ "expression": "100*e/c", "label": "4XX %", "id": "share", "yAxis": "right" }],
        ],
        "annotations": { "horizontal": horizontal },
        "yAxis": {
            "left": { "min": 0, "label": "requests/s", "showUnits": false },
            "right": { "min": 0, "max": 100, "label": "4XX %", "showUnits": false },
        },
        "legend": { "position": "bottom" },
    })
}

/// 4XX responses, as each kind of API names the metric.
fn client_errors(kind: ApiKind) -> &'static str {
    match kind {
        ApiKind::Rest => "4XXError",
        ApiKind::Http => "4xx",
    }
}

/// The dimension the API's metrics are published under: a REST API's name as AWS publishes it,
/// an HTTP API's id.
fn key(api: &Published<'_>) -> Result<MetricsKey, TrafficError> {
    Ok(match api.kind {
        ApiKind::Rest => MetricsKey {
            dimension: "ApiName",
            value: published_name(
                api.name.ok_or_else(|| {
                    TrafficError(
                        "a REST API's metrics are published under its name, not yet known here; name the API to read them"
                            .to_owned(),
                    )
                })?,
                api.id,
            ),
        },
        ApiKind::Http => MetricsKey {
            dimension: "ApiId",
            value: api.id.to_owned(),
        },
    })
}

/// The `Method` an HTTP API's `$default` route's metrics carry. AWS's "Monitor CloudWatch
/// metrics for HTTP APIs" publishes routes only under ApiId, Method, Resource, Stage and does not
/// say which Method `$default` has; a `SEARCH` over every Method would not need to know, but
/// moto (the tests' AWS) cannot answer `SEARCH`. `ANY` is AWS's own word for it: "Create routes
/// for HTTP APIs" calls `ANY` the method that matches all methods and `$default` the catch-all,
/// and its OpenAPI extensions write the `$default` route as an `x-amazon-apigateway-any-method`
/// with `isDefaultRoute`.
const DEFAULT_ROUTE_METHOD: &str = "ANY";

/// The dimensions API Gateway publishes a level's metrics under: the stage's by API and stage,
/// a method's or route's (with detailed metrics on) also by method and resource.
fn dimensions(key: &MetricsKey, stage: &StageName, level: &Level) -> Vec<Dimension> {
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let mut dimensions = vec![
        dimension(key.dimension, &key.value),
        dimension("Stage", stage.as_str()),
    ];
    let (method, resource) = match level {
        Level::Stage => return dimensions,
        Level::Method { method, path } => (method.as_str(), path.as_str()),
        Level::DefaultRoute => (DEFAULT_ROUTE_METHOD, Level::DEFAULT_ROUTE),
    };
    dimensions.push(dimension("Method", method));
    dimensions.push(dimension("Resource", resource));
    dimensions
}

/// The per-minute sum of one metric.
fn query(id: &str, name: &str, dimensions: &[Dimension]) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace("AWS/ApiGateway")
        .metric_name(name)
        .set_dimensions(Some(dimensions.to_vec()))
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HttpMethod, ResourcePath};

    fn names(dimensions: &[Dimension]) -> Vec<(String, String)> {
        dimensions
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_owned(),
                    d.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    fn key_of(kind: ApiKind, id: &str, name: Option<&str>) -> Result<MetricsKey, TrafficError> {
        key(&Published {
            kind,
            id,
            name,
            shares_name: false,
        })
    }

    #[test]
    fn each_kind_is_published_under_its_own_dimensions_and_metric_names() {
        let prod = StageName::parse("prod").unwrap();
        let rest = key_of(ApiKind::Rest, "a1b2c3d4e5", Some("petstore")).unwrap();
        let pets = Level::method(
            HttpMethod::parse("GET").unwrap(),
            ResourcePath::parse("/pets").unwrap(),
        );
        assert_eq!(
            names(&dimensions(&rest, &prod, &Level::Stage)),
            [
                ("ApiName".into(), "petstore".into()),
                ("Stage".into(), "prod".into())
            ]
        );
        assert_eq!(
            names(&dimensions(&rest, &prod, &pets))[2..],
            [
                ("Method".into(), "GET".into()),
                ("Resource".into(), "/pets".into())
            ]
        );
        let http = key_of(ApiKind::Http, "h1b2c3d4e5", None).unwrap();
        assert_eq!(
            names(&dimensions(&http, &prod, &Level::Stage))[0],
            ("ApiId".into(), "h1b2c3d4e5".into())
        );
        assert!(key_of(ApiKind::Rest, "a1b2c3d4e5", None).is_err());
        assert_eq!(
            (client_errors(ApiKind::Rest), client_errors(ApiKind::Http)),
            ("4XXError", "4xx")
        );
    }

    /// AWS, "Amazon API Gateway dimensions and metrics": non-ASCII characters are removed from
    /// ApiName, and a name with no ASCII characters is published as the API's id.
    #[test]
    fn a_rest_api_is_read_under_its_name_as_aws_publishes_it() {
        assert_eq!(
            published_name("Zahlungsdienst-ä", "a1b2c3d4e5"),
            "Zahlungsdienst-"
        );
        assert_eq!(published_name("支付", "a1b2c3d4e5"), "a1b2c3d4e5");
        assert_eq!(published_name("petstore", "a1b2c3d4e5"), "petstore");
        let key = key_of(ApiKind::Rest, "a1b2c3d4e5", Some("Zahlungsdienst-ä")).unwrap();
        assert_eq!(
            names(&dimensions(
                &key,
                &StageName::parse("prod").unwrap(),
                &Level::Stage
            ))[0],
            ("ApiName".into(), "Zahlungsdienst-".into())
        );
    }

    /// AWS, "Monitor CloudWatch metrics for HTTP APIs": a route's metrics are published under
    /// ApiId, Method, Resource, Stage (never ApiId, Stage, Resource).
    #[test]
    fn the_default_route_is_read_under_the_documented_route_dimensions() {
        let http = key_of(ApiKind::Http, "h1b2c3d4e5", None).unwrap();
        let mut read = names(&dimensions(
            &http,
            &StageName::parse("prod").unwrap(),
            &Level::DefaultRoute,
        ));
        read.sort();
        assert_eq!(
            read,
            [
                ("ApiId".into(), "h1b2c3d4e5".into()),
                ("Method".into(), "ANY".into()),
                ("Resource".into(), "$default".into()),
                ("Stage".into(), "prod".into()),
            ]
        );
    }

    #[test]
    fn rest_apis_share_metrics_when_aws_publishes_their_names_alike() {
        let apis = [
            ("a1", "orders"),
            ("a2", "orders"),
            ("a3", "Zahlung-ä"),
            ("a4", "Zahlung-ö"),
            ("a5", "支付"),
            ("a6", "订单"),
            ("a7", "billing"),
        ];
        assert!(shares_name("a1", "orders", apis));
        assert!(shares_name("a3", "Zahlung-ä", apis));
        assert!(
            !shares_name("a5", "支付", apis),
            "each is published as its id"
        );
        assert!(!shares_name("a7", "billing", apis), "only itself");
    }
}
