//! What `show` answers: one section per stage, methods under it, timed changes and records
//! not made by throttle-bot.

use super::*;
use crate::domain::{Caveat, MetricsKey, Traffic};

/// The answer to `show`: one section per stage, methods listed under it.
pub(super) fn view(view: &ApiView) -> Value {
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
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("*{api}*") } }),
        json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": account }] }),
    ];
    let mut text = format!("Throttling of {api}. {account}.");
    if let Some(why) = &view.traffic_unread {
        let line = format!("Traffic: could not be read ({})", escape(why));
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": line }] }));
        text.push_str(&format!(" {line}."));
    }
    if view.stages.is_empty() {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": "This API has no stages." } }));
        text.push_str(" No stages.");
    }
    // Slack allows 50 blocks; keep room for the header and a note.
    const MAX_STAGES: usize = 40;
    for stage in view.stages.iter().take(MAX_STAGES) {
        let stage_wide = if stage.stage_wide.is_set() {
            with_blocking(&stage.stage_wide)
        } else {
            "not set (account limit applies)".to_owned()
        };
        let mut lines = format!("*Stage {}*\n• Stage-wide: {stage_wide}", code(&stage.stage));
        let traffic_at = |level: &Level| {
            stage
                .traffic
                .iter()
                .find(|(at, _)| at == level)
                .map(|(_, traffic)| traffic_line(traffic))
        };
        let note = (!stage.kind.stage_can_be_unset()).then(|| {
            format!(
                "An {} stage cannot be unset: `reset` sets the account's limits",
                stage.kind
            )
        });
        if let Some(note) = &note {
            lines.push_str(&format!(" ({note})"));
        }
        let stage_traffic = traffic_at(&Level::Stage);
        if let Some(traffic) = &stage_traffic {
            lines.push_str(&format!("\n   Traffic, {traffic}"));
        }
        for (level, configured) in &stage.methods {
            let value = if configured.is_set() {
                with_blocking(configured)
            } else {
                "not set (stage-wide applies)".to_owned()
            };
            lines.push_str(&format!("\n• {}: {value}", code(&level.to_string())));
            if let Some(traffic) = traffic_at(level) {
                lines.push_str(&format!("\n   Traffic, {traffic}"));
            }
        }
        text.push_str(&format!(" Stage {}: {stage_wide}.", stage.stage));
        if let Some(note) = &note {
            text.push_str(&format!(" {note}."));
        }
        if let Some(traffic) = &stage_traffic {
            text.push_str(&format!(" Traffic, {traffic}."));
        }
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

/// The last hour's traffic at one level, in a line: peak and latest minute, 4XX share; or why
/// there is none, and whether other traffic is counted in.
fn traffic_line(traffic: &Traffic) -> String {
    match (traffic.peak(), traffic.latest(), &traffic.caveat) {
        (Some(peak), Some(latest), caveat) => {
            let mut line = format!(
                "last hour (1-minute averages): peak {} at {}, latest {}; 4XX {} of requests",
                per_second(peak.per_second()),
                date(peak.at),
                per_second(latest.per_second()),
                traffic.client_error_share().map_or("—".to_owned(), percent)
            );
            if let Some(Caveat::SharedName(key)) = caveat {
                line.push_str(&format!(" ({})", shared_name(key)));
            }
            line
        }
        (_, _, Some(Caveat::Unpublished(key))) => format!(
            "last hour: none, and no metrics are published under {} at all (CloudWatch lists none in the last two weeks)",
            key_label(key)
        ),
        _ => "last hour: none published (no requests, or metrics not on for this level)".to_owned(),
    }
}

/// `ApiName `x``: the dimension and value metrics were read under.
pub(super) fn key_label(key: &MetricsKey) -> String {
    format!("{} {}", key.dimension, code(&key.value))
}

/// That another REST API's traffic is counted in.
pub(super) fn shared_name(key: &MetricsKey) -> String {
    format!(
        "another REST API is published under the same {}: these figures are both APIs' together",
        key_label(key)
    )
}

/// Values as `rate, burst`, and whether they reject every request.
fn with_blocking(values: &Configured) -> String {
    if values.blocks() {
        format!("{} — :no_entry: blocks every request", limits(values))
    } else {
        limits(values)
    }
}

/// The answer to `show` when it failed.
pub(super) fn view_failed(request: &ShowRequest, error: &GatewayError) -> Value {
    ephemeral(format!(
        ":x: Could not read the throttling of {}.\n{}.",
        code(&request.api.to_string()),
        escape(&capitalise(&error.to_string()))
    ))
}

/// The answer to `show <alias>:`: each API of the target (name, kind, id to type) with its
/// stages. Only the person who asked sees it.
pub(super) fn target_apis(request: &ListRequest, listed: &TargetApis) -> Value {
    let target = TargetAlias::name(request.target.as_ref());
    if listed.apis.is_empty() {
        return ephemeral(format!("Target {} has no REST or HTTP APIs.", code(target)));
    }
    // Slack allows 50 blocks; a section holds 3000 characters: lines are packed into sections.
    const MAX_LINES: usize = 200;
    let lines: Vec<String> = listed
        .apis
        .iter()
        .take(MAX_LINES)
        .map(|(api, stages)| {
            let stages = match stages {
                Some(stages) if stages.is_empty() => "no stages".to_owned(),
                Some(stages) => {
                    let names: Vec<String> = stages.iter().map(|s| code(s)).collect();
                    format!("stages {}", names.join(", "))
                }
                None => format!("`show {}` for its stages", api.id),
            };
            format!("• {} — {stages}", api_label(api))
        })
        .collect();
    let mut blocks = vec![json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": format!("*APIs in target {}* ({})", code(target), listed.apis.len()) }
    })];
    let mut section = String::new();
    for line in &lines {
        if section.len() + line.len() + 1 > 2900 {
            blocks
                .push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": section } }));
            section = String::new();
        }
        if !section.is_empty() {
            section.push('\n');
        }
        section.push_str(line);
    }
    if !section.is_empty() {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": section } }));
    }
    if listed.apis.len() > MAX_LINES {
        let more = listed.apis.len() - MAX_LINES;
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": format!("…and {more} more") }] }));
    }
    blocks.truncate(50);
    json!({
        "response_type": "ephemeral",
        "text": format!("APIs in target {target}:\n{}", lines.join("\n")),
        "blocks": blocks,
    })
}

