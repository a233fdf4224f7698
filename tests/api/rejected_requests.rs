use axum::http::StatusCode;

use crate::helpers::*;

/// Stops the service (so every job it accepted has ended), then checks nothing happened.
async fn assert_nothing_happened(app: TestApp, api: &str) -> TestApp {
    let app = app.stop().await;
    assert_eq!(
        stage_limits(api, "prod").await,
        None,
        "the stage is unchanged"
    );
    assert!(
        app.slack.posts_to("/reply").is_empty(),
        "no reply was posted"
    );
    assert!(
        app.slack.posts_to("/webhook").is_empty(),
        "no notice was posted"
    );
    app
}

#[tokio::test]
async fn requests_slack_did_not_sign_get_401_and_change_nothing() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("unsigned"), "prod").await;
    let body = app.command_form(&format!("{api} prod 1 1")).into_bytes();
    let fresh = now().to_string();
    let good = sign(SIGNING_SECRET, &fresh, &body);
    let stale = (now() - 301).to_string();
    let future = (now() + 301).to_string();
    type Case<'a> = (&'a str, Option<String>, Option<String>, Vec<u8>);
    let cases: Vec<Case> = vec![
        ("no headers", None, None, body.clone()),
        ("no signature", Some(fresh.clone()), None, body.clone()),
        ("no timestamp", None, Some(good.clone()), body.clone()),
        (
            "wrong secret",
            Some(fresh.clone()),
            Some(sign("other-secret", &fresh, &body)),
            body.clone(),
        ),
        (
            "malformed signature",
            Some(fresh.clone()),
            Some("v0=nothex".to_owned()),
            body.clone(),
        ),
        (
            "malformed timestamp",
            Some("yesterday".to_owned()),
            Some(good.clone()),
            body.clone(),
        ),
        (
            "stale timestamp",
            Some(stale.clone()),
            Some(sign(SIGNING_SECRET, &stale, &body)),
            body.clone(),
        ),
        (
            "future timestamp",
            Some(future.clone()),
            Some(sign(SIGNING_SECRET, &future, &body)),
            body.clone(),
        ),
        (
            "timestamp not the signed one",
            Some((now() - 1).to_string()),
            Some(good.clone()),
            body.clone(),
        ),
        (
            "body changed after signing",
            Some(fresh.clone()),
            Some(good.clone()),
            [&body[..], b"0"].concat(),
        ),
    ];
    for (case, timestamp, signature, body) in cases {
        let response = app
            .post_with(body, timestamp.as_deref(), signature.as_deref())
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert!(
            response.text().await.unwrap().is_empty(),
            "{case}: no detail in the body"
        );
    }
    let app = assert_nothing_happened(app, &api).await;
    let logs = app.logs().join("\n");
    assert!(logs.contains("rejected a request"), "{logs}");
    assert!(!logs.contains(&good[3..]), "the signature is never logged");
}

