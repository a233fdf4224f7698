//! The slash command as Slack sends it: the form's fields, and who asked and where to answer.

use serde::Deserialize;

use super::hosts::SlackHosts;
use crate::core::requester::{ChatId, ChatUser, ReplyTo};

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

impl SlashCommandForm {
    pub fn from_body(body: &[u8]) -> Result<Self, FormError> {
        serde_urlencoded::from_bytes(body).map_err(|_| FormError::NotAForm)
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
        let reply_to = hosts
            .check_hook(&self.response_url)
            .map_err(FormError::ResponseUrl)?;
        Ok((who, ReplyTo::new(reply_to.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
