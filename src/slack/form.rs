//! The slash command as Slack sends it: the form's fields, and who asked and where to answer.

use std::borrow::Cow;

use super::hosts::SlackHosts;
use crate::core::requester::{ChatId, ChatUser, ReplyTo};

/// The fields of Slack's slash-command form that we use; the rest are ignored. Borrowed from
/// the body where nothing in a value is encoded (ids, `help`): read on every request, so no
/// copy it does not need.
#[derive(Debug, Default)]
pub struct SlashCommandForm<'a> {
    pub ssl_check: Option<Cow<'a, str>>,
    pub team_id: Option<Cow<'a, str>>,
    pub channel_id: Option<Cow<'a, str>>,
    pub user_id: Cow<'a, str>,
    pub command: Option<Cow<'a, str>>,
    pub text: Cow<'a, str>,
    pub response_url: Cow<'a, str>,
    /// For `views.open` (the form), valid 3 s and once.
    pub trigger_id: Option<Cow<'a, str>>,
}

/// A signed form that is not a usable slash command.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("the request is not a slash-command form")]
    NotAForm,
    #[error("the slash command has no valid user_id")]
    UserId,
    #[error("the slash command's response_url is not Slack's ({0})")]
    ResponseUrl(super::hosts::HostError),
}

impl<'a> SlashCommandForm<'a> {
    /// Reads the form. Only the fields we use are decoded (Slack sends a dozen more); one of
    /// them given twice is not Slack's form; keys are compared as sent (Slack never encodes them).
    /// Every request is read so: a cost of the ack path.
    pub fn from_body(body: &'a [u8]) -> Result<Self, FormError> {
        let mut form = Self::default();
        let (mut user_id, mut text, mut response_url) = (None, None, None);
        for pair in body.split(|&b| b == b'&') {
            let key = pair.split(|&b| b == b'=').next().unwrap_or_default();
            let slot = match key {
                b"ssl_check" => &mut form.ssl_check,
                b"team_id" => &mut form.team_id,
                b"channel_id" => &mut form.channel_id,
                b"user_id" => &mut user_id,
                b"command" => &mut form.command,
                b"text" => &mut text,
                b"response_url" => &mut response_url,
                b"trigger_id" => &mut form.trigger_id,
                _ => continue,
            };
            let raw = &pair[key.len()..];
            if slot
                .replace(decoded(raw.strip_prefix(b"=").unwrap_or(raw)))
                .is_some()
            {
                return Err(FormError::NotAForm);
            }
        }
        form.user_id = user_id.unwrap_or_default();
        form.text = text.unwrap_or_default();
        form.response_url = response_url.unwrap_or_default();
        Ok(form)
    }

    /// Slack's certificate probe: answered with 200, every other field ignored (as Bolt does).
    pub fn is_ssl_check(&self) -> bool {
        self.ssl_check.as_deref() == Some("1")
    }

    /// Who asked, and where the answer goes (only ever one of Slack's hosts).
    pub fn requester(&self, hosts: &SlackHosts) -> Result<(ChatUser, ReplyTo), FormError> {
        let who = ChatUser {
            user: ChatId::parse(&self.user_id).ok_or(FormError::UserId)?,
            channel: self.channel_id.as_deref().and_then(ChatId::parse),
            team: self.team_id.as_deref().and_then(ChatId::parse),
            command: self
                .command
                .as_deref()
                .filter(|c| c.starts_with('/') && c.len() <= 32)
                .unwrap_or("/throttle")
                .to_owned(),
        };
        hosts
            .accepts_hook(&self.response_url)
            .map_err(FormError::ResponseUrl)?;
        Ok((who, ReplyTo::new(self.response_url.trim())))
    }
}

