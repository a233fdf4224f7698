//! Where we may send things: Slack's own hosts over https, and nothing else. Local stand-ins
//! for tests are reached over plain http only when `INSECURE_TEST_HOSTS` names them.

use reqwest::Url;

/// Slack's hosts for `response_url`s and incoming webhooks (GovSlack has its own).
pub const HOOK_HOSTS: [&str; 2] = ["hooks.slack.com", "hooks.slack-gov.com"];

/// The domains whose hosts serve Socket Mode's WebSockets.
const SOCKET_DOMAINS: [&str; 2] = ["slack.com", "slack-gov.com"];

/// The interface's setting name: hosts allowed over plain http, for tests only.
pub const INSECURE_TEST_HOSTS: &str = "INSECURE_TEST_HOSTS";

/// The hosts a URL from Slack (or for Slack) may point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlackHosts {
    /// `host` or `host:port` entries allowed over plain http.
    insecure: Vec<String>,
}

/// Why a URL was refused. Never contains the URL (it may be a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("not a URL")]
    NotAUrl,
    #[error("not https")]
    NotHttps,
    #[error("not one of Slack's hosts")]
    NotSlack,
    #[error("carries a user name or password")]
    Credentials,
}

impl SlackHosts {
    /// From the comma-separated `INSECURE_TEST_HOSTS` setting; unset or empty allows none.
    pub fn from_setting(raw: Option<&str>) -> Self {
        let insecure = raw
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        Self { insecure }
    }

    /// Checks the setting before start-up: only loopback hosts (`127.0.0.0/8`, `::1`,
    /// `localhost`, each with an optional port) may be reached over plain http, so a
    /// mistaken setting can never send a reply or a token in clear text across a network.
    pub fn validate_setting(raw: &str) -> Result<String, String> {
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if !is_loopback(entry) {
                return Err(format!(
                    "`{entry}` is not a loopback host: INSECURE_TEST_HOSTS accepts only 127.0.0.0/8, ::1 and localhost (with an optional port), for tests"
                ));
            }
        }
        Ok(raw.to_owned())
    }

    /// The hosts allowed over plain http, for the start-up warning.
    pub fn insecure(&self) -> &[String] {
        &self.insecure
    }

    /// The URL, if it is https to one of `hosts`, or http to a host the setting allows.
    pub fn check(&self, raw: &str, hosts: &[&str]) -> Result<Url, HostError> {
        let url = Url::parse(raw.trim()).map_err(|_| HostError::NotAUrl)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HostError::Credentials);
        }
        let host = url
            .host_str()
            .ok_or(HostError::NotAUrl)?
            .to_ascii_lowercase();
        match url.scheme() {
            "https" if hosts.contains(&host.as_str()) => Ok(url),
            "https" | "http" if self.allows_insecure(&url, &host) => Ok(url),
            "https" => Err(HostError::NotSlack),
            _ => Err(HostError::NotHttps),
        }
    }

    /// A `response_url` or webhook: https to Slack's hooks hosts.
    pub fn check_hook(&self, raw: &str) -> Result<Url, HostError> {
        self.check(raw, &HOOK_HOSTS)
    }

    /// The same verdict as [`Self::check_hook`] without building a `Url` when `raw` is what Slack
    /// sends, `https://` and one of Slack's hooks hosts then `/`: nothing after that slash can
    /// change the host. Anything else gets the full check. For the acknowledgement path, which
    /// reads one `response_url` per command; whatever posts there checks it fully again.
    pub fn accepts_hook(&self, raw: &str) -> Result<(), HostError> {
        let plain = raw.trim().strip_prefix("https://").is_some_and(|rest| {
            HOOK_HOSTS.iter().any(|host| {
                rest.strip_prefix(host)
                    .is_some_and(|path| path.starts_with('/'))
            })
        });
        if plain {
            Ok(())
        } else {
            self.check_hook(raw).map(|_| ())
        }
    }

    /// Socket Mode's WebSocket URL from `apps.connections.open`: `wss` to Slack's domains
    /// (`wss-primary.slack.com`, …), or plain `ws` to a host the setting allows.
    pub fn check_socket(&self, raw: &str) -> Result<Url, HostError> {
        let url = Url::parse(raw.trim()).map_err(|_| HostError::NotAUrl)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HostError::Credentials);
        }
        let host = url
            .host_str()
            .ok_or(HostError::NotAUrl)?
            .to_ascii_lowercase();
        let slack = SOCKET_DOMAINS.iter().any(|domain| {
            host.strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.'))
        });
        match url.scheme() {
            "wss" if slack => Ok(url),
            "wss" | "ws" if self.allows_insecure(&url, &host) => Ok(url),
            "wss" => Err(HostError::NotSlack),
            _ => Err(HostError::NotHttps),
        }
    }

    fn allows_insecure(&self, url: &Url, host: &str) -> bool {
        let with_port = url.port().map(|port| format!("{host}:{port}"));
        self.insecure
            .iter()
            .any(|allowed| allowed == host || Some(allowed) == with_port.as_ref())
    }
}