#[tokio::test]
async fn a_flood_of_unsigned_requests_leaves_a_few_log_lines_and_a_count() {
    let app = TestApp::spawn().await;
    for _ in 0..200 {
        let response = app.post_with(b"text=x".to_vec(), None, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // A line logged after the flood: every rejection's line (if any) is in the log before it.
    app.command("a1b2c3d4e5 prod 1 1").await;
    app.wait_for_log("command accepted", 1).await;

    let lines = app
        .logs()
        .iter()
        .filter(|l| l.contains("rejected a request"))
        .count();
    assert!((1..=5).contains(&lines), "{lines} lines for 200 rejections");
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
        metrics.contains(r#"throttle_bot_rejected_requests_total{reason="missing_header"} 200"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn text_logs_carry_no_raw_control_characters_from_users() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("LOG_FORMAT", "text".to_owned())],
        ..Options::default()
    })
    .await;
    app.command("pet\u{1b}[2Jstore\u{7} prod 1 1").await;
    app.command("a1b2c3d4e5 prod lots\u{1b}[31m 1").await;
    app.command("help").await;
    app.post_signed(b"hello=world".to_vec()).await;
    app.wait_for_log("not a usable slash command", 1).await;

    let logs = app.logs().join("\n");
    assert!(
        logs.contains("refused a command that does not parse"),
        "{logs}"
    );
    assert!(!logs.contains(['\u{1b}', '\u{7}']), "{logs:?}");
}

#[tokio::test]
async fn a_captured_change_played_again_changes_nothing() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("replay"), "prod").await;
    let capture = |text: &str| {
        let body = app.command_form(text).into_bytes();
        let timestamp = now().to_string();
        let signature = sign(SIGNING_SECRET, &timestamp, &body);
        (body, timestamp, signature)
    };
    let (old, old_at, old_signature) = capture(&format!("{api} prod 10 20"));
    app.post_with(old.clone(), Some(&old_at), Some(&old_signature))
        .await;
    app.slack.wait_for("/reply", 1).await;
    app.command(&format!("{api} prod 1000 2000")).await;
    app.slack.wait_for("/reply", 2).await;

    // The old "10 20", replayed after the newer change, must not silently revert it.
    for _ in 0..3 {
        let replayed = app
            .post_with(old.clone(), Some(&old_at), Some(&old_signature))
            .await;
        assert_eq!(replayed.status(), StatusCode::OK);
        let text = shown(&replayed.json().await.unwrap());
        assert!(text.contains("already received"), "{text}");
    }
    let app = app.stop().await;
    assert_eq!(stage_limits(&api, "prod").await, Some((1000.0, 2000)));
    assert_eq!(
        app.slack.posts_to("/reply").len(),
        2,
        "no post for a replay"
    );
    let patches = app
        .aws()
        .calls()
        .iter()
        .filter(|c| c.starts_with("PATCH"))
        .count();
    assert_eq!(patches, 2);
    let metrics_line = app.logs().join("\n");
    assert!(metrics_line.contains("played again"), "{metrics_line}");
}

#[tokio::test]
async fn a_captured_change_played_again_with_its_signature_in_upper_case_gets_401() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("case"), "prod").await;
    let body = app.command_form(&format!("{api} prod 10 20")).into_bytes();
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, &body);
    app.post_with(body.clone(), Some(&timestamp), Some(&signature))
        .await;
    app.slack.wait_for("/reply", 1).await;
    app.command(&format!("{api} prod 1000 2000")).await;
    app.slack.wait_for("/reply", 2).await;

    // The same bytes spelled otherwise: Slack only ever sends lower case.
    let hex_letter = signature[3..]
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap()
        + 3;
    let mut one_digit = signature.clone();
    one_digit[hex_letter..=hex_letter].make_ascii_uppercase();
    let all_digits = format!("v0={}", signature[3..].to_ascii_uppercase());
    for spelled in [one_digit, all_digits] {
        let replayed = app
            .post_with(body.clone(), Some(&timestamp), Some(&spelled))
            .await;
        assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED, "{spelled}");
    }
    let app = app.stop().await;
    assert_eq!(stage_limits(&api, "prod").await, Some((1000.0, 2000)));
    assert_eq!(
        app.slack.posts_to("/reply").len(),
        2,
        "no post for a replay"
    );
    let patches = app
        .aws()
        .calls()
        .iter()
        .filter(|c| c.starts_with("PATCH"))
        .count();
    assert_eq!(patches, 2);
}

#[tokio::test]
async fn a_read_only_request_needs_no_replay_check() {
    let app = TestApp::spawn().await;
    let body = app.command_form("help").into_bytes();
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, &body);
    for _ in 0..2 {
        let answer = app
            .post_with(body.clone(), Some(&timestamp), Some(&signature))
            .await;
        assert!(shown(&answer.json().await.unwrap()).contains("Usage"));
    }
}
