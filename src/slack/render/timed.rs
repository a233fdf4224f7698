//! What we say about timed changes: when they end, `extend`, `restore`, and their deadlines.

use serde_json::{Value, json};

use super::{
    api_label, capitalise, code, date, describe, ephemeral, escape, level_label, limits, notice_of,
};
use crate::core::grammar::{TimedKind, TimedRequest};
use crate::core::outcome::{Failure, TimedDone};
use crate::core::requester::Requester;
use crate::domain::{
    Applied, Aside, Configured, PlanApplied, RecordLevel, ResolvedApi, Timed, Unsealed,
};

/// The immediate acknowledgement of `extend` or `restore`.
pub fn accepted(request: &TimedRequest) -> Value {
    let verb = match request.kind {
        TimedKind::Extend(_) => "Extending",
        TimedKind::RestoreNow | TimedKind::Deadline => "Restoring",
    };
    ephemeral(format!(
        ":hourglass_flowing_sand: {verb} the timed change on {}…",
        target(request, None)
    ))
}

/// What the step does to a timed change, as a verb.
fn verb(kind: TimedKind) -> &'static str {
    match kind {
        TimedKind::Extend(_) => "extend",
        TimedKind::RestoreNow | TimedKind::Deadline => "restore",
    }
}

/// When a timed change ends, for a reply: each reader sees their own time zone.
pub fn ends(until: i64) -> String {
    format!("until {}", date(until))
}

/// What a change for good says of the timed change it replaces, for a stage or a plan alike:
/// its record is removed, so nothing comes back at its old deadline.
pub fn replaces(ended: i64) -> String {
    replaces_all(ended, &[])
}

/// The same, naming each older timed change under it that ends with it, and who set it.
pub fn replaces_all(ended: i64, below: &[(i64, String)]) -> String {
    if below.is_empty() {
        return format!(
            "This replaces the timed change that was to end {}: nothing will be put back then.",
            date(ended)
        );
    }
    let under: Vec<String> = below
        .iter()
        .map(|(until, by)| format!("one set by {} to end {}", setter_of(by), date(*until)))
        .collect();
    format!(
        "This replaces the timed change that was to end {}, and those under it ({}): they all end now, and nothing will be put back.",
        date(ended),
        under.join("; ")
    )
}

/// Who set a timed change, from its record.
fn setter<L>(record: &Timed<L>) -> String {
    setter_of(&record.by)
}

/// Who set a timed change, from a record's `by`: a person, the scheduled job or an alarm.
fn setter_of(by: &str) -> String {
    match by {
        "schedule" => "the scheduled job".to_owned(),
        by if by.starts_with("alarm:") => format!("alarm {}", code(&by["alarm:".len()..])),
        user => format!("<@{}>", escape(user)),
    }
}

/// What comes back, step by step, when a timed change ends: `then rate 50, burst 100 until
/// <date>, then nothing set`. Each step is the timed change under it (while still in force),
/// the last the values from before the first.
pub fn then_back(steps: &[(i64, Configured)]) -> String {
    let mut text = String::new();
    for (at, (_, values)) in steps.iter().enumerate() {
        if at > 0 {
            text.push_str(", ");
        }
        text.push_str(&format!("then {}", limits(values)));
        if let Some((next, _)) = steps.get(at + 1) {
            text.push_str(&format!(" {}", ends(*next)));
        }
    }
    if text.is_empty() {
        text.push_str("then the values before");
    }
    text
}

/// One line of `show`: a timed change in force.
pub fn in_force(record: &Timed) -> String {
    in_force_at(&level_label(&record.level), record)
}

/// One line of `show` (a stage's or a usage plan's): the timed change in force at `level`.
pub fn in_force_at<L: RecordLevel>(level: &str, record: &Timed<L>) -> String {
    format!(
        ":stopwatch: {}: timed {} {}, set by {} on {}; {}",
        capitalise(level),
        limits(&record.set),
        ends(record.until),
        setter(record),
        date(record.since),
        then_back(&record.steps()),
    )
}

