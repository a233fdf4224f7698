//! What `history` answers: each change, newest first — when, what (before → after), who, and
//! whether it came through throttle-bot — then what CloudTrail may not list yet.

use super::*;
use crate::domain::{
    History, HistoryEntry, InForce, LevelChange, Lookback, Principal, STALE_AFTER_SECS, TrailEvent,
    TrailWhat, Written, is_record_key,
};

/// At most this many changes are listed (Slack's 50 blocks, 3,000 characters each).
const MAX_LISTED: usize = 60;

/// The acknowledgement while CloudTrail is read.
pub(super) fn reading(request: &ShowRequest, lookback: Lookback) -> Value {
    let stage = request
        .stage
        .as_ref()
        .map_or_else(String::new, |s| format!(" stage {}", code(s.as_str())));
    ephemeral(format!(
        ":mag: Reading CloudTrail for changes to {}{stage} in the last {lookback}…",
        code(&request.api.to_string())
    ))
}

/// The answer to `history`.
pub(super) fn shown(history: &History) -> Value {
    let api = api_label(&history.api);
    let place = match &history.stage {
        Some(stage) => format!("{api} / stage {}", code(stage.as_str())),
        None => format!("{api}, every stage"),
    };
    let count = match history.entries.len() {
        0 => "no changes".to_owned(),
        1 => "1 change".to_owned(),
        n => format!("{n} changes"),
    };
    let summary = format!(
        "{count} in the last {} (since {}), newest first",
        history.lookback,
        date(history.from)
    );
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": "Throttling history" } }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("*{place}*: {summary}") } }),
    ];
    let mut text = format!("Throttling history of {place}: {summary}.");
    let mut section = String::new();
    for entry in history.entries.iter().take(MAX_LISTED) {
        let line = line(entry);
        text.push_str(&format!("\n{line}"));
        if section.chars().count() + line.chars().count() + 1 > SECTION_MAX - 100 {
            blocks
                .push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": section } }));
            section = String::new();
        }
        if !section.is_empty() {
            section.push('\n');
        }
        section.push_str(&truncate(&line, SECTION_MAX - 100));
    }
    if !section.is_empty() {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": section } }));
    }
    let mut notes = Vec::new();
    if history.entries.len() > MAX_LISTED {
        notes.push(format!(
            "…and {} older changes: ask for a shorter time, or one stage.",
            history.entries.len() - MAX_LISTED
        ));
    }
    for (stage, timed) in &history.not_listed {
        notes.push(format!(
            ":hourglass: The timed change {} made on stage {} at {} is not listed yet.",
            setter(&timed.by),
            code(stage),
            date(timed.since)
        ));
    }
    notes.push(format!(
        "CloudTrail lists a change typically within 5 minutes, sometimes 15: one made after {} may not be here yet.",
        date(history.to - 15 * 60)
    ));
    for unread in &history.unread {
        notes.push(format!(":warning: Not read: {}", escape(unread)));
    }
    for note in notes {
        text.push_str(&format!("\n{note}"));
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": truncate(&note, SECTION_MAX) }] }));
    }
    blocks.truncate(50);
    json!({ "response_type": "ephemeral", "text": truncate(&text, 40_000), "blocks": blocks })
}

/// `history` could not be read.
pub(super) fn failed(request: &ShowRequest, error: &GatewayError) -> Value {
    ephemeral(format!(
        ":warning: Could not read the history of {}: {}.",
        code(&request.api.to_string()),
        escape(&error.to_string())
    ))
}

/// One change: when, where and what, who, and whether it came through throttle-bot.
fn line(entry: &HistoryEntry) -> String {
    let event = &entry.event;
    let stage = place(&event.stage);
    let what = match &event.what {
        TrailWhat::Levels(levels) => format!("{stage}: {}", changes(levels)),
        TrailWhat::Other => format!("{stage} updated, not its throttling"),
        TrailWhat::Deployed => {
            format!("deployment to {stage} (throttling stays as the stage has it)")
        }
        TrailWhat::Plan { plan, levels, wide } if levels.is_empty() && wide.is_none() => {
            format!("{stage} added to or removed from usage plan {}", code(plan))
        }
        TrailWhat::Plan { plan, levels, wide } => {
            let wide = wide.iter().map(|w| change("plan-wide".to_owned(), w));
            let all: Vec<String> = wide.chain(levels.iter().map(level_change)).collect();
            format!("usage plan {}, {stage}: {}", code(plan), all.join("; "))
        }
        TrailWhat::Tagged(tags) => tagged(entry, tags),
        TrailWhat::Untagged(keys) => untagged(&stage, keys),
        TrailWhat::Refused(code_) => {
            format!("{stage}: refused ({}): nothing changed", code(code_))
        }
        TrailWhat::Unread(why) => match event.stage.is_empty() {
            true => format!("a change not read ({})", escape(why)),
            false => format!("{stage}: a change not read ({})", escape(why)),
        },
    };
    let blocks = blocks_every_request(event).then_some(" — :no_entry: blocks every request");
    format!(
        "• {} — {what}{} — {} ({})",
        date(event.at),
        blocks.unwrap_or_default(),
        who(entry),
        event.call
    )
}

