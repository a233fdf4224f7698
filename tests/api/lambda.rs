use base64::Engine;
use serde_json::{Value, json};

use std::time::Duration;

use crate::helpers::*;
use crate::runtime_api::LambdaHarness;

/// The function with a recording proxy in front of moto, so a test can hold AWS.
async fn recorded_lambda() -> LambdaHarness {
    LambdaHarness::start(
        Options {
            record_aws: true,
            ..Options::default()
        },
        &[],
    )
    .await
}

async fn lambda(extra_env: Vec<(&'static str, String)>) -> LambdaHarness {
    LambdaHarness::start(
        Options {
            extra_env,
            ..Options::default()
        },
        &[],
    )
    .await
}

/// A function URL (payload 2.0) event carrying a signed slash command, body base64-encoded.
pub fn function_url_event(text: &str, response_url: &str) -> Value {
    function_url_post("/slack/commands", slack_form(text, response_url))
}

/// A function URL (payload 2.0) event posting `body` to `path`, signed as Slack signs it.
fn function_url_post(path: &str, body: String) -> Value {
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, body.as_bytes());
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "Slackbot 1.0"
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "26/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_000_000_000_u64
        },
        "body": base64::engine::general_purpose::STANDARD.encode(body),
        "isBase64Encoded": true
    })
}

/// An API Gateway REST (payload 1.0) event carrying a slash command with the given headers.
fn rest_event(body: &str, timestamp: &str, signature: &str) -> Value {
    json!({
        "resource": "/slack/commands",
        "path": "/slack/commands",
        "httpMethod": "POST",
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "Host": "abcdefghij.execute-api.us-east-1.amazonaws.com",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature
        },
        "multiValueHeaders": {
            "Content-Type": ["application/x-www-form-urlencoded"],
            "Host": ["abcdefghij.execute-api.us-east-1.amazonaws.com"],
            "X-Slack-Request-Timestamp": [timestamp],
            "X-Slack-Signature": [signature]
        },
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc123",
            "stage": "prod",
            "requestId": "req-2",
            "identity": { "sourceIp": "192.0.2.1" },
            "resourcePath": "/slack/commands",
            "httpMethod": "POST",
            "apiId": "abcdefghij",
            "path": "/prod/slack/commands"
        },
        "body": body,
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn the_original_schedule_payload_sets_throttling_and_returns_the_original_result() {
    let function = lambda(vec![]).await;
    let api = create_api(&unique("canary"), "test").await;

    let result = function
        .invoke(json!({"API_ID": api, "STAGE_NAME": "test", "RATE_LIMIT": 50, "BURST_LIMIT": 100}))
        .await
        .expect("the invocation succeeds");

    assert_eq!(
        result,
        json!({"statusCode": 200, "body": "Updated throttling: rate=50, burst=100"})
    );
    assert_eq!(stage_limits(&api, "test").await, Some((50.0, 100)));
    let notice = text_of(&function.slack.wait_for("/webhook", 1).await[0]);
    assert!(
        notice.contains(&api) && notice.contains("scheduled job"),
        "{notice}"
    );
}

#[tokio::test]
async fn an_empty_event_takes_everything_from_the_environment_and_the_defaults() {
    let api = create_api(&unique("canaryenv"), "night").await;
    let function = lambda(vec![
        ("API_ID", api.clone()),
        ("STAGE_NAME", "night".to_owned()),
    ])
    .await;

    let result = function.invoke(json!({})).await.unwrap();

    assert_eq!(result["body"], "Updated throttling: rate=100, burst=200");
    assert_eq!(stage_limits(&api, "night").await, Some((100.0, 200)));
}

#[tokio::test]
async fn a_payload_without_api_or_stage_is_a_function_error_and_a_notice() {
    let function = lambda(vec![]).await;

    let error = function
        .invoke(json!({"RATE_LIMIT": 50, "BURST_LIMIT": 100}))
        .await
        .expect_err("the invocation fails");

    assert_eq!(
        error["errorMessage"],
        "Missing required parameters: API_ID or STAGE_NAME"
    );
    let notice = text_of(&function.slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("Missing required parameters"), "{notice}");
}

#[tokio::test]
async fn an_unknown_api_in_the_payload_is_a_function_error_and_a_notice() {
    let function = lambda(vec![]).await;

    let error = function
        .invoke(json!({"API_ID": "zzzzzzzzzz", "STAGE_NAME": "test"}))
        .await
        .unwrap_err();

    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{error}"
    );
    let notice = text_of(&function.slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("Failed"), "{notice}");
}