/// `host` or `host:port` (`[::1]:port` for IPv6) naming this machine only.
fn is_loopback(entry: &str) -> bool {
    let host = match entry.rsplit_once(':') {
        _ if entry == "::1" => entry,
        Some((host, port)) if !port.is_empty() && port.parse::<u16>().is_ok() => host,
        _ => entry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_quick_hook_check_agrees_with_the_full_one() {
        let hosts = SlackHosts::from_setting(Some("127.0.0.1:9"));
        for raw in [
            "https://hooks.slack.com/commands/T1/2/x",
            " https://hooks.slack-gov.com/commands/T1/2/x ",
            "https://hooks.slack.com/x?y#z",
            "https://hooks.slack.com/\\@evil.example/",
            "https://hooks.slack.com.evil.example/x",
            "https://hooks.slack.com@evil.example/x",
            "https://user@hooks.slack.com/x",
            "https://HOOKS.SLACK.COM/x",
            "http://hooks.slack.com/x",
            "https://hooks.slack.com",
            "https://evil.example/https://hooks.slack.com/",
            "http://127.0.0.1:9/reply",
            "not a url",
        ] {
            assert_eq!(
                hosts.accepts_hook(raw),
                hosts.check_hook(raw).map(|_| ()),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_hook_with_a_user_name_or_password_is_refused() {
        let hosts = SlackHosts::default();
        for raw in [
            "https://user@hooks.slack.com/x",
            "https://user:secret@hooks.slack.com/x",
            "https://:secret@hooks.slack.com/x",
        ] {
            assert_eq!(
                hosts.check_hook(raw).unwrap_err(),
                HostError::Credentials,
                "{raw}"
            );
            assert_eq!(
                hosts.accepts_hook(raw),
                Err(HostError::Credentials),
                "{raw}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn a_hook_accepted_quickly_is_on_slacks_hooks_host(
            host in proptest::sample::select(vec!["hooks.slack.com", "hooks.slack-gov.com"]),
            rest in "\\PC{0,40}",
        ) {
            let raw = format!("https://{host}/{rest}");
            let hosts = SlackHosts::default();
            proptest::prop_assert!(hosts.accepts_hook(&raw).is_ok());
            let url = hosts.check_hook(&raw).unwrap();
            proptest::prop_assert_eq!(url.host_str(), Some(host));
        }
    }

    #[test]
    fn insecure_test_hosts_must_be_loopback() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.8.9.10",
            "localhost",
            "LOCALHOST:9000",
            "::1",
            "[::1]:8080",
            "127.0.0.1, localhost:1",
            "",
        ] {
            assert!(SlackHosts::validate_setting(ok).is_ok(), "{ok}");
        }
        for bad in [
            "10.0.0.1",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "0.0.0.0",
            "127.0.0.1, 192.168.1.1:80",
            "[::2]:80",
        ] {
            let refused = SlackHosts::validate_setting(bad).unwrap_err();
            assert!(refused.contains("not a loopback host"), "{bad}: {refused}");
        }
    }

    use super::*;

    #[test]
    fn only_slacks_hosts_over_https_by_default() {
        let hosts = SlackHosts::default();
        // (url, accepted, or why not)
        for (raw, expected) in [
            ("https://hooks.slack.com/commands/T1/2/3", Ok(())),
            ("https://hooks.slack-gov.com/commands/T1/2/3", Ok(())),
            ("https://HOOKS.SLACK.COM/services/T/B/x", Ok(())),
            (
                "http://hooks.slack.com/commands/T1/2/3",
                Err(HostError::NotHttps),
            ),
            (
                "https://hooks.slack.com.evil.example/x",
                Err(HostError::NotSlack),
            ),
            (
                "https://evil.example/hooks.slack.com",
                Err(HostError::NotSlack),
            ),
            (
                "https://slack.com/api/chat.postMessage",
                Err(HostError::NotSlack),
            ),
            (
                "https://user:pw@hooks.slack.com/x",
                Err(HostError::Credentials),
            ),
            ("http://127.0.0.1:8080/reply", Err(HostError::NotHttps)),
            ("file:///etc/passwd", Err(HostError::NotAUrl)),
            ("not a url", Err(HostError::NotAUrl)),
        ] {
            assert_eq!(hosts.check_hook(raw).map(|_| ()), expected, "{raw}");
        }
    }

    #[test]
    fn insecure_test_hosts_allow_exactly_those_hosts_over_http() {
        let hosts = SlackHosts::from_setting(Some(" 127.0.0.1 , localhost:9000,"));
        assert_eq!(hosts.insecure(), ["127.0.0.1", "localhost:9000"]);
        for (raw, ok) in [
            ("http://127.0.0.1:8080/reply", true),
            ("http://127.0.0.1/reply", true),
            ("http://localhost:9000/hook", true),
            ("http://localhost:9001/hook", false),
            ("http://localhost/hook", false),
            ("http://10.0.0.1/hook", false),
            ("https://hooks.slack.com/x", true),
        ] {
            assert_eq!(hosts.check_hook(raw).is_ok(), ok, "{raw}");
        }
    }

    #[test]
    fn socket_urls_are_wss_to_slack_or_ws_to_an_allowed_test_host() {
        let strict = SlackHosts::default();
        let ok = "wss://wss-primary.slack.com/link/?ticket=t&app_id=A1";
        assert!(strict.check_socket(ok).is_ok());
        assert!(
            strict
                .check_socket("wss://wss-backup.slack-gov.com/link/")
                .is_ok()
        );
        for (bad, why) in [
            ("wss://slack.com.evil.example/link/", HostError::NotSlack),
            ("wss://evilslack.com/link/", HostError::NotSlack),
            ("ws://wss-primary.slack.com/link/", HostError::NotHttps),
            ("https://wss-primary.slack.com/link/", HostError::NotHttps),
            (
                "wss://u:p@wss-primary.slack.com/link/",
                HostError::Credentials,
            ),
            ("ws://127.0.0.1:9/link", HostError::NotHttps),
        ] {
            assert_eq!(strict.check_socket(bad).err(), Some(why), "{bad}");
        }
        let tests = SlackHosts::from_setting(Some("127.0.0.1:9"));
        assert!(tests.check_socket("ws://127.0.0.1:9/link").is_ok());
        assert!(tests.check_socket("ws://127.0.0.1:10/link").is_err());
    }
}
