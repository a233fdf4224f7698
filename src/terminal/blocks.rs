//! A Slack message as a terminal shows it: Block Kit's sections, fields, context and dividers
//! as lines of text; mentions as `@name`, date tokens as a time, links as their label; buttons
//! as numbered actions the next line can press.

use serde_json::Value;

/// One button a message carries: what Slack would send back when it is pressed.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub label: String,
    pub action_id: String,
    pub value: String,
}

/// How names and times read: who an id is, and what "today" is.
pub trait Reader {
    /// The name of a user or channel id, if known.
    fn name(&self, id: &str) -> Option<String>;
    /// Now, in Unix seconds.
    fn now(&self) -> i64;
}

/// A message's lines and buttons. `number` gives each button its number, in order.
pub fn message(
    body: &Value,
    reader: &dyn Reader,
    number: &mut dyn FnMut(Button) -> usize,
) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(blocks) = body["blocks"].as_array().filter(|b| !b.is_empty()) else {
        if let Some(text) = body["text"].as_str() {
            lines.extend(mrkdwn(text, reader).lines().map(str::to_owned));
        }
        return lines;
    };
    for block in blocks {
        block_lines(block, reader, number, &mut lines);
    }
    lines
}

fn block_lines(
    block: &Value,
    reader: &dyn Reader,
    number: &mut dyn FnMut(Button) -> usize,
    lines: &mut Vec<String>,
) {
    let text = |value: &Value| value["text"].as_str().map(|t| mrkdwn(t, reader));
    match block["type"].as_str().unwrap_or_default() {
        "section" | "header" => {
            if let Some(said) = text(&block["text"]) {
                lines.extend(said.lines().map(str::to_owned));
            }
            for field in block["fields"].as_array().into_iter().flatten() {
                if let Some(said) = text(field) {
                    lines.push(field_line(&said));
                }
            }
            if block["accessory"]["type"] == "button" {
                lines.push(buttons(std::slice::from_ref(&block["accessory"]), number));
            }
        }
        "context" => {
            let said: Vec<String> = block["elements"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|element| match element["type"].as_str() {
                    Some("image") => None,
                    _ => text(element),
                })
                .collect();
            lines.extend(said.join("  ").lines().map(str::to_owned));
        }
        "divider" => lines.push("───".to_owned()),
        "actions" => {
            let elements = block["elements"].as_array().cloned().unwrap_or_default();
            let line = buttons(&elements, number);
            if !line.is_empty() {
                lines.push(line);
            }
        }
        "image" => lines.push(format!(
            "[picture: {}]",
            block["alt_text"].as_str().unwrap_or("an image")
        )),
        "input" => {
            let label = text(&block["label"]).unwrap_or_default();
            lines.push(format!("{label}: ____"));
        }
        _ => {}
    }
}

/// A field's `*Title*\nvalue` as `Title: value`.
fn field_line(said: &str) -> String {
    match said.split_once('\n') {
        Some((title, value)) => {
            let title = title.trim_matches('*');
            format!("{title}: {}", value.replace('\n', " "))
        }
        None => said.to_owned(),
    }
}

fn buttons(elements: &[Value], number: &mut dyn FnMut(Button) -> usize) -> String {
    elements
        .iter()
        .filter(|element| element["type"] == "button")
        .map(|element| {
            let label = element["text"]["text"].as_str().unwrap_or("?").to_owned();
            let n = number(Button {
                label: label.clone(),
                action_id: element["action_id"].as_str().unwrap_or_default().to_owned(),
                value: element["value"].as_str().unwrap_or_default().to_owned(),
            });
            format!("[{n}] {label}")
        })
        .collect::<Vec<_>>()
        .join("   ")
}

/// Slack's `mrkdwn` as plain text: `<@U1>` as `@name`, `<#C1|ops>` as `#ops`, `<!date^…>` as
/// the time it stands for, `<url|label>` as the label, and `&lt;` `&gt;` `&amp;` as themselves.
pub fn mrkdwn(text: &str, reader: &dyn Reader) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        out.push_str(&token(&rest[open + 1..open + close], reader));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let out = EMOJI
        .iter()
        .fold(out, |text, (code, emoji)| text.replace(code, emoji));
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The emoji the bot's messages use, as Slack draws them.
const EMOJI: [(&str, &str); 16] = [
    (":warning:", "⚠"),
    (":x:", "❌"),
    (":no_entry:", "⛔"),
    (":no_entry_sign:", "🚫"),
    (":information_source:", "ℹ"),
    (":stopwatch:", "⏱"),
    (":white_check_mark:", "✅"),
    (":hourglass_flowing_sand:", "⏳"),
    (":hourglass:", "⌛"),
    (":rotating_light:", "🚨"),
    (":raised_hand:", "✋"),
    (":mag:", "🔍"),
    (":leftwards_arrow_with_hook:", "↩"),
    (":bar_chart:", "📊"),
    (":wastebasket:", "🗑"),
    (":unlock:", "🔓"),
];

