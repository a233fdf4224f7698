//! Telling the function's events apart by their shape.

use lambda_http::request::LambdaRequest;
use serde_json::Value;

use super::restore::{IMPACT_EVENT_KEY, ImpactEvent, RESTORE_EVENT_KEY, RestoreEvent};
use crate::jobs::{DEFERRED_JOB_KEY, DEFERRED_NOTICE_KEY, DeferredJob};
use crate::scheduled::{JobError, JobParams, KEYS};
use crate::slack::sealed::Sealed;

pub enum Event {
    /// An API Gateway (REST or HTTP API) or function URL request: a Slack request.
    Http(Box<LambdaRequest>),
    /// The original job's payload, or an EventBridge scheduled event (parameters from env).
    Scheduled(Result<JobParams, JobError>),
    /// A CloudWatch alarm's state change, from an alarm action or EventBridge.
    Alarm { name: String, state: String },
    /// A Slack command this function handed to itself, sealed.
    Deferred(Sealed<DeferredJob>),
    /// An audit notice this function handed to itself, sealed.
    Notice(Sealed<crate::jobs::BoundNotice>),
    /// A timed change's deadline, from the one-time schedule this function created.
    Restore(Sealed<RestoreEvent>),
    /// An impact report's time came (a one-time schedule, sealed by this function).
    Impact(Sealed<ImpactEvent>),
    /// Anything else; the text describes its shape for the error.
    Unrecognised(String),
}

pub fn classify(event: Value) -> Event {
    if let Some(job) = event.get(DEFERRED_JOB_KEY) {
        return match serde_json::from_value(job.clone()) {
            Ok(job) => Event::Deferred(job),
            Err(e) => Event::Unrecognised(format!("a deferred job that does not parse: {e}")),
        };
    }
    if let Some(notice) = event.get(DEFERRED_NOTICE_KEY) {
        return match serde_json::from_value(notice.clone()) {
            Ok(notice) => Event::Notice(notice),
            Err(e) => Event::Unrecognised(format!("a deferred notice that does not parse: {e}")),
        };
    }
    if let Some(impact) = event.get(IMPACT_EVENT_KEY) {
        return match serde_json::from_value(impact.clone()) {
            Ok(impact) => Event::Impact(impact),
            Err(e) => Event::Unrecognised(format!("an impact event that does not parse: {e}")),
        };
    }
    if let Some(restore) = event.get(RESTORE_EVENT_KEY) {
        return match serde_json::from_value(restore.clone()) {
            Ok(restore) => Event::Restore(restore),
            Err(e) => Event::Unrecognised(format!("a restore event that does not parse: {e}")),
        };
    }
    if is_http(&event) {
        return match serde_json::from_value::<LambdaRequest>(event) {
            Ok(request) => Event::Http(Box::new(request)),
            Err(e) => Event::Unrecognised(format!("an HTTP event that does not parse: {e}")),
        };
    }
    if let Some((name, state)) = alarm(&event) {
        return Event::Alarm { name, state };
    }
    if let Some(message) = sns_message(&event) {
        return match sns_alarm(&message) {
            Some((name, state)) => Event::Alarm { name, state },
            None => Event::Unrecognised("an SNS message that is not a CloudWatch alarm".to_owned()),
        };
    }
    if event.get("source").and_then(Value::as_str) == Some("aws.events")
        && event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
    {
        return Event::Scheduled(Ok(JobParams::default()));
    }
    match &event {
        Value::Object(fields) if fields.keys().all(|k| KEYS.contains(&k.as_str())) => {
            Event::Scheduled(JobParams::from_event(&event))
        }
        Value::Object(fields) => Event::Unrecognised(format!(
            "an object with keys {}",
            fields
                .keys()
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )),
        other => Event::Unrecognised(format!("a JSON {}", json_kind(other))),
    }
}

fn is_http(event: &Value) -> bool {
    event.get("requestContext").is_some()
        && ["httpMethod", "rawPath", "routeKey"]
            .iter()
            .any(|k| event.get(k).is_some())
}

/// The alarm's name and new state, from either shape CloudWatch sends.
fn alarm(event: &Value) -> Option<(String, String)> {
    if event.get("source").and_then(Value::as_str) != Some("aws.cloudwatch") {
        return None;
    }
    let data = event.get("alarmData").or_else(|| {
        (event.get("detail-type").and_then(Value::as_str) == Some("CloudWatch Alarm State Change"))
            .then(|| event.get("detail"))
            .flatten()
    })?;
    let name = data.get("alarmName")?.as_str()?.to_owned();
    let state = data.pointer("/state/value")?.as_str()?.to_owned();
    Some((name, state))
}