/// One line of `show`: a `throttle-bot:` tag this service did not seal.
pub fn unsealed(found: &Unsealed) -> String {
    let (key, value) = (code(&found.key), code(&found.value));
    match found.aside {
        Some(Aside::Ended(until)) => format!(
            ":rotating_light: {key} = {value}: *a stale record* (its timed change was to end {}, more than a day ago; a record left or put back from long ago is never acted on); a person must decide",
            date(until)
        ),
        Some(Aside::Finished(until)) => format!(
            ":rotating_light: {key} = {value}: *a record put back* (its timed change, due {}, was already finished here; a finished record is never acted on again); a person must decide",
            date(until)
        ),
        Some(Aside::Outdated { written, updated }) => format!(
            ":rotating_light: {key} = {value}: *not written for the stage as it is* (written {}, but the stage was updated {}: a deployment, another tool's change, or a record put back); never acted on: type the values the level should hold, then remove the tag",
            date(written),
            date(updated)
        ),
        None => format!(
            ":rotating_light: {key} = {value}: *not made by throttle-bot* (not sealed by this service); nothing acts on it, a person must decide"
        ),
    }
}

fn target(request: &TimedRequest, api: Option<&ResolvedApi>) -> String {
    let api = api.map_or_else(|| code(&request.api.to_string()), api_label);
    format!(
        "{api} / {} ({})",
        code(request.stage.as_str()),
        level_label(&request.level)
    )
}

pub(super) fn in_channel(text: String) -> Value {
    json!({
        "response_type": "in_channel",
        "replace_original": false,
        "text": text,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
    })
}

/// What came back when a timed change ended: a stage's [`Applied`] or a plan's
/// [`PlanApplied`].
pub trait CameBack {
    fn after(&self) -> &Configured;
    /// When the timed change that came back ends, and the steps after it; `None` when the
    /// values from before the first came back.
    fn then(&self) -> Option<&[(i64, Configured)]>;
}

impl CameBack for Applied {
    fn after(&self) -> &Configured {
        &self.after
    }
    fn then(&self) -> Option<&[(i64, Configured)]> {
        self.until.map(|_| self.steps.as_slice())
    }
}

impl CameBack for PlanApplied {
    fn after(&self) -> &Configured {
        &self.after
    }
    fn then(&self) -> Option<&[(i64, Configured)]> {
        self.until.map(|_| self.steps.as_slice())
    }
}

/// The reply to `extend` or `restore`: what happened is for the channel, a miss for the user.
pub fn reply(
    request: &TimedRequest,
    api: Option<&ResolvedApi>,
    result: &Result<TimedDone, Failure>,
    actor: &Requester,
) -> Value {
    reply_at(&target(request, api), request.kind, result, actor)
}

/// The same for any level: `at` names it (a stage's or a usage plan's).
pub fn reply_at<L: RecordLevel, A: CameBack, E: std::fmt::Display>(
    at: &str,
    kind: TimedKind,
    result: &Result<TimedDone<L, A>, E>,
    actor: &Requester,
) -> Value {
    let by = actor
        .user()
        .map_or_else(|| "throttle-bot".to_owned(), |u| format!("<@{}>", u.user));
    match result {
        Ok(TimedDone::Extended(record)) => in_channel(format!(
            ":stopwatch: {by} extended the timed change on {at}: {} now stays {}, {}.",
            limits(&record.set),
            ends(record.until),
            then_back(&record.steps())
        )),
        Ok(TimedDone::Restored { record, applied }) => in_channel(format!(
            ":leftwards_arrow_with_hook: {by} restored {at} early: {} → {} ({}).",
            limits(&record.set),
            limits(applied.after()),
            back_is(record, &**applied)
        )),
        Ok(TimedDone::AlreadyBack(record)) => ephemeral(format!(
            ":information_source: {at} already has the values from before the timed change ({}); its record was removed.",
            limits(&record.restore)
        )),
        Ok(TimedDone::Moved { record, found }) => ephemeral(moved_text(at, record, found)),
        Ok(TimedDone::Outdated { record, updated }) => {
            ephemeral(outdated_text(at, record, *updated))
        }
        Ok(TimedDone::NothingPending) => ephemeral(format!(
            ":information_source: No timed change is in force on {at}. `show` lists the ones that are."
        )),
        Ok(TimedDone::NotDue(record)) => ephemeral(format!(
            ":information_source: The timed change on {at} runs {}.",
            ends(record.until)
        )),
        Err(error) => ephemeral(format!(
            ":x: Could not {} the timed change on {at}. Nothing was changed.\n{}.",
            verb(kind),
            escape(&capitalise(&error.to_string()))
        )),
    }
}

