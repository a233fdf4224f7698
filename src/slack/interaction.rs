//! A button press as Slack sends it: a signed form with one field, `payload`, holding JSON.

use serde::Deserialize;

/// The fields of a `block_actions` payload that we use; the rest are ignored.
#[derive(Debug, Deserialize)]
pub struct ActionPayload {
    #[serde(rename = "type")]
    pub kind: String,
    pub user: Option<Id>,
    pub team: Option<Id>,
    pub channel: Option<Id>,
    pub response_url: Option<String>,
    pub container: Option<Container>,
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// Where the pressed button is: the message's timestamp, and whether only one person sees it.
#[derive(Debug, Deserialize)]
pub struct Container {
    pub message_ts: Option<String>,
    #[serde(default)]
    pub is_ephemeral: bool,
}

impl ActionPayload {
    /// The timestamp of the channel message holding the button; `None` for an ephemeral one
    /// (it cannot be threaded under).
    pub fn message_ts(&self) -> Option<&str> {
        let container = self.container.as_ref()?;
        let ts = container.message_ts.as_deref()?;
        let looks_like_ts = !ts.is_empty() && ts.chars().all(|c| c.is_ascii_digit() || c == '.');
        (!container.is_ephemeral && looks_like_ts).then_some(ts)
    }

    /// The timestamp of the message holding the button, ephemeral or not: which preview or
    /// request this is, when the same command was typed twice.
    pub fn message_ts_any(&self) -> Option<&str> {
        self.container.as_ref()?.message_ts.as_deref()
    }
}

#[derive(Debug, Deserialize)]
pub struct Id {
    pub id: String,
    /// For a user: their own workspace (in a Slack Connect channel, not the channel's host).
    pub team_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Action {
    pub action_id: String,
    pub value: Option<String>,
}

#[derive(Deserialize)]
struct Form {
    payload: String,
}

/// Why a signed interaction request was not usable.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the request is not an interaction form with a payload")]
    NotAForm,
    #[error("the interaction payload is not JSON of the expected shape")]
    NotJson,
}

impl ActionPayload {
    pub fn from_body(body: &[u8]) -> Result<Self, PayloadError> {
        let form: Form = serde_urlencoded::from_bytes(body).map_err(|_| PayloadError::NotAForm)?;
        serde_json::from_str(&form.payload).map_err(|_| PayloadError::NotJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slacks_block_actions_shape_reads() {
        let payload = serde_json::json!({
            "type": "block_actions",
            "user": { "id": "U1", "username": "ann", "team_id": "T1" },
            "team": { "id": "T1", "domain": "acme" },
            "channel": { "id": "C1", "name": "ops" },
            "container": { "type": "message", "message_ts": "1.2", "is_ephemeral": true },
            "response_url": "https://hooks.slack.com/actions/T1/2/3",
            "trigger_id": "1.2.3",
            "actions": [{ "action_id": "throttle_apply", "block_id": "b", "value": "v",
                          "type": "button", "action_ts": "1.3" }]
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let read = ActionPayload::from_body(body.as_bytes()).unwrap();
        assert_eq!(read.kind, "block_actions");
        assert_eq!(read.user.as_ref().unwrap().id, "U1");
        assert_eq!(read.actions[0].action_id, "throttle_apply");
        assert_eq!(read.actions[0].value.as_deref(), Some("v"));
        assert_eq!(
            read.message_ts(),
            None,
            "an ephemeral message has no thread"
        );
        assert!(ActionPayload::from_body(b"text=hi").is_err());
        assert!(ActionPayload::from_body(b"payload=nope").is_err());
    }
}
