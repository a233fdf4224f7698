//! What we say in Slack: replies to the user and notices to the audit channel, rendered from
//! the core's typed outcomes.
//!
//! Every piece of text that came from a user or from AWS goes through [`escape`].

use serde_json::{Value, json};

use super::buttons::{
    APPROVAL_TTL_SECS, ButtonValue, Buttons, PREVIEW_TTL_SECS, Press, UNDO_TTL_SECS,
};
use crate::core::clock::unix_now;
use crate::core::grammar::{ListRequest, ShowRequest, TextError, command_text};
use crate::core::outcome::{Failure, News, Outcome, PlanFailure};
use crate::core::plan::Risk;
use crate::core::ports::GatewayError;
use crate::core::requester::{ChatId, ChatUser, Requester, Via};
use crate::domain::text::is_hidden;
use crate::domain::{
    Action, ApiRef, ApiView, Applied, Approval, Configured, Level, ManagedBy, TargetAlias,
    TargetApis, ThrottleChange,
};
use crate::policy::{Denial, place};

mod change;
mod history;
mod impact;
pub mod plans;
mod requests;
mod show;
pub mod timed;

use change::{applied, audit_notice, failed, transitions};
pub use impact::{impact, impact_unread};
use requests::{approval_request, moved, preview};
use show::{target_apis, target_failed, view, view_failed};

/// How a reply reaches the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A new message.
    New,
    /// In place of the message whose button was pressed.
    ReplaceOriginal,
    /// A new message, then the one whose button was pressed is removed (a preview, once applied).
    NewThenDeleteOriginal,
}

/// Where a reply goes, given how the request came and how it ended.
pub fn delivery(news: &News<'_>) -> Delivery {
    let done = matches!(
        news.outcome,
        Outcome::Change { result: Ok(_), .. } | Outcome::PlanChanged { result: Ok(_), .. }
    );
    match (news.via, done, news.outcome) {
        (Via::Command, _, _) => Delivery::New,
        (Via::Apply, true, _) => Delivery::NewThenDeleteOriginal,
        (Via::Apply, false, _) => Delivery::ReplaceOriginal,
        (Via::Undo, true, _) => Delivery::ReplaceOriginal,
        (Via::Undo, false, _) => Delivery::New,
        // Someone who may not approve is told privately; the request stays for the approvers.
        (
            Via::Approve,
            _,
            Outcome::Refused {
                denial: Denial::NotAnApprover { .. },
                ..
            }
            | Outcome::PlanChanged {
                result: Err(PlanFailure::Denied(Denial::NotAnApprover { .. })),
                ..
            },
        ) => Delivery::New,
        (Via::Approve, _, _) => Delivery::ReplaceOriginal,
    }
}

/// The final reply to the person who asked, if the outcome has one. With `buttons`, messages
/// carry theirs (Apply and Cancel on a preview, Approve and Reject on a request, Undo on a change).
pub fn reply(news: &News<'_>, buttons: Option<&Buttons>) -> Option<Value> {
    let who = news.requester.user();
    Some(match news.outcome {
        Outcome::Change {
            change,
            result: Ok(done),
        } => applied(change, done, who, news.via, buttons),
        Outcome::NeedsConfirmation {
            change,
            planned,
            risk,
        } => preview(change, planned, *risk, who?, buttons),
        Outcome::AwaitingApproval {
            change,
            planned,
            approvers,
            ..
        } => approval_request(change, planned, approvers, who?, buttons),
        Outcome::Moved {
            change,
            api,
            expected,
            found,
        } => moved(change, api, expected, found, news.via),
        Outcome::Change {
            change,
            result: Err(error),
        } => failed(change, error),
        Outcome::Refused {
            change: Some(change),
            denial,
            ..
        } => denied(change, denial),
        Outcome::Refused {
            change: None,
            denial,
            ..
        } => foreign_workspace(denial),
        Outcome::Show {
            result: Ok(view), ..
        } => self::view(view),
        Outcome::Show {
            request,
            result: Err(error),
        } => view_failed(request, error),
        Outcome::Listed {
            request,
            result: Ok(listed),
        } => target_apis(request, listed),
        Outcome::History {
            result: Ok(found), ..
        } => history::shown(found),
        Outcome::History {
            request,
            result: Err(error),
        } => history::failed(request, error),
        Outcome::PlanShown {
            result: Ok(plan), ..
        } => plans::shown(plan),
        Outcome::PlanShown {
            plan,
            result: Err(error),
        } => plans::show_failed(plan, error),
        Outcome::PlanChanged { change, result } => {
            plans::reply(change, result, who, news.via, buttons)
        }
        Outcome::PlanGated {
            change,
            planned,
            approvers,
        } => plans::gated(change, planned, approvers, who?, buttons),
        Outcome::Listed {
            request,
            result: Err(error),
        } => target_failed(request, error),
        Outcome::Interrupted { text } => interrupted(&who?.command, text),
        Outcome::Invalid { .. } | Outcome::Untrusted { .. } | Outcome::UntrustedPlan { .. } => {
            return None;
        }
        Outcome::Timed {
            request,
            api,
            result,
            ..
        } => timed::reply(request, api.as_ref(), result, news.requester),
        Outcome::PlanTimed {
            request,
            plan,
            result,
            ..
        } => plans::timed_reply(request, plan.as_ref(), result, news.requester),
    })
}

