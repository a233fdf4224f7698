//! The form `/throttle` (or `/throttle new`) opens: a modal whose submission is read back into
//! the command it stands for, so it goes down exactly the typed command's path (policy,
//! preview, confirmation, approval). Who opened it and where the answer goes travel in the
//! view's `private_metadata`, sealed (Slack hands it back as it was, but anyone could forge a
//! submission's payload without the seal).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::sealed::{SealError, SealKey, Sealed};
use super::signature::SigningSecret;
use crate::core::grammar::BREAK_GLASS_FLAG;
use crate::domain::text::first_forbidden;
use crate::domain::{
    ApiRef, BurstLimit, Hold, HttpMethod, Level, RateLimit, ResourcePath, StageName, TargetError,
};

/// The view's `callback_id`: a submission of any other view is not ours.
pub const CALLBACK_ID: &str = "throttle_form";

/// The API picker's `action_id`: its `block_suggestion`s ask for APIs.
pub const API_ACTION: &str = "throttle_form_api";

/// The other inputs' `action_id` (each is told by its block).
const VALUE_ACTION: &str = "value";

/// The form's blocks, by `block_id`: what `response_action: errors` names.
pub const API: &str = "api";
pub const STAGE: &str = "stage";
pub const RATE: &str = "rate";
pub const BURST: &str = "burst";
pub const LEVEL: &str = "level";
pub const DURATION: &str = "duration";
pub const NOW: &str = "now";

/// A form's submission is taken for as long as the command's `response_url` (30 minutes)
/// can still carry its answer.
pub const FORM_TTL_SECS: i64 = 29 * 60;

/// The durations the form offers for a timed change (any the grammar takes would do).
const DURATIONS: [&str; 6] = ["15m", "30m", "1h", "2h", "4h", "8h"];

/// Who opened the form, where, and where its answer goes: the slash command's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormOrigin {
    pub user: String,
    pub channel: Option<String>,
    pub team: Option<String>,
    pub command: String,
    pub response_url: String,
}

/// Makes the form and opens what its submissions carry back.
#[derive(Debug, Clone)]
pub struct Forms {
    key: SealKey,
}

impl Forms {
    pub fn new(secret: &SigningSecret) -> Self {
        Self {
            key: SealKey::derive(secret, "form"),
        }
    }

    /// The modal for `views.open`, carrying `origin` sealed until `now` + [`FORM_TTL_SECS`].
    pub fn view(&self, origin: FormOrigin, now: i64) -> Value {
        let command = origin.command.clone();
        let sealed = self.key.seal(origin, now + FORM_TTL_SECS);
        let metadata = serde_json::to_string(&sealed).expect("a form's origin serialises");
        form_view(&command, &metadata)
    }

    /// Who opened the form a submission comes from, if we sealed it and it is not too old.
    pub fn open(&self, metadata: &str, now: i64) -> Result<FormOrigin, SealError> {
        let sealed: Sealed<FormOrigin> =
            serde_json::from_str(metadata).map_err(|_| SealError::Forged)?;
        self.key.open(sealed, now)
    }
}

fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text })
}

fn input(block: &str, label: &str, element: Value, hint: &str, optional: bool) -> Value {
    json!({
        "type": "input",
        "block_id": block,
        "label": plain(label),
        "element": element,
        "hint": plain(hint),
        "optional": optional,
    })
}

fn text_input(placeholder: &str, max_length: usize) -> Value {
    json!({
        "type": "plain_text_input",
        "action_id": VALUE_ACTION,
        "placeholder": plain(placeholder),
        "max_length": max_length,
    })
}

fn option(text: &str, value: &str) -> Value {
    json!({ "text": plain(text), "value": value })
}

