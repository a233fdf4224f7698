//! Slack plumbing: request signatures, the slash-command form, messages and posting them.

pub mod command;
pub mod message;
pub mod poster;
pub mod signature;
