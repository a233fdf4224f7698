//! A modal as a short prompt: each input block of the view is asked in turn, each answer kept
//! as Slack keeps it in the view's `state.values`, and the whole submitted as Slack would
//! submit it (a `view_submission` with the view's own `callback_id` and `private_metadata`).

use serde_json::{Map, Value, json};

/// Why an answer was not kept for its field (the field is asked again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the form has no field left")]
    NoFieldLeft,
    #[error("{0} is required.")]
    Required(String),
    #[error("nothing the form offers matches `{0}`")]
    NoMatch(String),
    #[error("`{0}` is not one of the choices")]
    NotAChoice(String),
    #[error("answer `yes` or `no`")]
    YesOrNo,
}

/// One input of the form.
#[derive(Debug, Clone)]
struct Field {
    block: String,
    action: String,
    kind: String,
    label: String,
    hint: String,
    optional: bool,
    /// A static select's or checkboxes' options: (text, value).
    options: Vec<(String, String)>,
}

/// A form opened and being filled in.
#[derive(Debug, Clone)]
pub struct OpenForm {
    view: Value,
    fields: Vec<Field>,
    values: Map<String, Value>,
    at: usize,
}

fn text(value: &Value) -> String {
    value["text"].as_str().unwrap_or_default().to_owned()
}

