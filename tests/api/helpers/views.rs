//! Slack's views and suggestions, from Slack's side: the payloads of a form's picker and
//! submission, and every view or message we make checked as Slack would check it — against
//! Block Kit's documented limits (`throttle_bot::slack::blockkit`) and Slack's own Python
//! models (slack_sdk, installed for the tests like moto).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::{TEAM, USER, unique};

/// What Slack's models say of a payload: `view` (a modal or home view), `message` (a
/// message's blocks) or `options` (an options load URL's answer).
pub fn assert_slack_accepts(kind: &str, payload: &Value) {
    use throttle_bot::slack::blockkit;
    let found = match kind {
        "view" => blockkit::check_view(payload),
        "message" => blockkit::check_message(payload),
        "options" => blockkit::check_options(payload),
        other => panic!("no check for {other}"),
    };
    assert!(found.is_empty(), "Slack's limits: {found:?} in {payload}");
    let (python, path) = python_with_slack_sdk();
    let mut command = Command::new(python);
    if let Some(path) = path {
        command.env("PYTHONPATH", path);
    }
    let mut child = command
        .args(["-c", VALIDATE, kind])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "slack_sdk refused the {kind}: {}\n{payload}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds slack_sdk's model of the payload; `to_dict` validates every object in it.
const VALIDATE: &str = r#"
import json, sys
from slack_sdk.models.views import View
from slack_sdk.models.blocks import Block
from slack_sdk.models.blocks.basic_components import Option
doc = json.load(sys.stdin)
kind = sys.argv[1]
if kind == "view":
    View(**doc).to_dict()
elif kind == "message":
    for block in doc.get("blocks") or []:
        parsed = Block.parse(block)
        assert parsed is not None, f"unknown block {block}"
        parsed.to_dict()
elif kind == "options":
    for option in doc["options"]:
        Option(value=option["value"], text=option["text"]["text"]).to_dict()
"#;

/// A Python that can import slack_sdk: the system's, or one with it installed under
/// `target/` for the tests (once).
fn python_with_slack_sdk() -> (PathBuf, Option<PathBuf>) {
    static FOUND: OnceLock<(PathBuf, Option<PathBuf>)> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let has = |path: Option<&PathBuf>| {
                let mut check = Command::new("python3");
                if let Some(path) = path {
                    check.env("PYTHONPATH", path);
                }
                check
                    .args(["-c", "import slack_sdk.models.views"])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if has(None) {
                return ("python3".into(), None);
            }
            let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let packages = tmp.join("slack-sdk-packages");
            let lock = std::fs::File::create(tmp.join("slack-sdk-install.lock")).unwrap();
            lock.lock().expect("lock the slack_sdk install");
            if !has(Some(&packages)) {
                eprintln!("installing slack_sdk for the tests (once)…");
                let installed = Command::new("python3")
                    .args(["-m", "pip", "install", "--quiet", "--target"])
                    .arg(&packages)
                    .arg("slack_sdk>=3.20,<4")
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(installed, "could not install slack_sdk with pip");
            }
            ("python3".into(), Some(packages))
        })
        .clone()
}

/// The interaction form Slack posts for `payload`.
pub fn interaction_form(payload: &Value) -> String {
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

/// What Slack sends when someone types `typed` into the form's API picker.
pub fn suggestion_payload(typed: &str) -> Value {
    json!({
        "type": "block_suggestion",
        "user": { "id": USER, "username": "roadrunner", "team_id": TEAM },
        "team": { "id": TEAM, "domain": "testteam" },
        "api_app_id": "A0APP",
        "token": "deprecated",
        "container": { "type": "view", "view_id": "V0TESTVIEW" },
        "action_id": "throttle_form_api",
        "block_id": "api",
        "value": typed,
        "view": { "id": "V0TESTVIEW", "type": "modal", "callback_id": "throttle_form" },
    })
}

/// What Slack sends when `user` submits `view` (as `views.open` got it) with these values:
/// (block, the input's state as Slack reports it).
pub fn submission_payload(view: &Value, user: &str, values: &[(&str, Value)]) -> Value {
    let mut state = serde_json::Map::new();
    for (block, value) in values {
        let action = view["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["block_id"] == *block)
            .unwrap_or_else(|| panic!("no block {block} in {view}"))["element"]["action_id"]
            .as_str()
            .unwrap()
            .to_owned();
        state.insert((*block).to_owned(), json!({ action: value }));
    }
    json!({
        "type": "view_submission",
        "user": { "id": user, "username": "roadrunner", "team_id": TEAM },
        "team": { "id": TEAM, "domain": "testteam" },
        "api_app_id": "A0APP",
        "token": "deprecated",
        "trigger_id": unique("398738663016.47445629121"),
        "view": {
            "id": "V0TESTVIEW",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "blocks": view["blocks"],
            "state": { "values": state },
            "hash": "1700000000.abcdefgh",
        },
        "response_urls": [],
    })
}

/// An input's state as Slack reports it: typed text.
pub fn typed(kind: &str, text: &str) -> Value {
    json!({ "type": kind, "value": text })
}

/// A select's state: the option chosen.
pub fn chosen(kind: &str, value: &str) -> Value {
    json!({ "type": kind, "selected_option": {
        "text": { "type": "plain_text", "text": value }, "value": value } })
}
