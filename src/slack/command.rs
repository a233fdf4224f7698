//! The slash command as Slack sends it, and the grammar of its `text`.

use reqwest::Url;
use serde::Deserialize;

use crate::domain::{
    Action, ApiRef, BurstLimit, HttpMethod, Level, LimitError, RateLimit, ResourcePath, StageName,
    TargetError, ThrottleChange, ThrottleLimits,
};

/// The fields of Slack's slash-command form that we use; the rest are ignored.
#[derive(Debug, Deserialize)]
pub struct SlashCommandForm {
    pub ssl_check: Option<String>,
    pub team_id: Option<String>,
    pub channel_id: Option<String>,
    #[serde(default)]
    pub user_id: String,
    pub command: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub response_url: String,
}

/// Where a command came from: who ran it, in which channel, and where to answer.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub user_id: SlackId,
    pub channel_id: Option<SlackId>,
    pub team_id: Option<SlackId>,
    pub command: String,
    pub response_url: ResponseUrl,
}

impl Invocation {
    /// Who asks, as the access policy sees it.
    pub fn subject(&self) -> crate::policy::Subject<'_> {
        crate::policy::Subject {
            user: self.user_id.as_str(),
            channel: self.channel_id.as_ref().map(SlackId::as_str),
            team: self.team_id.as_ref().map(SlackId::as_str),
        }
    }
}

/// A Slack id such as `U2CERLKJA` or `C0123ABC`: upper-case letters and digits only,
/// so it is safe to put inside `<@…>` and `<#…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackId(String);

impl SlackId {
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The URL Slack gave for answering this command: HTTPS, or HTTP on a loopback address.
#[derive(Clone)]
pub struct ResponseUrl(Url);

impl ResponseUrl {
    pub fn parse(raw: &str) -> Option<Self> {
        let url = Url::parse(raw).ok()?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        let allowed = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        allowed.then_some(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A response_url lets anyone post into the channel for 30 minutes: never print it.
        f.write_str("ResponseUrl(..)")
    }
}

/// A signed form that is not a usable slash command.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("the request is not a slash-command form")]
    NotAForm,
    #[error("the slash command has no valid user_id")]
    UserId,
    #[error("the slash command has no valid response_url")]
    ResponseUrl,
}

impl SlashCommandForm {
    pub fn from_body(body: &[u8]) -> Result<Self, FormError> {
        serde_urlencoded::from_bytes(body).map_err(|_| FormError::NotAForm)
    }

    /// Slack's certificate probe: answered with 200, every other field ignored (as Bolt does).
    pub fn is_ssl_check(&self) -> bool {
        self.ssl_check.as_deref() == Some("1")
    }

    pub fn invocation(&self) -> Result<Invocation, FormError> {
        Ok(Invocation {
            user_id: SlackId::parse(&self.user_id).ok_or(FormError::UserId)?,
            channel_id: self.channel_id.as_deref().and_then(SlackId::parse),
            team_id: self.team_id.as_deref().and_then(SlackId::parse),
            command: self
                .command
                .as_deref()
                .filter(|c| c.starts_with('/') && c.len() <= 32)
                .unwrap_or("/throttle")
                .to_owned(),
            response_url: ResponseUrl::parse(&self.response_url).ok_or(FormError::ResponseUrl)?,
        })
    }
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Help,
    Change(ThrottleChange),
    Show(ShowRequest),
}

/// `show <api> [<stage>]`: the current throttling of one stage or all.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowRequest {
    pub api: ApiRef,
    pub stage: Option<StageName>,
}

/// Why the command text could not be read. The text is shown to the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    #[error("expected `<api> <stage> <rate> <burst> [<METHOD> <path>]` but got {0} values")]
    WrongCount(usize),
    #[error("`show` takes `<api> [<stage>]`")]
    ShowUsage,
    #[error("`reset` takes `<api> <stage> [<METHOD> <path>]`")]
    ResetUsage,
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// Reads the command text. The words `help`, `show` and `reset` come first when used.
pub fn parse_text(text: &str) -> Result<Request, TextError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let keyword = words.first().map(|w| w.to_ascii_lowercase());
    match (keyword.as_deref(), words.as_slice()) {
        (None, _) => Ok(Request::Help),
        (Some("help"), [_]) => Ok(Request::Help),
        (Some("show"), [_, api]) => Ok(Request::Show(ShowRequest {
            api: ApiRef::parse(api)?,
            stage: None,
        })),
        (Some("show"), [_, api, stage]) => Ok(Request::Show(ShowRequest {
            api: ApiRef::parse(api)?,
            stage: Some(StageName::parse(stage)?),
        })),
        (Some("show"), _) => Err(TextError::ShowUsage),
        (Some("reset"), [_, api, stage, level @ ..]) if level.is_empty() || level.len() == 2 => {
            Ok(Request::Change(ThrottleChange {
                api: ApiRef::parse(api)?,
                stage: StageName::parse(stage)?,
                level: parse_level(level)?,
                action: Action::Reset,
            }))
        }
        (Some("reset"), _) => Err(TextError::ResetUsage),
        (_, [api, stage, rate, burst, level @ ..]) if level.is_empty() || level.len() == 2 => {
            Ok(Request::Change(ThrottleChange {
                api: ApiRef::parse(api)?,
                stage: StageName::parse(stage)?,
                level: parse_level(level)?,
                action: Action::Set(ThrottleLimits {
                    rate: RateLimit::parse(rate)?,
                    burst: BurstLimit::parse(burst)?,
                }),
            }))
        }
        (_, other) => Err(TextError::WrongCount(other.len())),
    }
}