/// `stage `prod``, `stages `prod`, `beta`` (a usage plan's own throttle), or a stage not named.
fn place(stage: &str) -> String {
    match stage {
        "" => "a stage not named".to_owned(),
        stage if stage.contains(", ") => format!(
            "stages {}",
            stage.split(", ").map(code).collect::<Vec<_>>().join(", ")
        ),
        stage => format!("stage {}", code(stage)),
    }
}

/// `throttle-bot:` tags removed outside the bot: a record removed leaves its values for good.
fn untagged(stage: &str, keys: &[String]) -> String {
    keys.iter()
        .map(|key| match is_record_key(key) {
            true => format!(
                "record {} removed from {stage}: the timed change it held no longer ends, its values stay",
                code(key)
            ),
            false => format!("{} removed from {stage}", code(key)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `throttle-bot:` tags written outside the bot: a sealed record put back (acted on while its
/// change is recent), or one written by hand (never acted on).
fn tagged(entry: &HistoryEntry, tags: &[(String, String)]) -> String {
    let event = &entry.event;
    let stage = place(&event.stage);
    let mut by_hand = Vec::new();
    let mut parts = Vec::new();
    for (key, _) in tags {
        match entry.put_back.iter().find(|(k, _)| k == key) {
            Some((_, timed)) => {
                let acted = if timed.until.saturating_add(STALE_AFTER_SECS) < event.at {
                    "it ended over a day before: nothing acts on it"
                } else {
                    "throttle-bot may act on it in their name"
                };
                parts.push(format!(
                    "{} on {stage}: a sealed record put back by {} ({}'s timed change, until {}; {acted})",
                    code(key),
                    principal(&event.principal),
                    setter(&timed.by),
                    date(timed.until)
                ));
            }
            None if is_record_key(key) => by_hand.push(code(key)),
            None => parts.push(format!("{} written on {stage}", code(key))),
        }
    }
    if !by_hand.is_empty() {
        parts.push(format!(
            "`throttle-bot:` record written by hand on {stage} ({}): not sealed by throttle-bot, nothing acts on it",
            by_hand.join(", ")
        ));
    }
    parts.join("; ")
}

/// Who made it, and how.
fn who(entry: &HistoryEntry) -> String {
    let principal = principal(&entry.event.principal);
    if !entry.event.by_bot {
        let during = entry.during.as_ref().map(during).unwrap_or_default();
        let how = match entry.event.bot_agent {
            true => " with throttle-bot's user agent, *not verifiably throttle-bot*",
            false => ", *outside throttle-bot*",
        };
        return format!("by {principal}{how}{during}");
    }
    match &entry.asked_by {
        Some(asker) if asker.ended => format!(
            "via throttle-bot: the end of {}'s timed change",
            setter(&asker.by)
        ),
        Some(asker) => format!("via throttle-bot, asked by {}", setter(&asker.by)),
        None => format!("through throttle-bot ({principal}); who asked is in the audit channel"),
    }
}

fn during(timed: &InForce) -> String {
    format!(
        " :warning: while {}'s timed change was in force (until {})",
        setter(&timed.by),
        date(timed.until)
    )
}

fn principal(principal: &Principal) -> String {
    match principal {
        Principal::User { name, .. } => format!("IAM user {}", code(name)),
        Principal::Role { role, session, .. } => {
            format!("role {} (session {})", code(role), code(session))
        }
        Principal::Other(who) => code(who),
    }
}

/// A chat user id, the schedule, or an alarm, as records name them.
fn setter(by: &str) -> String {
    match by {
        "schedule" => "the scheduled job".to_owned(),
        by if by.starts_with("alarm:") => format!("alarm {}", code(&by["alarm:".len()..])),
        user => format!("<@{}>", escape(user)),
    }
}

/// `stage-wide rate 100 req/s, burst 200 → rate 0 req/s, burst 0; method `GET /pets` removed`.
fn changes(levels: &[LevelChange]) -> String {
    levels
        .iter()
        .map(level_change)
        .collect::<Vec<_>>()
        .join("; ")
}

fn level_change(level: &LevelChange) -> String {
    change(level_label(&level.level), level)
}

/// One level's change, under `label`.
fn change(label: String, change: &LevelChange) -> String {
    match (change.before, change.after()) {
        (_, Some(after)) if !after.is_set() => {
            format!("{label} override removed (follows the level above)")
        }
        (Some(before), Some(after)) => {
            format!("{label} {} → {}", limits(&before), limits(&after))
        }
        (None, Some(after)) => format!("{label} → {}", limits(&after)),
        (_, None) => format!("{label} {}", named(change)),
    }
}

/// The values a call named when the rest is not known: `rate → 0 req/s`.
fn named(change: &LevelChange) -> String {
    let mut parts = Vec::new();
    match change.rate {
        Written::To(value) => parts.push(format!("rate → {}", rate(Some(value)))),
        Written::Unset => parts.push("rate → not set".to_owned()),
        Written::Untouched => {}
    }
    match change.burst {
        Written::To(value) => parts.push(format!("burst → {value}")),
        Written::Unset => parts.push("burst → not set".to_owned()),
        Written::Untouched => {}
    }
    parts.join(", ")
}

/// Whether a change left a level rejecting every request (a rate or burst of 0).
fn blocks_every_request(event: &TrailEvent) -> bool {
    let levels: Vec<&LevelChange> = match &event.what {
        TrailWhat::Levels(levels) => levels.iter().collect(),
        TrailWhat::Plan { levels, wide, .. } => levels.iter().chain(wide).collect(),
        _ => return false,
    };
    levels.iter().any(|change| {
        matches!(change.rate, Written::To(rate) if rate == 0.0)
            || matches!(change.burst, Written::To(0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiId, ApiKind, Asker, Configured, Level, ResolvedApi, TrailCall};

    fn entry(by_bot: bool, what: TrailWhat) -> HistoryEntry {
        HistoryEntry {
            event: TrailEvent {
                id: "1".into(),
                call: TrailCall::UpdateStage,
                at: 1_795_701_800,
                principal: Principal::User {
                    account: "1".into(),
                    name: "alice".into(),
                },
                by_bot,
                bot_agent: by_bot,
                stage: "prod".into(),
                what,
            },
            asked_by: None,
            during: None,
            put_back: Vec::new(),
        }
    }

    fn zero() -> TrailWhat {
        TrailWhat::Levels(vec![LevelChange {
            level: Level::Stage,
            rate: Written::To(0.0),
            burst: Written::To(0),
            before: Some(Configured {
                rate: Some(100.0),
                burst: Some(200),
            }),
        }])
    }

    #[test]
    fn a_change_outside_the_bot_during_a_timed_change_names_both() {
        let mut outside = entry(false, zero());
        outside.during = Some(InForce {
            by: "U123ABC".into(),
            since: 1_795_700_000,
            until: 1_795_709_000,
        });
        let text = line(&outside);
        assert!(text.contains("<!date^1795701800^"), "{text}");
        assert!(
            text.contains("100 req/s, burst 200 → 0 req/s, burst 0"),
            "{text}"
        );
        assert!(text.contains("blocks every request"), "{text}");
        assert!(
            text.contains("IAM user `alice`, *outside throttle-bot*"),
            "{text}"
        );
        assert!(
            text.contains("while <@U123ABC>'s timed change was in force"),
            "{text}"
        );
    }

    #[test]
    fn the_bots_change_names_the_chat_user_who_asked() {
        let mut ours = entry(true, zero());
        ours.asked_by = Some(Asker {
            by: "U123ABC".into(),
            ended: false,
        });
        assert!(line(&ours).contains("via throttle-bot, asked by <@U123ABC>"));
        ours.asked_by = None;
        let unknown = line(&ours);
        assert!(
            unknown.contains(
                "through throttle-bot (IAM user `alice`); who asked is in the audit channel"
            ),
            "{unknown}"
        );
    }

    #[test]
    fn a_call_with_the_bots_user_agent_from_another_identity_is_not_called_the_bots() {
        let mut claimed = entry(false, zero());
        claimed.event.bot_agent = true;
        let text = line(&claimed);
        assert!(!text.contains("via throttle-bot"), "{text}");
        assert!(
            text.contains(
                "by IAM user `alice` with throttle-bot's user agent, *not verifiably throttle-bot*"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_sealed_record_put_back_is_worded_apart_from_one_written_by_hand() {
        let tags = vec![(
            "throttle-bot:stage".to_owned(),
            "set=5/10 … mac=00".to_owned(),
        )];
        let by_hand = line(&entry(false, TrailWhat::Tagged(tags.clone())));
        assert!(
            by_hand.contains("written by hand") && by_hand.contains("nothing acts on it"),
            "{by_hand}"
        );
        let mut put_back = entry(false, TrailWhat::Tagged(tags.clone()));
        let window = |until: i64| InForce {
            by: "U123ABC".into(),
            since: until - 3600,
            until,
        };
        put_back.put_back = vec![("throttle-bot:stage".into(), window(1_795_702_000))];
        let text = line(&put_back);
        assert!(
            text.contains("a sealed record put back by IAM user `alice`"),
            "{text}"
        );
        assert!(!text.contains("written by hand"), "{text}");
        assert!(text.contains("<@U123ABC>'s timed change"), "{text}");
        assert!(text.contains("throttle-bot may act on it"), "{text}");
        // One whose change ended more than a day before is never acted on.
        put_back.put_back = vec![("throttle-bot:stage".into(), window(1_795_501_800))];
        let stale = line(&put_back);
        assert!(
            stale.contains("a sealed record put back by IAM user `alice`")
                && stale.contains("nothing acts on it"),
            "{stale}"
        );
    }

    #[test]
    fn changes_not_read_refused_untagged_and_plan_wide_are_each_shown() {
        let unread = line(&entry(
            false,
            TrailWhat::Unread("route key `BOGUS` not understood".into()),
        ));
        assert!(
            unread.contains("a change not read (route key `BOGUS` not understood)"),
            "{unread}"
        );
        let refused = line(&entry(false, TrailWhat::Refused("AccessDenied".into())));
        assert!(
            refused.contains("refused (`AccessDenied`): nothing changed"),
            "{refused}"
        );
        let untagged = line(&entry(
            false,
            TrailWhat::Untagged(vec!["throttle-bot:stage".into()]),
        ));
        assert!(
            untagged.contains("record `throttle-bot:stage` removed from stage `prod`")
                && untagged.contains("its values stay"),
            "{untagged}"
        );
        let wide = line(&entry(
            false,
            TrailWhat::Plan {
                plan: "gold1".into(),
                levels: Vec::new(),
                wide: Some(LevelChange {
                    level: Level::Stage,
                    rate: Written::To(0.0),
                    burst: Written::To(0),
                    before: None,
                }),
            },
        ));
        assert!(
            wide.contains("usage plan `gold1`, stage `prod`: plan-wide → 0 req/s, burst 0"),
            "{wide}"
        );
        assert!(wide.contains("blocks every request"), "{wide}");
    }

    #[test]
    fn an_http_default_route_left_without_throttling_does_not_block_every_request() {
        let cleared = line(&entry(
            false,
            TrailWhat::Levels(vec![LevelChange::removed(Level::Stage)]),
        ));
        assert!(!cleared.contains("blocks every request"), "{cleared}");
    }

    #[test]
    fn the_answer_is_ephemeral_and_says_events_may_lag() {
        let history = History {
            api: ResolvedApi {
                id: ApiId::parse("a1b2c3d4e5").unwrap(),
                name: Some("petstore".into()),
                kind: ApiKind::Rest,
            },
            stage: None,
            lookback: Lookback::DEFAULT,
            from: 1_795_600_000,
            to: 1_795_686_400,
            entries: vec![entry(false, zero())],
            not_listed: Vec::new(),
            unread: vec!["TagResource: throttled".into()],
        };
        let message = shown(&history);
        assert_eq!(message["response_type"], "ephemeral");
        let text = message["text"].as_str().unwrap();
        assert!(text.contains("1 change in the last 24h"), "{text}");
        assert!(
            text.contains("typically within 5 minutes, sometimes 15"),
            "{text}"
        );
        assert!(text.contains("Not read: TagResource: throttled"), "{text}");
    }
}
