//! What we say in Slack: replies to the user and notices to the audit channel, rendered from
//! the core's typed outcomes.
//!
//! Every piece of text that came from a user or from AWS goes through [`escape`].

use serde_json::{Value, json};

use super::buttons::{
    APPROVAL_TTL_SECS, ButtonValue, Buttons, PREVIEW_TTL_SECS, Press, UNDO_TTL_SECS,
};
use crate::core::clock::unix_now;
use crate::core::grammar::{ShowRequest, TextError, command_text};
use crate::core::outcome::{Failure, News, Outcome};
use crate::core::plan::Risk;
use crate::core::ports::GatewayError;
use crate::core::requester::{ChatId, ChatUser, Requester, Via};
use crate::domain::text::is_hidden;
use crate::domain::{
    Action, ApiRef, ApiView, Applied, Approval, BurstLimit, Configured, Level, ManagedBy,
    RateLimit, ThrottleChange, ThrottleLimits,
};
use crate::policy::{Denial, place};

pub mod timed;

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
    let done = matches!(news.outcome, Outcome::Change { result: Ok(_), .. });
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
        Outcome::Interrupted { text } => interrupted(&who?.command, text),
        Outcome::Invalid { .. } | Outcome::Untrusted { .. } => return None,
        Outcome::Timed {
            request,
            api,
            result,
            ..
        } => timed::reply(request, api.as_ref(), result, news.requester),
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
        Outcome::Untrusted { api, stage, found } => notice_of(format!(
            ":rotating_light: *Not made by throttle-bot:* {} on {} / {} {} not sealed by this service (hand-written, edited or copied). Nothing will act on {}; a person must decide whether to remove {}: {}",
            if found.len() == 1 {
                "a `throttle-bot:` tag"
            } else {
                "`throttle-bot:` tags"
            },
            code(api.as_str()),
            code(stage),
            if found.len() == 1 { "is" } else { "are" },
            if found.len() == 1 { "it" } else { "them" },
            if found.len() == 1 { "it" } else { "them" },
            found
                .iter()
                .map(|tag| format!("{} = {}", code(&tag.key), code(&tag.value)))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Outcome::Show { .. } | Outcome::NeedsConfirmation { .. } => return None,
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

/// A button value for `change`, from `who`, expecting `expect` at its level.
fn value_of(
    press: Press,
    change: &ThrottleChange,
    who: &ChatUser,
    expect: &Configured,
    approvers: &[ChatId],
) -> ButtonValue {
    ButtonValue {
        press,
        text: command_text(change),
        author: who.user.to_string(),
        channel: who.channel.as_ref().map(ToString::to_string),
        team: who.team.as_ref().map(ToString::to_string),
        expect: Some((expect.rate, expect.burst)),
        approvers: approvers.iter().map(ToString::to_string).collect(),
        break_glass: false,
    }
}

/// The change pinned to the resolved API's id, so a button acts on exactly that API.
fn pinned(change: &ThrottleChange, api: &crate::domain::ResolvedApi) -> ThrottleChange {
    ThrottleChange {
        api: ApiRef::Id(api.id.clone()),
        ..change.clone()
    }
}

/// The private preview of a risky change, with Apply and Cancel.
fn preview(
    change: &ThrottleChange,
    planned: &Applied,
    risk: Option<Risk>,
    who: &ChatUser,
    buttons: Option<&Buttons>,
) -> Value {
    let why = match risk {
        Some(Risk::BlocksTraffic) => "it blocks traffic".to_owned(),
        Some(Risk::Cuts { what, from, to }) => {
            format!("it cuts the {what} from {from} to {to}, by more than half")
        }
        None => "the access policy asks to confirm changes here".to_owned(),
    };
    let (rate_line, burst_line) = transitions(change, planned);
    let text = format!(
        ":warning: *Confirm this change* ({why}): {}: rate {rate_line}; burst {burst_line}.\nIn plain words: {}. Nothing has been changed yet; this preview expires in 5 minutes.",
        target_of(change, &planned.api),
        plain_words(&planned.after),
    );
    let text = with_iac_warning(with_hold(text, change, planned), &planned.managed_by);
    let mut message = ephemeral(text);
    if let Some(buttons) = buttons {
        let change = pinned(change, &planned.api);
        let expires = unix_now() + PREVIEW_TTL_SECS;
        let apply = ButtonValue {
            break_glass: matches!(planned.approval, Approval::Skipped { .. }),
            ..value_of(Press::Apply, &change, who, &planned.before, &[])
        };
        let cancel = ButtonValue {
            press: Press::Cancel,
            ..apply.clone()
        };
        push_actions(
            &mut message,
            vec![
                buttons.button(apply, expires),
                buttons.button(cancel, expires),
            ],
        );
    }
    message
}

/// The request for approval, in the channel, with Approve and Reject.
fn approval_request(
    change: &ThrottleChange,
    planned: &Applied,
    approvers: &[ChatId],
    who: &ChatUser,
    buttons: Option<&Buttons>,
) -> Value {
    let (rate_line, burst_line) = transitions(change, planned);
    let text = format!(
        ":raised_hand: *Approval needed:* <@{}> asks to change {}: rate {rate_line}; burst {burst_line}.\nApprovers: {}. Nothing has been changed yet; this request expires in 30 minutes.",
        who.user.as_str(),
        target_of(change, &planned.api),
        mentions(approvers),
    );
    let text = with_iac_warning(with_hold(text, change, planned), &planned.managed_by);
    let mut message = ephemeral(text);
    message["response_type"] = json!("in_channel");
    if let Some(buttons) = buttons {
        let change = pinned(change, &planned.api);
        let expires = unix_now() + APPROVAL_TTL_SECS;
        let approve = value_of(Press::Approve, &change, who, &planned.before, approvers);
        let reject = ButtonValue {
            press: Press::Reject,
            ..approve.clone()
        };
        push_actions(
            &mut message,
            vec![
                buttons.button(approve, expires),
                buttons.button(reject, expires),
            ],
        );
    }
    message
}

/// The level holds other values than the message showed: nothing applied.
fn moved(
    change: &ThrottleChange,
    api: &crate::domain::ResolvedApi,
    expected: &Configured,
    found: &Configured,
    via: Via,
) -> Value {
    let what = match via {
        Via::Undo => "Nothing was undone",
        Via::Approve => "This request is closed and nothing was applied",
        Via::Apply | Via::Command => "Nothing was applied",
    };
    let mut message = ephemeral(format!(
        ":warning: {what}: {} now has {}, not the {} shown. Someone or something changed it since (throttle-bot keeps no history; the audit channel may say who). Run the command again if it is still needed.",
        target_of(change, api),
        limits(found),
        limits(expected),
    ));
    if via == Via::Approve {
        message["response_type"] = json!("in_channel");
    }
    message
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
         • `{c} <api> <stage> <rate> <burst> <METHOD> <path>`: set one method's throttling\n\
         • `{c} <api> <stage> <rate> <burst> [<METHOD> <path>] for <duration>`: a timed \
         change; the values before come back by themselves (`90s`, `30m`, `2h`, `1h30m`)\n\
         • `{c} extend <api> <stage> [<METHOD> <path>] <duration>`: a timed change ends later\n\
         • `{c} restore <api> <stage> [<METHOD> <path>]`: end a timed change now\n\
         • `{c} show <api> [<stage>]`: show the current throttling and timed changes\n\
         • `{c} reset <api> <stage> [<METHOD> <path>]`: remove an override so the stage \
         follows the account's limits (or the method the stage's)\n\
         • `{c} help`: this message\n\
         `<api>` is a REST API id (`a1b2c3d4e5`) or name (`petstore`); `<rate>` is requests per \
         second, a number ≥ 0 (`50`, `0.5`); `<burst>` a whole number ≥ 0; `<METHOD>` like `GET` \
         or `*`; `<path>` like `/pets/{{id}}` or `*`.\n\
         *Examples:*\n\
         `{c} petstore prod 50 100`\n\
         `{c} petstore prod 10 20 GET /pets/{{id}}`\n\
         `{c} petstore prod 5 10 for 30m`\n\
         `{c} show petstore`\n\
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

/// The final reply on `response_url` for a change that succeeded. A change that altered the
/// stage is shown to the channel; one that found nothing to do only to the user.
fn applied(
    change: &ThrottleChange,
    applied: &Applied,
    who: Option<&ChatUser>,
    via: Via,
    buttons: Option<&Buttons>,
) -> Value {
    let api = api_label(&applied.api);
    let stage = code(change.stage.as_str());
    if !applied.changed && applied.until.is_some() {
        return ephemeral(format!(
            ":stopwatch: {api} / {stage} ({}) already has {}: it now stays {}, {}. No call to UpdateStage was made.",
            level_label(&change.level),
            limits(&applied.after),
            timed::ends(applied.until.unwrap_or_default()),
            timed::then_back(&applied.steps)
        ));
    }
    if !applied.changed
        && let Some(ended) = applied.replaces_timed
    {
        return ephemeral(format!(
            ":white_check_mark: {api} / {stage} ({}) keeps {} for good: the timed change that was to end {} is over, and nothing will be put back then. No call to UpdateStage was made.",
            level_label(&change.level),
            limits(&applied.after),
            date(ended)
        ));
    }
    if !applied.changed {
        return ephemeral(format!(
            ":information_source: Nothing to change: {api} / {stage} ({}) already has rate {}, burst {}. No call to UpdateStage was made.",
            level_label(&change.level),
            rate(applied.after.rate),
            burst(applied.after.burst),
        ));
    }
    let verb = match (via, change.action) {
        (Via::Undo, _) => "undid a change to",
        (_, Action::Set(_)) => "changed",
        (_, Action::Reset) => "reset",
    };
    let (rate_line, burst_line) = transitions(change, applied);
    let (actor, by) = match who {
        Some(who) => (format!("<@{}>", who.user.as_str()), by_whom(who)),
        None => ("throttle-bot".to_owned(), "by throttle-bot".to_owned()),
    };
    let text = format!(
        ":white_check_mark: {actor} {verb} throttling on {api} / {stage} ({}): rate {rate_line}; burst {burst_line}",
        level_label(&change.level),
    );
    let by = match (&applied.approval, via) {
        (_, Via::Undo) => format!("Undone {by} on {}", date(unix_now())),
        (Approval::By(approver), _) => format!("Changed {by}, approved by <@{approver}>"),
        (Approval::Skipped { .. }, _) => format!("Changed {by} *without approval* (break glass)"),
        (Approval::NotNeeded, _) => format!("Changed {by}"),
    };
    let text = format!("{text} ({})", by.replace('*', ""));
    let until = match (applied.until, applied.replaces_timed) {
        (Some(until), _) => Some(format!(
            ":stopwatch: Timed: {} {}, {}.",
            limits(&applied.after),
            timed::ends(until),
            timed::then_back(&applied.steps)
        )),
        (None, Some(ended)) => Some(format!(
            ":stopwatch: This replaces the timed change that was to end {}: nothing will be put back then.",
            date(ended)
        )),
        (None, None) => None,
    };
    let text = match &until {
        Some(until) => format!("{text}\n{until}"),
        None => text,
    };
    let text = match iac_warning(&applied.managed_by) {
        Some(warning) => format!("{text}\n{warning}"),
        None => text,
    };
    let headline = match via {
        Via::Undo => ":leftwards_arrow_with_hook: *Throttling change undone*".to_owned(),
        _ => format!(":white_check_mark: *Throttling {verb}*"),
    };
    let mut message = json!({
        "response_type": "in_channel",
        "replace_original": false,
        "text": text,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": headline } },
            { "type": "section", "fields": [
                { "type": "mrkdwn", "text": format!("*API*\n{api}") },
                { "type": "mrkdwn", "text": format!("*Stage*\n{stage}") },
                { "type": "mrkdwn", "text": format!("*Level*\n{}", capitalise(&level_label(&change.level))) },
                { "type": "mrkdwn", "text": format!("*Rate*\n{rate_line}") },
                { "type": "mrkdwn", "text": format!("*Burst*\n{burst_line}") },
            ]},
            { "type": "context", "elements": [
                { "type": "mrkdwn", "text": by },
            ]},
        ],
    });
    if let (Some(until), Some(blocks)) = (&until, message["blocks"].as_array_mut()) {
        blocks
            .push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": until }] }));
    }
    if let (Some(warning), Some(blocks)) = (
        iac_warning(&applied.managed_by),
        message["blocks"].as_array_mut(),
    ) {
        blocks.push(
            json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": warning }] }),
        );
    }
    // Undo restores the values before; an undone change has no Undo of its own.
    if let (Some(buttons), Some(who), true) = (buttons, who, via != Via::Undo) {
        let restore = ThrottleChange {
            action: match (applied.before.rate, applied.before.burst) {
                (Some(rate), Some(burst)) => {
                    match (RateLimit::new(rate), BurstLimit::new(i64::from(burst))) {
                        (Ok(rate), Ok(burst)) => Action::Set(ThrottleLimits { rate, burst }),
                        _ => Action::Reset,
                    }
                }
                _ => Action::Reset,
            },
            // Undo is a change for good: it ends a timed change rather than replaying it.
            hold: None,
            ..pinned(change, &applied.api)
        };
        let undo = value_of(Press::Undo, &restore, who, &applied.after, &[]);
        push_actions(
            &mut message,
            vec![buttons.button(undo, unix_now() + UNDO_TTL_SECS)],
        );
    }
    message
}

/// The final reply on `response_url` for a change that failed: only the user sees it.
fn failed(change: &ThrottleChange, error: &Failure) -> Value {
    ephemeral(format!(
        ":x: Could not change the throttling of {}. Nothing was changed.\n{}.",
        target(change),
        escape(&capitalise(&error.to_string()))
    ))
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

/// For a timed change's preview or approval request: how long it will last once applied.
fn with_hold(text: String, change: &ThrottleChange, planned: &Applied) -> String {
    match change.hold {
        Some(hold) => format!(
            "{text}\n:stopwatch: Timed: for {hold} from when it is applied, {}.",
            timed::then_back(&planned.steps)
        ),
        None => text,
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

/// The answer to `show`: one section per stage, methods listed under it.
fn view(view: &ApiView) -> Value {
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
        for record in &stage.timed {
            let line = timed::in_force(record);
            text.push_str(&format!(" {line}."));
            lines.push_str(&format!("\n{line}"));
        }
        for found in &stage.unsealed {
            let line = timed::unsealed(found);
            text.push_str(&format!(" {line}."));
            lines.push_str(&format!("\n{line}"));
        }
        blocks.push(json!({ "type": "divider" }));
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(&lines, SECTION_MAX) } }));
    }
    if view.stages.len() > MAX_STAGES {
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn",
            "text": format!("…and {} more stages; name one to see it.", view.stages.len() - MAX_STAGES) }] }));
    }
    json!({ "response_type": "ephemeral", "text": text, "blocks": blocks })
}