fn parse_level(words: &[&str]) -> Result<Level, TargetError> {
    match words {
        [method, path] => Ok(Level::method(
            HttpMethod::parse(method)?,
            ResourcePath::parse(path)?,
        )),
        _ => Ok(Level::Stage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(text: &str) -> ThrottleChange {
        match parse_text(text) {
            Ok(Request::Change(change)) => change,
            other => panic!("{text}: expected a change, got {other:?}"),
        }
    }

    #[test]
    fn four_values_make_a_stage_wide_change() {
        let change = change("  a1b2c3d4e5   prod 0.5  100 ");
        assert_eq!(change.api.as_str(), "a1b2c3d4e5");
        assert!(matches!(change.api, ApiRef::Id(_)));
        assert_eq!(change.stage.as_str(), "prod");
        assert_eq!(change.level, Level::Stage);
        let Action::Set(limits) = change.action else {
            panic!("expected set")
        };
        assert_eq!(limits.rate.value(), 0.5);
        assert_eq!(limits.burst.value(), 100);
    }

    #[test]
    fn a_method_and_path_make_a_per_method_change() {
        let method = change("petstore prod 10 20 get /pets/{id}");
        assert!(matches!(method.api, ApiRef::Name(_)));
        assert_eq!(method.level.to_string(), "GET /pets/{id}");
        assert_eq!(change("petstore prod 10 20 * *").level, Level::Stage);
    }

    #[test]
    fn reset_takes_an_optional_method_and_path() {
        let stage = change("reset petstore prod");
        assert_eq!((stage.action, stage.level), (Action::Reset, Level::Stage));
        let method = change("reset a1b2c3d4e5 prod DELETE /pets");
        assert_eq!(method.level.to_string(), "DELETE /pets");
        assert_eq!(parse_text("reset petstore"), Err(TextError::ResetUsage));
        assert_eq!(
            parse_text("reset petstore prod GET"),
            Err(TextError::ResetUsage)
        );
    }

    #[test]
    fn show_takes_an_api_and_an_optional_stage() {
        let Ok(Request::Show(all)) = parse_text("show petstore") else {
            panic!()
        };
        assert_eq!((all.api.as_str(), all.stage), ("petstore", None));
        let Ok(Request::Show(one)) = parse_text("SHOW petstore prod") else {
            panic!()
        };
        assert_eq!(one.stage.unwrap().as_str(), "prod");
        assert_eq!(parse_text("show"), Err(TextError::ShowUsage));
    }

    #[test]
    fn empty_text_and_help_ask_for_usage() {
        for text in ["", "   ", "help", "HELP"] {
            assert_eq!(parse_text(text), Ok(Request::Help), "{text:?}");
        }
    }

    #[test]
    fn the_wrong_number_of_values_is_named() {
        assert_eq!(
            parse_text("a1b2c3d4e5 prod 50"),
            Err(TextError::WrongCount(3))
        );
        assert_eq!(
            parse_text("a1b2c3d4e5 prod 50 100 GET"),
            Err(TextError::WrongCount(5))
        );
    }

    #[test]
    fn each_bad_value_is_reported_by_what_was_wrong() {
        assert!(matches!(
            parse_text("a1b2c3d4e5 pr/od 50 100"),
            Err(TextError::Target(TargetError::Stage(_)))
        ));
        assert!(matches!(
            parse_text("a1b2c3d4e5 prod lots 100"),
            Err(TextError::Limit(LimitError::RateNotNumber(_)))
        ));
        assert!(matches!(
            parse_text("a1b2c3d4e5 prod 50 1.5"),
            Err(TextError::Limit(LimitError::BurstNotWhole(_)))
        ));
        assert!(matches!(
            parse_text("a1b2c3d4e5 prod 50 1 FETCH /pets"),
            Err(TextError::Target(TargetError::Method(_)))
        ));
        assert!(matches!(
            parse_text("a1b2c3d4e5 prod 50 1 GET pets"),
            Err(TextError::Target(TargetError::Path(_)))
        ));
    }

    #[test]
    fn slack_ids_reject_anything_that_could_break_out_of_a_mention() {
        assert!(SlackId::parse("U2CERLKJA").is_some());
        for bad in ["", "u2cerlkja", "U2>CER", "U2|x", "<!channel>"] {
            assert!(SlackId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn response_urls_must_be_https_or_local_http() {
        assert!(ResponseUrl::parse("https://hooks.slack.com/commands/T1/2/3").is_some());
        assert!(ResponseUrl::parse("http://127.0.0.1:8080/reply").is_some());
        assert!(ResponseUrl::parse("http://hooks.slack.com/commands/T1/2/3").is_none());
        assert!(ResponseUrl::parse("file:///etc/passwd").is_none());
        assert!(ResponseUrl::parse("not a url").is_none());
    }

    #[test]
    fn slacks_documented_form_reads_as_an_invocation() {
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let form = SlashCommandForm::from_body(body).unwrap();
        let invocation = form.invocation().unwrap();
        assert_eq!(invocation.user_id.as_str(), "U2CERLKJA");
        assert_eq!(invocation.channel_id.unwrap().as_str(), "G8PSS9T3V");
        assert_eq!(invocation.command, "/webhook-collect");
        assert_eq!(form.text, "");
    }
}