#[tokio::test]
async fn a_slash_command_through_a_function_url_is_verified_and_applied() {
    let function = lambda(vec![]).await;
    let api = create_api(&unique("furl"), "prod").await;

    let response = function
        .invoke(function_url_event(
            &format!("{api} prod 12 24"),
            &function.slack.url("/reply"),
        ))
        .await
        .unwrap();

    assert_eq!(response["statusCode"], 200);
    assert_eq!(
        stage_limits(&api, "prod").await,
        Some((12.0, 24)),
        "applied before answering"
    );
    let replies = function.slack.wait_for("/reply", 1).await;
    assert_eq!(replies[0]["response_type"], "in_channel");
    // The function answered after its final message: nothing more can follow.
    function.slack.wait_for("/webhook", 1).await;
    assert_eq!(function.slack.posts_to("/reply").len(), 1);
}

#[tokio::test]
async fn under_a_local_emulator_that_sends_the_timeout_as_the_deadline_a_change_still_applies() {
    // `cargo lambda watch` sends `Lambda-Runtime-Deadline-Ms: 600000` (a duration).
    let function = lambda(vec![]).await;
    function.send_deadlines_as_durations(Duration::from_secs(600));
    let api = create_api(&unique("emulated"), "prod").await;

    function
        .invoke(function_url_event(
            &format!("{api} prod 12 24"),
            &function.slack.url("/reply"),
        ))
        .await
        .unwrap();

    let reply = shown(&function.slack.wait_for("/reply", 1).await[0]);
    assert!(reply.contains("changed throttling"), "{reply}");
    assert_eq!(stage_limits(&api, "prod").await, Some((12.0, 24)));
}

#[tokio::test]
async fn a_slash_command_through_api_gateway_rest_is_verified_and_applied() {
    let function = lambda(vec![]).await;
    let api = create_api(&unique("restevent"), "prod").await;
    let body = slack_form(&format!("{api} prod 3 6"), &function.slack.url("/reply"));
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, body.as_bytes());

    let response = function
        .invoke(rest_event(&body, &timestamp, &signature))
        .await
        .unwrap();

    assert_eq!(response["statusCode"], 200);
    assert_eq!(stage_limits(&api, "prod").await, Some((3.0, 6)));
    function.slack.wait_for("/reply", 1).await;
}

#[tokio::test]
async fn an_unsigned_http_event_gets_401_and_changes_nothing() {
    let function = lambda(vec![]).await;
    let api = create_api(&unique("unsignedevent"), "prod").await;
    let body = slack_form(&format!("{api} prod 3 6"), &function.slack.url("/reply"));

    let response = function
        .invoke(rest_event(&body, &now().to_string(), "v0=0000"))
        .await
        .unwrap();

    // The function has answered: a refused request leaves nothing running behind it.
    assert_eq!(response["statusCode"], 401);
    assert_eq!(stage_limits(&api, "prod").await, None);
    assert!(function.slack.posts_to("/reply").is_empty());
}

#[tokio::test]
async fn when_aws_is_slow_the_command_is_acknowledged_and_finished_by_a_self_invocation() {
    let function = LambdaHarness::start(
        Options {
            record_aws: true,
            ..Options::default()
        },
        &["lambda"],
    )
    .await;
    let api = create_api(&unique("deferred"), "prod").await;
    let aws = function.aws.as_ref().unwrap();
    aws.hold();

    // AWS answers nothing until the function has acknowledged Slack.
    let response = function
        .invoke(function_url_event(
            &format!("{api} prod 8 16"),
            &function.slack.url("/reply"),
        ))
        .await
        .unwrap();
    aws.release();

    assert_eq!(response["statusCode"], 200);
    let ack: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert!(text_of(&ack).contains("Setting"), "{ack}");

    let invocations = function.async_invocations();
    assert_eq!(invocations.len(), 1, "one asynchronous self-invocation");
    let (id, payload) = &invocations[0];
    assert_eq!(
        payload["throttle_bot_job"]["body"]["text"],
        format!("{api} prod 8 16")
    );
    function
        .result_of(id)
        .await
        .expect("the deferred job succeeds");

    let replies = function.slack.wait_for("/reply", 1).await;
    assert_eq!(replies[0]["response_type"], "in_channel");
    assert_eq!(stage_limits(&api, "prod").await, Some((8.0, 16)));
    // The deferred invocation has ended, after its final message.
    assert_eq!(
        function.slack.posts_to("/reply").len(),
        1,
        "exactly one final message"
    );
}