/// The audit channel's notice of an outcome, if it gets one.
pub fn notice(news: &News<'_>) -> Option<Value> {
    let actor = news.requester;
    Some(match news.outcome {
        Outcome::Change { change, result } => audit_notice(change, actor, result),
        Outcome::Refused {
            change: Some(change),
            denial,
            ..
        } => audit_denied(change, actor, denial),
        Outcome::Refused {
            change: None,
            denial,
            text,
        } => audit_foreign(actor, text, denial),
        Outcome::Interrupted { text } => audit_interrupted(actor, text),
        Outcome::Invalid { reason } => audit_failure(actor, reason),
        Outcome::AwaitingApproval {
            change,
            planned,
            approvers,
            rule,
        } => notice_of(format!(
            ":raised_hand: Approval requested: {} by {} → {} ({}); rule \"{}\", approvers {}",
            target_of(change, &planned.api),
            limits(&planned.before),
            limits(&planned.after),
            describe(actor),
            escape(rule),
            mentions(approvers)
        )),
        Outcome::Moved {
            change,
            api,
            expected,
            found,
        } => notice_of(format!(
            ":warning: Not applied, the stage changed since it was shown: {} expected {}, found {} ({})",
            target_of(change, api),
            limits(expected),
            limits(found),
            describe(actor)
        )),
        Outcome::Timed {
            request,
            api,
            result,
            ..
        } => return timed::notice(request, api.as_ref(), result, actor),
        Outcome::PlanTimed {
            request,
            plan,
            result,
            ..
        } => return plans::timed_notice(request, plan.as_ref(), result, actor),
        Outcome::Untrusted { api, stage, found } => timed::untrusted(
            &format!("{} / {}", code(&api.to_string()), code(stage)),
            found,
        ),
        Outcome::UntrustedPlan { plan, found } => {
            timed::untrusted(&format!("usage plan {}", code(plan)), found)
        }
        Outcome::PlanChanged { change, result } => plans::notice(change, actor, result),
        Outcome::PlanGated {
            change,
            planned,
            approvers,
        } => plans::gated_notice(change, planned, approvers, actor),
        Outcome::Show { .. }
        | Outcome::History { .. }
        | Outcome::Listed { .. }
        | Outcome::PlanShown { .. }
        | Outcome::NeedsConfirmation { .. } => {
            return None;
        }
    })
}

fn mentions(users: &[ChatId]) -> String {
    let names: Vec<String> = users.iter().map(|u| format!("<@{}>", u.as_str())).collect();
    names.join(", ")
}

fn target_of(change: &ThrottleChange, api: &crate::domain::ResolvedApi) -> String {
    format!(
        "{} / {} ({})",
        api_label(api),
        code(change.stage.as_str()),
        level_label(&change.level)
    )
}

/// In plain words, what the values mean for callers.
fn plain_words(after: &Configured) -> String {
    match (after.rate, after.burst) {
        (Some(0.0), _) => "every request will get 429 Too Many Requests".to_owned(),
        (_, Some(0)) => {
            "every request will get 429 Too Many Requests (a burst of 0 lets none through)"
                .to_owned()
        }
        (Some(rate), Some(burst)) => format!(
            "requests above {rate} per second (after a burst of {burst}) will get 429 Too Many Requests"
        ),
        _ => "the level will follow the limits above it".to_owned(),
    }
}

/// A private note to whoever pressed a button that did nothing.
pub fn press_refused(reason: &str) -> Value {
    let mut message = ephemeral(format!(":no_entry: {}.", capitalise(reason)));
    message["replace_original"] = json!(false);
    message
}

