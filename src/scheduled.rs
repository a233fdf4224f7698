//! The original RateLimitCanary job: its parameters (each taken from a flag, else the event, else
//! the environment variable of the same name, else the defaults rate 100, burst 200), and running
//! it through the pipeline for `apply`, the schedule and alarms.

use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::Instrument;

use crate::core::outcome::{Failure, Outcome};
use crate::core::requester::Via;
use crate::core::requester::{RequestId, Requester};
use crate::core::runner::{Ask, Gates, Origin, ReplyOnce, Work};
use crate::domain::{
    Action, ApiRef, BurstLimit, Hold, Level, RateLimit, StageName, ThrottleChange, ThrottleLimits,
};
use crate::jobs::{AppRunner, span};

pub const DEFAULT_RATE: &str = "100";
pub const DEFAULT_BURST: &str = "200";

/// The event keys (and environment variables) the original job read, and `DURATION` (a timed
/// change: `30m`, `1h30m`).
pub const KEYS: [&str; 5] = [
    "API_ID",
    "STAGE_NAME",
    "RATE_LIMIT",
    "BURST_LIMIT",
    "DURATION",
];

/// Why a job could not even start. Its text is what the webhook, stderr or Lambda error shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// The original job's own words, kept for those who alert on them.
    #[error("Missing required parameters: API_ID or STAGE_NAME")]
    MissingTarget,
    #[error("malformed event: {0}")]
    BadEvent(String),
    #[error("invalid {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// The four parameters, each possibly missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobParams {
    pub api_id: Option<String>,
    pub stage: Option<String>,
    pub rate: Option<String>,
    pub burst: Option<String>,
    /// How long the change lasts before the values before come back; unset: for good.
    pub duration: Option<String>,
}

impl JobParams {
    /// Reads an event's text: JSON with any of the four keys, as numbers or numeric strings.
    pub fn from_event_text(text: &str) -> Result<Self, JobError> {
        let event: Value = serde_json::from_str(text)
            .map_err(|e| JobError::BadEvent(format!("not valid JSON ({e})")))?;
        Self::from_event(&event)
    }

    pub fn from_event(event: &Value) -> Result<Self, JobError> {
        let Value::Object(fields) = event else {
            return Err(JobError::BadEvent("expected a JSON object".to_owned()));
        };
        let field = |key: &'static str| -> Result<Option<String>, JobError> {
            match fields.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
                Some(Value::Number(n)) => Ok(Some(number_text(n))),
                Some(other) => Err(JobError::BadEvent(format!(
                    "{key} must be a number or a string, not {other}"
                ))),
            }
        };
        Ok(Self {
            api_id: field("API_ID")?,
            stage: field("STAGE_NAME")?,
            rate: field("RATE_LIMIT")?,
            burst: field("BURST_LIMIT")?,
            duration: field("DURATION")?,
        })
    }

    /// Reads the environment variables of the same names; empty ones count as unset.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            api_id: get("API_ID"),
            stage: get("STAGE_NAME"),
            rate: get("RATE_LIMIT"),
            burst: get("BURST_LIMIT"),
            duration: get("DURATION"),
        }
    }

    /// Each parameter from `self`, else from `fallback`.
    pub fn or(self, fallback: Self) -> Self {
        Self {
            api_id: self.api_id.or(fallback.api_id),
            stage: self.stage.or(fallback.stage),
            rate: self.rate.or(fallback.rate),
            burst: self.burst.or(fallback.burst),
            duration: self.duration.or(fallback.duration),
        }
    }

    /// The change, with the defaults for rate and burst, validated as a slash command is.
    pub fn into_change(self) -> Result<ThrottleChange, JobError> {
        let (Some(api), Some(stage)) = (self.api_id, self.stage) else {
            return Err(JobError::MissingTarget);
        };
        let invalid = |key: &'static str| {
            move |e: &dyn std::fmt::Display| JobError::Invalid {
                key,
                reason: e.to_string(),
            }
        };
        Ok(ThrottleChange {
            api: ApiRef::parse(&api).map_err(|e| invalid("API_ID")(&e))?,
            stage: StageName::parse(&stage).map_err(|e| invalid("STAGE_NAME")(&e))?,
            level: Level::Stage,
            action: Action::Set(ThrottleLimits {
                rate: RateLimit::parse(self.rate.as_deref().unwrap_or(DEFAULT_RATE))
                    .map_err(|e| invalid("RATE_LIMIT")(&e))?,
                burst: BurstLimit::parse(self.burst.as_deref().unwrap_or(DEFAULT_BURST))
                    .map_err(|e| invalid("BURST_LIMIT")(&e))?,
            }),
            hold: self
                .duration
                .as_deref()
                .map(Hold::parse)
                .transpose()
                .map_err(|e| invalid("DURATION")(&e))?,
        })
    }
}

