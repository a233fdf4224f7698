//! A stage's traffic from CloudWatch (`AWS/ApiGateway`), through `GetMetricData`: one call per
//! question (every level asked about in one request), a short timeout and no retries, so
//! metrics never hold a command up. REST APIs publish by API *name*, HTTP APIs by id.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use tokio::sync::OnceCell;

use crate::core::ports::TrafficError;
use crate::domain::{ApiKind, Level, Minute, StageName, Traffic};

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
        let mut request = client
            .get_metric_data()
            .start_time(DateTime::from_secs(from))
            .end_time(DateTime::from_secs(to));
        for (index, (stage, level)) in levels.iter().enumerate() {
            let dimensions = dimensions(api, stage, level)?;
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
        Ok((0..levels.len())
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
            .collect())
    }
}

/// 4XX responses, as each kind of API names the metric.
fn client_errors(kind: ApiKind) -> &'static str {
    match kind {
        ApiKind::Rest => "4XXError",
        ApiKind::Http => "4xx",
    }
}

/// The dimensions API Gateway publishes a level's metrics under: the stage's by API and stage,
/// a method's or route's (with detailed metrics on) also by method and resource.
fn dimensions(
    api: &Published<'_>,
    stage: &StageName,
    level: &Level,
) -> Result<Vec<Dimension>, TrafficError> {
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let mut dimensions = vec![match api.kind {
        ApiKind::Rest => dimension(
            "ApiName",
            api.name.ok_or_else(|| {
                TrafficError(
                    "a REST API's metrics are published under its name, not yet known here; name the API to read them"
                        .to_owned(),
                )
            })?,
        ),
        ApiKind::Http => dimension("ApiId", api.id),
    }];
    dimensions.push(dimension("Stage", stage.as_str()));
    match level {
        Level::Stage => {}
        Level::Method { method, path } => {
            dimensions.push(dimension("Method", method.as_str()));
            dimensions.push(dimension("Resource", path.as_str()));
        }
        Level::DefaultRoute => dimensions.push(dimension("Resource", Level::DEFAULT_ROUTE)),
    }
    Ok(dimensions)
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

    #[test]
    fn each_kind_is_published_under_its_own_dimensions_and_metric_names() {
        let prod = StageName::parse("prod").unwrap();
        let rest = Published {
            kind: ApiKind::Rest,
            id: "a1b2c3d4e5",
            name: Some("petstore"),
        };
        let pets = Level::method(
            HttpMethod::parse("GET").unwrap(),
            ResourcePath::parse("/pets").unwrap(),
        );
        assert_eq!(
            names(&dimensions(&rest, &prod, &Level::Stage).unwrap()),
            [
                ("ApiName".into(), "petstore".into()),
                ("Stage".into(), "prod".into())
            ]
        );
        assert_eq!(
            names(&dimensions(&rest, &prod, &pets).unwrap())[2..],
            [
                ("Method".into(), "GET".into()),
                ("Resource".into(), "/pets".into())
            ]
        );
        let http = Published {
            kind: ApiKind::Http,
            id: "h1b2c3d4e5",
            name: None,
        };
        assert_eq!(
            names(&dimensions(&http, &prod, &Level::Stage).unwrap())[0],
            ("ApiId".into(), "h1b2c3d4e5".into())
        );
        let unnamed = Published { name: None, ..rest };
        assert!(dimensions(&unnamed, &prod, &Level::Stage).is_err());
        assert_eq!(
            (client_errors(ApiKind::Rest), client_errors(ApiKind::Http)),
            ("4XXError", "4xx")
        );
    }
}