#[tokio::test]
async fn an_alarm_in_alarm_state_applies_the_emergency_limits() {
    let api = create_api(&unique("alarm"), "prod").await;
    let function = lambda(vec![
        ("API_ID", api.clone()),
        ("STAGE_NAME", "prod".to_owned()),
        ("ALARM_RATE_LIMIT", "5".to_owned()),
        ("ALARM_BURST_LIMIT", "10".to_owned()),
    ])
    .await;

    let ok_event = json!({
        "version": "0", "id": "1", "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": "orders-5xx", "state": {"value": "OK"}, "previousState": {"value": "ALARM"}}
    });
    let ignored = function.invoke(ok_event).await.unwrap();
    assert!(
        ignored["body"].as_str().unwrap().contains("Ignored"),
        "{ignored}"
    );
    assert_eq!(stage_limits(&api, "prod").await, None, "OK changes nothing");

    let alarm_event = json!({
        "source": "aws.cloudwatch",
        "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-5xx",
        "accountId": "123456789012",
        "region": "us-east-1",
        "alarmData": {"alarmName": "orders-5xx", "state": {"value": "ALARM", "reason": "Threshold Crossed"}}
    });
    let result = function.invoke(alarm_event).await.unwrap();
    assert_eq!(result["body"], "Updated throttling: rate=5, burst=10");
    assert_eq!(stage_limits(&api, "prod").await, Some((5.0, 10)));
    let notice = text_of(&function.slack.wait_for("/webhook", 1).await[0]);
    assert!(
        notice.contains("orders-5xx"),
        "the notice names the alarm: {notice}"
    );
}

#[tokio::test]
async fn an_unrecognised_event_is_a_function_error() {
    let function = lambda(vec![]).await;
    let error = function
        .invoke(json!({"Records": [{"eventSource": "aws:sqs"}]}))
        .await
        .unwrap_err();
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not recognised"),
        "{error}"
    );
}

#[tokio::test]
async fn an_inline_policy_applies_to_slash_commands_on_lambda() {
    let api = create_api(&unique("lambdapolicy"), "prod").await;
    let policy =
        format!("[[rule]]\nusers = [\"U0SOMEONEELSE\"]\napis = [\"{api}\"]\nstages = [\"prod\"]\n");
    let function = LambdaHarness::start(
        Options {
            extra_env: vec![("THROTTLE_POLICY_TOML", policy)],
            removed_env: vec!["THROTTLE_POLICY"],
            ..Options::default()
        },
        &[],
    )
    .await;

    let response = function
        .invoke(function_url_event(
            &format!("{api} prod 3 3"),
            &function.slack.url("/reply"),
        ))
        .await
        .unwrap();

    assert_eq!(response["statusCode"], 200);
    let reply: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert!(shown(&reply).contains("Not allowed"), "{reply}");
    assert_eq!(stage_limits(&api, "prod").await, None);
    let notice = shown(&function.slack.wait_for("/webhook", 1).await[0]);
    assert!(
        notice.contains("Denied"),
        "the denial reached the audit channel before the response: {notice}"
    );
}

#[tokio::test]
async fn http_answers_take_the_shape_of_the_event_that_asked() {
    let function = lambda(vec![]).await;

    // Payload 1.0 (REST APIs): headers in `multiValueHeaders`, as API Gateway expects.
    let body = slack_form("help", &function.slack.url("/reply"));
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, body.as_bytes());
    let rest = function
        .invoke(rest_event(&body, &timestamp, &signature))
        .await
        .unwrap();
    assert_eq!(rest["statusCode"], 200);
    assert_eq!(
        rest["multiValueHeaders"]["content-type"],
        json!(["application/json"]),
        "{rest}"
    );
    assert!(
        shown(&serde_json::from_str(rest["body"].as_str().unwrap()).unwrap()).contains("Usage")
    );

    // Payload 2.0 (function URLs, HTTP APIs): single-valued `headers`.
    let url = function
        .invoke(function_url_event("help", &function.slack.url("/reply")))
        .await
        .unwrap();
    assert_eq!(url["statusCode"], 200);
    assert_eq!(url["headers"]["content-type"], "application/json", "{url}");
    assert!(
        url.get("multiValueHeaders")
            .is_none_or(|h| h.as_object().is_some_and(|h| h.is_empty())),
        "{url}"
    );
}

