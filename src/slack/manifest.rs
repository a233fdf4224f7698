//! The Slack app manifest, with the service's real host filled in.

use reqwest::Url;

use super::{COMMANDS_PATH, EVENTS_PATH, INTERACTIONS_PATH};

/// The manifest in `manifest/manifest.yml`, built into the binary.
pub const TEMPLATE: &str = include_str!("../../manifest/manifest.yml");

/// The request URLs in [`TEMPLATE`]; replaced by the real ones.
const PLACEHOLDER: &str = "https://throttle-bot.example.com/slack/commands";
const INTERACTIONS_PLACEHOLDER: &str = "https://throttle-bot.example.com/slack/interactions";
const EVENTS_PLACEHOLDER: &str = "https://throttle-bot.example.com/slack/events";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("`{0}` is not a URL; give the service's public base URL, e.g. https://bot.example.com")]
    NotAUrl(String),
    #[error("Slack only sends slash commands to https URLs; got `{0}`")]
    NotHttps(String),
}

/// The slash-command request URL for a service reachable at `base`.
pub fn command_url(base: &str) -> Result<Url, ManifestError> {
    route_url(base, COMMANDS_PATH)
}

/// The interactivity request URL (button presses) for a service reachable at `base`.
pub fn interactions_url(base: &str) -> Result<Url, ManifestError> {
    route_url(base, INTERACTIONS_PATH)
}

fn route_url(base: &str, route: &str) -> Result<Url, ManifestError> {
    let mut url = Url::parse(base.trim()).map_err(|_| ManifestError::NotAUrl(base.to_owned()))?;
    if url.scheme() != "https" {
        return Err(ManifestError::NotHttps(base.to_owned()));
    }
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}{route}"));
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The manifest with its request URLs pointing at the service reachable at `base`.
pub fn render(base: &str) -> Result<String, ManifestError> {
    Ok(TEMPLATE
        .replace(PLACEHOLDER, command_url(base)?.as_str())
        .replace(INTERACTIONS_PLACEHOLDER, interactions_url(base)?.as_str())
        .replace(EVENTS_PLACEHOLDER, route_url(base, EVENTS_PATH)?.as_str()))
}

/// The Socket Mode variant: `socket_mode_enabled: true` and no request URLs (Slack sends
/// everything through the socket).
pub fn socket_mode() -> String {
    let mut manifest = String::with_capacity(TEMPLATE.len());
    for line in TEMPLATE.lines() {
        let trimmed = line.trim_start();
        let url = ["url: ", "request_url: ", "message_menu_options_url: "];
        if url.iter().any(|key| trimmed.starts_with(key)) {
            continue;
        }
        if trimmed == "socket_mode_enabled: false" {
            manifest.push_str(&line.replace("false", "true"));
        } else {
            manifest.push_str(line);
        }
        manifest.push('\n');
    }
    manifest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_hint_names_every_form_of_the_command() {
        let hint = TEMPLATE
            .lines()
            .find_map(|line| line.trim().strip_prefix("usage_hint: "))
            .expect("the slash command has a usage hint");
        for form in [
            "<api> <stage> <rate> <burst>",
            "[<METHOD> <path>]",
            "for 30m",
            "--now",
            "reset <api> <stage>",
            "extend <api> <stage>",
            "restore <api> <stage>",
            "show <api> [<stage>]",
            "[<target>:]<api>",
            "show <target>:",
            "history <api> [<stage>]",
            "plan <plan> <rate> <burst>",
            "show plan <plan>",
            "reset plan <plan>",
            "extend plan <plan>",
            "restore plan <plan>",
            "help",
        ] {
            assert!(hint.contains(form), "{form} missing from {hint}");
        }
    }

    #[test]
    fn the_socket_mode_variant_has_no_request_urls_and_turns_socket_mode_on() {
        let manifest = socket_mode();
        assert!(
            !manifest.contains("throttle-bot.example.com/slack"),
            "{manifest}"
        );
        assert!(manifest.contains("socket_mode_enabled: true"));
        assert!(!manifest.contains("socket_mode_enabled: false"));
        assert!(manifest.contains("command: /throttle"));
        assert!(
            manifest.contains("is_enabled: true"),
            "interactivity stays on"
        );
    }

    #[test]
    fn the_template_uses_each_placeholder_request_url_once() {
        assert_eq!(TEMPLATE.matches(PLACEHOLDER).count(), 1);
        // Button presses, the form's submissions and the API picker's options: one route.
        assert_eq!(TEMPLATE.matches(INTERACTIONS_PLACEHOLDER).count(), 2);
        assert_eq!(TEMPLATE.matches(EVENTS_PLACEHOLDER).count(), 1);
    }

    #[test]
    fn the_command_url_is_the_commands_route_under_the_base() {
        assert_eq!(
            command_url("https://bot.example.com").unwrap().as_str(),
            "https://bot.example.com/slack/commands"
        );
        assert_eq!(
            command_url("https://example.com/throttle/")
                .unwrap()
                .as_str(),
            "https://example.com/throttle/slack/commands"
        );
    }

    #[test]
    fn plain_http_and_non_urls_are_refused() {
        assert!(matches!(
            command_url("http://bot.example.com"),
            Err(ManifestError::NotHttps(_))
        ));
        assert!(matches!(
            command_url("bot.example.com"),
            Err(ManifestError::NotAUrl(_))
        ));
    }

    #[test]
    fn rendering_replaces_the_request_url() {
        let manifest = render("https://bot.example.com").unwrap();
        assert!(manifest.contains("url: https://bot.example.com/slack/commands"));
        assert!(manifest.contains("request_url: https://bot.example.com/slack/interactions"));
        assert!(
            manifest
                .contains("message_menu_options_url: https://bot.example.com/slack/interactions")
        );
        assert!(manifest.contains("request_url: https://bot.example.com/slack/events"));
        assert!(!manifest.contains("throttle-bot.example.com"));
    }
}
