//! Who asks for a change, and where the answer goes. Chat-agnostic: a chat adapter fills these in.

use std::fmt;
use std::hash::{BuildHasher, Hasher};

pub use crate::domain::{ChatId, ChatUser};

/// Who or what asks for a change. Only people are judged by the access policy: the schedule and
/// alarms are authorised by whoever wired them (IAM), as the original job was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    User(ChatUser),
    Schedule,
    Alarm(String),
    /// A timed change's deadline: its restore, run by a timer, a sweep or a one-time schedule.
    Deadline,
}

impl Requester {
    pub fn user(&self) -> Option<&ChatUser> {
        match self {
            Self::User(user) => Some(user),
            Self::Schedule | Self::Alarm(_) | Self::Deadline => None,
        }
    }

    /// Who set a timed change, as its record keeps it: a user id, `schedule` or `alarm:<name>`.
    pub fn recorded(&self) -> String {
        match self {
            Self::User(who) => who.user.to_string(),
            Self::Schedule => "schedule".to_owned(),
            Self::Alarm(name) => format!("alarm:{name}"),
            Self::Deadline => "deadline".to_owned(),
        }
    }

    /// A short label for logs and metrics.
    pub fn source(&self) -> &'static str {
        match self {
            Self::User(_) => "slack",
            Self::Schedule => "schedule",
            Self::Alarm(_) => "alarm",
            Self::Deadline => "deadline",
        }
    }
}

/// How a request arrived: typed as a command, or a button pressed on an earlier message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    #[default]
    Command,
    /// **Apply** on a preview: the author confirms a risky change.
    Apply,
    /// **Undo** on a change's message: put the values before it back.
    Undo,
    /// **Approve** on an approval request.
    Approve,
}

/// Where the final answer to a person goes (a chat's reply address). Opaque to the core: the
/// telling adapter checks and uses it. It lets anyone post in the channel, so `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyTo(String);

impl ReplyTo {
    pub fn new(address: impl Into<String>) -> Self {
        Self(address.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyTo(..)")
    }
}

/// Ties the log lines of one request together, from its acknowledgement to its last message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh random id (16 hex digits), from the standard library's per-process random keys.
    pub fn new() -> Self {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self(format!("{random:016x}"))
    }

    /// An id carried over from an earlier step (a deferred job); kept only if it looks like one.
    pub fn parse(raw: &str) -> Option<Self> {
        let valid =
            !raw.is_empty() && raw.len() <= 32 && raw.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_reject_anything_that_could_break_out_of_a_mention() {
        assert!(ChatId::parse("U2CERLKJA").is_some());
        for bad in ["", "u2cerlkja", "U2>CER", "U2|x", "<!channel>"] {
            assert!(ChatId::parse(bad).is_none(), "{bad}");
        }
        assert!(ChatId::parse(&"U".repeat(ChatId::MAX_LEN + 1)).is_none());
    }

    #[test]
    fn request_ids_differ_and_read_back() {
        let (a, b) = (RequestId::new(), RequestId::new());
        assert_ne!(a, b);
        assert_eq!(RequestId::parse(a.as_str()), Some(a));
        assert_eq!(RequestId::parse("x y"), None);
    }

    #[test]
    fn reply_addresses_never_print() {
        let to = ReplyTo::new("https://hooks.slack.com/commands/T1/2/secret");
        assert_eq!(format!("{to:?}"), "ReplyTo(..)");
    }
}