/// The answer to `show` when it failed.
fn view_failed(request: &ShowRequest, error: &GatewayError) -> Value {
    ephemeral(format!(
        ":x: Could not read the throttling of {}.\n{}.",
        code(request.api.as_str()),
        escape(&capitalise(&error.to_string()))
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

/// The audit channel's notice of an attempted change: applied, found unnecessary, or failed.
fn audit_notice(
    change: &ThrottleChange,
    actor: &Requester,
    outcome: &Result<Applied, Failure>,
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
    let approval = match outcome {
        Ok(Applied {
            approval: Approval::By(approver),
            ..
        }) => format!("; approved by <@{approver}>"),
        Ok(Applied {
            approval: Approval::Skipped { rule },
            changed: true,
            ..
        }) => format!(
            "\n:rotating_light: *APPROVAL SKIPPED (break glass)* by {} under rule \"{}\"",
            describe(actor),
            escape(rule)
        ),
        _ => String::new(),
    };
    let until = match outcome {
        Ok(Applied {
            until: Some(until),
            changed: true,
            ..
        }) => format!("; timed, {}", timed::ends(*until)),
        Ok(Applied {
            replaces_timed: Some(ended),
            changed: true,
            ..
        }) => format!(
            "; replaces the timed change that was to end {}",
            date(*ended)
        ),
        _ => String::new(),
    };
    notice_of(format!("{headline} ({}){until}{approval}", describe(actor)))
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