#[tokio::test]
async fn two_signatures_in_multi_value_headers_are_refused_as_serve_refuses_them() {
    let function = lambda(vec![]).await;
    let api = create_api(&unique("dupheaders"), "prod").await;
    let body = slack_form(&format!("{api} prod 3 6"), &function.slack.url("/reply"));
    let timestamp = now().to_string();
    let good = sign(SIGNING_SECRET, &timestamp, body.as_bytes());
    let mut event = rest_event(&body, &timestamp, &good);
    event["multiValueHeaders"]["X-Slack-Signature"] = json!([good, "v0=00"]);

    let response = function.invoke(event).await.unwrap();

    assert_eq!(response["statusCode"], 401);
    assert_eq!(stage_limits(&api, "prod").await, None);
}

#[tokio::test]
async fn a_function_url_serves_only_slacks_route() {
    let function = lambda(vec![]).await;
    for path in ["/metrics", "/healthz", "/readyz"] {
        let mut event = function_url_event("help", &function.slack.url("/reply"));
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["method"] = json!("GET");
        event["requestContext"]["http"]["path"] = json!(path);
        let response = function.invoke(event).await.unwrap();
        assert_eq!(response["statusCode"], 404, "{path}: {response}");
    }
}

#[tokio::test]
async fn a_write_once_sent_is_seen_through_however_long_it_takes() {
    let function = recorded_lambda().await;
    let aws = function.aws.as_ref().unwrap();
    let api = create_api(&unique("slowwrite"), "prod").await;
    aws.hold_writes();

    let event = function_url_event(&format!("{api} prod 5 50"), &function.slack.url("/reply"));
    let invoker = function.invoker();
    let answer = tokio::spawn(async move { invoker.invoke(event).await });
    aws.wait_for_calls_matching("PATCH", 1).await;
    // The inline budget is a span of time: let it run out while the write is held.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    aws.release();

    let response = answer.await.unwrap().unwrap();
    assert_eq!(response["statusCode"], 200);
    assert!(
        function.hand_offs("throttle_bot_job").is_empty(),
        "not deferred"
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((5.0, 50)));
    let replies = function.slack.wait_for("/reply", 1).await;
    assert!(
        shown(&replies[0]).contains("rate not set → 5 req/s"),
        "{replies:?}"
    );
}

#[tokio::test]
async fn a_slow_request_is_handed_on_before_anything_is_written() {
    let function = recorded_lambda().await;
    let aws = function.aws.as_ref().unwrap();
    let api = create_api(&unique("deferfirst"), "prod").await;
    aws.hold();

    let response = function
        .invoke(function_url_event(
            &format!("{api} prod 6 60"),
            &function.slack.url("/reply"),
        ))
        .await
        .unwrap();

    assert_eq!(response["statusCode"], 200);
    assert!(
        !aws.calls().iter().any(|c| c.starts_with("PATCH")),
        "{:?}",
        aws.calls()
    );
    let jobs = function.hand_offs("throttle_bot_job");
    assert_eq!(jobs.len(), 1);
    aws.release();
    function.result_of(&jobs[0].0).await.unwrap();
    assert_eq!(stage_limits(&api, "prod").await, Some((6.0, 60)));
}

#[tokio::test]
async fn the_answer_to_slack_never_waits_for_the_audit_webhook() {
    let function = lambda(vec![]).await;
    let api = create_api(&unique("noticeoff"), "prod").await;
    function.slack.hold_webhook();

    let response = function
        .invoke(function_url_event(
            &format!("{api} prod 7 70"),
            &function.slack.url("/reply"),
        ))
        .await
        .unwrap();

    // Answered, and the final reply posted, while the webhook holds everything.
    assert_eq!(response["statusCode"], 200);
    assert_eq!(function.slack.posts_to("/reply").len(), 1);
    let notices = function.hand_offs("throttle_bot_notice");
    assert_eq!(notices.len(), 1, "the notice was handed on");
    function.slack.release_webhook();
    function.result_of(&notices[0].0).await.unwrap();
    let posted = shown(&function.slack.wait_for("/webhook", 1).await[0]);
    assert!(posted.contains(&api), "{posted}");
}