/// What the values that came back are: the timed change under the one that ended, or the
/// values from before.
fn back_is<L, A: CameBack>(record: &Timed<L>, applied: &A) -> String {
    match applied.then() {
        Some(steps) => format!(
            "the timed change under the one set by {}; {}",
            setter(record),
            then_back(steps)
        ),
        None => format!(
            "the values before the timed change set by {}",
            setter(record)
        ),
    }
}

fn outdated_text<L: RecordLevel>(at: &str, record: &Timed<L>, updated: i64) -> String {
    format!(
        ":warning: *Not restored:* the timed change on {at} (set {} by {}) was recorded {}, but the stage was updated {} since: a deployment, another tool's change, or its record put back. A record that no longer describes the stage is never acted on, so nothing was restored (it would have gone back to {}); its record was removed. *A person must decide* what the level should hold, and set it.",
        limits(&record.set),
        setter(record),
        date(record.at),
        date(updated),
        limits(&record.comes_back(record.until)),
    )
}

fn moved_text<L>(at: &str, record: &Timed<L>, found: &Configured) -> String {
    format!(
        ":warning: *Not restored:* the timed change on {at} set {}, but the level now holds {}: someone changed it since. Nothing was restored (it would have gone back to {}). *A person must decide* what it should be; the timed change's record was removed.",
        limits(&record.set),
        limits(found),
        limits(&record.restore)
    )
}

/// The audit notice (and, with a bot token, the channel's message) of a timed step.
pub fn notice(
    request: &TimedRequest,
    api: Option<&ResolvedApi>,
    result: &Result<TimedDone, Failure>,
    actor: &Requester,
) -> Option<Value> {
    notice_at(&target(request, api), request.kind, result, actor)
}

/// The same for any level: `at` names it (a stage's or a usage plan's).
pub fn notice_at<L: RecordLevel, A: CameBack, E: std::fmt::Display>(
    at: &str,
    kind: TimedKind,
    result: &Result<TimedDone<L, A>, E>,
    actor: &Requester,
) -> Option<Value> {
    let who = describe(actor);
    let text = match result {
        Ok(TimedDone::Extended(record)) => format!(
            ":stopwatch: Timed change on {at} extended: {} now {} ({who})",
            limits(&record.set),
            ends(record.until)
        ),
        Ok(TimedDone::Restored { record, applied }) => format!(
            ":leftwards_arrow_with_hook: Timed change on {at} ended: {} → {}, {} ({who})",
            limits(&record.set),
            limits(applied.after()),
            back_is(record, &**applied)
        ),
        Ok(TimedDone::AlreadyBack(record)) => format!(
            ":information_source: Timed change on {at} ended; the level already had its values from before ({}), so only the record was removed ({who})",
            limits(&record.restore)
        ),
        Ok(TimedDone::Moved { record, found }) => {
            format!(
                "{} ({who}, set by {})",
                moved_text(at, record, found),
                setter(record)
            )
        }
        Ok(TimedDone::Outdated { record, updated }) => {
            format!("{} ({who})", outdated_text(at, record, *updated))
        }
        Ok(TimedDone::NothingPending | TimedDone::NotDue(_)) => return None,
        Err(error) => format!(
            ":x: Could not {} the timed change on {at}: {} ({who}){}",
            verb(kind),
            escape(&error.to_string()),
            match kind {
                TimedKind::Deadline => "; it will be tried again",
                _ => "",
            }
        ),
    };
    Some(notice_of(text))
}

