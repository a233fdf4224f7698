//! The impact report: one follow-up, `IMPACT_AFTER` after a change or a restore, with the
//! traffic in the minutes before and after it.

use super::show::{key_label, shared_name};
use super::*;
use crate::domain::{Caveat, ResolvedApi, StageName, Traffic};

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
        None => match &traffic.caveat {
            Some(Caveat::Unpublished(key)) => format!(
                "no metrics published under {} at all (CloudWatch lists none in the last two weeks)",
                key_label(key)
            ),
            _ => "no traffic published".to_owned(),
        },
    };
    let mut text = format!(
        ":bar_chart: *Impact* of the change to {target} at {}: before, {}; after, {}.",
        date(at),
        side(before),
        side(after)
    );
    if let Some(Caveat::SharedName(key)) = &before.caveat {
        text.push_str(&format!(" Note: {}.", shared_name(key)));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiId, ApiKind, MetricsKey, Minute};

    fn report(before: &Traffic, after: &Traffic) -> String {
        let api = ResolvedApi {
            id: ApiId::parse("a1b2c3d4e5").unwrap(),
            name: Some("orders".to_owned()),
            kind: ApiKind::Rest,
        };
        let value = impact(
            &api,
            &StageName::parse("prod").unwrap(),
            &Level::Stage,
            0,
            (before, after),
        );
        value["text"].as_str().unwrap().to_owned()
    }

    fn key() -> MetricsKey {
        MetricsKey {
            dimension: "ApiName",
            value: "orders".to_owned(),
        }
    }

    #[test]
    fn an_api_without_metrics_is_not_reported_as_one_without_traffic() {
        let unpublished = Traffic {
            caveat: Some(Caveat::Unpublished(key())),
            ..Traffic::default()
        };
        let text = report(&unpublished, &unpublished);
        assert!(
            text.contains("before, no metrics published under ApiName `orders` at all"),
            "{text}"
        );
        assert!(!text.contains("no traffic published"), "{text}");
    }

    #[test]
    fn a_report_counting_a_namesakes_traffic_says_so() {
        let shared = Traffic {
            caveat: Some(Caveat::SharedName(key())),
            ..Traffic::new(vec![Minute {
                at: 0,
                requests: 60.0,
                client_errors: 0.0,
            }])
        };
        let text = report(&shared, &shared);
        assert!(
            text.contains("another REST API is published under the same ApiName `orders`"),
            "{text}"
        );
    }
}
