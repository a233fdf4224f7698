//! What we say in Slack: replies to the user and notices to the audit channel.
//!
//! Every piece of text that came from a user or from AWS goes through [`escape`].

use serde_json::{Value, json};

use super::command::{Invocation, ShowRequest, TextError};
use crate::domain::{Action, ApiView, Applied, ApplyError, Configured, Level, ThrottleChange};

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

/// Inline code: escaped, with backticks that would end it removed.
fn code(text: &str) -> String {
    format!("`{}`", escape(&text.replace('`', "'")))
}

fn usage_text(command: &str) -> String {
    let c = command;
    escape(&format!(
        "*Usage:*\n\
         • `{c} <api> <stage> <rate> <burst>`: set a stage's throttling\n\
         • `{c} <api> <stage> <rate> <burst> <METHOD> <path>`: set one method's throttling\n\
         • `{c} show <api> [<stage>]`: show the current throttling\n\
         • `{c} reset <api> <stage> [<METHOD> <path>]`: remove an override so the stage \
         follows the account's limits (or the method the stage's)\n\
         • `{c} help`: this message\n\
         `<api>` is a REST API id (`a1b2c3d4e5`) or name (`petstore`); `<rate>` is requests per \
         second, a number ≥ 0 (`50`, `0.5`); `<burst>` a whole number ≥ 0; `<METHOD>` like `GET` \
         or `*`; `<path>` like `/pets/{{id}}` or `*`.\n\
         *Examples:*\n\
         `{c} petstore prod 50 100`\n\
         `{c} petstore prod 10 20 GET /pets/{{id}}`\n\
         `{c} show petstore`\n\
         `{c} reset petstore prod GET /pets/{{id}}`"
    ))
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

fn target(change: &ThrottleChange) -> String {
    let level = match &change.level {
        Level::Stage => "stage-wide".to_owned(),
        level => code(&level.to_string()),
    };
    format!(
        "{} / {} ({level})",
        code(change.api.as_str()),
        code(change.stage.as_str())
    )
}

/// The immediate acknowledgement of a valid change.
pub fn accepted(change: &ThrottleChange) -> Value {
    ephemeral(format!(
        ":hourglass_flowing_sand: {}…",
        capitalise(&describe_request(change))
    ))
}

/// The immediate acknowledgement of `show`.
pub fn looking_up(request: &ShowRequest) -> Value {
    ephemeral(format!(
        ":mag: Looking up the throttling of {}…",
        code(request.api.as_str())
    ))
}

fn api_label(applied_api: &crate::domain::ResolvedApi) -> String {
    match &applied_api.name {
        Some(name) => format!("{} ({})", code(name), code(applied_api.id.as_str())),
        None => code(applied_api.id.as_str()),
    }
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "not set".to_owned(), |r| format!("{r} req/s"))
}

fn burst(value: Option<i32>) -> String {
    value.map_or_else(|| "not set".to_owned(), |b| b.to_string())
}

fn limits(c: &Configured) -> String {
    if c.is_set() {
        format!("{}, burst {}", rate(c.rate), burst(c.burst))
    } else {
        "not set".to_owned()
    }
}

/// Rate and burst as `before → after`; a cleared level says what it now inherits.
fn transitions(change: &ThrottleChange, applied: &Applied) -> (String, String) {
    let source = match change.level {
        Level::Stage => "the account",
        Level::Method { .. } => "the stage",
    };
    let step = |before: String, after: String, inherited: Option<String>| match inherited {
        _ if after != "not set" => format!("{before} → {after}"),
        Some(value) => format!("{before} → not set (inherits {value} from {source})"),
        None => format!("{before} → not set (inherits from {source})"),
    };
    let inherited = applied.inherited;
    (
        step(
            rate(applied.before.rate),
            rate(applied.after.rate),
            inherited.map(|c| rate(c.rate)),
        ),
        step(
            burst(applied.before.burst),
            burst(applied.after.burst),
            inherited.map(|c| burst(c.burst)),
        ),
    )
}

fn by_whom(who: &Invocation) -> String {
    match &who.channel_id {
        Some(channel) => format!("by <@{}> in <#{}>", who.user_id.as_str(), channel.as_str()),
        None => format!("by <@{}>", who.user_id.as_str()),
    }
}

