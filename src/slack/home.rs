//! The Home tab (`views.publish`): the timed changes in force that the viewer may see, each
//! with its deadline and Extend and Restore buttons (sealed like every button of ours), and
//! the last changes made through the bot.

use serde_json::{Value, json};

use super::buttons::{ButtonValue, Buttons, Press};
use super::render::escape;
use crate::domain::{Configured, Level, Timed};

/// A timed change in force, where it is.
#[derive(Debug, Clone)]
pub struct InForce {
    /// The API as typed in a command (its id, with its target).
    pub api: String,
    /// Its name, when the listing knows it.
    pub name: Option<String>,
    pub stage: String,
    pub record: Timed,
}

/// At most this many timed changes are shown (two blocks each, within Slack's 100).
pub const MAX_SHOWN: usize = 40;

/// At most this many recent changes.
const MAX_RECENT: usize = 10;

/// How long the Home tab's buttons work after a timed change's end (a press then finds it
/// over, and says so).
const AFTER_END_SECS: i64 = 60 * 60;

/// The Home view for `viewer` (a chat user id) of `team`.
pub fn home_view(
    viewer: (&str, Option<&str>),
    in_force: &[InForce],
    recent: &[(i64, String)],
    note: Option<&str>,
    buttons: Option<&Buttons>,
) -> Value {
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": "throttle-bot" } }),
        section(
            "Type `/throttle` (or `/throttle new`) to change a stage's throttling in a form; \
             `/throttle help` lists every command.",
        ),
    ];
    if let Some(note) = note {
        blocks.push(section(&format!(
            ":information_source: {}",
            cut(note, 2900)
        )));
    }
    blocks.push(json!({ "type": "header", "text": { "type": "plain_text", "text": "Timed changes in force" } }));
    if in_force.is_empty() {
        blocks.push(section("None that you may see."));
    }
    for (n, timed) in in_force.iter().take(MAX_SHOWN).enumerate() {
        blocks.push(section(&describe(timed)));
        if let Some(buttons) = buttons {
            let press = |press: Press, text: String| {
                let value = ButtonValue {
                    press,
                    text,
                    author: viewer.0.to_owned(),
                    channel: timed.record.channel.clone(),
                    team: viewer.1.map(str::to_owned),
                    expect: None,
                    approvers: Vec::new(),
                    break_glass: false,
                };
                buttons.button(value, timed.record.until + AFTER_END_SECS)
            };
            let level = level_words(&timed.record.level);
            let (api, stage) = (&timed.api, &timed.stage);
            blocks.push(json!({
                "type": "actions",
                "block_id": format!("timed-{n}"),
                "elements": [
                    press(Press::Extend, format!("extend {api} {stage}{level} 30m")),
                    press(Press::Restore, format!("restore {api} {stage}{level}")),
                ],
            }));
        }
    }
    if in_force.len() > MAX_SHOWN {
        blocks.push(section(&format!(
            "…and {} more: `/throttle show <api>` lists a stage's.",
            in_force.len() - MAX_SHOWN
        )));
    }
    blocks.push(json!({ "type": "divider" }));
    blocks.push(json!({ "type": "header", "text": { "type": "plain_text", "text": "Last changes through throttle-bot" } }));
    if recent.is_empty() {
        blocks.push(section(
            "None since this instance started (`/throttle history <api>` reads CloudTrail's).",
        ));
    }
    for (_, text) in recent.iter().rev().take(MAX_RECENT) {
        blocks.push(section(&cut(text, 2900)));
    }
    json!({ "type": "home", "blocks": blocks })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

fn cut(text: &str, max: usize) -> String {
    super::modal::cut(text, max)
}

/// A level as typed after the stage: nothing for the stage itself.
fn level_words(level: &Level) -> String {
    match level {
        Level::Stage => String::new(),
        level => format!(" {level}"),
    }
}

fn values(configured: &Configured) -> String {
    match (configured.rate, configured.burst) {
        (None, None) => "not set".to_owned(),
        (rate, burst) => format!(
            "{} req/s, burst {}",
            rate.map_or("not set".to_owned(), |r| r.to_string()),
            burst.map_or("not set".to_owned(), |b| b.to_string())
        ),
    }
}

fn describe(timed: &InForce) -> String {
    let record = &timed.record;
    let api = match &timed.name {
        Some(name) => format!("*{}* (`{}`)", escape(name), escape(&timed.api)),
        None => format!("`{}`", escape(&timed.api)),
    };
    let level = match &record.level {
        Level::Stage => "stage-wide".to_owned(),
        level => format!("`{}`", escape(&level.to_string())),
    };
    let by = match crate::core::requester::ChatId::parse(&record.by) {
        Some(user) => format!("<@{user}>"),
        None => escape(&record.by),
    };
    format!(
        "{api} / `{}` ({level}): {} until <!date^{}^{{date_short_pretty}} at {{time}}|{} (Unix time)>, set by {by}; then back to {}.",
        escape(&timed.stage),
        values(&record.set),
        record.until,
        record.until,
        values(&record.restore),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Configured;
    use crate::slack::blockkit;
    use crate::slack::signature::SigningSecret;

    fn in_force(n: usize) -> InForce {
        InForce {
            api: "prod:a1b2c3d4e5".to_owned(),
            name: Some(format!("petstore-{n}")),
            stage: "prod".to_owned(),
            record: Timed {
                level: Level::Stage,
                restore: Configured::default(),
                set: Configured {
                    rate: Some(5.0),
                    burst: Some(10),
                },
                since: 1_700_000_000,
                at: 1_700_000_000,
                until: 1_700_001_800,
                by: "U1".to_owned(),
                channel: Some("C1".to_owned()),
                thread: None,
                below: Vec::new(),
            },
        }
    }

    #[test]
    fn a_full_home_tab_stays_within_slacks_limits_and_its_buttons_carry_the_commands() {
        let buttons = Buttons::new(&SigningSecret::new("s").unwrap());
        let many: Vec<InForce> = (0..60).map(in_force).collect();
        let recent: Vec<(i64, String)> = (0..20).map(|n| (n, "x".repeat(4000))).collect();
        let note = "n".repeat(5000);
        let view = home_view(
            ("U1", Some("T1")),
            &many,
            &recent,
            Some(&note),
            Some(&buttons),
        );
        assert_eq!(blockkit::check_view(&view), Vec::<String>::new());
        let extend = &view["blocks"][5]["elements"][0];
        let value = buttons
            .open(extend["value"].as_str().unwrap(), 1_700_000_000)
            .unwrap();
        assert_eq!(value.press, Press::Extend);
        assert_eq!(value.text, "extend prod:a1b2c3d4e5 prod 30m");
        assert_eq!(value.channel.as_deref(), Some("C1"));
        let empty = home_view(("U1", None), &[], &[], None, None);
        assert_eq!(blockkit::check_view(&empty), Vec::<String>::new());
    }
}
