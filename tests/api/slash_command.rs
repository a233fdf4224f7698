use axum::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_valid_command_changes_the_stage_and_tells_the_channel() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("orders"), "prod").await;

    let ack = app.command(&format!("{api} prod 50 100")).await;
    assert_eq!(ack.status(), StatusCode::OK);
    let ack: serde_json::Value = ack.json().await.unwrap();
    assert_eq!(ack["response_type"], "ephemeral");

    let replies = app.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((50.0, 100)));

    let reply = &replies[0];
    assert_eq!(reply["response_type"], "in_channel");
    let text = text_of(reply);
    for expected in [
        api.as_str(),
        "prod",
        "stage-wide",
        "rate not set → 50 req/s",
        "burst not set → 100",
        "<@U2CERLKJA>",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    assert!(reply["blocks"].as_array().is_some_and(|b| !b.is_empty()));

    let notices = app.slack.wait_for("/webhook", 1).await;
    let notice = text_of(&notices[0]);
    for expected in [
        api.as_str(),
        "prod",
        "50",
        "100",
        "<@U2CERLKJA>",
        "<#C0123ABC>",
    ] {
        assert!(
            notice.contains(expected),
            "{expected:?} missing from {notice}"
        );
    }
    let app = app.stop().await;
    assert_eq!(
        app.slack.posts_to("/reply").len(),
        1,
        "exactly one final message"
    );
}

#[tokio::test]
async fn fractional_rates_and_zero_are_applied_as_given() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("fractions"), "test").await;

    app.command(&format!("{api} test 0.5 1")).await;
    app.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "test").await, Some((0.5, 1)));
    assert!(text_of(&app.slack.posts_to("/reply")[0]).contains("0.5 req/s"));

    // A burst of 0 blocks all traffic: it is applied as given once its author confirms.
    app.command(&format!("{api} test 0.5 0")).await;
    let preview = app.slack.wait_for("/reply", 2).await[1].clone();
    app.press(&preview, "Apply", USER).await;
    app.slack.wait_for("/actions", 1).await;
    assert_eq!(stage_limits(&api, "test").await, Some((0.5, 0)));
}

#[tokio::test]
async fn an_unknown_api_gets_a_private_not_found_reply_and_an_audit_notice() {
    let app = TestApp::spawn().await;

    let ack = app.command("zzzzzzzzzz prod 50 100").await;
    assert_eq!(ack.status(), StatusCode::OK);

    let reply = &app.slack.wait_for("/reply", 1).await[0];
    assert_eq!(reply["response_type"], "ephemeral");
    let text = text_of(reply);
    assert!(text.contains("not found"), "{text}");
    assert!(text.contains("zzzzzzzzzz"), "{text}");

    let notice = text_of(&app.slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("Failed"), "{notice}");
    assert!(notice.contains("<@U2CERLKJA>"), "{notice}");
}

#[tokio::test]
async fn an_unknown_stage_of_a_known_api_is_reported_as_not_found() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("stages"), "prod").await;

    app.command(&format!("{api} staging 50 100")).await;

    let text = text_of(&app.slack.wait_for("/reply", 1).await[0]);
    assert!(text.contains("not found"), "{text}");
    assert_eq!(stage_limits(&api, "prod").await, None);
}

#[tokio::test]
async fn a_failing_webhook_does_not_change_the_users_reply() {
    let app = TestApp::spawn().await;
    app.slack.webhook_answers(StatusCode::INTERNAL_SERVER_ERROR);
    let api = create_api(&unique("webhook500"), "prod").await;

    app.command(&format!("{api} prod 20 40")).await;

    let reply = &app.slack.wait_for("/reply", 1).await[0];
    assert_eq!(reply["response_type"], "in_channel");
    assert_eq!(stage_limits(&api, "prod").await, Some((20.0, 40)));
    app.slack.wait_for("/webhook", 1).await;
    app.wait_for_log("could not deliver the audit notice", 1)
        .await;
    let logs = app.logs().join("\n");
    assert!(
        logs.contains("audit notice"),
        "the webhook failure is logged: {logs}"
    );
    assert!(logs.contains("500"), "the log names the status: {logs}");
    assert!(
        !logs.contains(&app.slack.url("/webhook")),
        "the webhook URL is never logged"
    );
}