/// The message whose buttons were pressed, replaced by how it ended (buttons gone).
pub fn closed(text: &str, in_channel: bool) -> Value {
    let mut message = ephemeral(text.to_owned());
    message["replace_original"] = json!(true);
    if in_channel {
        message["response_type"] = json!("in_channel");
    }
    message
}

/// A command's text as inline code, escaped.
pub fn quoted(text: &str) -> String {
    code(&format!("/throttle {text}"))
}

/// An audit notice with this (already escaped) text.
pub fn notice_text(text: &str) -> Value {
    notice_of(text.to_owned())
}

/// Says that the tool deploying the stage may put its own values back.
fn iac_warning(managed_by: &Option<ManagedBy>) -> Option<String> {
    let by = match managed_by.as_ref()? {
        ManagedBy::CloudFormation { stack } => format!(
            "CloudFormation stack {} (CloudFormation, CDK or SAM)",
            code(stack)
        ),
        ManagedBy::Tagged { tool } => format!("{} (its `ManagedBy` tag)", code(tool)),
    };
    Some(format!(
        ":warning: This stage is deployed by {by}: the next deployment may overwrite this change. Make it in the stack's code too if it must last."
    ))
}

fn with_iac_warning(text: String, managed_by: &Option<ManagedBy>) -> String {
    match iac_warning(managed_by) {
        Some(warning) => format!("{text}\n{warning}"),
        None => text,
    }
}

fn push_actions(message: &mut Value, elements: Vec<Value>) {
    if let Some(blocks) = message["blocks"].as_array_mut() {
        blocks.push(json!({ "type": "actions", "elements": elements }));
    }
}

/// Slack's date token: each reader sees their own time zone.
fn date(ts: i64) -> String {
    format!("<!date^{ts}^{{date_short_pretty}} at {{time}}|{ts} (Unix time)>")
}

/// A denial in words, with names as inline code (already escaped).
fn reason(denial: &Denial) -> String {
    match denial {
        Denial::NoRuleForStage {
            user,
            channel,
            stage,
        } => format!(
            "no rule lets {} change stage {}",
            place(user, channel.as_ref()),
            code(stage.as_str())
        ),
        Denial::NoRuleForApi {
            user,
            channel,
            api,
            stage,
        } => format!(
            "no rule lets {} change API {} stage {}",
            place(user, channel.as_ref()),
            code(api),
            code(stage.as_str())
        ),
        Denial::NoRuleForPlan {
            user,
            channel,
            plan,
        } => format!(
            "no rule lets {} change usage plan {}",
            place(user, channel.as_ref()),
            code(plan)
        ),
        Denial::ForeignWorkspace { .. }
        | Denial::OutOfBounds(_)
        | Denial::NotAReader { .. }
        | Denial::NoCommonApprover { .. }
        | Denial::NotAnApprover { .. } => escape(&denial.to_string()),
    }
}

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

/// Inline code: escaped; a backtick that would end it, or a character others could not see
/// (a name AWS returned may hold anything), is replaced.
fn code(text: &str) -> String {
    let visible: String = text
        .chars()
        .map(|c| match c {
            '`' => '\'',
            c if is_hidden(c) => '\u{FFFD}',
            c => c,
        })
        .collect();
    format!("`{}`", escape(&visible))
}