/// The message of an SNS delivery (one record, `EventSource` `aws:sns`), the most common way an
/// alarm reaches a function: alarm action → SNS topic → the function's subscription.
fn sns_message(event: &Value) -> Option<String> {
    let [record] = event.get("Records")?.as_array()?.as_slice() else {
        return None;
    };
    if record.get("EventSource").and_then(Value::as_str) != Some("aws:sns") {
        return None;
    }
    Some(record.pointer("/Sns/Message")?.as_str()?.to_owned())
}

/// The alarm's name and new state, from the JSON CloudWatch publishes to SNS.
fn sns_alarm(message: &str) -> Option<(String, String)> {
    let alarm: Value = serde_json::from_str(message).ok()?;
    let name = alarm.get("AlarmName")?.as_str()?.to_owned();
    let state = alarm.get("NewStateValue")?.as_str()?.to_owned();
    Some((name, state))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_payload_and_an_empty_object_are_scheduled_jobs() {
        let seed = json!({"API_ID": "jbjfqykyob", "STAGE_NAME": "test", "RATE_LIMIT": 50, "BURST_LIMIT": 100});
        assert!(matches!(classify(seed), Event::Scheduled(Ok(_))));
        assert!(matches!(classify(json!({})), Event::Scheduled(Ok(_))));
    }

    #[test]
    fn eventbridge_scheduled_events_are_scheduled_jobs() {
        let event = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert!(matches!(classify(event), Event::Scheduled(Ok(p)) if p == JobParams::default()));
    }

    #[test]
    fn both_alarm_shapes_are_recognised() {
        let direct = json!({"source": "aws.cloudwatch", "alarmArn": "arn", "alarmData": {"alarmName": "5xx", "state": {"value": "ALARM"}}});
        assert!(
            matches!(classify(direct), Event::Alarm { name, state } if name == "5xx" && state == "ALARM")
        );
        let bridged = json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "detail": {"alarmName": "p99", "state": {"value": "OK"}}});
        assert!(
            matches!(classify(bridged), Event::Alarm { name, state } if name == "p99" && state == "OK")
        );
    }

    /// An SNS delivery of a CloudWatch alarm, in the shape of AWS's own sample event.
    fn sns_alarm_event(message: &str) -> Value {
        json!({"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alarms:1",
            "Sns": {
                "Type": "Notification",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
                "Subject": "ALARM: \"5xx\" in US East (N. Virginia)",
                "Message": message,
                "Timestamp": "2026-11-26T10:00:00.000Z",
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertURL": "EXAMPLE",
                "UnsubscribeURL": "EXAMPLE",
                "MessageAttributes": {}
            }
        }]})
    }

    #[test]
    fn alarms_delivered_through_sns_are_recognised_and_other_sns_messages_are_not() {
        let alarm = json!({"AlarmName": "5xx", "NewStateValue": "ALARM", "OldStateValue": "OK",
            "NewStateReason": "Threshold Crossed", "Trigger": {"MetricName": "5XXError"}});
        assert!(matches!(
            classify(sns_alarm_event(&alarm.to_string())),
            Event::Alarm { name, state } if name == "5xx" && state == "ALARM"
        ));
        assert!(matches!(
            classify(sns_alarm_event("hello, subscribers")),
            Event::Unrecognised(shape) if shape.contains("not a CloudWatch alarm")
        ));
    }

    #[test]
    fn other_events_are_unrecognised() {
        assert!(matches!(
            classify(json!({"Records": []})),
            Event::Unrecognised(_)
        ));
        assert!(matches!(classify(json!("hello")), Event::Unrecognised(_)));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                "\\PC{0,12}".prop_map(Value::from),
                // The words the classifier looks for, so the deep paths are reached too.
                prop_oneof![
                    Just("aws.cloudwatch"),
                    Just("aws.events"),
                    Just("Scheduled Event"),
                    Just("CloudWatch Alarm State Change"),
                    Just("ALARM"),
                    Just("API_ID"),
                ]
                .prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    proptest::collection::btree_map(
                        prop_oneof![
                            Just("source".to_owned()),
                            Just("detail-type".to_owned()),
                            Just("detail".to_owned()),
                            Just("alarmData".to_owned()),
                            Just("alarmName".to_owned()),
                            Just("state".to_owned()),
                            Just("value".to_owned()),
                            Just("requestContext".to_owned()),
                            Just("httpMethod".to_owned()),
                            Just("rawPath".to_owned()),
                            Just("throttle_bot_job".to_owned()),
                            Just("throttle_bot_notice".to_owned()),
                            Just("API_ID".to_owned()),
                            Just("RATE_LIMIT".to_owned()),
                            "[a-z]{1,6}",
                        ],
                        inner,
                        0..5,
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn any_json_event_is_classified_without_panicking(event in json()) {
                let _ = classify(event);
            }
        }
    }
}