/// Why a job did not set the throttling. Its text is what stderr or the Lambda error shows.
#[derive(Debug, thiserror::Error)]
pub enum JobFailed {
    #[error(transparent)]
    Params(#[from] JobError),
    #[error(transparent)]
    Change(#[from] Failure),
    #[error("the change was not applied ({0})")]
    NotApplied(&'static str),
}

/// Runs one job: resolve and validate its parameters, apply the change, notify the webhook.
/// Every outcome, including bad parameters, reaches the webhook. Returns the original's text.
pub async fn run_job(
    runner: &AppRunner,
    params: Result<JobParams, JobError>,
    requester: Requester,
) -> Result<String, JobFailed> {
    let id = RequestId::new();
    let origin = Origin {
        requester,
        reply_to: None,
        via: Via::Command,
        message_ts: None,
    };
    let once = ReplyOnce::default();
    let change = match params.and_then(JobParams::into_change) {
        Ok(change) => change,
        Err(error) => {
            let outcome = Outcome::Invalid {
                reason: error.to_string(),
            };
            runner
                .conclude(&origin, &outcome, Duration::ZERO, &once)
                .instrument(span(&id))
                .await;
            return Err(error.into());
        }
    };
    let ask = Ask {
        id,
        origin,
        text: String::new(),
        work: Work::Change(change.clone()),
        gates: Gates::default(),
    };
    let started = Instant::now();
    let outcome = runner.perform(&ask).instrument(span(&ask.id)).await;
    runner
        .conclude(&ask.origin, &outcome, started.elapsed(), &once)
        .instrument(span(&ask.id))
        .await;
    match outcome {
        Outcome::Change {
            result: Ok(applied),
            ..
        } => Ok(match applied.until {
            Some(until) => format!("{} until {}", success_text(&change), utc(until)),
            None => success_text(&change),
        }),
        Outcome::Change {
            result: Err(failure),
            ..
        } => Err(failure.into()),
        other => Err(JobFailed::NotApplied(other.label().as_str())),
    }
}

/// A Unix time as `2026-11-26T14:30:00Z`.
fn utc(unix: i64) -> String {
    crate::aws::scheduler::at_expression(unix)
        .trim_start_matches("at(")
        .trim_end_matches(')')
        .to_owned()
        + "Z"
}

/// A JSON number as the text a person would write: `100.0` becomes `100`.
fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

/// What the original job printed and returned on success.
pub fn success_text(change: &ThrottleChange) -> String {
    let after = change.after();
    let show = |v: Option<String>| v.unwrap_or_else(|| "-1".to_owned());
    format!(
        "Updated throttling: rate={}, burst={}",
        show(after.rate.map(|r| r.to_string())),
        show(after.burst.map(|b| b.to_string()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> JobParams {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        JobParams::from_env(move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_seed_payload_makes_its_change() {
        let event = json!({"API_ID": "jbjfqykyob", "STAGE_NAME": "test", "RATE_LIMIT": 50, "BURST_LIMIT": 100});
        let change = JobParams::from_event(&event)
            .unwrap()
            .into_change()
            .unwrap();
        assert_eq!(change.api.to_string(), "jbjfqykyob");
        assert_eq!(change.stage.as_str(), "test");
        assert_eq!(
            success_text(&change),
            "Updated throttling: rate=50, burst=100"
        );
    }

    #[test]
    fn numeric_strings_and_whole_floats_are_accepted() {
        let event = json!({"API_ID": "jbjfqykyob", "STAGE_NAME": "test", "RATE_LIMIT": "12.5", "BURST_LIMIT": 100.0});
        let change = JobParams::from_event(&event)
            .unwrap()
            .into_change()
            .unwrap();
        assert_eq!(
            success_text(&change),
            "Updated throttling: rate=12.5, burst=100"
        );
    }

    #[test]
    fn the_environment_fills_gaps_and_defaults_come_last() {
        let event = JobParams::from_event(&json!({"STAGE_NAME": "night"})).unwrap();
        let merged = event.or(env(&[
            ("API_ID", "jbjfqykyob"),
            ("STAGE_NAME", "day"),
            ("BURST_LIMIT", ""),
        ]));
        let change = merged.into_change().unwrap();
        assert_eq!(change.api.to_string(), "jbjfqykyob");
        assert_eq!(
            change.stage.as_str(),
            "night",
            "the event wins over the environment"
        );
        assert_eq!(
            success_text(&change),
            "Updated throttling: rate=100, burst=200"
        );
    }

    #[test]
    fn a_missing_api_or_stage_fails_with_the_original_message() {
        let error = JobParams::from_event(&json!({"API_ID": "jbjfqykyob"}))
            .unwrap()
            .into_change()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Missing required parameters: API_ID or STAGE_NAME"
        );
    }

    #[test]
    fn malformed_events_say_what_was_wrong() {
        let error = JobParams::from_event_text("{\"API_ID\": ").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("malformed event: not valid JSON"),
            "{error}"
        );
        let error = JobParams::from_event_text("[1, 2]").unwrap_err();
        assert!(
            error.to_string().contains("expected a JSON object"),
            "{error}"
        );
        let error = JobParams::from_event_text("{\"RATE_LIMIT\": true}").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("RATE_LIMIT must be a number or a string"),
            "{error}"
        );
    }

    #[test]
    fn a_duration_makes_the_change_timed() {
        let event = json!({"API_ID": "jbjfqykyob", "STAGE_NAME": "test", "DURATION": "1h30m"});
        let change = JobParams::from_event(&event)
            .unwrap()
            .into_change()
            .unwrap();
        assert_eq!(change.hold.map(Hold::secs), Some(5400));
        let from_env = JobParams::default().or(env(&[
            ("API_ID", "jbjfqykyob"),
            ("STAGE_NAME", "test"),
            ("DURATION", "90s"),
        ]));
        assert_eq!(
            from_env.into_change().unwrap().hold.map(Hold::secs),
            Some(90)
        );
        let error = JobParams::from_event(
            &json!({"API_ID": "jbjfqykyob", "STAGE_NAME": "test", "DURATION": "soon"}),
        )
        .unwrap()
        .into_change()
        .unwrap_err();
        assert!(
            error.to_string().starts_with("invalid DURATION: "),
            "{error}"
        );
        assert_eq!(utc(1_795_703_400), "2026-11-26T14:30:00Z");
    }

    #[test]
    fn invalid_values_name_their_key() {
        let error = JobParams::from_event(
            &json!({"API_ID": "jbjfqykyob", "STAGE_NAME": "test", "RATE_LIMIT": -5}),
        )
        .unwrap()
        .into_change()
        .unwrap_err();
        assert!(
            error.to_string().starts_with("invalid RATE_LIMIT: "),
            "{error}"
        );
    }
}
