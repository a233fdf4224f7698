//! Our buttons: Apply, Cancel, Undo, Approve, Reject. Each carries all the state it needs in
//! its `value`, sealed with a key derived from the signing secret and given an expiry, so no
//! database is needed and any replica (or a Lambda) can act on a press.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::sealed::{SealError, SealKey, Sealed};
use super::signature::SigningSecret;

/// How long each kind of button works: a preview 5 minutes, an approval request 30 (Slack's
/// `response_url` lifetime), an Undo a day.
pub const PREVIEW_TTL_SECS: i64 = 5 * 60;
pub const APPROVAL_TTL_SECS: i64 = 30 * 60;
pub const UNDO_TTL_SECS: i64 = 24 * 60 * 60;

/// Which button was pressed. Interface: the labels are `Apply`, `Cancel`, `Undo`, `Approve`,
/// `Reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Press {
    Apply,
    Cancel,
    Undo,
    Approve,
    Reject,
    /// A timed change's on the Home tab: its button's text is the `extend` or `restore`
    /// command, run as the presser typing it.
    Extend,
    Restore,
}

impl Press {
    pub fn label(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Cancel => "Cancel",
            Self::Undo => "Undo",
            Self::Approve => "Approve",
            Self::Reject => "Reject",
            Self::Extend => "Extend 30m",
            Self::Restore => "Restore now",
        }
    }

    /// The button's `action_id`, as Slack sends it back.
    pub fn action_id(self) -> &'static str {
        match self {
            Self::Apply => "throttle_apply",
            Self::Cancel => "throttle_cancel",
            Self::Undo => "throttle_undo",
            Self::Approve => "throttle_approve",
            Self::Reject => "throttle_reject",
            Self::Extend => "throttle_extend",
            Self::Restore => "throttle_restore",
        }
    }

    fn style(self) -> Option<&'static str> {
        match self {
            Self::Apply | Self::Approve => Some("primary"),
            Self::Reject => Some("danger"),
            Self::Cancel | Self::Undo | Self::Extend | Self::Restore => None,
        }
    }
}

/// What a button knows: the change (as the command that makes it, its API pinned by id), who
/// asked and where, the values its message showed, and who may approve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButtonValue {
    pub press: Press,
    pub text: String,
    pub author: String,
    pub channel: Option<String>,
    pub team: Option<String>,
    /// The (rate, burst) the message showed at the change's level.
    pub expect: Option<(Option<f64>, Option<i32>)>,
    #[serde(default)]
    pub approvers: Vec<String>,
    /// The author asked to skip approval (`--now`) and a rule lets them: a preview's Apply
    /// keeps that, so confirming a blocking change does not turn it into a request.
    #[serde(default)]
    pub break_glass: bool,
}

/// Makes and opens our buttons.
#[derive(Debug, Clone)]
pub struct Buttons {
    key: SealKey,
}

impl Buttons {
    pub fn new(secret: &SigningSecret) -> Self {
        Self {
            key: SealKey::derive(secret, "button"),
        }
    }

    /// A Block Kit button whose value is `value`, sealed until `expires_at` (Unix seconds).
    pub fn button(&self, value: ButtonValue, expires_at: i64) -> Value {
        let press = value.press;
        let sealed = serde_json::to_string(&self.key.seal(value, expires_at))
            .expect("a button value serialises");
        let mut button = json!({
            "type": "button",
            "text": { "type": "plain_text", "text": press.label() },
            "action_id": press.action_id(),
            "value": sealed,
        });
        if let Some(style) = press.style() {
            button["style"] = json!(style);
        }
        button
    }

    /// The value of a pressed button, if we made it and it has not expired.
    pub fn open(&self, raw: &str, now: i64) -> Result<ButtonValue, SealError> {
        let sealed: Sealed<ButtonValue> =
            serde_json::from_str(raw).map_err(|_| SealError::Forged)?;
        self.key.open(sealed, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(press: Press) -> ButtonValue {
        ButtonValue {
            press,
            text: "a1b2c3d4e5 prod 0 10".to_owned(),
            author: "U1".to_owned(),
            channel: Some("C1".to_owned()),
            team: None,
            expect: Some((Some(100.0), None)),
            approvers: vec!["U2".to_owned()],
            break_glass: false,
        }
    }

    #[test]
    fn a_button_carries_its_value_sealed_within_slacks_limit() {
        let buttons = Buttons::new(&SigningSecret::new("s").unwrap());
        let button = buttons.button(value(Press::Apply), 1000);
        assert_eq!(button["text"]["text"], "Apply");
        assert_eq!(button["style"], "primary");
        let raw = button["value"].as_str().unwrap();
        assert!(raw.len() <= 2000, "{} characters", raw.len());
        assert_eq!(buttons.open(raw, 999), Ok(value(Press::Apply)));
        assert_eq!(buttons.open(raw, 1001), Err(SealError::Expired));
        let other = Buttons::new(&SigningSecret::new("t").unwrap());
        assert_eq!(other.open(raw, 999), Err(SealError::Forged));
        assert_eq!(buttons.open("not json", 0), Err(SealError::Forged));
    }

    #[test]
    fn a_tampered_value_is_refused() {
        let buttons = Buttons::new(&SigningSecret::new("s").unwrap());
        let button = buttons.button(value(Press::Undo), 1000);
        let raw = button["value"]
            .as_str()
            .unwrap()
            .replace("prod 0 10", "prod 9 10");
        assert_eq!(buttons.open(&raw, 0), Err(SealError::Forged));
    }
}
