//! Socket Mode's frames, as Slack's "Using Socket Mode" documents them: `hello`, `disconnect`,
//! and envelopes carrying the same payloads the HTTP endpoints receive. Pure: no I/O.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::core::recent::Recent;

/// One frame from Slack.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The connection is open; `connections`: how many this app holds now, this one
    /// included (Slack's own example greets a first connection with `"num_connections": 1`).
    Hello {
        connections: Option<u64>,
    },
    Disconnect(Reason),
    Envelope(Envelope),
    /// Anything else (a frame type this service does not use): ignored.
    Other,
}

/// Why Slack asks the app to reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The link closes in about 10 s; Slack's clients reconnect at once.
    Warning,
    /// Reconnect now.
    RefreshRequested,
    /// Socket Mode was turned off for the app: do not reconnect.
    LinkDisabled,
    Other(String),
}

/// What an envelope carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    SlashCommands,
    Interactive,
    Other(String),
}

/// A payload Slack wants acknowledged by its `envelope_id` within 3 s.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub id: String,
    pub kind: Kind,
    pub payload: Value,
    /// Whether the acknowledgement may carry the immediate reply.
    pub accepts_response_payload: bool,
}

/// Reads one text frame; `None` when it is not JSON or an envelope lacks its id.
pub fn parse(text: &str) -> Option<Frame> {
    let value: Value = serde_json::from_str(text).ok()?;
    let frame = match value["type"].as_str()? {
        "hello" => Frame::Hello {
            connections: value["num_connections"].as_u64(),
        },
        "disconnect" => Frame::Disconnect(match value["reason"].as_str().unwrap_or_default() {
            "warning" => Reason::Warning,
            "refresh_requested" => Reason::RefreshRequested,
            "link_disabled" => Reason::LinkDisabled,
            other => Reason::Other(other.chars().take(64).collect()),
        }),
        kind => match value["envelope_id"].as_str() {
            Some(id) if !id.is_empty() => Frame::Envelope(Envelope {
                id: id.to_owned(),
                kind: match kind {
                    "slash_commands" => Kind::SlashCommands,
                    "interactive" => Kind::Interactive,
                    other => Kind::Other(other.chars().take(64).collect()),
                },
                payload: value["payload"].clone(),
                accepts_response_payload: value["accepts_response_payload"] == json!(true),
            }),
            _ => Frame::Other,
        },
    };
    Some(frame)
}

impl Envelope {
    /// The body the HTTP endpoint would have received for this payload, so that it goes down
    /// exactly the same path: a slash command's fields as a form, an interaction as the form's
    /// one `payload` field. `None` for anything else.
    pub fn form_body(&self) -> Option<Vec<u8>> {
        match self.kind {
            Kind::SlashCommands => {
                let fields = self.payload.as_object()?;
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (key, value) in fields {
                    if let Some(text) = value.as_str() {
                        form.append_pair(key, text);
                    }
                }
                Some(form.finish().into_bytes())
            }
            Kind::Interactive => {
                let payload = serde_json::to_string(self.payload.as_object()?).ok()?;
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("payload", &payload);
                Some(form.finish().into_bytes())
            }
            Kind::Other(_) => None,
        }
    }
}

/// The acknowledgement of envelope `id`, with the immediate reply when there is one.
pub fn ack(id: &str, reply: Option<Value>) -> String {
    match reply {
        Some(payload) => json!({ "envelope_id": id, "payload": payload }).to_string(),
        None => json!({ "envelope_id": id }).to_string(),
    }
}

/// Envelope ids already handed over: Slack redelivers what it did not see acknowledged (on this
/// connection or another), and each is handled once. Each id is remembered for `keep` (longer
/// than Slack goes on redelivering); at most `max` ids, the oldest forgotten first.
#[derive(Debug)]
pub struct Delivered {
    seen: Recent<String, Instant>,
    keep: Duration,
}

impl Delivered {
    pub fn new(keep: Duration, max: usize) -> Self {
        Self {
            seen: Recent::new(max),
            keep,
        }
    }