#[tokio::test]
async fn without_a_webhook_commands_still_work() {
    let app = TestApp::spawn_with(Options {
        webhook: false,
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("nowebhook"), "prod").await;

    app.command(&format!("{api} prod 7 9")).await;

    app.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((7.0, 9)));
    assert!(app.slack.posts_to("/webhook").is_empty());
    assert!(app.logs().join("\n").contains("audit notices are off"));
}

#[tokio::test]
async fn bad_input_is_explained_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("badinput"), "prod").await;
    let cases = [
        (format!("{api} prod 50"), "but got 3 values"),
        (format!("{api} prod 50 100 200"), "but got 5 values"),
        (
            format!("{api} prod 50 100 FETCH /pets"),
            "is not an http method",
        ),
        (
            format!("{api} prod 50 100 GET pets"),
            "must be `*` or start with `/`",
        ),
        (format!("show {api} prod extra"), "`show` takes"),
        (format!("reset {api}"), "`reset` takes"),
        (format!("{api} pr/od 50 100"), "is not a stage name"),
        (format!("{api} prod fast 100"), "is not a number"),
        (format!("{api} prod -1 100"), "must be zero or more"),
        (format!("{api} prod NaN 100"), "is not a number"),
        (format!("{api} prod 50 1.5"), "is not a whole number"),
        (format!("{api} prod 50 -3"), "must be zero or more"),
        (format!("{api} prod 50 99999999999"), "too large"),
    ];
    for (text, reason) in &cases {
        let response = app.command(text).await;
        assert_eq!(response.status(), StatusCode::OK, "{text}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["response_type"], "ephemeral", "{text}");
        let shown = shown(&body).to_lowercase();
        assert!(shown.contains(reason), "{text}: {shown}");
        assert!(shown.contains("usage"), "{text}: {shown}");
        assert!(shown.contains("nothing was changed"), "{text}: {shown}");
    }
    let app = app.stop().await;
    assert_eq!(
        stage_limits(&api, "prod").await,
        None,
        "the stage is unchanged"
    );
    assert!(app.slack.posts_to("/reply").is_empty());
    assert!(app.slack.posts_to("/webhook").is_empty());
}

#[tokio::test]
async fn a_slow_webhook_does_not_delay_the_users_reply() {
    let app = TestApp::spawn().await;
    app.slack.hold_webhook();
    let api = create_api(&unique("slowhook"), "prod").await;

    app.command(&format!("{api} prod 6 12")).await;

    // The reply arrives while the webhook still holds the audit notice unanswered.
    app.slack.wait_for("/reply", 1).await;
    app.slack.wait_for("/webhook", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((6.0, 12)));
    app.slack.release_webhook();
}

#[tokio::test]
async fn the_acknowledgement_does_not_wait_for_a_slow_aws() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("slowaws"), "prod").await;
    app.aws().hold();

    let ack = app.command(&format!("{api} prod 6 12")).await;

    // Acknowledged while AWS holds every call unanswered.
    assert_eq!(ack.status(), StatusCode::OK);
    let ack: serde_json::Value = ack.json().await.unwrap();
    assert!(text_of(&ack).contains("Setting"), "{ack}");
    app.aws().wait_for_calls(1).await;
    assert!(
        app.slack.posts_to("/reply").is_empty(),
        "AWS has not answered yet"
    );
    app.aws().release();
    assert_eq!(
        app.slack.wait_for("/reply", 1).await[0]["response_type"],
        "in_channel"
    );
}

#[tokio::test]
async fn a_post_that_timed_out_after_sending_is_not_sent_again() {
    let app = TestApp::spawn().await;
    // The webhook takes the notice and never answers: Slack may well have posted it.
    app.slack.hold_webhook();
    let api = create_api(&unique("notwice"), "prod").await;

    app.command(&format!("{api} prod 9 18")).await;
    app.wait_for_log("could not deliver the audit notice", 1)
        .await;

    assert_eq!(
        app.slack.posts_to("/webhook").len(),
        1,
        "sent once, never retried"
    );
    let logs = app.logs().join("\n");
    assert!(logs.contains("timed out"), "{logs}");
    app.slack.release_webhook();
}