/// The alert for `throttle-bot:` tags this service did not seal, found at `place`.
pub(super) fn untrusted(place: &str, found: &[crate::domain::Unsealed]) -> Value {
    if found.iter().any(|tag| tag.aside.is_some()) {
        return notice_of(format!(
            ":rotating_light: *Not acted on:* on {place}: {}",
            found.iter().map(unsealed).collect::<Vec<_>>().join(" ")
        ));
    }
    let one = found.len() == 1;
    notice_of(format!(
        ":rotating_light: *Not made by throttle-bot:* {} on {place} {} not sealed by this service (hand-written, edited or copied). Nothing will act on {}; a person must decide whether to remove {}: {}",
        if one {
            "a `throttle-bot:` tag"
        } else {
            "`throttle-bot:` tags"
        },
        if one { "is" } else { "are" },
        if one { "it" } else { "them" },
        if one { "it" } else { "them" },
        found
            .iter()
            .map(|tag| format!("{} = {}", code(&tag.key), code(&tag.value)))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ApiRef;

    #[test]
    fn a_change_for_good_over_a_stack_names_each_layer_that_ends_and_who_set_it() {
        let text = replaces_all(1_795_703_400, &[(1_795_709_000, "U0BOB".to_owned())]);
        assert!(text.contains("<!date^1795703400^"), "{text}");
        assert!(
            text.contains("one set by <@U0BOB> to end <!date^1795709000^"),
            "{text}"
        );
        assert!(text.contains("they all end now"), "{text}");
        assert_eq!(replaces_all(1_795_703_400, &[]), replaces(1_795_703_400));
        let alarm = replaces_all(1, &[(2, "alarm:5xx".to_owned())]);
        assert!(alarm.contains("one set by alarm `5xx`"), "{alarm}");
    }
    use crate::domain::{ApiId, Configured, Level, StageName};

    fn record(by: &str) -> Timed {
        Timed {
            level: Level::Stage,
            restore: Configured::default(),
            set: Configured {
                rate: Some(5.0),
                burst: Some(10),
            },
            since: 1_795_700_000,
            at: 1_795_700_000,
            until: 1_795_701_800,
            by: by.to_owned(),
            channel: None,
            thread: None,
            below: Vec::new(),
        }
    }

    #[test]
    fn show_names_the_values_the_end_in_each_readers_zone_and_who() {
        let line = in_force(&record("U2CERLKJA"));
        assert!(line.contains("5 req/s, burst 10"), "{line}");
        assert!(line.contains("<!date^1795701800^"), "{line}");
        assert!(line.contains("<@U2CERLKJA>"), "{line}");
        assert!(line.contains("; then not set"), "{line}");
        let mut stacked = record("U2CERLKJA");
        stacked.below.push(crate::domain::Layer {
            set: Configured {
                rate: Some(50.0),
                burst: Some(100),
            },
            until: 1_795_709_000,
            by: "U1".to_owned(),
        });
        let line = in_force(&stacked);
        assert!(
            line.contains("; then 50 req/s, burst 100 until <!date^1795709000^")
                && line.ends_with(", then not set"),
            "{line}"
        );
        let alarm = in_force(&record("alarm:<!channel>"));
        assert!(alarm.contains("alarm `"), "{alarm}");
        assert!(!alarm.contains("<!channel>"), "escaped: {alarm}");
    }

    #[test]
    fn a_refused_restore_says_what_was_expected_and_found_and_who_decides() {
        let request = TimedRequest {
            api: ApiRef::parse("a1b2c3d4e5").unwrap(),
            stage: StageName::parse("prod").unwrap(),
            level: Level::Stage,
            kind: TimedKind::Deadline,
        };
        let api = ResolvedApi {
            kind: Default::default(),
            id: ApiId::parse("a1b2c3d4e5").unwrap(),
            name: None,
        };
        let found = Configured {
            rate: Some(3.0),
            burst: Some(6),
        };
        let result = Ok(TimedDone::Moved {
            record: Box::new(record("U1")),
            found,
        });
        let told = notice(&request, Some(&api), &result, &Requester::Deadline).unwrap();
        let text = told["text"].as_str().unwrap();
        assert!(text.contains("Not restored"), "{text}");
        assert!(text.contains("set 5 req/s, burst 10"), "expected: {text}");
        assert!(text.contains("now holds 3 req/s, burst 6"), "found: {text}");
        assert!(text.contains("A person must decide"), "{text}");
        let failed: Result<TimedDone, Failure> = Err(Failure::Busy);
        let retried = notice(&request, Some(&api), &failed, &Requester::Deadline).unwrap();
        assert!(retried["text"].as_str().unwrap().contains("tried again"));
        let quiet: Result<TimedDone, Failure> = Ok(TimedDone::NothingPending);
        assert!(notice(&request, Some(&api), &quiet, &Requester::Deadline).is_none());
    }
}
