//! What usage plan commands say: the acknowledgement (with the wait behind other plan changes),
//! the plan as it is, the change as made or refused, and the audit notice.

use std::time::Duration;

use super::requests::button_value;
use super::timed;
use super::*;
use crate::core::grammar::{PlanRequest, PlanTimedRequest, TimedKind, plan_text};
use crate::core::outcome::{PlanFailure, PlanTimedDone};
use crate::domain::{PlanApplied, PlanChange, PlanLevel, PlanRef, PlanView};

/// The immediate acknowledgement. A change that will wait behind another plan change in the
/// same account says so, with how long: AWS allows about one UpdateUsagePlan every 20 s.
pub fn accepted(request: &PlanRequest, wait: Duration) -> Value {
    match request {
        PlanRequest::Show(plan) => ephemeral(format!(
            ":mag: Looking up usage plan {}…",
            code(&plan.to_string())
        )),
        PlanRequest::Change(change) if wait >= Duration::from_secs(1) => ephemeral(format!(
            ":hourglass_flowing_sand: {}… queued behind another usage plan change in this account: about {} s (AWS allows about one every 20 s).",
            capitalise(&describe_change(change)),
            wait.as_secs()
        )),
        PlanRequest::Change(change) => ephemeral(format!(
            ":hourglass_flowing_sand: {}…",
            capitalise(&describe_change(change))
        )),
        PlanRequest::Timed(request) => {
            let verb = match request.kind {
                TimedKind::Extend(_) => "Extending",
                TimedKind::RestoreNow | TimedKind::Deadline => "Restoring",
            };
            let queued = if wait >= Duration::from_secs(1) {
                format!(
                    " Queued behind another usage plan change in this account: about {} s.",
                    wait.as_secs()
                )
            } else {
                String::new()
            };
            ephemeral(format!(
                ":hourglass_flowing_sand: {verb} the timed change on usage plan {} ({})…{queued}",
                code(&request.plan.to_string()),
                level(&request.level)
            ))
        }
    }
}

/// Where a plan's timed step acts: the plan as read (or as typed) and the level.
fn timed_at(request: &PlanTimedRequest, plan: Option<&PlanView>) -> String {
    let plan = plan.map_or_else(
        || format!("usage plan {}", code(&request.plan.to_string())),
        plan_label,
    );
    format!("{plan} ({})", level(&request.level))
}

/// The reply to `extend plan` or `restore plan`, as for a stage's.
pub(super) fn timed_reply(
    request: &PlanTimedRequest,
    plan: Option<&PlanView>,
    result: &Result<PlanTimedDone, PlanFailure>,
    actor: &Requester,
) -> Value {
    timed::reply_at(&timed_at(request, plan), request.kind, result, actor)
}

/// The audit notice (and, with a bot token, the channel's message) of a plan's timed step.
pub(super) fn timed_notice(
    request: &PlanTimedRequest,
    plan: Option<&PlanView>,
    result: &Result<PlanTimedDone, PlanFailure>,
    actor: &Requester,
) -> Option<Value> {
    timed::notice_at(&timed_at(request, plan), request.kind, result, actor)
}

/// What a change does to a timed change at its level, for its reply and notice: when it
/// ends and what comes back then, or that it replaces one for good.
fn timing(applied: &PlanApplied) -> String {
    match (applied.until, applied.replaces_timed) {
        (Some(until), _) => format!(
            " Timed: {}, {}.",
            timed::ends(until),
            timed::then_back(&applied.steps)
        ),
        (None, Some(ended)) => format!(" {}", timed::replaces_all(ended, &applied.replaces_below)),
        (None, None) => String::new(),
    }
}

fn describe_change(change: &PlanChange) -> String {
    let at = level(&change.level);
    let plan = code(&change.plan.to_string());
    let hold = change
        .hold
        .map_or(String::new(), |hold| format!(" for {hold}"));
    match change.action {
        Action::Set(limits) => format!(
            "setting usage plan {plan} ({at}) to rate {} req/s, burst {}{hold}",
            limits.rate, limits.burst
        ),
        Action::Reset => format!("removing the throttle of usage plan {plan} ({at})"),
    }
}