fn level_label(level: &Level) -> String {
    match level {
        Level::Stage => "stage-wide".to_owned(),
        level => format!("method {}", code(&level.to_string())),
    }
}

/// The final reply on `response_url` for a change that succeeded. A change that altered the
/// stage is shown to the channel; one that found nothing to do only to the user.
pub fn applied(change: &ThrottleChange, applied: &Applied, who: &Invocation) -> Value {
    let api = api_label(&applied.api);
    let stage = code(change.stage.as_str());
    if !applied.changed {
        return ephemeral(format!(
            ":information_source: Nothing to change: {api} / {stage} ({}) already has rate {}, burst {}. No call to UpdateStage was made.",
            level_label(&change.level),
            rate(applied.after.rate),
            burst(applied.after.burst),
        ));
    }
    let verb = match change.action {
        Action::Set(_) => "changed",
        Action::Reset => "reset",
    };
    let (rate_line, burst_line) = transitions(change, applied);
    let text = format!(
        ":white_check_mark: <@{}> {verb} throttling on {api} / {stage} ({}): rate {rate_line}; burst {burst_line}",
        who.user_id.as_str(),
        level_label(&change.level),
    );
    json!({
        "response_type": "in_channel",
        "replace_original": false,
        "text": text,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": format!(":white_check_mark: *Throttling {verb}*") } },
            { "type": "section", "fields": [
                { "type": "mrkdwn", "text": format!("*API*\n{api}") },
                { "type": "mrkdwn", "text": format!("*Stage*\n{stage}") },
                { "type": "mrkdwn", "text": format!("*Level*\n{}", capitalise(&level_label(&change.level))) },
                { "type": "mrkdwn", "text": format!("*Rate*\n{rate_line}") },
                { "type": "mrkdwn", "text": format!("*Burst*\n{burst_line}") },
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
        ":x: Could not change the throttling of {}. Nothing was changed.\n{}.",
        target(change),
        escape(&capitalise(&error.to_string()))
    ))
}

/// The reply to a change the access policy refused: only the user sees it.
pub fn denied(change: &ThrottleChange, reason: &str) -> Value {
    ephemeral(format!(
        ":no_entry: Not allowed: {}. Nothing was changed.\n{}.",
        describe_request(change),
        escape(&capitalise(reason))
    ))
}

/// The reply to a command from a workspace the policy does not accept.
pub fn foreign_workspace(reason: &str) -> Value {
    ephemeral(format!(":no_entry: {}.", escape(&capitalise(reason))))
}

/// The audit channel's notice of a command from a workspace the policy does not accept.
pub fn audit_foreign(who: &Invocation, text: &str, reason: &str) -> Value {
    let team = who.team_id.as_ref().map_or("unknown", |t| t.as_str());
    notice(format!(
        ":no_entry: Denied: {} from workspace {team} ({}): {}",
        code(&format!("{} {text}", who.command)),
        Actor::Slack(who).describe(),
        escape(reason)
    ))
}

/// The audit channel's notice of a refused attempt: who, where, what and why.
pub fn audit_denied(change: &ThrottleChange, who: &Invocation, reason: &str) -> Value {
    notice(format!(
        ":no_entry: Denied: {} ({}): {}",
        describe_request(change),
        Actor::Slack(who).describe(),
        escape(reason)
    ))
}

fn describe_request(change: &ThrottleChange) -> String {
    match change.action {
        Action::Set(limits) => format!(
            "setting {} to rate {} req/s, burst {}",
            target(change),
            limits.rate,
            limits.burst
        ),
        Action::Reset => format!("resetting {}", target(change)),
    }
}

/// The final reply of a command that shutdown cut short.
pub fn interrupted(command: &str, text: &str) -> Value {
    ephemeral(format!(
        ":warning: throttle-bot was restarting and could not finish {} in time. The change may or may not have been applied: check with `{} show`, and run it again if needed.",
        code(&format!("{command} {text}")),
        escape(command)
    ))
}

/// The audit channel's notice of a command that shutdown cut short.
pub fn audit_interrupted(command: &str, text: &str, who: &Invocation) -> Value {
    notice(format!(
        ":warning: Interrupted by shutdown, outcome unknown: {} ({})",
        code(&format!("{command} {text}")),
        Actor::Slack(who).describe()
    ))
}

/// The answer to `show`: one section per stage, methods listed under it.
pub fn view(view: &ApiView) -> Value {
    let api = api_label(&view.api);
    let account = match &view.account {
        Some(a) => format!(
            "Account limit in this region: {} req/s, burst {}",
            a.rate, a.burst
        ),
        None => "Account limit: could not be read (GetAccount)".to_owned(),
    };
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": "API Gateway throttling" } }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("*API* {api}") } }),
        json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": account }] }),
    ];
    let mut text = format!("Throttling of {api}. {account}.");
    if view.stages.is_empty() {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": "This API has no stages." } }));
        text.push_str(" No stages.");
    }
    // Slack allows 50 blocks; keep room for the header and a note.
    const MAX_STAGES: usize = 40;
    for stage in view.stages.iter().take(MAX_STAGES) {
        let stage_wide = if stage.stage_wide.is_set() {
            limits(&stage.stage_wide)
        } else {
            "not set (account limit applies)".to_owned()
        };
        let mut lines = format!("*Stage {}*\n• Stage-wide: {stage_wide}", code(&stage.stage));
        for (level, configured) in &stage.methods {
            let value = if configured.is_set() {
                limits(configured)
            } else {
                "not set (stage-wide applies)".to_owned()
            };
            lines.push_str(&format!("\n• {}: {value}", code(&level.to_string())));
        }
        text.push_str(&format!(" Stage {}: {stage_wide}.", stage.stage));
        blocks.push(json!({ "type": "divider" }));
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(&lines, 3000) } }));
    }
    if view.stages.len() > MAX_STAGES {
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn",
            "text": format!("…and {} more stages; name one to see it.", view.stages.len() - MAX_STAGES) }] }));
    }
    json!({ "response_type": "ephemeral", "text": text, "blocks": blocks })
}