pub(super) fn target_failed(request: &ListRequest, error: &GatewayError) -> Value {
    ephemeral(format!(
        ":x: Could not list the APIs of target {}.\n{}.",
        code(TargetAlias::name(request.target.as_ref())),
        escape(&capitalise(&error.to_string()))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Minute;

    fn key(dimension: &'static str, value: &str) -> MetricsKey {
        MetricsKey {
            dimension,
            value: value.to_owned(),
        }
    }

    #[test]
    fn a_key_with_no_metrics_at_all_is_told_apart_from_no_traffic() {
        let unpublished = Traffic {
            caveat: Some(Caveat::Unpublished(key("ApiName", "Zahlungsdienst-"))),
            ..Traffic::default()
        };
        let line = traffic_line(&unpublished);
        assert!(
            line.contains("no metrics are published under ApiName `Zahlungsdienst-`"),
            "{line}"
        );
        assert!(!line.contains("no requests"), "{line}");
        let quiet = traffic_line(&Traffic::default());
        assert!(quiet.contains("no requests"), "{quiet}");
    }

    #[test]
    fn traffic_counted_with_a_namesakes_says_so_next_to_the_figures() {
        let minutes = vec![Minute {
            at: 0,
            requests: 600.0,
            client_errors: 0.0,
        }];
        let shared = Traffic {
            caveat: Some(Caveat::SharedName(key("ApiName", "orders"))),
            ..Traffic::new(minutes.clone())
        };
        let line = traffic_line(&shared);
        assert!(line.contains("peak 10 req/s"), "{line}");
        assert!(
            line.contains("another REST API is published under the same ApiName `orders`"),
            "{line}"
        );
        assert!(!traffic_line(&Traffic::new(minutes)).contains("another REST API"));
    }
}