/// The modal: an API picked from the listings of every target, the stage, rate and burst,
/// and optionally a method or route, a duration, and `--now`.
fn form_view(command: &str, metadata: &str) -> Value {
    let durations: Vec<Value> = DURATIONS.iter().map(|d| option(d, d)).collect();
    let intro = format!(
        "Change an API stage's throttling, as `{command} <api> <stage> <rate> <burst>` does. \
         You will see a preview first when the change is risky, and approvers are asked \
         where a rule says so."
    );
    json!({
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": metadata,
        "title": plain("Change throttling"),
        "submit": plain("Change"),
        "close": plain("Cancel"),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": intro } },
            input(API, "API", json!({
                "type": "external_select",
                "action_id": API_ACTION,
                "placeholder": plain("Type part of its name or id"),
                "min_query_length": 0,
            }), "Every API throttle-bot can reach, in every account and region it is set up for.", false),
            input(STAGE, "Stage", text_input("prod", StageName::MAX_LEN),
                "The stage's name, as in the API Gateway console.", false),
            input(RATE, "Rate (requests per second)", json!({
                "type": "number_input",
                "action_id": VALUE_ACTION,
                "is_decimal_allowed": true,
                "min_value": "0",
                "placeholder": plain("50"),
            }), "The steady rate: 0 or more, decimals allowed (0.5). 0 blocks every request.", false),
            input(BURST, "Burst", json!({
                "type": "number_input",
                "action_id": VALUE_ACTION,
                "is_decimal_allowed": false,
                "min_value": "0",
                "placeholder": plain("100"),
            }), "How many requests may arrive at once: a whole number, 0 or more.", false),
            input(LEVEL, "Method or route (optional)", text_input("GET /pets/{id}", 300),
                "Empty for the whole stage; a REST method like GET /pets/{id}, an HTTP API route like ANY /{proxy+}, or $default.", true),
            input(DURATION, "For how long (optional)", json!({
                "type": "static_select",
                "action_id": VALUE_ACTION,
                "placeholder": plain("Until changed again"),
                "options": durations,
            }), "A timed change: the values before come back by themselves at the end.", true),
            input(NOW, "Emergency (optional)", json!({
                "type": "checkboxes",
                "action_id": VALUE_ACTION,
                "options": [option("Skip approval (--now), where a rule allows it", "now")],
            }), "Loudly audited; a change that blocks traffic is still previewed.", true),
        ],
    })
}

/// The value a submitted block holds: an input's text, a select's chosen option, or the
/// checkboxes' chosen ones (joined); `None` when left empty.
fn value_of(values: &Value, block: &str) -> Option<String> {
    let action = values.get(block)?.as_object()?.values().next()?;
    let found = match action["type"].as_str()? {
        "external_select" | "static_select" => action["selected_option"]["value"].as_str(),
        "checkboxes" => {
            let chosen: Vec<&str> = action["selected_options"]
                .as_array()?
                .iter()
                .filter_map(|o| o["value"].as_str())
                .collect();
            return (!chosen.is_empty()).then(|| chosen.join(" "));
        }
        _ => action["value"].as_str(),
    };
    found
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The command a submission stands for (`state.values` of the view), or what is wrong with
/// it, field by field, in the words the typed command's errors use.
pub fn command_text(values: &Value) -> Result<String, BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    let mut field = |block: &'static str, required: &str| -> Option<String> {
        let value = value_of(values, block);
        match (
            &value,
            first_forbidden(value.as_deref().unwrap_or_default()),
        ) {
            (_, Some(_)) => {
                errors.insert(
                    block,
                    "Type it again without backticks or invisible characters.".to_owned(),
                );
                None
            }
            (None, None) if !required.is_empty() => {
                errors.insert(block, required.to_owned());
                None
            }
            (value, None) => value.clone(),
        }
    };
    let api = field(API, "Pick an API.");
    let stage = field(STAGE, "Name the stage.");
    let rate = field(RATE, "Give a rate: requests per second, 0 or more.");
    let burst = field(BURST, "Give a burst: a whole number, 0 or more.");
    let level = field(LEVEL, "");
    let duration = field(DURATION, "");
    let now = field(NOW, "");
    let mut check = |block: &'static str, refused: Option<String>| {
        if let Some(why) = refused {
            errors.insert(block, capitalise(&why));
        }
    };
    if let Some(api) = &api {
        check(API, refusal(ApiRef::parse(api)));
    }
    if let Some(stage) = &stage {
        check(STAGE, refusal(StageName::parse(stage)));
    }
    if let Some(rate) = &rate {
        check(RATE, refusal(RateLimit::parse(rate)));
    }
    if let Some(burst) = &burst {
        check(BURST, refusal(BurstLimit::parse(burst)));
    }
    if let Some(level) = &level {
        check(LEVEL, refusal(level_of(level)));
    }
    if let Some(duration) = &duration {
        check(DURATION, refusal(Hold::parse(duration)));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(api), Some(stage), Some(rate), Some(burst)) = (api, stage, rate, burst) else {
        return Err(errors);
    };
    let mut text = format!("{api} {stage} {rate} {burst}");
    for part in [level, duration.map(|d| format!("for {d}"))]
        .into_iter()
        .flatten()
    {
        text.push(' ');
        text.push_str(&part);
    }
    if now.is_some() {
        text.push(' ');
        text.push_str(BREAK_GLASS_FLAG);
    }
    Ok(text)
}