fn level(level: &PlanLevel) -> String {
    match level {
        PlanLevel::Plan => "plan-wide".to_owned(),
        level => code(&level.to_string()),
    }
}

/// `usage plan `gold` (`prod:abc123`)`.
fn plan_label(plan: &PlanView) -> String {
    format!("usage plan {} ({})", code(&plan.name), code(&plan.id))
}

/// The answer to `show plan …`: the plan's own throttle and quota, then each API stage in it
/// with the methods it throttles.
pub(super) fn shown(plan: &PlanView) -> Value {
    let mut lines = vec![
        format!("*{}*", plan_label(plan)),
        format!("• Plan-wide: {}", limits(&plan.throttle)),
        format!(
            "• Quota: {}",
            plan.quota.as_deref().map_or("none".to_owned(), escape)
        ),
    ];
    if plan.stages.is_empty() {
        lines.push("• No API stages in this plan.".to_owned());
    }
    for stage in &plan.stages {
        let mut line = format!("• API {} stage {}", code(&stage.api), code(&stage.stage));
        if stage.methods.is_empty() {
            line.push_str(": no method throttles (the plan-wide limits apply)");
        }
        for (key, values) in &stage.methods {
            line.push_str(&format!("\n   {}: {}", code(key), limits(values)));
        }
        lines.push(line);
    }
    for record in &plan.timed {
        lines.push(timed::in_force_at(&level(&record.level), record));
    }
    for found in &plan.unsealed {
        lines.push(timed::unsealed(found));
    }
    ephemeral(lines.join("\n"))
}

pub(super) fn show_failed(plan: &PlanRef, error: &GatewayError) -> Value {
    ephemeral(format!(
        ":x: Could not read usage plan {}.\n{}.",
        code(&plan.to_string()),
        escape(&capitalise(&error.to_string()))
    ))
}

/// The final reply: a change made is shown to the channel; anything else only to its author.
pub(super) fn reply(
    change: &PlanChange,
    result: &Result<PlanApplied, PlanFailure>,
    who: Option<&ChatUser>,
    via: Via,
    buttons: Option<&Buttons>,
) -> Value {
    match result {
        Ok(applied) if applied.changed => {
            let actor = who.map_or("throttle-bot".to_owned(), |w| {
                format!("<@{}>", w.user.as_str())
            });
            let verb = match via {
                Via::Undo => "undid a change to",
                Via::Approve => "changed (approved)",
                Via::Apply | Via::Command => "changed",
            };
            let queued = applied.queued_secs.map_or(String::new(), |secs| {
                format!(" It waited {secs} s behind another usage plan change in this account.")
            });
            let text = format!(
                ":white_check_mark: {actor} {verb} {} ({}): {} → {}.{}{queued}",
                plan_label(&applied.plan),
                level(&change.level),
                limits(&applied.before),
                limits(&applied.after),
                timing(applied),
            );
            let mut message = json!({
                "response_type": "in_channel",
                "replace_original": false,
                "text": text,
                "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
            });
            // Undo puts the values before back, on exactly this plan, only while the plan
            // still holds these; an undone change has no Undo of its own.
            if let (Some(buttons), Some(who), false) = (buttons, who, via == Via::Undo)
                && let Some(undo) = undo_value(change, applied, who)
            {
                push_actions(
                    &mut message,
                    vec![buttons.button(undo, unix_now() + UNDO_TTL_SECS)],
                );
            }
            message
        }
        // The same values again: a timed change there is re-timed, or kept for good.
        Ok(applied) if applied.until.is_some() || applied.replaces_timed.is_some() => {
            timed::in_channel(format!(
                ":stopwatch: {} ({}) keeps {}.{}",
                plan_label(&applied.plan),
                level(&change.level),
                limits(&applied.after),
                timing(applied)
            ))
        }
        Ok(applied) => ephemeral(format!(
            ":information_source: Nothing to change: {} ({}) already has {}. No call to UpdateUsagePlan was made.",
            plan_label(&applied.plan),
            level(&change.level),
            limits(&applied.after)
        )),
        Err(PlanFailure::Denied(denial)) => ephemeral(format!(
            ":no_entry: Not allowed: {}. Nothing was changed.",
            reason(denial)
        )),
        Err(error) => ephemeral(format!(
            ":x: Could not change usage plan {} ({}). Nothing was changed.\n{}.",
            code(&change.plan.to_string()),
            level(&change.level),
            escape(&capitalise(&error.to_string()))
        )),
    }
}