/// The answer to `show` when it failed.
pub fn view_failed(request: &ShowRequest, error: &ApplyError) -> Value {
    ephemeral(format!(
        ":x: Could not read the throttling of {}.\n{}.",
        code(request.api.as_str()),
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
            Actor::Slack(who) => format!("{}, via {}", by_whom(who), code(&who.command)),
            Actor::Schedule => "scheduled job".to_owned(),
            Actor::Alarm(name) => format!("CloudWatch alarm {}", code(name)),
        }
    }
}

/// The audit channel's notice of an attempted change: applied, found unnecessary, or failed.
pub fn audit_notice(
    change: &ThrottleChange,
    actor: Actor<'_>,
    outcome: &Result<Applied, ApplyError>,
) -> Value {
    let headline = match outcome {
        Ok(applied) if applied.changed => {
            let (rate_line, burst_line) = transitions(change, applied);
            format!(
                ":white_check_mark: Updated throttling on {} / {} ({}): rate {rate_line}; burst {burst_line}",
                api_label(&applied.api),
                code(change.stage.as_str()),
                level_label(&change.level),
            )
        }
        Ok(applied) => format!(
            ":information_source: No change needed on {} / {} ({}): already rate {}, burst {}",
            api_label(&applied.api),
            code(change.stage.as_str()),
            level_label(&change.level),
            rate(applied.after.rate),
            burst(applied.after.burst),
        ),
        Err(error) => format!(
            ":x: Failed to change throttling on {}: {}",
            target(change),
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
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": truncate(&text, 3000) } }],
    })
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max_chars - 1).collect();
        cut.push('…');
        cut
    }
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
    use crate::slack::command::{Request, parse_text};

    fn change(text: &str) -> ThrottleChange {
        let Ok(Request::Change(change)) = parse_text(text) else {
            unreachable!()
        };
        change
    }

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
        let reply = failed(
            &change("a1b2c3d4e5 prod 1 2"),
            &ApplyError::Rejected("<!everyone> bad".to_owned()),
        );
        assert!(
            reply["text"]
                .as_str()
                .unwrap()
                .contains("&lt;!everyone&gt;")
        );
    }

    #[test]
    fn api_names_from_users_are_escaped() {
        let reply = accepted(&change("<!here> prod 1 2"));
        let text = reply["text"].as_str().unwrap();
        assert!(
            text.contains("&lt;!here&gt;") && !text.contains("<!here>"),
            "{text}"
        );
    }
}
