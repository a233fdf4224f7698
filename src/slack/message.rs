//! What we say in Slack: replies to the user and notices to the audit channel.
//!
//! Every piece of text that came from a user or from AWS goes through [`escape`].

use serde_json::{Value, json};

use super::command::{Invocation, TextError};
use crate::domain::{ApplyError, ThrottleChange};

/// Escapes text for Slack `mrkdwn`, so `<!channel>` in user text is shown, not sent.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

fn usage_text(command: &str) -> String {
    let command = escape(command);
    format!(
        "*Usage:* `{command} <api-id> <stage> <rate> <burst>`\n\
         Sets the stage-wide throttling of a REST API stage in API Gateway.\n\
         • `<api-id>`: the REST API id, e.g. `a1b2c3d4e5`\n\
         • `<stage>`: the stage name, e.g. `prod`\n\
         • `<rate>`: steady requests per second, a number ≥ 0 (e.g. `50` or `0.5`)\n\
         • `<burst>`: burst size in requests, a whole number ≥ 0 (e.g. `100`)\n\
         Example: `{command} a1b2c3d4e5 prod 50 100`"
    )
}

fn ephemeral(text: String) -> Value {
    json!({
        "response_type": "ephemeral",
        "text": text,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
    })
}

/// The answer to `help` or empty text.
pub fn usage(command: &str) -> Value {
    ephemeral(usage_text(command))
}

/// The answer to text that does not parse: what was wrong, then the usage.
pub fn invalid(command: &str, error: &TextError) -> Value {
    ephemeral(format!(
        ":warning: {}. Nothing was changed.\n\n{}",
        escape(&capitalise(&error.to_string())),
        usage_text(command)
    ))
}

/// The immediate acknowledgement of a valid change.
pub fn accepted(change: &ThrottleChange) -> Value {
    ephemeral(format!(
        ":hourglass_flowing_sand: Setting `{}` / `{}` to rate {} req/s, burst {}…",
        escape(change.api.as_str()),
        escape(change.stage.as_str()),
        change.limits.rate,
        change.limits.burst,
    ))
}

fn describe(change: &ThrottleChange) -> String {
    format!(
        "API `{}`, stage `{}`: rate *{} req/s*, burst *{}*",
        escape(change.api.as_str()),
        escape(change.stage.as_str()),
        change.limits.rate,
        change.limits.burst,
    )
}

fn by_whom(who: &Invocation) -> String {
    match &who.channel_id {
        Some(channel) => format!("by <@{}> in <#{}>", who.user_id.as_str(), channel.as_str()),
        None => format!("by <@{}>", who.user_id.as_str()),
    }
}

/// The final reply on `response_url` for a change that was applied: visible to the channel.
pub fn applied(change: &ThrottleChange, who: &Invocation) -> Value {
    let text = format!(
        ":white_check_mark: <@{}> set throttling on {}",
        who.user_id.as_str(),
        describe(change)
    );
    json!({
        "response_type": "in_channel",
        "replace_original": false,
        "text": text,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": ":white_check_mark: *Throttling updated*" } },
            { "type": "section", "fields": [
                { "type": "mrkdwn", "text": format!("*API*\n`{}`", escape(change.api.as_str())) },
                { "type": "mrkdwn", "text": format!("*Stage*\n`{}`", escape(change.stage.as_str())) },
                { "type": "mrkdwn", "text": format!("*Rate*\n{} req/s", change.limits.rate) },
                { "type": "mrkdwn", "text": format!("*Burst*\n{}", change.limits.burst) },
            ]},
            { "type": "context", "elements": [
                { "type": "mrkdwn", "text": format!("Changed {}", by_whom(who)) },
            ]},
        ],
    })
}

/// The final reply on `response_url` for a change that failed: only the user sees it.
pub fn failed(change: &ThrottleChange, error: &ApplyError) -> Value {
    ephemeral(format!(
        ":x: Could not change throttling on {}.\n{}.",
        describe(change),
        escape(&capitalise(&error.to_string()))
    ))
}

/// Who or what asked for a change, as the audit notice names it.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Slack(&'a Invocation),
    Schedule,
    Alarm(&'a str),
}

impl Actor<'_> {
    fn describe(self) -> String {
        match self {
            Actor::Slack(who) => format!("{}, via `{}`", by_whom(who), escape(&who.command)),
            Actor::Schedule => "scheduled job".to_owned(),
            Actor::Alarm(name) => format!("CloudWatch alarm `{}`", escape(name)),
        }
    }
}

/// The audit channel's notice of an attempted change, applied or not.
pub fn audit_notice(
    change: &ThrottleChange,
    actor: Actor<'_>,
    outcome: &Result<(), ApplyError>,
) -> Value {
    let headline = match outcome {
        Ok(()) => format!(
            ":white_check_mark: Updated throttling on {}",
            describe(change)
        ),
        Err(error) => format!(
            ":x: Failed to update throttling on {}: {}",
            describe(change),
            escape(&error.to_string())
        ),
    };
    notice(format!("{headline} ({})", actor.describe()))
}

/// The audit channel's notice of a job that failed before it had a valid change to make.
pub fn audit_failure(actor: Actor<'_>, reason: &str) -> Value {
    notice(format!(
        ":x: Throttling job failed: {} ({})",
        escape(reason),
        actor.describe()
    ))
}

fn notice(text: String) -> Value {
    json!({
        "text": text,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
    })
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LimitError;

    #[test]
    fn escaping_neutralises_mentions_and_links() {
        assert_eq!(
            escape("<!channel> & <@U1|x>"),
            "&lt;!channel&gt; &amp; &lt;@U1|x&gt;"
        );
        assert_eq!(escape("plain text"), "plain text");
    }

    #[test]
    fn an_invalid_value_is_echoed_escaped() {
        let error = TextError::Limit(LimitError::RateNotNumber("<!here>".to_owned()));
        let reply = invalid("/throttle", &error);
        let text = reply["text"].as_str().unwrap();
        assert!(text.contains("&lt;!here&gt;"), "{text}");
        assert!(!text.contains("<!here>"), "{text}");
        assert!(text.contains("Usage"), "{text}");
        assert_eq!(reply["response_type"], "ephemeral");
    }

    #[test]
    fn aws_messages_are_escaped_too() {
        let change = crate::slack::command::parse_text("a1b2c3d4e5 prod 1 2").unwrap();
        let crate::slack::command::Request::Change(change) = change else {
            unreachable!()
        };
        let reply = failed(&change, &ApplyError::Rejected("<!everyone> bad".to_owned()));
        assert!(
            reply["text"]
                .as_str()
                .unwrap()
                .contains("&lt;!everyone&gt;")
        );
    }
}
