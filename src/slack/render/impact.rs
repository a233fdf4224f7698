//! The impact report: one follow-up, `IMPACT_AFTER` after a change or a restore, with the
//! traffic in the minutes before and after it.

use super::*;
use crate::domain::{ResolvedApi, StageName, Traffic};

/// What the minutes before and after a change at `at` served, at its level.
pub fn impact(
    api: &ResolvedApi,
    stage: &StageName,
    level: &Level,
    at: i64,
    (before, after): (&Traffic, &Traffic),
) -> Value {
    let target = format!(
        "{} / {} ({})",
        api_label(api),
        code(stage.as_str()),
        level_label(level)
    );
    let side = |traffic: &Traffic| match traffic.average_per_second() {
        Some(average) => format!(
            "{} on average ({} minutes, 1-minute averages), {} 4XX",
            per_second(average),
            traffic.minutes.len(),
            traffic
                .client_error_share()
                .map_or("no".to_owned(), percent)
        ),
        None => "no traffic published".to_owned(),
    };
    let text = format!(
        ":bar_chart: *Impact* of the change to {target} at {}: before, {}; after, {}.",
        date(at),
        side(before),
        side(after)
    );
    // To the conversation the change was told in, not only to its author.
    json!({
        "response_type": "in_channel",
        "replace_original": false,
        "text": text,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": truncate(&text, SECTION_MAX) } }],
    })
}

/// The impact report when the traffic could not be read.
pub fn impact_unread(api: &ResolvedApi, stage: &StageName, why: &str) -> Value {
    ephemeral(format!(
        ":bar_chart: The impact of the change to {} / {} could not be reported: the traffic could not be read ({}).",
        api_label(api),
        code(stage.as_str()),
        escape(why)
    ))
}
