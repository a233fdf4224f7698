//! The Home tab (issue 34): Slack's `url_verification`, `app_home_opened` published with
//! `views.publish` (the timed changes in force the viewer may see, with Extend and Restore),
//! a press there, and the same over Socket Mode.

use serde_json::{Value, json};

use crate::helpers::*;

/// The bot token the service is given: made up per run, so nothing token-shaped is committed.
static BOT_TOKEN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| unique("test-bot-token"));

/// A service whose policy reaches only the API named `name` (the tests share one moto).
async fn spawn_for(name: &str, socket: Option<&SocketStandIn>) -> TestApp {
    let policy = format!(
        "[[rule]]\nname = \"home\"\nusers = [\"*\"]\napis = [\"{name}\"]\nstages = [\"*\"]\n"
    );
    let mut extra_env = vec![
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        ("THROTTLE_POLICY", String::new()),
        ("THROTTLE_POLICY_TOML", policy),
    ];
    let mut subcommand = "serve";
    if let Some(stand_in) = socket {
        extra_env.push(("SLACK_APP_TOKEN", unique("test-app-token")));
        extra_env.push(("SLACK_API_URL", stand_in.api_url()));
        subcommand = "socket";
    }
    TestApp::spawn_with(Options {
        extra_env,
        subcommand,
        ..Options::default()
    })
    .await
}

/// What Slack posts to the Events API request URL, signed.
async fn post_event(app: &TestApp, event: &Value) -> reqwest::Response {
    let body = event.to_string();
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, body.as_bytes());
    app.http
        .post(app.url("/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn home_opened(user: &str) -> Value {
    json!({
        "token": "deprecated",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": unique("Ev0HOME"),
        "event_time": now(),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOMECHAN",
            "tab": "home",
            "event_ts": "1700000000.000300",
        },
    })
}

/// A press of `label` on the Home tab: a view's button, with no response_url.
fn home_press(view: &Value, label: &str) -> Value {
    let button = view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .find(|e| e["text"]["text"] == label)
        .unwrap_or_else(|| panic!("no {label} in {view}"));
    json!({
        "type": "block_actions",
        "user": { "id": USER, "username": "roadrunner", "team_id": TEAM },
        "team": { "id": TEAM, "domain": "testteam" },
        "api_app_id": "A0APP",
        "container": { "type": "view", "view_id": "V0TESTVIEW" },
        "trigger_id": unique("398738663017.47445629121"),
        "view": { "id": "V0TESTVIEW", "type": "home" },
        "actions": [{ "action_id": button["action_id"], "block_id": "timed-0",
                      "value": button["value"], "type": "button", "action_ts": "1700000001.1" }],
    })
}