/// The Undo button's value: the change back to the values before, pinned to the plan's id.
fn undo_value(change: &PlanChange, applied: &PlanApplied, who: &ChatUser) -> Option<ButtonValue> {
    let back = PlanChange {
        plan: PlanRef::parse(&applied.plan.id).ok()?,
        level: change.level.clone(),
        action: applied.before.as_action(),
        hold: None,
    };
    Some(button_value(
        Press::Undo,
        plan_text(&back),
        who,
        &applied.after,
        &[],
    ))
}

/// A change a rule gates: a preview with Apply and Cancel for its author (no approvers), or a
/// request in the channel with Approve and Reject for one of `approvers`. Each button carries
/// the change pinned to the plan's id and the values shown, so nothing is applied over others.
pub(super) fn gated(
    change: &PlanChange,
    planned: &PlanApplied,
    approvers: &[ChatId],
    who: &ChatUser,
    buttons: Option<&Buttons>,
) -> Value {
    // `… → 5 req/s, burst 10.`, and when it ends and what comes back if it is timed.
    let what = format!(
        "{} ({}): {} → {}.{}",
        plan_label(&planned.plan),
        level(&change.level),
        limits(&planned.before),
        limits(&planned.after),
        timing(planned)
    );
    let (mut message, presses, ttl) = if approvers.is_empty() {
        let text = format!(
            ":warning: *Confirm this change* (the access policy asks to confirm changes here): {what} Nothing has been changed yet; this preview expires in 5 minutes."
        );
        (
            ephemeral(text),
            [Press::Apply, Press::Cancel],
            PREVIEW_TTL_SECS,
        )
    } else {
        let text = format!(
            ":raised_hand: *Approval needed:* <@{}> asks to change {what}\nApprovers: {}. Nothing has been changed yet; this request expires in 30 minutes.",
            who.user.as_str(),
            mentions(approvers)
        );
        let mut message = ephemeral(text);
        message["response_type"] = json!("in_channel");
        (message, [Press::Approve, Press::Reject], APPROVAL_TTL_SECS)
    };
    let pinned = PlanRef::parse(&planned.plan.id).map(|plan| PlanChange {
        plan,
        ..change.clone()
    });
    if let (Some(buttons), Ok(pinned)) = (buttons, pinned) {
        let expires = unix_now() + ttl;
        let value =
            |press| button_value(press, plan_text(&pinned), who, &planned.before, approvers);
        let row = presses.map(|press| buttons.button(value(press), expires));
        push_actions(&mut message, row.to_vec());
    }
    message
}

/// The audit channel hears of an approval request (a preview only its author sees is not news).
pub(super) fn gated_notice(
    change: &PlanChange,
    planned: &PlanApplied,
    approvers: &[ChatId],
    actor: &Requester,
) -> Value {
    notice_of(format!(
        ":raised_hand: Approval requested for {} ({}): {} → {}; approvers {} ({})",
        plan_label(&planned.plan),
        level(&change.level),
        limits(&planned.before),
        limits(&planned.after),
        mentions(approvers),
        describe(actor)
    ))
}

