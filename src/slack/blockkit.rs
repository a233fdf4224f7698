//! Slack's documented Block Kit limits, checked: what Slack's API refuses (`invalid_blocks`,
//! `invalid_arguments`) is found by a test here first. From Slack's Block Kit reference
//! (blocks, block elements, composition objects, view objects); the black-box tests also run
//! Slack's own Python models (slack_sdk) over the same payloads where they can be installed.

use serde_json::Value;

/// What breaks Slack's limits in a view (`modal` or `home`); empty when nothing does.
pub fn check_view(view: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let kind = view["type"].as_str().unwrap_or_default();
    if !matches!(kind, "modal" | "home") {
        found.push(format!("a view's type is modal or home, not {kind:?}"));
    }
    if kind == "modal" {
        text(&mut found, "view title", &view["title"], 24, true);
        for field in ["submit", "close"] {
            if !view[field].is_null() {
                text(&mut found, field, &view[field], 24, true);
            }
        }
    }
    length(
        &mut found,
        "private_metadata",
        &view["private_metadata"],
        3000,
    );
    length(&mut found, "callback_id", &view["callback_id"], 255);
    length(&mut found, "external_id", &view["external_id"], 255);
    blocks(&mut found, &view["blocks"], 100);
    found
}

/// What breaks Slack's limits in a message (`text` and at most 50 blocks).
pub fn check_message(message: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if message["text"].as_str().is_none_or(str::is_empty) {
        found.push("a message has a fallback `text`".to_owned());
    }
    if !message["blocks"].is_null() {
        blocks(&mut found, &message["blocks"], 50);
    }
    found
}

/// What breaks Slack's limits in an options load URL's answer (at most 100 options).
pub fn check_options(answer: &Value) -> Vec<String> {
    let mut found = Vec::new();
    match answer["options"].as_array() {
        Some(options) if options.len() <= 100 => {
            for o in options {
                option(&mut found, o);
            }
        }
        _ => found.push("an options answer holds `options`, at most 100".to_owned()),
    }
    found
}

fn length(found: &mut Vec<String>, what: &str, value: &Value, max: usize) {
    if let Some(text) = value.as_str()
        && text.chars().count() > max
    {
        found.push(format!("{what} is longer than {max} characters"));
    }
}

fn text(found: &mut Vec<String>, what: &str, value: &Value, max: usize, plain_only: bool) {
    let kind = value["type"].as_str().unwrap_or_default();
    let ok_kind = kind == "plain_text" || (!plain_only && kind == "mrkdwn");
    if !ok_kind {
        found.push(format!(
            "{what} is a text object of type plain_text, not {kind:?}"
        ));
    }
    match value["text"].as_str() {
        Some(t) if !t.is_empty() && t.chars().count() <= max => {}
        _ => found.push(format!("{what}'s text is 1 to {max} characters")),
    }
}

fn blocks(found: &mut Vec<String>, blocks: &Value, max: usize) {
    let Some(blocks) = blocks.as_array() else {
        found.push("`blocks` is a list".to_owned());
        return;
    };
    if blocks.len() > max {
        found.push(format!("{} blocks, more than {max}", blocks.len()));
    }
    let mut ids = std::collections::HashSet::new();
    for block in blocks {
        if let Some(id) = block["block_id"].as_str()
            && !ids.insert(id)
        {
            found.push(format!("block_id {id:?} is used twice"));
        }
        self::block(found, block);
    }
}

