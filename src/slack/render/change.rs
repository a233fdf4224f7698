//! What a change says when it is made or fails: the channel message (with Undo) and the audit
//! notice.

use super::requests::{pinned, value_of};
use super::*;

/// The final reply on `response_url` for a change that succeeded. A change that altered the
/// stage is shown to the channel; one that found nothing to do only to the user.
pub(super) fn applied(
    change: &ThrottleChange,
    applied: &Applied,
    who: Option<&ChatUser>,
    via: Via,
    buttons: Option<&Buttons>,
) -> Value {
    let api = api_label(&applied.api);
    let stage = code(change.stage.as_str());
    // The same values again over a timed change: it is re-timed or kept for good. What will
    // happen at the old deadline changed, so the channel that saw it is told, as for a plan.
    if !applied.changed && (applied.until.is_some() || applied.replaces_timed.is_some()) {
        let by = who.map_or_else(|| "by throttle-bot".to_owned(), by_whom);
        return timed::in_channel(format!(
            "{} ({by}). No call to UpdateStage was made.",
            kept(change, applied)
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
            ":stopwatch: {}",
            timed::replaces_all(ended, &applied.replaces_below)
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
    let notes = notes(change, applied);
    let text = notes
        .iter()
        .fold(text, |text, note| format!("{text}\n{note}"));
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
    if let Some(blocks) = message["blocks"].as_array_mut() {
        for note in &notes {
            blocks.push(
                json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": note }] }),
            );
        }
    }
    // Undo restores the values before; an undone change has no Undo of its own.
    if let (Some(buttons), Some(who), true) = (buttons, who, via != Via::Undo) {
        let restore = ThrottleChange {
            action: applied.before.as_action(),
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
pub(super) fn failed(change: &ThrottleChange, error: &Failure) -> Value {
    ephemeral(format!(
        ":x: Could not change the throttling of {}. Nothing was changed.\n{}.",
        target(change),
        escape(&capitalise(&error.to_string()))
    ))
}

/// The audit channel's notice of an attempted change: applied, found unnecessary, or failed.
pub(super) fn audit_notice(
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
        Ok(applied) if applied.until.is_some() || applied.replaces_timed.is_some() => {
            kept(change, applied)
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
            "\n:rotating_light: *APPROVAL SKIPPED (break glass)* {} under rule \"{}\"",
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

/// What the same values again do to a timed change at their level: re-time it (it now ends
/// later or sooner, with the same steps after it) or keep its values for good.
fn kept(change: &ThrottleChange, applied: &Applied) -> String {
    let at = format!(
        "{} / {} ({})",
        api_label(&applied.api),
        code(change.stage.as_str()),
        level_label(&change.level)
    );
    match (applied.until, applied.replaces_timed) {
        (Some(until), _) => format!(
            ":stopwatch: {at} keeps {}, now {}, {}",
            limits(&applied.after),
            timed::ends(until),
            timed::then_back(&applied.steps)
        ),
        (None, Some(ended)) => format!(
            ":white_check_mark: {at} keeps {} for good. {}",
            limits(&applied.after),
            timed::replaces_all(ended, &applied.replaces_below)
        ),
        (None, None) => format!("{at} keeps {}", limits(&applied.after)),
    }
}

/// What else a change means for callers: traffic it unblocks, and values a reset wrote because
/// the level cannot be left unset.
fn notes(change: &ThrottleChange, applied: &Applied) -> Vec<String> {
    let mut notes = Vec::new();
    if applied.before.blocks() && !applied.after.blocks() {
        notes.push(
            ":unlock: This unblocks traffic: the level held a 0, which rejected every request."
                .to_owned(),
        );
    }
    if change.action == Action::Reset
        && change.level == Level::Stage
        && !applied.api.kind.stage_can_be_unset()
    {
        notes.push(format!(
            ":information_source: An {} stage cannot be left without limits (tools that try leave 0/0, which blocks every request), so `reset` set the account's limits explicitly.",
            applied.api.kind
        ));
    }
    notes
}

/// Rate and burst as `before → after`; a cleared level says what it now inherits.
pub(super) fn transitions(change: &ThrottleChange, applied: &Applied) -> (String, String) {
    let source = match change.level {
        Level::Stage => "the account",
        Level::Method { .. } | Level::DefaultRoute => "the stage",
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