/// The audit channel's notice: every attempt, made or not.
pub(super) fn notice(
    change: &PlanChange,
    actor: &Requester,
    result: &Result<PlanApplied, PlanFailure>,
) -> Value {
    let headline = match result {
        Ok(applied) if applied.changed => format!(
            ":white_check_mark: Updated {} ({}): {} → {}.{}",
            plan_label(&applied.plan),
            level(&change.level),
            limits(&applied.before),
            limits(&applied.after),
            timing(applied)
        ),
        Ok(applied) if applied.until.is_some() || applied.replaces_timed.is_some() => format!(
            ":stopwatch: {} ({}) keeps {}.{}",
            plan_label(&applied.plan),
            level(&change.level),
            limits(&applied.after),
            timing(applied)
        ),
        Ok(applied) => format!(
            ":information_source: No change needed on {} ({}): already {}",
            plan_label(&applied.plan),
            level(&change.level),
            limits(&applied.after)
        ),
        Err(PlanFailure::Denied(denial)) => format!(
            ":no_entry: Denied a change to usage plan {} ({}): {}",
            code(&change.plan.to_string()),
            level(&change.level),
            reason(denial)
        ),
        Err(error) => format!(
            ":x: Failed to change usage plan {} ({}): {}",
            code(&change.plan.to_string()),
            level(&change.level),
            escape(&error.to_string())
        ),
    };
    notice_of(format!("{headline} ({})", describe(actor)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Configured, Hold, PlanStage};

    fn applied(until: Option<i64>, replaces_timed: Option<i64>) -> PlanApplied {
        let values = |rate, burst| Configured {
            rate: Some(rate),
            burst: Some(burst),
        };
        PlanApplied {
            plan: PlanView {
                id: "abc123".to_owned(),
                target: None,
                name: "gold".to_owned(),
                throttle: values(100.0, 200),
                quota: None,
                stages: Vec::<PlanStage>::new(),
                tags: Vec::new(),
                timed: Vec::new(),
                unsealed: Vec::new(),
            },
            before: values(100.0, 200),
            after: values(5.0, 10),
            changed: true,
            queued_secs: None,
            until,
            steps: until.map_or_else(Vec::new, |at| vec![(at, values(100.0, 200))]),
            replaces_timed,
            replaces_below: Vec::new(),
        }
    }

    #[test]
    fn a_timed_plan_change_says_when_it_ends_and_what_comes_back_everywhere_it_is_shown() {
        let change = PlanChange {
            plan: PlanRef::parse("gold").unwrap(),
            level: PlanLevel::Plan,
            action: Action::Reset,
            hold: Hold::parse("30m").ok(),
        };
        let timed = applied(Some(1_795_701_800), None);
        let who = ChatUser {
            user: ChatId::parse("U1").unwrap(),
            channel: ChatId::parse("C1"),
            team: None,
            command: "/throttle".to_owned(),
        };
        let texts = [
            shown_text(&reply(
                &change,
                &Ok(timed.clone()),
                Some(&who),
                Via::Command,
                None,
            )),
            shown_text(&gated(&change, &timed, &[], &who, None)),
            shown_text(&notice(&change, &Requester::User(who.clone()), &Ok(timed))),
        ];
        for text in texts {
            assert!(
                text.contains("Timed: until <!date^1795701800^")
                    && text.contains("then 100 req/s, burst 200."),
                "{text}"
            );
            assert!(!text.contains(".."), "{text}");
        }
        let for_good = applied(None, Some(1_795_701_800));
        let text = shown_text(&reply(
            &change,
            &Ok(for_good),
            Some(&who),
            Via::Command,
            None,
        ));
        assert!(text.contains("nothing will be put back then"), "{text}");
        let plain = shown_text(&gated(&change, &applied(None, None), &[], &who, None));
        assert!(!plain.contains("..") && !plain.contains("Timed"), "{plain}");
    }

    fn shown_text(message: &Value) -> String {
        message["text"].as_str().unwrap_or_default().to_owned()
    }
}