    /// True the first time `id` is offered within `keep`; false for a redelivery. Ids are
    /// UUIDs, compared in lower case: one id spelled two ways is one envelope.
    pub fn first(&mut self, id: &str, now: Instant) -> bool {
        self.seen
            .first(id.to_ascii_lowercase(), now + self.keep, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_as_slack_documents_them() {
        assert_eq!(
            parse(r#"{"type":"hello","num_connections":1,"connection_info":{"app_id":"A1"}}"#),
            Some(Frame::Hello {
                connections: Some(1)
            })
        );
        assert_eq!(
            parse(r#"{"type":"hello","num_connections":3}"#),
            Some(Frame::Hello {
                connections: Some(3)
            })
        );
        assert_eq!(
            parse(r#"{"type":"hello"}"#),
            Some(Frame::Hello { connections: None })
        );
        for (reason, expected) in [
            ("warning", Reason::Warning),
            ("refresh_requested", Reason::RefreshRequested),
            ("link_disabled", Reason::LinkDisabled),
            ("new", Reason::Other("new".to_owned())),
        ] {
            let text = format!(r#"{{"type":"disconnect","reason":"{reason}"}}"#);
            assert_eq!(parse(&text), Some(Frame::Disconnect(expected)));
        }
        let envelope = parse(
            r#"{"envelope_id":"e1","type":"slash_commands","accepts_response_payload":true,
                "payload":{"command":"/throttle","text":"help"}}"#,
        );
        let Some(Frame::Envelope(envelope)) = envelope else {
            panic!("{envelope:?}");
        };
        assert_eq!(envelope.id, "e1");
        assert_eq!(envelope.kind, Kind::SlashCommands);
        assert!(envelope.accepts_response_payload);
        assert_eq!(
            parse(r#"{"type":"events_api","envelope_id":"e2","payload":{}}"#).map(|f| matches!(
                f,
                Frame::Envelope(Envelope {
                    kind: Kind::Other(_),
                    ..
                })
            )),
            Some(true)
        );
        assert_eq!(
            parse(r#"{"type":"slash_commands","payload":{}}"#),
            Some(Frame::Other)
        );
        assert_eq!(
            parse(r#"{"type":"slash_commands","envelope_id":"","payload":{}}"#),
            Some(Frame::Other),
            "an envelope without an id cannot be acknowledged"
        );
        assert_eq!(parse("not json"), None);
        assert_eq!(parse(r#"{"no":"type"}"#), None);
    }

    #[test]
    fn payloads_become_the_bodies_the_http_endpoints_read() {
        let command = Envelope {
            id: "e1".to_owned(),
            kind: Kind::SlashCommands,
            payload: json!({"command": "/throttle", "text": "petstore prod 5 10 GET /pets/{id}",
                            "team_id": "T1", "is_enterprise_install": "false", "n": 1}),
            accepts_response_payload: true,
        };
        let body = String::from_utf8(command.form_body().unwrap()).unwrap();
        let fields: std::collections::HashMap<String, String> =
            form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(fields["text"], "petstore prod 5 10 GET /pets/{id}");
        assert_eq!(fields["command"], "/throttle");
        assert!(!fields.contains_key("n"), "only the form's text fields");
        let press = Envelope {
            kind: Kind::Interactive,
            payload: json!({"type": "block_actions", "actions": [{"value": "v&x=1"}]}),
            ..command.clone()
        };
        let body = press.form_body().unwrap();
        let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].0, "payload");
        let payload: Value = serde_json::from_str(&fields[0].1).unwrap();
        assert_eq!(payload["actions"][0]["value"], "v&x=1");
        let other = Envelope {
            kind: Kind::Other("events_api".to_owned()),
            ..command
        };
        assert_eq!(other.form_body(), None);
    }

    #[test]
    fn acks_name_the_envelope_and_carry_the_reply_when_given() {
        let plain: Value = serde_json::from_str(&ack("e1", None)).unwrap();
        assert_eq!(plain, json!({"envelope_id": "e1"}));
        let with: Value = serde_json::from_str(&ack("e2", Some(json!({"text": "hi"})))).unwrap();
        assert_eq!(
            with,
            json!({"envelope_id": "e2", "payload": {"text": "hi"}})
        );
    }

    #[test]
    fn a_redelivered_envelope_is_handled_once_and_ids_are_forgotten_in_time() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut delivered = Delivered::new(Duration::from_secs(60), 2);
        assert!(delivered.first("a", at(0)));
        assert!(!delivered.first("a", at(59)));
        assert!(
            delivered.first("a", at(60)),
            "forgotten after exactly `keep`"
        );
        assert!(delivered.first("b", at(90)));
        // Full at 120: "a" (from 60, as old as `keep`) makes room; "b" (30 s old) stays.
        assert!(delivered.first("c", at(120)));
        assert!(!delivered.first("b", at(121)));
        assert!(!delivered.first("c", at(121)));
    }

    #[test]
    fn an_envelope_id_in_other_letter_case_is_the_same_envelope() {
        let now = Instant::now();
        let mut delivered = Delivered::new(Duration::from_secs(60), 10);
        assert!(delivered.first("dbdd0ef3-1543-4f94-bfb4-133d0e6c1545", now));
        assert!(!delivered.first("DBDD0EF3-1543-4f94-bfb4-133d0e6c1545", now));
        assert!(!delivered.first("DBDD0EF3-1543-4F94-BFB4-133D0E6C1545", now));
    }

    #[test]
    fn a_flood_that_fills_the_memory_forgets_the_oldest_and_never_stops_remembering() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut delivered = Delivered::new(Duration::from_secs(60), 2);
        for (id, secs) in [("a", 0), ("b", 1), ("c", 2)] {
            assert!(delivered.first(id, at(secs)));
        }
        // Full of fresh ids: the newest are remembered, the oldest made room.
        assert!(!delivered.first("c", at(3)));
        assert!(!delivered.first("b", at(3)));
        assert!(delivered.first("a", at(4)));
        assert!(delivered.seen.len() <= 2);
    }
}
