//! Slack plumbing: request signatures, the slash-command form, rendering outcomes as messages,
//! and posting them (the core's telling port).

pub mod blockkit;
pub mod buttons;
pub mod files;
pub mod form;
pub mod home;
pub mod hosts;
pub mod interaction;
pub mod manifest;
pub mod modal;
pub mod outbox;
pub mod poster;
pub mod render;
pub mod sealed;
pub mod signature;
pub mod web_api;

pub use poster::SlackPoster;

/// The path Slack posts slash commands to; the manifest's command URL must end with it.
pub const COMMANDS_PATH: &str = "/slack/commands";

/// The path Slack posts button presses to (interface: others rely on it).
pub const INTERACTIONS_PATH: &str = "/slack/interactions";

/// The path Slack posts Events API requests to (the Home tab's `app_home_opened`).
pub const EVENTS_PATH: &str = "/slack/events";
