use axum::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_command_in_flight_at_sigterm_still_gets_its_final_message() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("shutdown"), "prod").await;
    app.aws().hold();

    let ack = app.command(&format!("{api} prod 33 66")).await;
    assert_eq!(ack.status(), StatusCode::OK);
    app.aws().wait_for_calls(1).await;
    assert!(
        app.slack.posts_to("/reply").is_empty(),
        "the change is still in flight"
    );
    app.terminate();
    app.wait_for_log("shutdown requested", 1).await;
    app.aws().release();

    let (status, app) = app.wait_for_exit().await;
    assert!(
        status.success(),
        "exits 0 after a graceful shutdown: {status:?}"
    );
    let replies = app.slack.posts_to("/reply");
    assert_eq!(replies.len(), 1, "exactly one final message");
    assert_eq!(replies[0]["response_type"], "in_channel");
    assert_eq!(stage_limits(&api, "prod").await, Some((33.0, 66)));
}

#[tokio::test]
async fn after_sigterm_new_connections_are_refused() {
    let app = TestApp::spawn().await;
    let addr = app.addr;
    app.terminate();
    let (status, _app) = app.wait_for_exit().await;
    assert!(status.success());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_command_still_running_when_the_grace_period_ends_is_told_it_was_interrupted() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        extra_env: vec![("SHUTDOWN_GRACE_SECS", "1".to_owned())],
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("interrupted"), "prod").await;
    // AWS never answers: the command is still running when the grace period ends.
    app.aws().hold();

    app.command(&format!("{api} prod 44 88")).await;
    app.aws().wait_for_calls(1).await;
    app.terminate();

    let (status, app) = app.wait_for_exit().await;
    assert!(status.success(), "{status:?}");
    let replies = app.slack.posts_to("/reply");
    assert_eq!(replies.len(), 1, "exactly one final message: {replies:?}");
    assert_eq!(replies[0]["response_type"], "ephemeral");
    let text = shown(&replies[0]);
    assert!(text.contains("could not finish"), "{text}");
    assert!(
        text.contains(&format!("/throttle {api} prod 44 88")),
        "{text}"
    );
    assert!(text.contains("may or may not have been applied"), "{text}");
    let notice = shown(&app.slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("Interrupted by shutdown"), "{notice}");
}