fn usage_text(command: &str) -> String {
    let c = command;
    escape(&format!(
        "*Usage:*\n\
         • `{c} <api> <stage> <rate> <burst>`: set a stage's throttling\n\
         • `{c} <api> <stage> <rate> <burst> <METHOD> <path>`: set one method's throttling \
         (a REST API's method, an HTTP API's route; `$default` for an HTTP API's default route)\n\
         • `{c} <api> <stage> <rate> <burst> [<METHOD> <path>] for <duration>`: a timed \
         change; the values before come back by themselves (`90s`, `30m`, `2h`, `1h30m`)\n\
         • `{c} extend <api> <stage> [<METHOD> <path>] <duration>`: a timed change ends later\n\
         • `{c} restore <api> <stage> [<METHOD> <path>]`: end a timed change now\n\
         • `{c} show <api> [<stage>]`: show the current throttling and timed changes; \
         `{c} show prod:` lists target `prod`'s APIs and stages\n\
         • `{c} history <api> [<stage>] [<duration>]`: who changed the throttling, and when, \
         from CloudTrail, changes made outside throttle-bot too (the last `24h` unless you say; \
         up to `90d`)\n\
         • `{c} reset <api> <stage> [<METHOD> <path>]`: remove an override so the stage \
         follows the account's limits (or the method the stage's); an HTTP API stage cannot be \
         unset, so it is set to the account's limits\n\
         • `{c} plan <plan> <rate> <burst>` (or `… <plan> <api id> <stage> <rate> <burst> \
         <METHOD> <path>`), `for <duration>` too: a usage plan's throttle; `show plan <plan>`, \
         `reset plan <plan> …`, `extend plan …`, `restore plan …`\n\
         • add `--now` to a change to skip approval in an emergency, where a rule allows it \
         (loudly audited)\n\
         • `{c} help`: this message\n\
         `<api>` is a REST or HTTP API's id (`a1b2c3d4e5`) or name (`petstore`); `<rate>` is \
         requests per second, a number ≥ 0 (`50`, `0.5`); `<burst>` a whole number ≥ 0; \
         `<METHOD> <path>` a REST method (`GET /pets/{{id}}`, `*` for every method or path) or \
         an HTTP API's route key (`GET /orders/{{id}}`, `ANY /{{proxy+}}`). A name that is one of \
         these words (`show`, `for`…) works where a name goes (an API named `plan` is typed \
         `home:plan`). `prod:petstore` is an API in \
         another account or region, configured as target `prod`.\n\
         *Examples:*\n\
         `{c} petstore prod 50 100`\n\
         `{c} petstore prod 10 20 GET /pets/{{id}}`\n\
         `{c} orders prod 10 20 $default`\n\
         `{c} petstore prod 5 10 for 30m`\n\
         `{c} show petstore`\n\
         `{c} history petstore prod 7d`\n\
         `{c} reset petstore prod GET /pets/{{id}}`"
    ))
}

fn ephemeral(text: String) -> Value {
    json!({
        "response_type": "ephemeral",
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": truncate(&text, SECTION_MAX) } }],
        "text": text,
    })
}

/// Slack refuses a section whose text is longer.
const SECTION_MAX: usize = 3000;

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
        code(&change.api.to_string()),
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

/// The answer to a signed request received a second time: nothing is done again.
pub fn replayed() -> Value {
    ephemeral(
        ":no_entry: This exact request was already received once; nothing was changed again. Type the command anew to repeat it."
            .to_owned(),
    )
}

/// The answer when too many commands are already running: nothing was started.
pub fn busy(command: &str) -> Value {
    ephemeral(format!(
        ":hourglass: throttle-bot is busy with other commands right now. Nothing was changed: run {} again in a moment.",
        code(command)
    ))
}

/// The immediate acknowledgement of `show <alias>:`.
pub fn listing_apis(request: &ListRequest) -> Value {
    ephemeral(format!(
        ":mag: Listing the APIs of target {}…",
        code(TargetAlias::name(request.target.as_ref()))
    ))
}

/// The immediate acknowledgement of `show`.
pub fn looking_up(request: &ShowRequest) -> Value {
    if let Some(lookback) = request.history {
        return history::reading(request, lookback);
    }
    ephemeral(format!(
        ":mag: Looking up the throttling of {}…",
        code(&request.api.to_string())
    ))
}

/// `REST API `petstore` (`a1b2c3d4e5`)`: every reply and notice names the kind of API.
fn api_label(applied_api: &crate::domain::ResolvedApi) -> String {
    let kind = applied_api.kind;
    match &applied_api.name {
        Some(name) => format!(
            "{kind} {} ({})",
            code(name),
            code(&applied_api.id.to_string())
        ),
        None => format!("{kind} {}", code(&applied_api.id.to_string())),
    }
}

/// Requests per second as people read them: whole above 10, one decimal below.
fn per_second(value: f64) -> String {
    let rounded = if value >= 10.0 {
        value.round()
    } else {
        (value * 10.0).round() / 10.0
    };
    format!("{rounded} req/s")
}

