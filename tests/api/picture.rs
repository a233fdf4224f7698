//! The traffic picture (issue 34): `show <api> <stage>` and a threaded impact report come with
//! a PNG drawn by CloudWatch (the GetMetricWidgetImage stand-in in moto_server.py), shared
//! through Slack's file upload flow (the Web API stand-ins). Without a bot token or the
//! permission, the text is as before and why is logged once.

use serde_json::Value;

use crate::helpers::*;

/// The bot token the service is given: made up per run, so nothing token-shaped is committed.
static BOT_TOKEN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| unique("test-bot-token"));

/// The widgets CloudWatch was asked to draw that name `api`, and whether each was drawn.
async fn widgets_naming(api: &str) -> Vec<(Value, bool)> {
    let calls: Vec<Value> = reqwest::get(format!("{}/_stand_in/widget_calls", moto().endpoint))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    calls
        .into_iter()
        .filter(|call| call["widget"].to_string().contains(api))
        .map(|call| (call["widget"].clone(), call["drawn"] == true))
        .collect()
}

fn with(env: Vec<(&'static str, String)>) -> Options {
    Options {
        extra_env: env,
        ..Options::default()
    }
}

#[tokio::test]
async fn show_of_one_stage_shares_a_picture_of_its_last_hour_against_its_limit() {
    let app = TestApp::spawn_with(with(vec![("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned())])).await;
    let name = unique("pictured");
    let api = create_api(&name, "prod").await;
    app.command(&format!("{api} prod 150 300")).await;
    app.slack.wait_for("/reply", 1).await;

    app.command(&format!("show {name} prod")).await;
    let shown_text = app.slack.wait_for("/reply", 2).await[1].clone();
    assert!(
        shown(&shown_text).contains("150"),
        "the text as before: {shown_text}"
    );

    // Slack's flow: an upload URL for the file's length, the bytes there, then shared.
    let asked = app
        .slack
        .wait_for("/api/files.getUploadURLExternal", 1)
        .await[0]
        .clone();
    let uploaded = app.slack.wait_for("/upload/v1/F0TESTFILE", 1).await[0].clone();
    assert_eq!(uploaded["png"], true, "{uploaded}");
    assert_eq!(asked["filename"], "traffic.png");
    assert_eq!(asked["length"], uploaded["length"].to_string());
    let shared = app
        .slack
        .wait_for("/api/files.completeUploadExternal", 1)
        .await[0]
        .clone();
    assert_eq!(shared["channel_id"], CHANNEL, "{shared}");
    assert!(shared["files"].as_str().unwrap().contains("F0TESTFILE"));
    assert!(shared["initial_comment"].as_str().unwrap().contains(&name));
    for path in [
        "/api/files.getUploadURLExternal",
        "/api/files.completeUploadExternal",
    ] {
        assert_eq!(
            app.slack.authorizations(path)[0].as_deref(),
            Some(format!("Bearer {}", *BOT_TOKEN).as_str())
        );
    }
    assert_eq!(
        app.slack.authorizations("/upload/v1/F0TESTFILE")[0],
        None,
        "the bot token never goes to the upload URL"
    );

    // CloudWatch drew requests per second from the stage's own metrics, the limit as a line.
    let (widget, drawn) = widgets_naming(&name).await.pop().expect("a widget");
    assert!(drawn);
    let metrics = widget["metrics"].to_string();
    for part in [
        "\"Count\"",
        "\"4XXError\"",
        "\"ApiName\"",
        "\"Stage\"",
        "\"prod\"",
        "c/60",
    ] {
        assert!(metrics.contains(part), "{part} missing from {metrics}");
    }
    assert_eq!(widget["annotations"]["horizontal"][0]["value"], 150.0);
}

#[tokio::test]
async fn without_the_permission_show_is_text_as_before_and_why_is_logged_once() {
    let app = TestApp::spawn_with(with(vec![("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned())])).await;
    let name = unique("undrawable");
    create_api(&name, "prod").await;
    for n in 1..=2 {
        app.command(&format!("show {name} prod")).await;
        app.slack.wait_for("/reply", n).await;
        app.wait_for_log("could not draw a traffic picture", 1)
            .await;
    }
    assert_eq!(widgets_naming(&name).await.len(), 2);
    assert!(
        app.slack
            .posts_to("/api/files.getUploadURLExternal")
            .is_empty()
    );
    let logged: Vec<String> = app
        .logs()
        .into_iter()
        .filter(|l| l.contains("could not draw a traffic picture"))
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains("cloudwatch:GetMetricWidgetImage"),
        "{logged:?}"
    );
}

#[tokio::test]
async fn without_a_bot_token_no_picture_is_drawn_and_why_is_logged_once() {
    let app = TestApp::spawn().await;
    let name = unique("unpictured");
    create_api(&name, "prod").await;
    app.command(&format!("show {name} prod")).await;
    app.slack.wait_for("/reply", 1).await;
    app.wait_for_log("no traffic pictures", 1).await;
    assert!(
        widgets_naming(&name).await.is_empty(),
        "CloudWatch not even asked"
    );
}

#[tokio::test]
async fn a_threaded_impact_report_is_followed_by_its_picture_in_the_thread() {
    let policy = "[[rule]]\nname = \"four eyes\"\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\napprovers = [\"U0APPROVER\"]\n";
    let app = TestApp::spawn_with(with(vec![
        ("IMPACT_AFTER", "1s".to_owned()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        ("THROTTLE_POLICY", String::new()),
        ("THROTTLE_POLICY_TOML", policy.to_owned()),
    ]))
    .await;
    let name = unique("impact-pictured");
    create_api(&name, "prod").await;
    app.command(&format!("{name} prod 150 300")).await;
    let request = app.slack.wait_for("/reply", 1).await[0].clone();
    app.press(&request, "Approve", "U0APPROVER").await;
    app.slack.wait_for("/api/chat.postMessage", 1).await;

    let shared = app
        .slack
        .wait_for("/api/files.completeUploadExternal", 1)
        .await[0]
        .clone();
    assert_eq!(shared["thread_ts"], "1700000000.000100", "{shared}");
    assert_eq!(shared["channel_id"], CHANNEL, "{shared}");
    let (widget, _) = widgets_naming(&name).await.pop().expect("a widget");
    assert_eq!(widget["annotations"]["horizontal"][0]["value"], 150.0);
}

#[tokio::test]
async fn show_over_the_socket_shares_the_picture_the_same_way() {
    let stand_in = SocketStandIn::start().await;
    let app = TestApp::spawn_with(Options {
        subcommand: "socket",
        extra_env: vec![
            ("SLACK_APP_TOKEN", unique("test-app-token")),
            ("SLACK_API_URL", stand_in.api_url()),
            ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        ],
        ..Options::default()
    })
    .await;
    let mut socket = stand_in.next_connection().await;
    let name = unique("pictured-socket");
    create_api(&name, "prod").await;
    socket
        .deliver(command_envelope(
            "pic-1",
            &format!("show {name} prod"),
            &app.slack.url("/reply"),
        ))
        .await;
    app.slack.wait_for("/reply", 1).await;
    let uploaded = stand_in.wait_for_calls("/upload/v1/F0TESTFILE", 1).await;
    assert_eq!(uploaded[0]["png"], true);
    let shared = stand_in
        .wait_for_calls("/api/files.completeUploadExternal", 1)
        .await;
    assert_eq!(shared[0]["channel_id"], CHANNEL);
}
