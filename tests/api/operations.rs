use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn the_printed_manifest_points_at_the_route_the_server_serves() {
    let output = service_command(None, false)
        .args(["manifest", "--url", "https://bot.example.com"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let manifest = String::from_utf8(output.stdout).unwrap();
    let url = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("url: "))
        .expect("the manifest has a command url");
    let path = url
        .strip_prefix("https://bot.example.com")
        .expect("the url is on the given host");

    let app = TestApp::spawn().await;
    let served = app.http.post(app.url(path)).send().await.unwrap();
    assert_eq!(
        served.status(),
        StatusCode::UNAUTHORIZED,
        "{path} is the signed command route"
    );
    let interactions = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("request_url: "))
        .expect("the manifest enables interactivity");
    let path = interactions
        .strip_prefix("https://bot.example.com")
        .expect("the interactivity url is on the given host");
    let served = app.http.post(app.url(path)).send().await.unwrap();
    assert_eq!(
        served.status(),
        StatusCode::UNAUTHORIZED,
        "{path} is signed too"
    );
    let elsewhere = app.http.post(app.url("/slack/other")).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_manifest_command_refuses_plain_http() {
    let output = service_command(None, false)
        .args(["manifest", "--url", "http://bot.example.com"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("https"));
}

#[tokio::test]
async fn readyz_and_metrics_report_what_happened() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("metrics"), "prod").await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
        if ready.status() == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    app.command(&format!("{api} prod 5 10")).await;
    app.command("zzzzzzzzzz prod 5 10").await;
    app.command(&format!("{api} prod fast 10")).await;
    app.post_with(b"text=hi".to_vec(), None, None).await;
    app.slack.wait_for("/reply", 2).await;

    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = response.text().await.unwrap();
    for expected in [
        r#"throttle_bot_commands_total{outcome="applied"} 1"#,
        r#"throttle_bot_commands_total{outcome="not_found"} 1"#,
        r#"throttle_bot_commands_total{outcome="invalid"} 1"#,
        r#"throttle_bot_rejected_requests_total{reason="missing_header"} 1"#,
        "throttle_bot_aws_call_duration_seconds_count 2",
        "throttle_bot_webhook_failures_total 0",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected:?} missing from\n{metrics}"
        );
    }
}

#[tokio::test]
async fn json_logs_parse_name_the_command_and_hold_no_secret() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("logs"), "prod").await;
    let body = app.command_form(&format!("{api} prod 11 22")).into_bytes();
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, &body);
    app.post_with(body, Some(&timestamp), Some(&signature))
        .await;
    app.post_with(b"x=1".to_vec(), Some(&timestamp), Some(&signature))
        .await;
    app.slack.wait_for("/reply", 1).await;
    app.wait_for_log("throttling command done", 1).await;

    let logs = app.logs();
    let lines: Vec<serde_json::Value> = logs
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let command_line = lines
        .iter()
        .find(|l| l["outcome"] == "applied")
        .expect("one line for the command");
    assert_eq!(command_line["user"], USER);
    assert_eq!(command_line["api"], api.as_str());
    assert_eq!(command_line["stage"], "prod");
    assert_eq!(command_line["rate"], 11.0);
    assert_eq!(command_line["burst"], 22);
    assert!(command_line["latency_ms"].is_u64());

    let all = logs.join("\n");
    for secret in [
        SIGNING_SECRET,
        &app.slack.url("/webhook"),
        &signature,
        &signature[3..],
        "/reply",
    ] {
        assert!(!all.contains(secret), "{secret:?} appears in the logs");
    }
}

#[tokio::test]
async fn the_healthcheck_command_reports_a_running_service() {
    let app = TestApp::spawn().await;
    let healthy = service_command(None, false)
        .args(["healthcheck", "--listen-addr", &app.addr.to_string()])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(healthy.success());

    let addr = app.addr;
    drop(app);
    let down = service_command(None, false)
        .args(["healthcheck", "--listen-addr", &addr.to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("no answer"));
}

#[tokio::test]
async fn a_jobs_log_lines_carry_the_request_id_of_the_command_that_started_it() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("span"), "prod").await;

    app.command(&format!("{api} prod 7 14")).await;
    app.command(&format!("{api} prod 8 16")).await;
    app.wait_for_log("throttling command done", 2).await;

    let lines: Vec<serde_json::Value> = app
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let id_of = |message: &str, rate: Option<f64>| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["message"] == message && rate.is_none_or(|r| l["rate"] == r))
            .map(|l| {
                l["span"]["request_id"]
                    .as_str()
                    .expect("a request id")
                    .to_owned()
            })
            .collect()
    };
    let accepted = id_of("command accepted", None);
    assert_eq!(accepted.len(), 2);
    assert_ne!(accepted[0], accepted[1], "each request has its own id");
    let done = [
        id_of("throttling command done", Some(7.0)),
        id_of("throttling command done", Some(8.0)),
    ]
    .concat();
    assert_eq!(done.len(), 2);
    assert_ne!(done[0], done[1]);
    for id in &done {
        assert!(
            accepted.contains(id),
            "{id} was never acknowledged: {accepted:?}"
        );
    }
}
