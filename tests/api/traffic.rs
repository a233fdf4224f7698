//! Traffic next to the limits, from CloudWatch (moto's PutMetricData / GetMetricData): `show`,
//! the confirmation of a rate below the last hour's peak, and the impact report.

use serde_json::Value;

use crate::helpers::*;

async fn reply_to(app: &TestApp, text: &str, nth: usize) -> Value {
    app.command(text).await;
    app.slack.wait_for("/reply", nth).await[nth - 1].clone()
}

#[tokio::test]
async fn show_adds_the_last_hours_peak_latest_minute_and_4xx_share() {
    let app = TestApp::spawn().await;
    let name = unique("busy");
    create_api(&name, "prod").await;
    publish_traffic(
        ("ApiName", &name),
        "prod",
        &[(600, 7200.0, 72.0), (120, 600.0, 0.0)],
    )
    .await;

    let text = shown(&reply_to(&app, &format!("show {name} prod"), 1).await);

    for expected in [
        "last hour (1-minute averages)",
        "peak 120 req/s",
        "latest 10 req/s",
        "4XX 1% of requests",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}

#[tokio::test]
async fn show_reads_an_http_apis_traffic_by_its_id() {
    let app = TestApp::spawn().await;
    let api = create_http_api(&unique("busy-http"), "prod", &[], None).await;
    publish_traffic(("ApiId", &api), "prod", &[(300, 3000.0, 300.0)]).await;

    let text = shown(&reply_to(&app, &format!("show {api} prod"), 1).await);

    assert!(text.contains("peak 50 req/s"), "{text}");
    assert!(text.contains("4XX 10% of requests"), "{text}");
}

#[tokio::test]
async fn a_rate_below_the_last_hours_peak_is_previewed_with_what_it_would_have_rejected() {
    let app = TestApp::spawn().await;
    let name = unique("peaky");
    let api = create_api(&name, "prod").await;
    publish_traffic(("ApiName", &name), "prod", &[(900, 7200.0, 0.0)]).await;

    let preview = reply_to(&app, &format!("{name} prod 50 100"), 1).await;

    let text = shown(&preview);
    assert_eq!(preview["response_type"], "ephemeral");
    assert!(
        text.contains(
            "in the last hour this stage peaked at 120 req/s (1-minute average); at 50 req/s about 58% of that minute's requests would have been rejected"
        ),
        "{text}"
    );
    assert!(button(&preview, "Apply").is_some());
    assert_eq!(
        stage_limits(&api, "prod").await,
        None,
        "nothing applied yet"
    );

    // At or above the peak: applied at once.
    reply_to(&app, &format!("{name} prod 150 300"), 2).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((150.0, 300)));
}

#[tokio::test]
async fn confirm_below_traffic_off_applies_such_a_rate_at_once() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("CONFIRM_BELOW_TRAFFIC", "false".to_owned())],
        ..Options::default()
    })
    .await;
    let name = unique("peaky-off");
    let api = create_api(&name, "prod").await;
    publish_traffic(("ApiName", &name), "prod", &[(900, 7200.0, 0.0)]).await;

    reply_to(&app, &format!("{name} prod 50 100"), 1).await;

    assert_eq!(stage_limits(&api, "prod").await, Some((50.0, 100)));
}

#[tokio::test]
async fn unreadable_metrics_are_said_in_one_line_and_never_block_a_change() {
    let app = TestApp::spawn_with(Options {
        // Nothing listens there: CloudWatch cannot be reached.
        extra_env: vec![(
            "AWS_ENDPOINT_URL_CLOUDWATCH",
            "http://127.0.0.1:9".to_owned(),
        )],
        ..Options::default()
    })
    .await;
    let name = unique("dark");
    let api = create_api(&name, "prod").await;

    let text = shown(&reply_to(&app, &format!("show {name} prod"), 1).await);
    assert!(text.contains("Traffic: could not be read"), "{text}");

    reply_to(&app, &format!("{name} prod 50 100"), 2).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((50.0, 100)));
    app.wait_for_log("could not read the stage's traffic", 1)
        .await;
    let app = app.stop().await;
    let told = app
        .logs()
        .iter()
        .filter(|line| line.contains("could not read the stage's traffic"))
        .count();
    assert_eq!(told, 1, "logged once per stage, not per command");
}

#[tokio::test]
async fn an_impact_report_follows_a_change_with_the_traffic_before_and_after() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("IMPACT_AFTER", "1s".to_owned())],
        ..Options::default()
    })
    .await;
    let name = unique("impact");
    create_api(&name, "prod").await;
    publish_traffic(("ApiName", &name), "prod", &[(20, 120.0, 6.0)]).await;

    reply_to(&app, &format!("{name} prod 150 300"), 1).await;
    let report = app.slack.wait_for("/reply", 2).await[1].clone();

    let text = shown(&report);
    assert_eq!(report["response_type"], "in_channel");
    for expected in [
        "Impact",
        &name,
        "before, 2 req/s on average",
        "5% 4XX",
        "after, no traffic published",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}

#[tokio::test]
async fn an_approved_changes_impact_report_is_threaded_under_its_message_with_a_bot_token() {
    let policy = "[[rule]]\nname = \"four eyes\"\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\napprovers = [\"U0APPROVER\"]\n";
    let app = TestApp::spawn_with(Options {
        extra_env: vec![
            ("IMPACT_AFTER", "1s".to_owned()),
            ("SLACK_BOT_TOKEN", unique("test-bot-token")),
            ("THROTTLE_POLICY", String::new()),
            ("THROTTLE_POLICY_TOML", policy.to_owned()),
        ],
        ..Options::default()
    })
    .await;
    let name = unique("threaded");
    create_api(&name, "prod").await;
    let request = reply_to(&app, &format!("{name} prod 150 300"), 1).await;
    assert_eq!(
        request["response_type"], "in_channel",
        "an approval request"
    );

    app.press(&request, "Approve", "U0APPROVER").await;
    app.slack.wait_for("/actions", 1).await;
    let posted = app.slack.wait_for("/api/chat.postMessage", 1).await[0].clone();

    assert_eq!(posted["thread_ts"], "1700000000.000100", "{posted}");
    assert_eq!(posted["channel"], CHANNEL, "{posted}");
    assert!(shown(&posted).contains("Impact"), "{posted}");
}
