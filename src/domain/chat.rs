//! Who is who in a chat: ids and the person who typed a command. Chat-agnostic: a chat
//! adapter fills these in; the policy and the core judge them.

use std::fmt;

/// A chat id such as `U2CERLKJA` (user), `C0123ABC` (channel) or `T1DC2JH3J` (workspace):
/// upper-case letters and digits only, so it is safe inside `<@…>` and `<#…>` mentions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChatId(String);

impl ChatId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person who typed a command: who, in which channel and workspace, with which command name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatUser {
    pub user: ChatId,
    pub channel: Option<ChatId>,
    pub team: Option<ChatId>,
    /// The command as the user typed it (`/throttle`), for replies that quote it.
    pub command: String,
}
