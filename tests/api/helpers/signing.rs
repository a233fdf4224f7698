//! Signing requests the way Slack does, and the forms Slack sends.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNING_SECRET: &str = "test-signing-secret-8f742231b10e";
pub const USER: &str = "U2CERLKJA";
pub const CHANNEL: &str = "C0123ABC";
pub const TEAM: &str = "T1DC2JH3J";

/// Who sends a command.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    pub user: &'a str,
    pub channel: &'a str,
    pub team: &'a str,
}

/// The default sender of [`TestApp::command`].
pub const ME: Sender<'static> = Sender {
    user: USER,
    channel: CHANNEL,
    team: TEAM,
};

/// The form Slack sends for `/throttle <text>`.
pub fn slack_form(text: &str, response_url: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "deprecated"),
        ("team_id", TEAM),
        ("team_domain", "testteam"),
        ("channel_id", CHANNEL),
        ("channel_name", "ops"),
        ("user_id", USER),
        ("user_name", "roadrunner"),
        ("command", "/throttle"),
        ("text", text),
        ("response_url", response_url),
        // Slack gives every invocation its own trigger_id, so no two forms are alike.
        ("trigger_id", &unique("398738663015.47445629121")),
    ])
    .unwrap()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Unique names so tests can share one moto server.
pub fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// The button labelled `label` in a message Slack would show (its actions blocks).
pub fn button(message: &serde_json::Value, label: &str) -> Option<serde_json::Value> {
    message["blocks"]
        .as_array()?
        .iter()
        .filter(|block| block["type"] == "actions")
        .flat_map(|block| block["elements"].as_array().cloned().unwrap_or_default())
        .find(|element| element["text"]["text"] == label)
}

/// The form Slack sends when `user` presses `label` in `message` (shape from Slack's
/// interactivity docs: `payload=<block_actions JSON>`).
pub fn press_form(
    message: &serde_json::Value,
    label: &str,
    user: &str,
    response_url: &str,
) -> String {
    let payload = press_payload(message, label, user, response_url);
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

/// The `block_actions` payload of that press (as Socket Mode delivers it, unwrapped).
pub fn press_payload(
    message: &serde_json::Value,
    label: &str,
    user: &str,
    response_url: &str,
) -> serde_json::Value {
    let button = button(message, label).unwrap_or_else(|| panic!("no {label} button in {message}"));
    serde_json::json!({
        "type": "block_actions",
        "user": { "id": user, "username": "someone", "team_id": TEAM },
        "api_app_id": "A0APP",
        "token": "deprecated",
        "team": { "id": TEAM, "domain": "testteam" },
        "channel": { "id": CHANNEL, "name": "ops" },
        // A message posted in the channel has a timestamp to thread under; an ephemeral one not.
        "container": { "type": "message", "message_ts": "1700000000.000100",
                       "is_ephemeral": message["response_type"] != "in_channel" },
        "trigger_id": unique("398738663015.47445629121"),
        "response_url": response_url,
        "actions": [{
            "action_id": button["action_id"],
            "block_id": "actions",
            "text": button["text"],
            "value": button["value"],
            "type": "button",
            "action_ts": "1700000001.000200"
        }]
    })
}