/// What a field's value was refused for, in the typed command's words.
fn refusal<T, E: std::fmt::Display>(parsed: Result<T, E>) -> Option<String> {
    parsed.err().map(|why| why.to_string())
}

/// Why the form's method-or-route field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum LevelError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(
        "Give a method and a path, like GET /pets/{{id}}, or $default for an HTTP API's default route."
    )]
    Shape,
}

/// A method or route as the form takes it: `GET /pets`, or `$default`.
fn level_of(raw: &str) -> Result<Level, LevelError> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    match words[..] {
        [route] if route == Level::DEFAULT_ROUTE => Ok(Level::DefaultRoute),
        [method, path] => Ok(HttpMethod::parse(method)
            .and_then(|m| Level::enforced(m, ResourcePath::parse(path)?))?),
        _ => Err(LevelError::Shape),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The answer to a `block_suggestion` from the API picker: the APIs (`value`, label) whose
/// label holds what was typed, at most Slack's 100, labels cut to Slack's 75 characters.
pub fn api_options(apis: &[(String, String)], typed: &str) -> Value {
    let typed = typed.trim().to_lowercase();
    let options: Vec<Value> = apis
        .iter()
        .filter(|(_, label)| label.to_lowercase().contains(&typed))
        .take(100)
        .map(|(value, label)| option(&cut(label, 75), value))
        .collect();
    json!({ "options": options })
}

/// At most `max` characters, an ellipsis marking a cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// The answer that shows `errors` on their fields and keeps the form open.
pub fn errors_answer(errors: &BTreeMap<&'static str, String>) -> Value {
    json!({ "response_action": "errors", "errors": errors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::blockkit;

    fn forms() -> Forms {
        Forms::new(&SigningSecret::new("s").unwrap())
    }

    fn origin() -> FormOrigin {
        FormOrigin {
            user: "U1".to_owned(),
            channel: Some("C1".to_owned()),
            team: Some("T1".to_owned()),
            command: "/throttle".to_owned(),
            response_url: "https://hooks.slack.com/commands/T1/2/3".to_owned(),
        }
    }

    fn submitted(fields: &[(&str, Value)]) -> Value {
        let mut values = serde_json::Map::new();
        for (block, action) in fields {
            values.insert((*block).to_owned(), json!({ "value": action }));
        }
        Value::Object(values)
    }

    fn typed(text: &str) -> Value {
        json!({ "type": "plain_text_input", "value": text })
    }

    fn picked(kind: &str, value: &str) -> Value {
        json!({ "type": kind, "selected_option": { "text": plain(value), "value": value } })
    }

    #[test]
    fn the_form_is_within_slacks_limits_and_carries_its_origin_sealed() {
        let view = forms().view(origin(), 1000);
        assert_eq!(blockkit::check_view(&view), Vec::<String>::new());
        let metadata = view["private_metadata"].as_str().unwrap();
        assert_eq!(forms().open(metadata, 1000 + FORM_TTL_SECS), Ok(origin()));
        assert_eq!(
            forms().open(metadata, 1001 + FORM_TTL_SECS),
            Err(SealError::Expired)
        );
        let other = Forms::new(&SigningSecret::new("t").unwrap());
        assert_eq!(other.open(metadata, 1000), Err(SealError::Forged));
        let altered = metadata.replace("U1", "U2");
        assert_eq!(forms().open(&altered, 1000), Err(SealError::Forged));
    }

    #[test]
    fn a_full_submission_is_the_command_it_stands_for() {
        let values = submitted(&[
            (API, picked("external_select", "prod:a1b2c3d4e5")),
            (STAGE, typed("prod")),
            (RATE, json!({ "type": "number_input", "value": "0.5" })),
            (BURST, json!({ "type": "number_input", "value": "10" })),
            (LEVEL, typed("GET /pets/{id}")),
            (DURATION, picked("static_select", "30m")),
            (
                NOW,
                json!({ "type": "checkboxes", "selected_options": [{ "value": "now" }] }),
            ),
        ]);
        assert_eq!(
            command_text(&values).unwrap(),
            "prod:a1b2c3d4e5 prod 0.5 10 GET /pets/{id} for 30m --now"
        );
        let least = submitted(&[
            (API, picked("external_select", "a1b2c3d4e5")),
            (STAGE, typed(" prod ")),
            (RATE, typed("5")),
            (BURST, typed("10")),
            (LEVEL, json!({ "type": "plain_text_input", "value": null })),
            (
                DURATION,
                json!({ "type": "static_select", "selected_option": null }),
            ),
            (NOW, json!({ "type": "checkboxes", "selected_options": [] })),
        ]);
        assert_eq!(command_text(&least).unwrap(), "a1b2c3d4e5 prod 5 10");
    }

    #[test]
    fn each_mistake_is_told_on_its_own_field() {
        let values = submitted(&[
            (STAGE, typed("pro d")),
            (RATE, typed("-1")),
            (BURST, typed("1.5")),
            (LEVEL, typed("GET")),
            (DURATION, picked("static_select", "forever")),
        ]);
        let errors = command_text(&values).unwrap_err();
        let fields: Vec<&str> = errors.keys().copied().collect();
        assert_eq!(fields, [API, BURST, DURATION, LEVEL, RATE, STAGE]);
        assert_eq!(errors[API], "Pick an API.");
        assert!(errors[RATE].contains("zero or more"), "{}", errors[RATE]);
        assert!(errors[BURST].contains("whole number"), "{}", errors[BURST]);
        let hidden = submitted(&[(STAGE, typed("pr\u{200b}od"))]);
        assert!(command_text(&hidden).unwrap_err()[STAGE].contains("invisible"));
        assert_eq!(
            errors_answer(&errors)["errors"][RATE],
            json!(errors[RATE].clone())
        );
    }

    #[test]
    fn suggestions_hold_what_was_typed_within_slacks_limits() {
        let apis: Vec<(String, String)> = (0..150)
            .map(|n| (format!("a{n:09}"), format!("api-{n} {}", "x".repeat(80))))
            .collect();
        let all = api_options(&apis, "");
        assert_eq!(all["options"].as_array().unwrap().len(), 100);
        assert_eq!(blockkit::check_options(&all), Vec::<String>::new());
        let some = api_options(&apis, "API-14");
        assert_eq!(some["options"].as_array().unwrap().len(), 11);
    }
}
