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
        // The same rule as a timestamp read back from a record or a schedule.
        (!container.is_ephemeral && crate::domain::is_message_ts(ts)).then_some(ts)
    }

    /// The presser's own workspace (Slack Connect: not the channel's host), as it is sent.
    pub fn presser_team(&self) -> Option<&str> {
        self.user
            .as_ref()
            .and_then(|u| u.team_id.as_deref())
            .or(self.team.as_ref().map(|t| t.id.as_str()))
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
        // A channel message's timestamp, checked as one read back from storage is.
        let in_channel = |ts: &str| {
            let mut payload = payload.clone();
            payload["container"] = serde_json::json!({ "message_ts": ts, "is_ephemeral": false });
            let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
            let read = ActionPayload::from_body(body.as_bytes()).unwrap();
            read.message_ts().map(str::to_owned)
        };
        assert_eq!(
            in_channel("1700000000.000100").as_deref(),
            Some("1700000000.000100")
        );
        for odd in ["", "...", "1700000000", "1.2.3", "1700000000.0001000000"] {
            assert_eq!(in_channel(odd), None, "{odd:?}");
        }
        assert!(ActionPayload::from_body(b"text=hi").is_err());
        assert!(ActionPayload::from_body(b"payload=nope").is_err());
    }
}
