//! The form (issue 34): `/throttle` alone opens a modal through `views.open`; its API picker
//! is answered from the listings; a submission is the command it stands for, with mistakes
//! shown on their fields. Over HTTP and over Socket Mode, against the Slack stand-ins.

use serde_json::{Value, json};

use crate::helpers::*;

/// The bot token the service is given: made up per run, so nothing token-shaped is committed.
static BOT_TOKEN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| unique("test-bot-token"));

fn with_bot_token() -> Options {
    Options {
        extra_env: vec![("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned())],
        ..Options::default()
    }
}

/// The values of a form filled in for a change of `api`'s `prod` to `rate`/`burst`.
fn filled(api: &str, rate: &str, burst: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("api", chosen("external_select", api)),
        ("stage", typed("plain_text_input", "prod")),
        ("rate", typed("number_input", rate)),
        ("burst", typed("number_input", burst)),
    ]
}

async fn body_of(answer: reqwest::Response) -> Value {
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap();
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

#[tokio::test]
async fn a_person_makes_a_change_from_the_form_with_mistakes_shown_on_their_fields() {
    let app = TestApp::spawn_with(with_bot_token()).await;
    let name = unique("form");
    let api = create_api(&name, "prod").await;

    // The acknowledgement is empty: Slack shows nothing, and the form opens instead.
    let ack = app.command("").await;
    assert_eq!(body_of(ack).await, Value::Null);
    let opened = app.slack.wait_for("/api/views.open", 1).await[0].clone();
    assert_eq!(
        app.slack.authorizations("/api/views.open")[0].as_deref(),
        Some(format!("Bearer {}", *BOT_TOKEN).as_str())
    );
    assert!(
        opened["trigger_id"]
            .as_str()
            .unwrap()
            .starts_with("398738663015")
    );
    let view = &opened["view"];
    assert_slack_accepts("view", view);

    // The API picker finds the API by part of its name, valued by its id.
    let answer = app
        .press_with(interaction_form(&suggestion_payload(&name[..8])))
        .await;
    let options = body_of(answer).await;
    assert_slack_accepts("options", &options);
    assert!(
        options["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["value"] == api.as_str()
                && o["text"]["text"].as_str().unwrap().contains(&name)),
        "{options}"
    );

    // Mistakes stay in the form, each on its field; nothing is changed.
    let mut wrong = filled(&api, "-1", "1.5");
    wrong[1] = ("stage", typed("plain_text_input", "pro d"));
    wrong.push(("level", typed("plain_text_input", "GET")));
    let answer = app
        .press_with(interaction_form(&submission_payload(view, USER, &wrong)))
        .await;
    let errors = body_of(answer).await;
    assert_eq!(errors["response_action"], "errors");
    let fields: Vec<&String> = errors["errors"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["burst", "level", "rate", "stage"], "{errors}");
    assert_eq!(stage_limits(&api, "prod").await, None);

    // Filled in right, the form closes and the change is made as if typed.
    let answer = app
        .press_with(interaction_form(&submission_payload(
            view,
            USER,
            &filled(&api, "150", "300"),
        )))
        .await;
    assert_eq!(body_of(answer).await, Value::Null, "an empty 200 closes it");
    let done = app.slack.wait_for("/reply", 1).await[0].clone();
    assert_eq!(stage_limits(&api, "prod").await, Some((150.0, 300)));
    assert!(shown(&done).contains("150 req/s"), "{done}");
    assert_slack_accepts("message", &done);
}

#[tokio::test]
async fn a_risky_change_from_the_form_is_previewed_like_a_typed_one() {
    let app = TestApp::spawn_with(with_bot_token()).await;
    let api = create_api(&unique("form-risk"), "prod").await;
    app.command("new").await;
    let view = app.slack.wait_for("/api/views.open", 1).await[0]["view"].clone();

    let blocking = filled(&api, "0", "0");
    app.press_with(interaction_form(&submission_payload(
        &view, USER, &blocking,
    )))
    .await;

    // Blocking every request is previewed first, with Apply, as `/throttle … 0 0` is.
    let preview = app.slack.wait_for("/reply", 1).await[0].clone();
    assert!(button(&preview, "Apply").is_some(), "{preview}");
    assert_eq!(stage_limits(&api, "prod").await, None);
    app.press(&preview, "Apply", USER).await;
    app.slack.wait_for("/actions", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((0.0, 0)));
}

#[tokio::test]
async fn a_form_submitted_by_someone_else_or_forged_changes_nothing() {
    let app = TestApp::spawn_with(with_bot_token()).await;
    let api = create_api(&unique("form-forged"), "prod").await;
    app.command("").await;
    let view = app.slack.wait_for("/api/views.open", 1).await[0]["view"].clone();

    let other = submission_payload(&view, "U0SOMEONE", &filled(&api, "5", "10"));
    assert_eq!(app.press_with(interaction_form(&other)).await.status(), 400);

    let mut forged = view.clone();
    let metadata = forged["private_metadata"].as_str().unwrap().to_owned();
    forged["private_metadata"] = json!(metadata.replace(CHANNEL, "C0ELSEWHERE"));
    let answer = app
        .press_with(interaction_form(&submission_payload(
            &forged,
            USER,
            &filled(&api, "5", "10"),
        )))
        .await;
    let errors = body_of(answer).await;
    assert!(
        errors["errors"]["api"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{errors}"
    );
    assert_eq!(stage_limits(&api, "prod").await, None);
}

#[tokio::test]
async fn without_a_bot_token_throttle_alone_shows_the_usage_as_before() {
    let app = TestApp::spawn().await;
    let answer = body_of(app.command("").await).await;
    assert!(shown(&answer).contains("Usage"), "{answer}");
    app.wait_for_log("shows the usage instead of opening the form", 1)
        .await;
    assert!(app.slack.posts_to("/api/views.open").is_empty());
}

#[tokio::test]
async fn the_form_works_the_same_over_the_socket() {
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
    let name = unique("form-socket");
    let api = create_api(&name, "prod").await;

    let ack = socket
        .deliver(command_envelope("form-1", "", &app.slack.url("/reply")))
        .await;
    assert_eq!(ack, json!({ "envelope_id": "form-1" }), "nothing to show");
    let view = stand_in.wait_for_calls("/api/views.open", 1).await[0]["view"].clone();
    assert_slack_accepts("view", &view);

    // Suggestions and field errors come back in the acknowledgement's payload.
    let mut suggest = press_envelope("form-2", suggestion_payload(&name));
    suggest["accepts_response_payload"] = json!(true);
    let ack = socket.deliver(suggest).await;
    assert_eq!(ack["payload"]["options"][0]["value"], api.as_str(), "{ack}");

    let mut wrong = press_envelope(
        "form-3",
        submission_payload(&view, USER, &filled(&api, "x", "10")),
    );
    wrong["accepts_response_payload"] = json!(true);
    let ack = socket.deliver(wrong).await;
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(ack["payload"]["errors"]["rate"].is_string(), "{ack}");

    let mut right = press_envelope(
        "form-4",
        submission_payload(&view, USER, &filled(&api, "150", "300")),
    );
    right["accepts_response_payload"] = json!(true);
    let ack = socket.deliver(right).await;
    assert_eq!(ack, json!({ "envelope_id": "form-4" }), "the form closes");
    app.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((150.0, 300)));
}
