//! `throttle-bot socket`: Slack's Socket Mode against a local stand-in (apps.connections.open
//! and the WebSocket behind it), the stage read back from moto.

use serde_json::Value;

use crate::helpers::*;

/// The app-level token the service is given: made up per run, so nothing token-shaped is committed.
static APP_TOKEN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| unique("test-app-token"));

async fn socket_app(stand_in: &SocketStandIn) -> TestApp {
    socket_app_holding(stand_in, 1).await
}

/// The same, holding `connections` connections (`SOCKET_CONNECTIONS`).
async fn socket_app_holding(stand_in: &SocketStandIn, connections: usize) -> TestApp {
    TestApp::spawn_with(Options {
        subcommand: "socket",
        extra_env: vec![
            ("SLACK_APP_TOKEN", APP_TOKEN.to_owned()),
            ("SLACK_API_URL", stand_in.api_url()),
            ("SOCKET_CONNECTIONS", connections.to_string()),
        ],
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn a_command_and_a_press_over_the_socket_go_down_the_same_path_as_over_http() {
    let stand_in = SocketStandIn::start().await;
    let app = socket_app(&stand_in).await;
    let mut socket = stand_in.next_connection().await;
    app.wait_for_log("connected to Slack (Socket Mode)", 1)
        .await;
    assert_eq!(app.readiness().await.0, 200, "ready once connected");
    let api = create_api(&unique("socket"), "prod").await;

    let ack = socket
        .deliver(command_envelope(
            "env-1",
            &format!("{api} prod 150 300"),
            &app.slack.url("/reply"),
        ))
        .await;

    // Acknowledged by its id, carrying the immediate reply the HTTP endpoint would send.
    assert_eq!(ack["envelope_id"], "env-1");
    assert_eq!(ack["payload"]["response_type"], "ephemeral");
    let changed = app.slack.wait_for("/reply", 1).await[0].clone();
    assert_eq!(stage_limits(&api, "prod").await, Some((150.0, 300)));
    assert!(shown(&changed).contains("150 req/s"), "{changed}");

    // The Undo button, pressed through the socket.
    let press = press_payload(&changed, "Undo", USER, &app.slack.url("/actions"));
    let ack = socket.deliver(press_envelope("env-2", press)).await;
    assert_eq!(ack, serde_json::json!({ "envelope_id": "env-2" }));
    app.slack.wait_for("/actions", 1).await;
    // The stage-wide entry the first override made is removed again.
    assert_eq!(stage_limits(&api, "prod").await, None);

    // `help` is answered in the acknowledgement itself.
    let help = socket
        .deliver(command_envelope("env-3", "help", &app.slack.url("/reply")))
        .await;
    assert!(
        help["payload"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Usage"))
    );

    assert_eq!(
        stand_in.authorizations(),
        [format!("Bearer {}", *APP_TOKEN)]
    );
    let app = app.stop().await;
    assert!(
        !app.logs().iter().any(|line| line.contains("test-secret")),
        "the app token is never logged"
    );
}

#[tokio::test]
async fn a_redelivered_envelope_runs_once_and_a_refresh_opens_a_new_connection() {
    let stand_in = SocketStandIn::start().await;
    let app = socket_app(&stand_in).await;
    let mut socket = stand_in.next_connection().await;
    let api = create_api(&unique("redeliver"), "prod").await;
    let reply_url = app.slack.url("/reply");
    let first = command_envelope("env-1", &format!("{api} prod 150 300"), &reply_url);

    assert_eq!(socket.deliver(first.clone()).await["envelope_id"], "env-1");
    app.slack.wait_for("/reply", 1).await;
    // Slack did not see the ack in time and delivers it again: acknowledged, not run again.
    let mut again = first.clone();
    again["retry_attempt"] = Value::from(1);
    again["retry_reason"] = Value::from("timeout");
    let ack = socket.deliver(again.clone()).await;
    assert_eq!(ack, serde_json::json!({ "envelope_id": "env-1" }));
    // The same id in other letters is the same envelope (acknowledged as it came).
    again["envelope_id"] = Value::from("ENV-1");
    let ack = socket.deliver(again).await;
    assert_eq!(ack, serde_json::json!({ "envelope_id": "ENV-1" }));

    // Slack asks for a refresh: a new URL from apps.connections.open, a new connection.
    socket
        .send(
            serde_json::json!({ "type": "disconnect", "reason": "refresh_requested",
                                   "debug_info": { "host": "applink-test" } }),
        )
        .await;
    socket.closed().await;
    let mut socket = stand_in.next_connection().await;
    assert_eq!(stand_in.opened(), 2);
    let second = command_envelope("env-2", &format!("{api} prod 120 240"), &reply_url);
    assert_eq!(socket.deliver(second).await["envelope_id"], "env-2");
    app.slack.wait_for("/reply", 2).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((120.0, 240)));

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("throttle_bot_socket_reconnects_total 1"),
        "{metrics}"
    );
    let app = app.stop().await;
    assert_eq!(
        app.slack.posts_to("/reply").len(),
        2,
        "the redelivered envelope changed nothing and told nobody"
    );
}

#[tokio::test]
async fn link_disabled_stops_reconnecting_and_readiness_says_why() {
    let stand_in = SocketStandIn::start().await;
    let app = socket_app(&stand_in).await;
    let mut socket = stand_in.next_connection().await;
    app.wait_for_log("connected to Slack (Socket Mode)", 1)
        .await;

    socket
        .send(serde_json::json!({ "type": "disconnect", "reason": "link_disabled" }))
        .await;
    app.wait_for_log("not reconnecting", 1).await;

    let (status, why) = app.readiness().await;
    assert_eq!(status, 503);
    assert!(why.contains("link_disabled"), "{why}");
    let live = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        live.status(),
        200,
        "alive: restarting would not turn Socket Mode back on"
    );
    assert_eq!(live.text().await.unwrap(), "ok (socket not connected)");
    assert_eq!(stand_in.opened(), 1);
}

#[tokio::test]
async fn socket_mode_needs_an_app_token() {
    let stand_in = SocketStandIn::start().await;
    let mut command = service_command(Some(&app_slack_stand_in().await), true);
    command
        .arg("socket")
        .env("SLACK_API_URL", stand_in.api_url());
    let output = command.output().expect("run throttle-bot socket");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SLACK_APP_TOKEN is not set"), "{stderr}");
}

async fn app_slack_stand_in() -> SlackStandIn {
    SlackStandIn::start().await
}

#[tokio::test]
async fn several_connections_share_one_memory_of_envelopes() {
    let stand_in = SocketStandIn::start().await;
    let app = socket_app_holding(&stand_in, 2).await;
    let mut first = stand_in.next_connection().await;
    let mut second = stand_in.next_connection().await;
    assert_eq!(stand_in.opened(), 2, "one URL per connection");
    let api = create_api(&unique("two-links"), "prod").await;
    let envelope = command_envelope(
        "env-1",
        &format!("{api} prod 150 300"),
        &app.slack.url("/reply"),
    );

    first.deliver(envelope.clone()).await;
    app.slack.wait_for("/reply", 1).await;
    // Slack redelivers on the other connection: acknowledged there, not run again.
    let ack = second.deliver(envelope).await;
    assert_eq!(ack, serde_json::json!({ "envelope_id": "env-1" }));

    let app = app.stop().await;
    assert_eq!(app.slack.posts_to("/reply").len(), 1);
}

/// One replica per Slack app (docs/deploy.md): a second process would race the first's
/// presses, replays and timed changes, so one that finds the app already connected elsewhere
/// (twice, a few seconds apart) stops before it takes any request, and says why.
#[tokio::test]
async fn a_second_replica_refuses_to_start_while_another_is_connected() {
    let stand_in = SocketStandIn::start().await;
    let app = socket_app(&stand_in).await;
    let mut first = stand_in.next_connection_counting(2).await;
    first.closed().await;
    let mut second = stand_in.next_connection_counting(2).await;
    second.closed().await;

    let (status, app) = app.wait_for_exit().await;
    assert!(!status.success(), "it stops with a failure: {status}");
    assert_eq!(stand_in.opened(), 2, "no other connection was opened");
    let logs = app.logs().join("\n");
    assert!(
        logs.contains("another process is connected to this Slack app")
            && logs.contains("one replica per Slack app"),
        "{logs}"
    );
    assert!(
        !logs.contains("connected to Slack (Socket Mode)"),
        "it never counted itself connected: {logs}"
    );
}

/// A process just replaced may hold its link for a moment: found alone at the second look,
/// the new one starts, and only then opens its other connections.
#[tokio::test]
async fn a_replica_whose_predecessor_is_still_leaving_starts_once_alone() {
    let stand_in = SocketStandIn::start().await;
    let app = socket_app_holding(&stand_in, 2).await;
    let mut crowded = stand_in.next_connection_counting(3).await;
    crowded.closed().await;
    assert_eq!(
        stand_in.opened(),
        1,
        "the others wait for the first to be alone"
    );
    let _first = stand_in.next_connection_counting(1).await;
    let _second = stand_in.next_connection_counting(2).await;
    app.wait_for_log("connected to Slack (Socket Mode)", 2)
        .await;
    assert_eq!(stand_in.opened(), 3);
    let (status, why) = app.readiness().await;
    assert_eq!(status, 200, "{why}");
}

/// Once admitted, a process is not checked again: its own link being replaced may be counted
/// with the new one for a moment (Slack asked for a refresh), and that is no second replica.
#[tokio::test]
async fn a_refreshed_link_counted_with_the_old_one_keeps_the_process_up() {
    let stand_in = SocketStandIn::start().await;
    let app = socket_app(&stand_in).await;
    let mut first = stand_in.next_connection().await;
    app.wait_for_log("connected to Slack (Socket Mode)", 1)
        .await;
    first
        .send(serde_json::json!({ "type": "disconnect", "reason": "refresh_requested" }))
        .await;
    let mut second = stand_in.next_connection_counting(2).await;
    app.wait_for_log("connected to Slack (Socket Mode)", 2)
        .await;

    let api = create_api(&unique("refreshed"), "prod").await;
    let envelope = command_envelope(
        "env-r",
        &format!("{api} prod 30 60"),
        &app.slack.url("/reply"),
    );
    let ack = second.deliver(envelope).await;
    assert_eq!(ack["envelope_id"], "env-r");
    app.slack.wait_for("/reply", 1).await;
    let app = app.stop().await;
    assert!(
        !app.logs().iter().any(|l| l.contains("another process")),
        "{:?}",
        app.logs()
    );
}
