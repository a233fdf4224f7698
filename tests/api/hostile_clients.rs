//! Slow and hostile HTTP clients: they cannot hold the service, nor its shutdown.

use axum::http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// A connection that sends the start of a request and then nothing.
async fn half_sent(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Le")
        .await
        .unwrap();
    stream
}

/// Whether the server has closed this connection (reads end, or the socket is reset).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        // A 408 (or any answer) and then the close.
        Ok(Ok(_)) => matches!(stream.read(&mut buf).await, Ok(0) | Err(_)),
        Err(_) => false,
    }
}

#[tokio::test]
async fn half_sent_requests_do_not_stop_shutdown_and_a_command_in_flight_still_gets_its_message() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        extra_env: vec![("SHUTDOWN_GRACE_SECS", "3".to_owned())],
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("halfsent"), "prod").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(half_sent(&app).await);
    }
    app.aws().hold();
    app.command(&format!("{api} prod 21 42")).await;
    app.aws().wait_for_calls(1).await;

    app.terminate();
    app.wait_for_log("shutdown requested", 1).await;
    app.aws().release();
    let (status, app) = app.wait_for_exit().await;

    assert!(status.success(), "{status:?}");
    let replies = app.slack.posts_to("/reply");
    assert_eq!(replies.len(), 1, "exactly one final message: {replies:?}");
    assert_eq!(stage_limits(&api, "prod").await, Some((21.0, 42)));
    drop(held);
}

#[tokio::test]
async fn a_client_that_stops_sending_headers_is_cut_off() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("HEADER_READ_TIMEOUT_SECS", "1".to_owned())],
        ..Options::default()
    })
    .await;
    let mut stream = half_sent(&app).await;
    assert!(closed_by_server(&mut stream).await);
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_after_its_answer_is_closed() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("HEADER_READ_TIMEOUT_SECS", "1".to_owned())],
        ..Options::default()
    })
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(WAIT, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..read].starts_with(b"HTTP/1.1 200"),
        "answered, and kept alive"
    );
    assert!(closed_by_server(&mut stream).await);
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_gets_408() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("REQUEST_TIMEOUT_SECS", "1".to_owned())],
        ..Options::default()
    })
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ntext=")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_the_service_recovers() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![
            ("MAX_CONNECTIONS", "2".to_owned()),
            ("HEADER_READ_TIMEOUT_SECS", "2".to_owned()),
        ],
        ..Options::default()
    })
    .await;
    let mut first = half_sent(&app).await;
    let mut second = half_sent(&app).await;
    let mut third = half_sent(&app).await;
    assert!(closed_by_server(&mut third).await, "over the cap");
    assert!(closed_by_server(&mut first).await);
    assert!(closed_by_server(&mut second).await);

    // The held slots are free again once their header time is up.
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    app.wait_for_log("too many open connections", 1).await;
}

#[tokio::test]
async fn an_honest_client_can_read_the_413_for_a_large_body() {
    let app = TestApp::spawn().await;
    let mut body = app.command_form("help").into_bytes();
    body.extend(std::iter::repeat_n(b'a', 512 * 1024));
    let response = app.post_signed(body).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The connection is still good for the next request.
    let again = app.command("help").await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_metrics_addr_ops_endpoints_leave_the_slack_listener() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("METRICS_ADDR", "127.0.0.1:0".to_owned())],
        ..Options::default()
    })
    .await;
    app.wait_for_log("ops endpoints on http://", 1).await;
    let line = app
        .logs()
        .into_iter()
        .find(|l| l.contains("ops endpoints on http://"))
        .unwrap();
    let ops = line
        .split("ops endpoints on http://")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    for path in ["/metrics", "/healthz", "/readyz"] {
        let on_slack = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            on_slack.status(),
            StatusCode::NOT_FOUND,
            "{path} on the Slack listener"
        );
    }
    let metrics = app
        .http
        .get(format!("http://{ops}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let health = app
        .http
        .get(format!("http://{ops}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(app.command("help").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn beyond_the_cap_on_running_commands_users_are_told_to_retry() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        extra_env: vec![("MAX_JOBS", "1".to_owned())],
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("busy"), "prod").await;
    app.aws().hold();
    app.command(&format!("{api} prod 1 2")).await;
    app.aws().wait_for_calls(1).await;

    let busy = shown(
        &app.command(&format!("{api} prod 3 4"))
            .await
            .json()
            .await
            .unwrap(),
    );
    assert!(busy.contains("busy"), "{busy}");
    assert!(busy.contains("Nothing was changed"), "{busy}");

    app.aws().release();
    app.slack.wait_for("/reply", 1).await;
    let app = app.stop().await;
    assert_eq!(stage_limits(&api, "prod").await, Some((1.0, 2)));
    assert_eq!(
        app.slack.posts_to("/reply").len(),
        1,
        "the refused one started nothing"
    );
}
