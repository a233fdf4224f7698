//! Cheap cases through the router in this process: no AWS, no socket, no Slack.

use axum::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn bodies_over_64_kib_get_413() {
    let app = InProcess::new();
    let mut body = slack_form("a1b2c3d4e5 prod 1 1", "https://hooks.slack.com/x").into_bytes();
    body.extend(std::iter::repeat_n(b'a', 65 * 1024));
    assert_eq!(
        app.post_signed(body).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn slacks_ssl_check_gets_an_empty_200_and_nothing_else() {
    let app = InProcess::new();
    let probe = "ssl_check=1&token=x&text=a1b2c3d4e5+prod+1+1";
    for answer in [
        app.post(probe.into(), None, None).await,
        app.post_signed(probe.into()).await,
    ] {
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.body.is_empty());
    }
    let not_a_probe = app.post(b"ssl_check=2".to_vec(), None, None).await;
    assert_eq!(not_a_probe.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_signed_request_that_is_not_a_slash_command_gets_400() {
    let app = InProcess::new();
    let answer = app.post_signed(b"hello=world".to_vec()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn health_answers_ok() {
    let answer = InProcess::new().get("/healthz").await;
    assert_eq!(
        (answer.status, answer.body.as_slice()),
        (StatusCode::OK, &b"ok"[..])
    );
}

#[tokio::test]
async fn help_and_empty_text_show_the_usage() {
    let app = InProcess::new();
    for text in ["", "help"] {
        let answer = app.command(text).await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = answer.json();
        assert_eq!(body["response_type"], "ephemeral");
        let usage = shown(&body);
        assert!(usage.contains("Usage"), "{body}");
        for form in [
            "/throttle <api> <stage> <rate> <burst>",
            "/throttle <api> <stage> <rate> <burst> <METHOD> <path>",
            "/throttle show <api> [<stage>]",
            "/throttle reset <api> <stage> [<METHOD> <path>]",
            "/throttle extend <api> <stage>",
            "/throttle restore <api> <stage>",
            "for <duration>",
            "--now",
            "/throttle plan <plan> <rate> <burst>",
            "show plan <plan>",
            "reset plan <plan>",
            "extend plan",
            "restore plan",
            "show prod:",
            "home:plan",
        ] {
            assert!(usage.contains(form), "{form} missing from {usage}");
        }
        assert!(
            !text_of(&body).contains("<api>"),
            "angle brackets are escaped for Slack"
        );
    }
}

#[tokio::test]
async fn help_names_the_command_it_was_typed_as() {
    // A workspace may install the command under another name; the usage must say that name,
    // and go on saying each name it is asked under (it is rendered once per name).
    let app = InProcess::new();
    for command in ["/limits", "/throttle", "/limits"] {
        let body = slack_form("help", "https://hooks.slack.com/x").replace(
            "command=%2Fthrottle",
            &format!("command=%2F{}", &command[1..]),
        );
        let usage = shown(&app.post_signed(body.into_bytes()).await.json());
        assert!(usage.contains(&format!("{command} show <api>")), "{usage}");
        let other = if command == "/limits" {
            "/throttle"
        } else {
            "/limits"
        };
        assert!(!usage.contains(other), "{usage}");
    }
}

#[tokio::test]
async fn user_text_is_escaped_when_echoed() {
    let answer = InProcess::new()
        .command("a1b2c3d4e5 prod <!channel> 100")
        .await;
    let shown = text_of(&answer.json());
    assert!(shown.contains("&lt;!channel&gt;"), "{shown}");
    assert!(!shown.contains("<!channel>"), "{shown}");
}

#[tokio::test]
async fn a_signature_for_other_bytes_gets_401() {
    let app = InProcess::new();
    let body = slack_form("help", "https://hooks.slack.com/x");
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, body.as_bytes());
    let tampered = body.replace("help", "a1b2c3d4e5+prod+0+0");
    let answer = app
        .post(tampered.into_bytes(), Some(&timestamp), Some(&signature))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn a_response_url_off_slacks_hosts_is_refused() {
    let app = InProcess::new();
    for url in [
        "https://evil.example/commands/T1/1/x",
        "https://hooks.slack.com.evil.example/x",
        "http://hooks.slack.com/commands/T1/1/x",
        // Plain http to a local stand-in only with INSECURE_TEST_HOSTS.
        "http://127.0.0.1:8080/reply",
    ] {
        let answer = app.command_answering_to("a1b2c3d4e5 prod 1 1", url).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{url}");
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        assert!(
            body.contains("response_url is not Slack's"),
            "{url}: {body}"
        );
        assert!(!body.contains("evil"), "the URL is not echoed: {body}");
    }
    let gov = app
        .command_answering_to("help", "https://hooks.slack-gov.com/commands/T1/1/x")
        .await;
    assert_eq!(gov.status, StatusCode::OK);
}

#[tokio::test]
async fn two_signatures_or_two_timestamps_are_refused() {
    let app = InProcess::new();
    let body = slack_form("help", "https://hooks.slack.com/x");
    let timestamp = now().to_string();
    let good = sign(SIGNING_SECRET, &timestamp, body.as_bytes());
    for (timestamps, signatures) in [
        (vec![timestamp.as_str()], vec![good.as_str(), "v0=00"]),
        (vec![timestamp.as_str()], vec![good.as_str(), good.as_str()]),
        (
            vec![timestamp.as_str(), timestamp.as_str()],
            vec![good.as_str()],
        ),
    ] {
        let mut request = axum::http::Request::post("/slack/commands");
        for t in &timestamps {
            request = request.header("x-slack-request-timestamp", *t);
        }
        for s in &signatures {
            request = request.header("x-slack-signature", *s);
        }
        let answer = app
            .send(request.body(axum::body::Body::from(body.clone())).unwrap())
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{timestamps:?} {signatures:?}"
        );
    }
}

#[tokio::test]
async fn a_5000_digit_rate_gets_a_short_answer_slack_accepts() {
    let answer = InProcess::new()
        .command(&format!("a1b2c3d4e5 prod {} 100", "9".repeat(5000)))
        .await;
    let reply = answer.json();
    let section = reply["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        section.chars().count() <= 3000,
        "{} characters",
        section.chars().count()
    );
    assert!(
        section.contains("too large"),
        "the reason survives: {section}"
    );
    assert!(section.contains("Usage"), "{section}");
}

#[tokio::test]
async fn hidden_characters_and_backticks_in_a_command_are_refused_without_echoing_them() {
    let app = InProcess::new();
    for (text, named) in [
        ("`*APPROVED*` prod 1 1", "a backtick"),
        ("pet\u{202E}store prod 1 1", "U+202E"),
        ("pet\u{200B}store prod 1 1", "U+200B"),
        ("\u{2800} prod 1 1", "U+2800"),
    ] {
        let reply = app.command(text).await.json();
        let shown = text_of(&reply);
        assert!(shown.contains(named), "{text:?}: {shown}");
        assert!(shown.contains("Nothing was changed"), "{shown}");
        assert!(!shown.contains("APPROVED"), "{shown}");
        assert!(
            !shown.contains(['\u{202E}', '\u{200B}', '\u{2800}']),
            "{shown:?}"
        );
    }
}

/// Whatever arrives without Slack's signature over its exact bytes, nothing is started: the
/// answer is 401 (or the empty 200 of Slack's SSL probe) and no command is ever counted.
#[test]
fn no_change_is_ever_started_from_a_request_that_fails_verification() {
    use proptest::prelude::*;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(async { InProcess::new() });
    let config = ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        text in "\\PC{0,40}",
        noise in proptest::collection::vec(any::<u8>(), 0..64),
        timestamp in proptest::option::of("[0-9]{0,12}"),
        signature in proptest::option::of("(v0=)?[0-9a-f]{0,64}"),
        sign_other_bytes in any::<bool>(),
    )| {
        let mut body = slack_form(&format!("a1b2c3d4e5 prod 1 1 {text}"), "https://hooks.slack.com/x").into_bytes();
        body.extend(&noise);
        let signature = match (&timestamp, sign_other_bytes) {
            // A real signature, but for other bytes than those sent.
            (Some(t), true) => Some(sign(SIGNING_SECRET, t, b"other bytes")),
            _ => signature,
        };
        let answer = runtime.block_on(app.post(body, timestamp.as_deref(), signature.as_deref()));
        prop_assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        let metrics = runtime.block_on(app.get("/metrics"));
        let metrics = String::from_utf8_lossy(&metrics.body);
        prop_assert!(!metrics.contains("throttle_bot_commands_total{"), "{}", metrics);
    });
}

#[tokio::test]
async fn button_presses_are_verified_like_commands_and_other_payloads_ignored() {
    let app = InProcess::new();
    let post = |body: String, signed: bool| {
        let timestamp = now().to_string();
        let signature = sign(SIGNING_SECRET, &timestamp, body.as_bytes());
        let mut request = axum::http::Request::post("/slack/interactions")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp);
        if signed {
            request = request.header("x-slack-signature", signature);
        }
        request.body(axum::body::Body::from(body)).unwrap()
    };
    let modal = serde_urlencoded::to_string([(
        "payload",
        serde_json::json!({"type": "view_submission", "user": {"id": "U1"}}).to_string(),
    )])
    .unwrap();
    let unsigned = app.send(post(modal.clone(), false)).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let ignored = app.send(post(modal, true)).await;
    assert_eq!((ignored.status, ignored.body.len()), (StatusCode::OK, 0));
    let garbage = app.send(post("payload=%7Bnot".to_owned(), true)).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    let mut large = "payload=".to_owned();
    large.push_str(&"a".repeat(65 * 1024));
    assert_eq!(
        app.send(post(large, true)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}