fn text_of_view(view: &Value) -> String {
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn slacks_url_verification_is_answered_with_its_challenge() {
    let app = TestApp::spawn().await;
    let challenge = json!({ "token": "deprecated", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" });
    let answer = post_event(&app, &challenge).await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["challenge"], challenge["challenge"]);
    let unsigned = app
        .http
        .post(app.url("/slack/events"))
        .body(challenge.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401, "verified like every request");
}

#[tokio::test]
async fn the_home_tab_shows_timed_changes_in_force_and_extends_one_from_its_button() {
    let name = unique("home");
    let api = create_api(&name, "prod").await;
    let app = spawn_for(&name, None).await;
    app.command(&format!("{api} prod 8 16 for 30m")).await;
    app.slack.wait_for("/reply", 1).await;

    assert_eq!(post_event(&app, &home_opened(USER)).await.status(), 200);
    let published = app.slack.wait_for("/api/views.publish", 1).await[0].clone();
    assert_eq!(published["user_id"], USER);
    let view = &published["view"];
    assert_slack_accepts("view", view);
    let text = text_of_view(view);
    assert!(text.contains(&name) && text.contains("8 req/s"), "{text}");
    assert!(text.contains(&format!("<@{USER}>")), "who set it: {text}");
    assert!(text.contains("Last changes"), "{text}");

    let before = stage_tags(&api, "prod").await["throttle-bot:stage"].clone();
    app.press_with(interaction_form(&home_press(view, "Extend 30m")))
        .await;
    // Told where the timed change was made, and on the Home tab published again.
    let told = app.slack.wait_for("/api/chat.postMessage", 1).await[0].clone();
    assert_eq!(told["channel"], CHANNEL, "{told}");
    let again = app.slack.wait_for("/api/views.publish", 2).await[1].clone();
    assert_slack_accepts("view", &again["view"]);
    assert!(text_of_view(&again["view"]).contains("xtended"), "{again}");
    let after = stage_tags(&api, "prod").await["throttle-bot:stage"].clone();
    assert_ne!(before, after, "the record now ends later");
}

/// A process that has read nothing yet (a restart, a Lambda's cold start) finds the stages
/// holding timed changes by their marker, and a rule naming the API by name still reaches it.
#[tokio::test]
async fn a_fresh_process_shows_timed_changes_on_apis_a_rule_names() {
    let name = unique("home-fresh");
    let api = create_api(&name, "prod").await;
    let maker = spawn_for(&name, None).await;
    maker.command(&format!("{api} prod 8 16 for 30m")).await;
    maker.slack.wait_for("/reply", 1).await;

    let fresh = spawn_for(&name, None).await;
    assert_eq!(post_event(&fresh, &home_opened(USER)).await.status(), 200);
    let published = fresh.slack.wait_for("/api/views.publish", 1).await[0].clone();
    let text = text_of_view(&published["view"]);
    assert!(text.contains(&name) && text.contains("8 req/s"), "{text}");
}

#[tokio::test]
async fn someone_the_policy_does_not_let_read_sees_no_timed_change() {
    let name = unique("home-hidden");
    let api = create_api(&name, "prod").await;
    let policy = format!(
        "readers = [\"{USER}\"]\n[[rule]]\nname = \"ops only\"\nusers = [\"{USER}\"]\napis = [\"{name}\"]\nstages = [\"*\"]\n"
    );
    let app = TestApp::spawn_with(Options {
        extra_env: vec![
            ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
            ("THROTTLE_POLICY", String::new()),
            ("THROTTLE_POLICY_TOML", policy),
        ],
        ..Options::default()
    })
    .await;
    app.command(&format!("{api} prod 8 16 for 30m")).await;
    app.slack.wait_for("/reply", 1).await;

    post_event(&app, &home_opened("U0STRANGER")).await;
    let published = app.slack.wait_for("/api/views.publish", 1).await[0].clone();
    assert_eq!(published["user_id"], "U0STRANGER");
    assert_slack_accepts("view", &published["view"]);
    let text = text_of_view(&published["view"]);
    assert!(
        !text.contains(&name) && text.contains("None that you may see"),
        "{text}"
    );
}

#[tokio::test]
async fn the_home_tab_is_published_the_same_over_the_socket() {
    let stand_in = SocketStandIn::start().await;
    let name = unique("home-socket");
    let api = create_api(&name, "prod").await;
    let app = spawn_for(&name, Some(&stand_in)).await;
    let mut socket = stand_in.next_connection().await;
    socket
        .deliver(command_envelope(
            "home-1",
            &format!("{api} prod 8 16 for 30m"),
            &app.slack.url("/reply"),
        ))
        .await;
    app.slack.wait_for("/reply", 1).await;

    let ack = socket
        .deliver(json!({
            "envelope_id": "home-2",
            "type": "events_api",
            "accepts_response_payload": false,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": home_opened(USER),
        }))
        .await;
    assert_eq!(ack, json!({ "envelope_id": "home-2" }));
    let published = stand_in.wait_for_calls("/api/views.publish", 1).await[0].clone();
    assert_slack_accepts("view", &published["view"]);
    assert!(
        text_of_view(&published["view"]).contains(&name),
        "{published}"
    );
}
