use std::process::Stdio;

use crate::helpers::*;

#[tokio::test]
async fn the_service_refuses_to_start_without_a_signing_secret() {
    let output = service_command(None, false)
        .env_remove("SLACK_SIGNING_SECRET")
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(reason.len(), 1, "one line: {stderr}");
    assert!(reason[0].contains("SLACK_SIGNING_SECRET"), "{stderr}");
}

#[tokio::test]
async fn a_bad_webhook_url_stops_start_up_without_echoing_it() {
    let output = service_command(None, false)
        .env("SLACK_WEBHOOK_URL", "hooks.example.invalid/secret-part")
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SLACK_WEBHOOK_URL"), "{stderr}");
    assert!(!stderr.contains("secret-part"), "{stderr}");
}

#[tokio::test]
async fn insecure_test_hosts_beyond_this_machine_stop_start_up() {
    for mode in ["serve", "lambda", "apply"] {
        let output = service_command(None, false)
            .env("INSECURE_TEST_HOSTS", "127.0.0.1,hooks.example.com")
            .arg(mode)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{mode}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("`hooks.example.com` is not a loopback host"),
            "{mode}: {stderr}"
        );
    }
}

/// Runs one change and returns the text of its final reply.
async fn reply_to_a_change(app: &TestApp) -> String {
    app.command("a1b2c3d4e5 prod 5 10").await;
    shown(&app.slack.wait_for("/reply", 1).await[0])
}

#[tokio::test]
async fn without_a_region_readyz_and_replies_say_to_set_aws_region() {
    let app = TestApp::spawn_with(Options {
        removed_env: vec!["AWS_REGION"],
        ..Options::default()
    })
    .await;

    let (status, reason) = app.readiness().await;
    assert_eq!(
        (status, reason.as_str()),
        (503, "no AWS region: set AWS_REGION")
    );
    let reply = reply_to_a_change(&app).await;
    assert!(reply.contains("No AWS region: set AWS_REGION"), "{reply}");
    let logs = app.logs().join("\n");
    assert!(
        !logs.contains("GetAccount"),
        "GetAccount is not to blame: {logs}"
    );
}

#[tokio::test]
async fn without_credentials_readyz_and_replies_say_none_were_found() {
    let app = TestApp::spawn_with(Options {
        removed_env: vec!["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        ..Options::default()
    })
    .await;

    let (status, reason) = app.readiness().await;
    assert_eq!(status, 503);
    assert!(reason.starts_with("no AWS credentials found: "), "{reason}");
    let reply = reply_to_a_change(&app).await;
    assert!(reply.contains("No AWS credentials found"), "{reply}");
    assert!(!app.logs().join("\n").contains("GetAccount"));
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named_in_the_reply() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned())],
        ..Options::default()
    })
    .await;

    let (status, _) = app.readiness().await;
    assert_eq!(status, 200, "region and credentials are there");
    let reply = reply_to_a_change(&app).await;
    assert!(
        reply.contains("Could not reach API Gateway at http://127.0.0.1:9"),
        "{reply}"
    );
}

#[tokio::test]
async fn start_up_logs_where_the_region_and_credentials_came_from_but_never_the_keys() {
    let app = TestApp::spawn().await;
    app.readiness().await;
    app.wait_for_log("AWS set up", 1).await;
    let line = app
        .logs()
        .into_iter()
        .find(|l| l.contains("AWS set up"))
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["region"], "us-east-1");
    assert_eq!(line["region_source"], "environment");
    assert_eq!(line["credentials_source"], "EnvironmentVariable");
    assert!(!app.logs().join("\n").contains("\"testing\""));
}

#[tokio::test]
async fn a_webhook_off_slacks_hosts_stops_start_up_without_echoing_it() {
    for url in [
        "https://example.com/secret-part",
        "http://hooks.slack.com/services/secret-part",
    ] {
        let output = service_command(None, false)
            .env_remove("INSECURE_TEST_HOSTS")
            .env("SLACK_WEBHOOK_URL", url)
            .arg("serve")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("not a Slack incoming-webhook URL"),
            "{stderr}"
        );
        assert!(!stderr.contains("secret-part"), "{stderr}");
    }
}

#[tokio::test]
async fn insecure_test_hosts_are_named_in_a_start_up_warning() {
    let app = TestApp::spawn().await;
    app.wait_for_log("INSECURE_TEST_HOSTS is set", 1).await;
    let line = app
        .logs()
        .into_iter()
        .find(|l| l.contains("INSECURE_TEST_HOSTS is set"))
        .unwrap();
    assert!(
        line.contains("WARN") && line.contains("127.0.0.1"),
        "{line}"
    );
}

#[tokio::test]
async fn redirects_from_a_reply_address_are_not_followed() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("redirect"), "prod").await;
    let body = slack_form(&format!("{api} prod 2 4"), &app.slack.url("/redirect"));

    app.post_signed(body.into_bytes()).await;
    app.wait_for_log("could not deliver the final reply", 1)
        .await;

    assert_eq!(app.slack.posts_to("/redirect").len(), 1);
    assert!(
        app.slack.posts_to("/reply").is_empty(),
        "the redirect was not followed"
    );
    assert!(app.logs().join("\n").contains("302"));
}