fn block(found: &mut Vec<String>, block: &Value) {
    length(found, "block_id", &block["block_id"], 255);
    match block["type"].as_str().unwrap_or_default() {
        "section" => {
            if block["text"].is_null() && block["fields"].is_null() {
                found.push("a section has text or fields".to_owned());
            }
            if !block["text"].is_null() {
                text(found, "section text", &block["text"], 3000, false);
            }
            if let Some(fields) = block["fields"].as_array() {
                if fields.len() > 10 {
                    found.push("a section has at most 10 fields".to_owned());
                }
                for f in fields {
                    text(found, "section field", f, 2000, false);
                }
            }
            if !block["accessory"].is_null() {
                element(found, &block["accessory"]);
            }
        }
        "header" => text(found, "header", &block["text"], 150, true),
        "divider" => {}
        "context" => match block["elements"].as_array() {
            Some(elements) if !elements.is_empty() && elements.len() <= 10 => {
                for e in elements {
                    if e["type"] != "image" {
                        text(found, "context element", e, 3000, false);
                    }
                }
            }
            _ => found.push("a context block has 1 to 10 elements".to_owned()),
        },
        "actions" => match block["elements"].as_array() {
            Some(elements) if !elements.is_empty() && elements.len() <= 25 => {
                for e in elements {
                    element(found, e);
                }
            }
            _ => found.push("an actions block has 1 to 25 elements".to_owned()),
        },
        "input" => {
            text(found, "input label", &block["label"], 2000, true);
            if !block["hint"].is_null() {
                text(found, "input hint", &block["hint"], 2000, true);
            }
            element(found, &block["element"]);
        }
        "image" => {
            length(found, "image_url", &block["image_url"], 3000);
            match block["alt_text"].as_str() {
                Some(alt) if !alt.is_empty() && alt.chars().count() <= 2000 => {}
                _ => found.push("an image has alt_text of 1 to 2000 characters".to_owned()),
            }
        }
        other => found.push(format!("block type {other:?} is not one we check")),
    }
}

fn element(found: &mut Vec<String>, element: &Value) {
    let kind = element["type"].as_str().unwrap_or_default();
    if kind != "image" {
        match element["action_id"].as_str() {
            Some(id) if !id.is_empty() && id.chars().count() <= 255 => {}
            _ => found.push(format!("a {kind} has an action_id of 1 to 255 characters")),
        }
    }
    if !element["placeholder"].is_null() {
        text(found, "placeholder", &element["placeholder"], 150, true);
    }
    if !element["confirm"].is_null() {
        let confirm = &element["confirm"];
        text(found, "confirm title", &confirm["title"], 100, true);
        text(found, "confirm text", &confirm["text"], 300, false);
        text(found, "confirm button", &confirm["confirm"], 30, true);
        text(found, "deny button", &confirm["deny"], 30, true);
    }
    match kind {
        "button" => {
            text(found, "button", &element["text"], 75, true);
            length(found, "button value", &element["value"], 2000);
            if let Some(style) = element["style"].as_str()
                && !matches!(style, "primary" | "danger")
            {
                found.push(format!("button style {style:?}"));
            }
        }
        "plain_text_input" => {
            for bound in ["max_length", "min_length"] {
                if element[bound].as_u64().is_some_and(|n| n > 3000) {
                    found.push(format!("{bound} is at most 3000"));
                }
            }
        }
        "number_input" => {
            if element["is_decimal_allowed"].as_bool().is_none() {
                found.push("a number_input says is_decimal_allowed".to_owned());
            }
        }
        "static_select" | "checkboxes" | "radio_buttons" => {
            let max = if kind == "static_select" { 100 } else { 10 };
            match element["options"].as_array() {
                Some(options) if !options.is_empty() && options.len() <= max => {
                    for o in options {
                        option(found, o);
                    }
                }
                _ => found.push(format!("a {kind} has 1 to {max} options")),
            }
        }
        "external_select" | "image" => {}
        other => found.push(format!("element type {other:?} is not one we check")),
    }
}

fn option(found: &mut Vec<String>, option: &Value) {
    text(found, "option", &option["text"], 75, false);
    match option["value"].as_str() {
        Some(v) if !v.is_empty() && v.chars().count() <= 150 => {}
        _ => found.push("an option's value is 1 to 150 characters".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_slack_refuses_is_found() {
        let long = "x".repeat(3001);
        let view = json!({
            "type": "modal",
            "title": { "type": "plain_text", "text": "A title far too long for Slack" },
            "blocks": [
                { "type": "section", "block_id": "a", "text": { "type": "mrkdwn", "text": long } },
                { "type": "actions", "block_id": "a", "elements": [
                    { "type": "button", "text": { "type": "plain_text", "text": "Go" } }
                ] },
            ],
            "private_metadata": "y".repeat(3001),
        });
        let found = check_view(&view);
        assert_eq!(found.len(), 5, "{found:?}");
        let fine = json!({ "type": "home", "blocks": [{ "type": "divider" }] });
        assert!(check_view(&fine).is_empty());
        assert!(
            !check_message(&json!({ "blocks": [] })).is_empty(),
            "no fallback text"
        );
        let options =
            json!({ "options": [{ "text": { "type": "plain_text", "text": "a" }, "value": "" }] });
        assert_eq!(check_options(&options).len(), 1);
    }
}
