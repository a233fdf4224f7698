//! Slack plumbing: request signatures, the slash-command form, rendering outcomes as messages,
//! and posting them (the core's telling port).

pub mod buttons;
pub mod form;
pub mod hosts;
pub mod interaction;
pub mod manifest;
pub mod poster;
pub mod render;
pub mod sealed;
pub mod signature;
pub mod web_api;

pub use poster::SlackPoster;