/// A share (0–1) as a whole percentage; "under 1%" rather than a misleading 0%.
fn percent(share: f64) -> String {
    match (share * 100.0).round() {
        0.0 if share > 0.0 => "under 1%".to_owned(),
        whole => format!("{whole}%"),
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

fn by_whom(who: &ChatUser) -> String {
    match &who.channel {
        Some(channel) => format!("by <@{}> in <#{}>", who.user.as_str(), channel.as_str()),
        None => format!("by <@{}>", who.user.as_str()),
    }
}

fn level_label(level: &Level) -> String {
    match level {
        Level::Stage => "stage-wide".to_owned(),
        level => format!("method {}", code(&level.to_string())),
    }
}

/// The reply to a change the access policy refused: only the user sees it.
pub fn denied(change: &ThrottleChange, denial: &Denial) -> Value {
    ephemeral(format!(
        ":no_entry: Not allowed: {}. Nothing was changed.\n{}.",
        describe_request(change),
        capitalise(&reason(denial))
    ))
}

/// The reply to a command from a workspace the policy does not accept.
pub fn foreign_workspace(denial: &Denial) -> Value {
    ephemeral(format!(":no_entry: {}.", capitalise(&reason(denial))))
}

/// The audit channel's notice of a command from a workspace the policy does not accept.
fn audit_foreign(actor: &Requester, text: &str, denial: &Denial) -> Value {
    let who = actor.user();
    let team = who
        .and_then(|w| w.team.as_ref())
        .map_or("unknown", |t| t.as_str());
    let command = who.map_or("/throttle", |w| w.command.as_str());
    notice_of(format!(
        ":no_entry: Denied: {} from workspace {team} ({}): {}",
        code(&format!("{command} {text}")),
        describe(actor),
        reason(denial)
    ))
}

/// The audit channel's notice of a refused attempt: who, where, what and why.
fn audit_denied(change: &ThrottleChange, actor: &Requester, denial: &Denial) -> Value {
    notice_of(format!(
        ":no_entry: Denied: {} ({}): {}",
        describe_request(change),
        describe(actor),
        reason(denial)
    ))
}

fn describe_request(change: &ThrottleChange) -> String {
    let hold = change
        .hold
        .map_or(String::new(), |hold| format!(" for {hold}"));
    match change.action {
        Action::Set(limits) => format!(
            "setting {} to rate {} req/s, burst {}{hold}",
            target(change),
            limits.rate,
            limits.burst
        ),
        Action::Reset => format!("resetting {}", target(change)),
    }
}

/// The final reply of a command that shutdown cut short.
fn interrupted(command: &str, text: &str) -> Value {
    ephemeral(format!(
        ":warning: throttle-bot had to stop (shutting down, or out of time) and could not finish {} in time. The change may or may not have been applied: check with `{} show`, and run it again if needed.",
        code(&format!("{command} {text}")),
        escape(command)
    ))
}

/// The audit channel's notice of a command that shutdown cut short.
fn audit_interrupted(actor: &Requester, text: &str) -> Value {
    let command = actor.user().map_or("/throttle", |w| w.command.as_str());
    notice_of(format!(
        ":warning: Interrupted by shutdown, outcome unknown: {} ({})",
        code(&format!("{command} {text}")),
        describe(actor)
    ))
}

/// Who or what asked, as the audit notice names it.
fn describe(actor: &Requester) -> String {
    match actor {
        Requester::User(who) => format!("{}, via {}", by_whom(who), code(&who.command)),
        Requester::Schedule => "scheduled job".to_owned(),
        Requester::Alarm(name) => format!("CloudWatch alarm {}", code(name)),
        Requester::Deadline => "its deadline".to_owned(),
    }
}

/// The audit channel's notice of a job that failed before it had a valid change to make.
fn audit_failure(actor: &Requester, reason: &str) -> Value {
    notice_of(format!(
        ":x: Throttling job failed: {} ({})",
        escape(reason),
        describe(actor)
    ))
}

fn notice_of(text: String) -> Value {
    json!({
        "text": text,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": truncate(&text, SECTION_MAX) } }],
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
    use crate::core::grammar::{Request, parse_text};
    use crate::domain::LimitError;

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
            &Failure::Gateway(GatewayError::Rejected("<!everyone> bad".to_owned())),
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

    #[test]
    fn names_from_aws_cannot_break_out_of_their_code_span_or_hide_text() {
        assert_eq!(code("a`b"), "`a'b`");
        assert_eq!(code("pay\u{202E}lno"), "`pay\u{FFFD}lno`");
        assert_eq!(code("<!here>"), "`&lt;!here&gt;`");
    }

    #[test]
    fn every_section_fits_slacks_limit() {
        let error = TextError::Limit(LimitError::RateNotNumber("9".repeat(5000)));
        let reply = invalid(&"/x".repeat(2000), &error);
        let section = reply["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(section.chars().count() <= SECTION_MAX);
    }
}