/// A form value as `application/x-www-form-urlencoded` decodes it (`+` is a space, `%XX` a
/// byte, bytes that are not UTF-8 replaced), borrowed when nothing in it is encoded.
fn decoded(raw: &[u8]) -> Cow<'_, str> {
    if raw.contains(&b'+') {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        return Cow::Owned(
            percent_encoding::percent_decode(&spaced)
                .decode_utf8_lossy()
                .into_owned(),
        );
    }
    percent_encoding::percent_decode(raw).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ssl_check_1_is_slacks_probe() {
        let probe = |body: &[u8]| SlashCommandForm::from_body(body).unwrap().is_ssl_check();
        assert!(probe(b"ssl_check=1&token=x"));
        assert!(!probe(b"ssl_check=2&token=x"));
        assert!(!probe(b"token=x&text=help"));
    }

    #[test]
    fn a_command_name_that_is_not_one_is_read_as_throttle() {
        let name = |command: &str| {
            let body = format!(
                "user_id=U1&command={}&response_url=https%3A%2F%2Fhooks.slack.com%2Fx",
                command.replace('/', "%2F")
            );
            let form = SlashCommandForm::from_body(body.as_bytes()).unwrap();
            form.requester(&SlackHosts::default()).unwrap().0.command
        };
        assert_eq!(name("/limits"), "/limits");
        assert_eq!(name("limits"), "/throttle", "a command starts with /");
        assert_eq!(
            name(&format!("/{}", "a".repeat(40))),
            "/throttle",
            "at most 32 characters"
        );
    }

    #[test]
    fn slacks_documented_form_reads_as_a_requester() {
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let form = SlashCommandForm::from_body(body).unwrap();
        let (who, reply_to) = form.requester(&SlackHosts::default()).unwrap();
        assert_eq!(who.user.as_str(), "U2CERLKJA");
        assert_eq!(who.channel.unwrap().as_str(), "G8PSS9T3V");
        assert_eq!(who.command, "/webhook-collect");
        assert!(
            reply_to
                .as_str()
                .starts_with("https://hooks.slack.com/commands/")
        );
        assert_eq!(form.text, "");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_body_is_read_or_refused_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512)) {
                if let Ok(form) = SlashCommandForm::from_body(&body) {
                    let _ = form.requester(&SlackHosts::default());
                }
            }

            #[test]
            fn it_reads_what_serde_urlencoded_reads(
                pairs in proptest::collection::vec(
                    (prop_oneof![Just("user_id".to_owned()), Just("text".to_owned()), Just("team_id".to_owned()), Just("token".to_owned()), Just("command".to_owned()), "[a-z_]{1,8}"], "\\PC{0,20}"),
                    0..8,
                ),
            ) {
                // The decoder it replaced, as the reference: same fields, same refusals.
                #[derive(serde::Deserialize)]
                struct Reference {
                    team_id: Option<String>,
                    user_id: Option<String>,
                    command: Option<String>,
                    text: Option<String>,
                }
                let body = serde_urlencoded::to_string(&pairs).unwrap();
                let ours = SlashCommandForm::from_body(body.as_bytes());
                match serde_urlencoded::from_str::<Reference>(&body) {
                    Ok(reference) => {
                        let ours = ours.unwrap();
                        prop_assert_eq!(ours.team_id.map(Cow::into_owned), reference.team_id);
                        prop_assert_eq!(ours.user_id, reference.user_id.unwrap_or_default());
                        prop_assert_eq!(ours.command.map(Cow::into_owned), reference.command);
                        prop_assert_eq!(ours.text, reference.text.unwrap_or_default());
                    }
                    Err(_) => prop_assert!(ours.is_err()),
                }
            }

            #[test]
            fn fields_round_trip_through_the_form_encoding(
                user in "[A-Z0-9]{2,12}",
                channel in "[A-Z0-9]{2,12}",
                text in "\\PC{0,80}",
            ) {
                let body = serde_urlencoded::to_string([
                    ("user_id", user.as_str()),
                    ("channel_id", channel.as_str()),
                    ("text", text.as_str()),
                    ("command", "/throttle"),
                    ("response_url", "https://hooks.slack.com/commands/T1/2/3"),
                ]).unwrap();
                let form = SlashCommandForm::from_body(body.as_bytes()).unwrap();
                prop_assert_eq!(&form.text, &text);
                let (who, _) = form.requester(&SlackHosts::default()).unwrap();
                prop_assert_eq!(who.user.as_str(), user.as_str());
                prop_assert_eq!(who.channel.as_ref().map(ChatId::as_str), Some(channel.as_str()));
            }
        }
    }
}