impl OpenForm {
    /// The form a `views.open` opens, if it has inputs.
    pub fn from_view(view: &Value) -> Option<Self> {
        let fields: Vec<Field> = view["blocks"]
            .as_array()?
            .iter()
            .filter(|block| block["type"] == "input")
            .map(|block| {
                let element = &block["element"];
                Field {
                    block: block["block_id"].as_str().unwrap_or_default().to_owned(),
                    action: element["action_id"].as_str().unwrap_or_default().to_owned(),
                    kind: element["type"].as_str().unwrap_or_default().to_owned(),
                    label: text(&block["label"]),
                    hint: text(&block["hint"]),
                    optional: block["optional"] == true,
                    options: element["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|o| {
                            (
                                text(&o["text"]),
                                o["value"].as_str().unwrap_or("").to_owned(),
                            )
                        })
                        .collect(),
                }
            })
            .collect();
        (!fields.is_empty()).then(|| Self {
            view: view.clone(),
            fields,
            values: Map::new(),
            at: 0,
        })
    }

    /// What the form says before its fields: its title and text.
    pub fn heading(&self) -> Vec<String> {
        let mut lines = vec![format!("*{}*", text(&self.view["title"]))];
        for block in self.view["blocks"].as_array().into_iter().flatten() {
            if block["type"] == "section" {
                lines.push(text(&block["text"]));
            }
        }
        lines.push(
            "Answer each field on its own line: an empty line leaves an optional one empty, `cancel` closes the form.".to_owned(),
        );
        lines
    }

    /// The question for the field to fill in next, if any is left.
    pub fn question(&self) -> Option<String> {
        let field = self.fields.get(self.at)?;
        let mut asked = format!("{}?", field.label);
        if !field.options.is_empty() && field.kind == "static_select" {
            let values: Vec<&str> = field.options.iter().map(|(_, v)| v.as_str()).collect();
            asked.push_str(&format!(" One of {}.", values.join(", ")));
        } else if field.kind == "checkboxes" {
            let offered: Vec<&str> = field.options.iter().map(|(t, _)| t.as_str()).collect();
            asked.push_str(&format!(" `yes` for: {}.", offered.join("; ")));
        }
        if !field.hint.is_empty() {
            asked.push_str(&format!(" ({})", field.hint));
        }
        Some(asked)
    }

    /// Whether the next field picks from options the app suggests (an external select).
    pub fn wants_suggestion(&self) -> Option<(&str, &str)> {
        let field = self.fields.get(self.at)?;
        (field.kind == "external_select").then_some((field.block.as_str(), field.action.as_str()))
    }

    /// Keeps `typed` for the next field (`picked`: the option an external select's
    /// suggestions gave for it), or says why it cannot.
    pub fn answer(
        &mut self,
        typed: &str,
        picked: Option<(String, String)>,
    ) -> Result<(), AnswerError> {
        let Some(field) = self.fields.get(self.at).cloned() else {
            return Err(AnswerError::NoFieldLeft);
        };
        let typed = typed.trim();
        if typed.is_empty() {
            if !field.optional {
                return Err(AnswerError::Required(field.label));
            }
            self.values.remove(&field.block);
            self.at += 1;
            return Ok(());
        }
        let option = |(text, value): &(String, String)| json!({ "text": { "type": "plain_text", "text": text }, "value": value });
        let state = match field.kind.as_str() {
            "external_select" => match &picked {
                Some(found) => json!({ "type": field.kind, "selected_option": option(found) }),
                None => return Err(AnswerError::NoMatch(typed.to_owned())),
            },
            "static_select" => match field.options.iter().find(|(_, v)| v == typed) {
                Some(found) => json!({ "type": field.kind, "selected_option": option(found) }),
                None => return Err(AnswerError::NotAChoice(typed.to_owned())),
            },
            "checkboxes" => {
                let chosen: Vec<Value> = match typed {
                    "yes" | "y" => field.options.iter().map(option).collect(),
                    "no" | "n" => Vec::new(),
                    _ => return Err(AnswerError::YesOrNo),
                };
                json!({ "type": field.kind, "selected_options": chosen })
            }
            kind => json!({ "type": kind, "value": typed }),
        };
        let mut action = Map::new();
        action.insert(field.action.clone(), state);
        self.values
            .insert(field.block.clone(), Value::Object(action));
        self.at += 1;
        Ok(())
    }

    /// Every field answered or left empty.
    pub fn done(&self) -> bool {
        self.at >= self.fields.len()
    }

    /// The submission Slack would send, from `user` of `team`.
    pub fn submission(&self, user: &str, team: &str) -> Value {
        json!({
            "type": "view_submission",
            "user": { "id": user, "team_id": team },
            "team": { "id": team },
            "view": {
                "id": "V0TRY",
                "type": "modal",
                "callback_id": self.view["callback_id"],
                "private_metadata": self.view["private_metadata"],
                "state": { "values": self.values },
            },
        })
    }

    /// A question about the field `block` to the app's suggestions, as Slack asks it.
    pub fn suggestion(
        &self,
        (block, action): (&str, &str),
        typed: &str,
        user: &str,
        team: &str,
    ) -> Value {
        json!({
            "type": "block_suggestion",
            "user": { "id": user, "team_id": team },
            "team": { "id": team },
            "block_id": block,
            "action_id": action,
            "value": typed,
            "view": {
                "id": "V0TRY",
                "type": "modal",
                "callback_id": self.view["callback_id"],
                "private_metadata": self.view["private_metadata"],
            },
        })
    }

    /// The app refused the submission: each error by its field; the form asks those again,
    /// from the first.
    pub fn refused(&mut self, errors: &Map<String, Value>) -> Vec<String> {
        let mut said = Vec::new();
        let mut first = None;
        for (i, field) in self.fields.iter().enumerate() {
            if let Some(why) = errors.get(&field.block).and_then(Value::as_str) {
                said.push(format!("{}: {why}", field.label));
                first.get_or_insert(i);
            }
        }
        self.at = first.unwrap_or(self.fields.len());
        said
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> Value {
        json!({
            "type": "modal",
            "callback_id": "throttle_form",
            "private_metadata": "sealed",
            "title": { "type": "plain_text", "text": "Change throttling" },
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": "Change it." } },
                { "type": "input", "block_id": "api", "label": { "type": "plain_text", "text": "API" },
                  "element": { "type": "external_select", "action_id": "pick" } },
                { "type": "input", "block_id": "rate", "label": { "type": "plain_text", "text": "Rate" },
                  "element": { "type": "number_input", "action_id": "value" } },
                { "type": "input", "block_id": "for", "optional": true,
                  "label": { "type": "plain_text", "text": "For how long" },
                  "element": { "type": "static_select", "action_id": "value",
                    "options": [{ "text": { "type": "plain_text", "text": "30m" }, "value": "30m" }] } },
            ],
        })
    }

    #[test]
    fn answers_become_the_views_state_as_slack_keeps_it() {
        let mut form = OpenForm::from_view(&view()).unwrap();
        assert_eq!(form.wants_suggestion(), Some(("api", "pick")));
        assert!(form.answer("pet", None).is_err());
        let picked = ("petstore (a1b2c3d4e5)".to_owned(), "a1b2c3d4e5".to_owned());
        form.answer("pet", Some(picked)).unwrap();
        assert!(form.answer("", None).is_err(), "the rate is required");
        form.answer("50", None).unwrap();
        assert!(form.answer("2h", None).is_err(), "not one of the choices");
        form.answer("", None).unwrap();
        assert!(form.done());
        let submitted = form.submission("U0ANN", "T0TRY");
        let values = &submitted["view"]["state"]["values"];
        assert_eq!(
            values["api"]["pick"]["selected_option"]["value"],
            "a1b2c3d4e5"
        );
        assert_eq!(values["rate"]["value"]["value"], "50");
        assert!(values.get("for").is_none());
        assert_eq!(submitted["view"]["private_metadata"], "sealed");
        let errors = json!({ "rate": "Give a rate." });
        let said = form.refused(errors.as_object().unwrap());
        assert_eq!(said, ["Rate: Give a rate."]);
        assert_eq!(form.question().unwrap(), "Rate?");
    }
}