fn token(inner: &str, reader: &dyn Reader) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inner, None),
    };
    if let Some(user) = target.strip_prefix('@') {
        return format!("@{}", reader.name(user).unwrap_or_else(|| user.to_owned()));
    }
    if let Some(channel) = target.strip_prefix('#') {
        let name = label.map(str::to_owned).or_else(|| reader.name(channel));
        return format!("#{}", name.unwrap_or_else(|| channel.to_owned()));
    }
    if let Some(special) = target.strip_prefix('!') {
        let mut parts = special.split('^');
        return match (parts.next(), parts.next(), parts.next()) {
            (Some("date"), Some(ts), Some(format)) => match ts.parse::<i64>() {
                Ok(ts) => date(ts, format, reader.now()),
                Err(_) => label.unwrap_or(ts).to_owned(),
            },
            (Some(word), ..) => format!("@{word}"),
            _ => String::new(),
        };
    }
    label.unwrap_or(target).to_owned()
}

/// A `<!date^…>` token's format, in UTC.
fn date(ts: i64, format: &str, now: i64) -> String {
    let (year, month, day) = civil(ts.div_euclid(86_400));
    let seconds = ts.rem_euclid(86_400);
    let (hour, minute, second) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month_name = MONTHS[(month - 1) as usize];
    let days_from_today = ts.div_euclid(86_400) - now.div_euclid(86_400);
    let pretty = match days_from_today {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        -1 => "yesterday".to_owned(),
        _ => format!("{month_name} {day}"),
    };
    let short = format!("{month_name} {day}, {year}");
    let mut out = format
        .replace("{date_short_pretty}", &pretty)
        .replace("{date_pretty}", &pretty)
        .replace("{date_long_pretty}", &pretty)
        .replace("{date_short}", &short)
        .replace("{date_long}", &short)
        .replace("{date}", &short)
        .replace("{date_num}", &format!("{year}-{month:02}-{day:02}"))
        .replace("{time_secs}", &format!("{hour:02}:{minute:02}:{second:02}"))
        .replace("{time}", &format!("{hour:02}:{minute:02}"));
    if format.contains("{time") {
        out.push_str(" UTC");
    }
    out
}

/// The calendar date of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Names;

    impl Reader for Names {
        fn name(&self, id: &str) -> Option<String> {
            (id == "U0ANN").then(|| "ann".to_owned())
        }

        fn now(&self) -> i64 {
            1_795_651_200 // 2026-11-26 00:00 UTC
        }
    }

    #[test]
    fn mentions_dates_links_and_escapes_read_as_text() {
        let said = mrkdwn(
            ":white_check_mark: <@U0ANN> set it until <!date^1795654920^{date_short_pretty} at {time}|1795654920 (Unix time)> in <#C0OPS|ops>, see <https://x.example|the guide> &lt;3 &amp; <@U0BOB>",
            &Names,
        );
        assert_eq!(
            said,
            "✅ @ann set it until today at 01:02 UTC in #ops, see the guide <3 & @U0BOB"
        );
        assert_eq!(
            date(1_795_651_200 + 86_400, "{date_short_pretty}", 1_795_651_200),
            "tomorrow"
        );
        assert_eq!(
            date(0, "{date_num} {time_secs}", 0),
            "1970-01-01 00:00:00 UTC"
        );
        assert_eq!(civil(20_513), (2026, 3, 1));
    }

    #[test]
    fn blocks_become_lines_and_buttons_numbered_actions() {
        let body = json!({
            "text": "fallback",
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": "*Done* by <@U0ANN>" } },
                { "type": "section", "fields": [
                    { "type": "mrkdwn", "text": "*API*\npetstore" },
                    { "type": "mrkdwn", "text": "*Rate*\n100 → 50 req/s" },
                ]},
                { "type": "divider" },
                { "type": "context", "elements": [{ "type": "mrkdwn", "text": "a note" }] },
                { "type": "actions", "elements": [
                    { "type": "button", "text": { "type": "plain_text", "text": "Apply" },
                      "action_id": "throttle_apply", "value": "sealed-1" },
                    { "type": "button", "text": { "type": "plain_text", "text": "Cancel" },
                      "action_id": "throttle_cancel", "value": "sealed-2" },
                ]},
            ]
        });
        let mut pressed = Vec::new();
        let lines = message(&body, &Names, &mut |button| {
            pressed.push(button);
            pressed.len() + 6
        });
        assert_eq!(
            lines,
            [
                "*Done* by @ann",
                "API: petstore",
                "Rate: 100 → 50 req/s",
                "───",
                "a note",
                "[7] Apply   [8] Cancel"
            ]
        );
        assert_eq!(pressed[1].value, "sealed-2");
        let plain = message(&json!({ "text": "just <@U0ANN>" }), &Names, &mut |_| 0);
        assert_eq!(plain, ["just @ann"]);
    }
}