#[tokio::test]
async fn confirm_and_apply_work_through_a_function_url_too() {
    let function = lambda(vec![]).await;
    let api = create_api(&unique("lambdaconfirm"), "prod").await;

    let response = function
        .invoke(function_url_event(
            &format!("{api} prod 0 0"),
            &function.slack.url("/reply"),
        ))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200);
    let preview = function.slack.wait_for("/reply", 1).await[0].clone();
    assert!(shown(&preview).contains("Confirm this change"), "{preview}");
    assert_eq!(stage_limits(&api, "prod").await, None);

    let press = press_form(&preview, "Apply", USER, &function.slack.url("/actions"));
    let pressed = function
        .invoke(function_url_post("/slack/interactions", press))
        .await
        .unwrap();

    assert_eq!(pressed["statusCode"], 200);
    assert_eq!(stage_limits(&api, "prod").await, Some((0.0, 0)));
    let posts = function.slack.wait_for("/actions", 2).await;
    assert_eq!(posts[0]["response_type"], "in_channel");
    assert!(button(&posts[0], "Undo").is_some());

    // Undo through the function URL as well.
    let undo = press_form(&posts[0], "Undo", USER, &function.slack.url("/actions"));
    function
        .invoke(function_url_post("/slack/interactions", undo))
        .await
        .unwrap();
    // The stage-wide entry the first override made is removed again.
    assert_eq!(stage_limits(&api, "prod").await, None);
}

#[tokio::test]
async fn an_alarm_delivered_through_sns_applies_the_emergency_limits() {
    let api = create_api(&unique("snsalarm"), "prod").await;
    let function = lambda(vec![
        ("API_ID", api.clone()),
        ("STAGE_NAME", "prod".to_owned()),
        ("ALARM_RATE_LIMIT", "6".to_owned()),
        ("ALARM_BURST_LIMIT", "12".to_owned()),
    ])
    .await;
    // The shape of AWS's own sample (aws_lambda_events'
    // example-cloudwatch-alarm-sns-payload-single-metric.json): the alarm is JSON in Sns.Message.
    let sns = |message: String| {
        json!({"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:pager:1",
            "Sns": {
                "Type": "Notification",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:pager",
                "Subject": "ALARM: \"orders-5xx\" in US East (N. Virginia)",
                "Message": message,
                "Timestamp": "2026-11-26T10:00:00.000Z",
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertURL": "EXAMPLE",
                "UnsubscribeURL": "EXAMPLE",
                "MessageAttributes": {}
            }
        }]})
    };
    let alarm = json!({
        "AlarmName": "orders-5xx", "AlarmDescription": "5xx on orders",
        "AWSAccountId": "123456789012", "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold",
        "StateChangeTime": "2026-11-26T10:00:00.000+0000", "Region": "US East (N. Virginia)",
        "OldStateValue": "OK", "Trigger": {"MetricName": "5XXError", "Namespace": "AWS/ApiGateway"}
    });

    let result = function.invoke(sns(alarm.to_string())).await.unwrap();
    assert_eq!(result["body"], "Updated throttling: rate=6, burst=12");
    assert_eq!(stage_limits(&api, "prod").await, Some((6.0, 12)));
    let notice = text_of(&function.slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("orders-5xx"), "{notice}");

    let error = function
        .invoke(sns("a plain message to the topic".to_owned()))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not a CloudWatch alarm"),
        "{error}"
    );
}

#[tokio::test]
async fn a_deferred_job_that_runs_out_of_invocation_time_ends_with_one_honest_message() {
    let function = LambdaHarness::start(
        Options {
            record_aws: true,
            lambda_timeout: Some(Duration::from_secs(3)),
            ..Options::default()
        },
        &[],
    )
    .await;
    let aws = function.aws.as_ref().unwrap();
    let api = create_api(&unique("deadline"), "prod").await;
    // AWS never answers: every step runs into the invocation's deadline.
    aws.hold();

    let response = function
        .invoke(function_url_event(
            &format!("{api} prod 6 60"),
            &function.slack.url("/reply"),
        ))
        .await
        .unwrap();
    assert_eq!(
        response["statusCode"], 200,
        "acknowledged before the deadline"
    );
    let job = function
        .hand_offs("throttle_bot_job")
        .into_iter()
        .next()
        .expect("handed on");
    function.result_of(&job.0).await.unwrap();

    let replies = function.slack.posts_to("/reply");
    assert_eq!(replies.len(), 1, "exactly one final message: {replies:?}");
    let text = shown(&replies[0]);
    assert!(text.contains("may or may not have been applied"), "{text}");
    aws.release();
}

mod hand_offs;
