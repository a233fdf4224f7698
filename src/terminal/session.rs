//! The conversation: a line typed here goes to the bot as Slack would send a slash command,
//! a number as Slack would send a button press, and whatever the bot sends back (the
//! acknowledgement, replies on `response_url`, channel posts, audit notices) comes out as
//! labelled lines, in the order Slack would show them.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::blocks::{self, Button, Reader};
use super::form::OpenForm;
use super::people::People;
use crate::core::clock::unix_now;
use crate::http::Shared;
use crate::http::commands::{Once, command};
use crate::http::interactions::interaction;
use crate::slack::outbox::Posted;

/// The workspace, the channel everyone types in, and where audit notices go.
pub const TEAM: &str = "T0TRY";
pub const CHANNEL: &str = "C0OPS";
pub const CHANNEL_NAME: &str = "ops";
pub const WEBHOOK: &str = "https://hooks.slack.com/services/T0TRY/B0AUDIT/try";
const WEB_API: &str = "https://slack.com/api/";

/// One message on screen: where it is, and who sees it.
struct Shown {
    ts: String,
    in_channel: bool,
    /// Who sees an ephemeral message.
    owner: String,
    /// Removed, or replaced by a newer version (its buttons are gone).
    version: u32,
}

/// A button as shown: its message and that message's version then.
struct ShownButton {
    button: Button,
    message: usize,
    version: u32,
}

/// Where a `response_url` answers: who it answers, and the message whose button was pressed
/// (with how the button read: `[2] Apply`).
struct ReplyPlace {
    user: String,
    pressed: Option<(usize, String)>,
}

pub struct Session {
    state: Shared,
    outbox: UnboundedReceiver<Posted>,
    pub people: People,
    shown: Vec<Shown>,
    /// The buttons the last turn that showed any showed, numbered from 1: what a number
    /// presses.
    buttons: Vec<ShownButton>,
    /// The buttons this turn has shown so far.
    fresh: Vec<ShownButton>,
    replies: HashMap<String, ReplyPlace>,
    requests: u64,
    /// A form (modal) open and being filled in: the next lines answer its fields.
    form: Option<OpenForm>,
}

/// A label and the lines beside it.
pub type Said = Vec<(String, Vec<String>)>;

impl Session {
    pub fn new(state: Shared, outbox: UnboundedReceiver<Posted>, people: People) -> Self {
        Self {
            state,
            outbox,
            people,
            shown: Vec::new(),
            buttons: Vec::new(),
            fresh: Vec::new(),
            replies: HashMap::new(),
            requests: 0,
            form: None,
        }
    }

    fn next_url(&mut self, kind: &str, pressed: Option<(usize, String)>) -> String {
        self.requests += 1;
        let url = format!(
            "https://hooks.slack.com/{kind}/{TEAM}/{}/try",
            self.requests
        );
        let user = self.people.current_id().to_owned();
        self.replies
            .insert(url.clone(), ReplyPlace { user, pressed });
        url
    }

    /// A slash command, as Slack would send `/throttle <text>`.
    pub async fn command(&mut self, text: &str) -> Said {
        let response_url = self.next_url("commands", None);
        let fields = [
            ("team_id", TEAM.to_owned()),
            ("channel_id", CHANNEL.to_owned()),
            ("user_id", self.people.current_id().to_owned()),
            ("command", "/throttle".to_owned()),
            ("text", text.to_owned()),
            ("response_url", response_url.clone()),
            ("trigger_id", format!("{}.try", self.requests)),
        ];
        let body = serde_urlencoded::to_string(fields).unwrap_or_default();
        let answer = command(&self.state, None, body.as_bytes(), Once::Delivered).await;
        let mut said = self.answered(answer, &response_url).await;
        said.extend(self.settle().await);
        said
    }

    /// Presses button `number`, as Slack would send the press.
    pub async fn press(&mut self, number: usize) -> Said {
        let Some(shown) = number.checked_sub(1).and_then(|i| self.buttons.get(i)) else {
            return vec![note(format!("there is no button [{number}]"))];
        };
        let message = &self.shown[shown.message];
        if message.version != shown.version {
            return vec![note(format!(
                "button [{number}] is gone (its message was replaced or removed)"
            ))];
        }
        let (button, index) = (shown.button.clone(), shown.message);
        let (ts, in_channel) = (message.ts.clone(), message.in_channel);
        let pressed = format!("[{number}] {}", button.label);
        let response_url = self.next_url("actions", Some((index, pressed)));
        let user = self.people.current_id().to_owned();
        let payload = json!({
            "type": "block_actions",
            "user": { "id": user, "team_id": TEAM },
            "team": { "id": TEAM },
            "channel": { "id": CHANNEL, "name": CHANNEL_NAME },
            "container": { "type": "message", "message_ts": ts, "is_ephemeral": !in_channel },
            "response_url": response_url,
            "trigger_id": format!("{}.try", self.requests),
            "actions": [{
                "type": "button",
                "action_id": button.action_id,
                "value": button.value,
            }],
        });
        let body =
            serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap_or_default();
        let answer = interaction(&self.state, None, body.as_bytes(), Once::Delivered).await;
        let mut said = self.answered(answer, &response_url).await;
        said.extend(self.settle().await);
        said
    }

    /// Whether a form is open: the next line answers it.
    pub fn has_form(&self) -> bool {
        self.form.is_some()
    }

    /// A line typed into the open form: the answer to its next field; once every field has
    /// one, the form is submitted as Slack submits it.
    pub async fn fill(&mut self, line: &str) -> Said {
        let Some(mut form) = self.form.take() else {
            return Vec::new();
        };
        let said = |lines: Vec<String>| vec![("form".to_owned(), lines)];
        if line.trim() == "cancel" {
            return said(vec!["(closed: nothing was sent)".to_owned()]);
        }
        let picked = match form.wants_suggestion() {
            Some(field) if !line.trim().is_empty() => {
                let user = self.people.current_id().to_owned();
                let question = form.suggestion(field, line.trim(), &user, TEAM);
                self.suggested(&question).await
            }
            _ => None,
        };
        if let Err(why) = form.answer(line, picked.clone()) {
            let mut lines = vec![why.to_string()];
            lines.extend(form.question());
            self.form = Some(form);
            return said(lines);
        }
        let mut lines: Vec<String> = picked
            .map(|(text, _)| format!("(picked {text})"))
            .into_iter()
            .collect();
        if !form.done() {
            lines.extend(form.question());
            self.form = Some(form);
            return said(lines);
        }
        let submission = form.submission(self.people.current_id(), TEAM);
        let body =
            serde_urlencoded::to_string([("payload", submission.to_string())]).unwrap_or_default();
        let answer = interaction(&self.state, None, body.as_bytes(), Once::Delivered).await;
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let answered: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if let (Some("errors"), Some(errors)) = (
            answered["response_action"].as_str(),
            answered["errors"].as_object(),
        ) {
            lines.extend(form.refused(errors));
            lines.extend(form.question());
            self.form = Some(form);
            return said(lines);
        }
        lines.push("(submitted: the form closes)".to_owned());
        let mut told = said(lines);
        told.extend(self.settle().await);
        told
    }

    /// The first option the app suggests for what was typed in a picker, as (text, value).
    async fn suggested(&mut self, question: &Value) -> Option<(String, String)> {
        let body =
            serde_urlencoded::to_string([("payload", question.to_string())]).unwrap_or_default();
        let answer = interaction(&self.state, None, body.as_bytes(), Once::Delivered).await;
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .ok()?;
        let options: Value = serde_json::from_slice(&bytes).ok()?;
        let first = options["options"].as_array()?.first()?;
        Some((
            first["text"]["text"].as_str()?.to_owned(),
            first["value"].as_str()?.to_owned(),
        ))
    }

    /// Lets the bot finish what it started, then says what came of it.
    pub async fn settle(&mut self) -> Said {
        let mut posted = Vec::new();
        let mut quiet = 0;
        loop {
            // Everything runs on this thread: yielding lets every task that can move do so.
            for _ in 0..64 {
                tokio::task::yield_now().await;
            }
            let before = posted.len();
            while let Ok(one) = self.outbox.try_recv() {
                posted.push(one);
            }
            if self.state.jobs.in_flight() > 0 {
                // A restore waits for other replicas' claims on the real clock.
                tokio::time::sleep(Duration::from_millis(5)).await;
                quiet = 0;
            } else if posted.len() > before {
                quiet = 0;
            } else {
                quiet += 1;
                if quiet >= 3 {
                    break;
                }
            }
        }
        let said = posted.into_iter().map(|one| self.show(&one)).collect();
        // A turn that showed buttons gives the numbers to its own.
        if !self.fresh.is_empty() {
            self.buttons = std::mem::take(&mut self.fresh);
        }
        said
    }

    /// The next message nobody asked for just now (a timed change's end, a report); safe to
    /// drop unfinished.
    pub async fn recv_posted(&mut self) -> Option<Posted> {
        self.outbox.recv().await
    }

    /// That message, and whatever follows it at once.
    pub async fn after_posted(&mut self, first: Posted) -> Said {
        let mut said = vec![self.show(&first)];
        said.extend(self.settle().await);
        said
    }

    /// A deploy pipeline spends the account's management budget for `secs` seconds.
    pub fn pipeline(&self, secs: i64) -> (String, Vec<String>) {
        let gateway = self.state.jobs.runner().gateway();
        match gateway.embedded().map(|account| account.busy_for(secs)) {
            Some(true) => note(format!(
                "a deploy pipeline in the account spends its management budget for the next {secs} s: AWS answers 429 to every other call meanwhile"
            )),
            _ => note("this account has no management budget to spend".to_owned()),
        }
    }

    /// What the embedded account holds on a stage, as AWS would list it.
    pub fn account(&self, api: &str, stage: &str) -> (String, Vec<String>) {
        let described = self
            .state
            .jobs
            .runner()
            .gateway()
            .embedded()
            .and_then(|account| account.describe(api, stage));
        match described {
            Some(lines) => ("aws".to_owned(), lines),
            None => note(format!(
                "the account has no stage `{stage}` on an API `{api}`"
            )),
        }
    }

    /// The HTTP answer to a command or a press: what Slack shows at once.
    async fn answered(&mut self, answer: axum::response::Response, reply: &str) -> Said {
        let status = answer.status();
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        if !status.is_success() {
            let why = String::from_utf8_lossy(&bytes).into_owned();
            return vec![note(format!("Slack would show an error ({status}): {why}"))];
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(body) => {
                let posted = Posted {
                    url: reply.to_owned(),
                    body,
                };
                vec![self.show(&posted)]
            }
            Err(_) => Vec::new(),
        }
    }

    /// One message as shown: its label and lines; buttons get their numbers.
    fn show(&mut self, posted: &Posted) -> (String, Vec<String>) {
        let body = &posted.body;
        if posted.url == WEBHOOK {
            return ("audit".to_owned(), self.lines(body, None));
        }
        if let Some(method) = posted.url.strip_prefix(WEB_API) {
            return self.web_api(method, body);
        }
        let Some(place) = self.replies.get(&posted.url) else {
            return ("?".to_owned(), self.lines(body, None));
        };
        let (user, pressed) = (place.user.clone(), place.pressed.clone());
        if body["delete_original"] == true {
            if let Some((index, button)) = pressed {
                self.shown[index].version += 1;
                let label = self.label(index);
                return (
                    label,
                    vec![format!("(the message with {button} is removed)")],
                );
            }
            return (String::new(), Vec::new());
        }
        if let (true, Some((index, _))) = (body["replace_original"] == true, pressed) {
            self.shown[index].version += 1;
            let label = format!("{} ↻", self.label(index));
            return (label, self.lines(body, Some(index)));
        }
        let index = self.new_message(body["response_type"] == "in_channel", user);
        let label = self.label(index);
        (label, self.lines(body, Some(index)))
    }

    fn web_api(&mut self, method: &str, body: &Value) -> (String, Vec<String>) {
        match method {
            "chat.postMessage" => {
                let threaded = body["thread_ts"].is_string();
                let index = self.new_message(true, String::new());
                let label = if threaded {
                    format!("#{CHANNEL_NAME} thread")
                } else {
                    format!("#{CHANNEL_NAME}")
                };
                (label, self.lines(body, Some(index)))
            }
            "views.open" => match OpenForm::from_view(&body["view"]) {
                Some(form) => {
                    let mut lines = form.heading();
                    lines.extend(form.question());
                    self.form = Some(form);
                    ("form".to_owned(), lines)
                }
                None => ("form".to_owned(), self.lines(&body["view"], None)),
            },
            other => (other.to_owned(), Vec::new()),
        }
    }

    fn new_message(&mut self, in_channel: bool, owner: String) -> usize {
        let ts = format!("{}.{:06}", unix_now(), self.shown.len() + 1);
        self.shown.push(Shown {
            ts,
            in_channel,
            owner,
            version: 0,
        });
        self.shown.len() - 1
    }

    fn label(&self, index: usize) -> String {
        let shown = &self.shown[index];
        if shown.in_channel {
            format!("#{CHANNEL_NAME}")
        } else if shown.owner == self.people.current_id() {
            "only you".to_owned()
        } else {
            format!("only @{}", self.people.name_of(&shown.owner))
        }
    }

    fn lines(&mut self, body: &Value, message: Option<usize>) -> Vec<String> {
        let version = message.map_or(0, |i| self.shown[i].version);
        let mut found = Vec::new();
        let reader = Names {
            people: &self.people,
        };
        let mut lines = blocks::message(body, &reader, &mut |button| {
            found.push(button);
            self.fresh.len() + found.len()
        });
        if message.is_none() && !found.is_empty() {
            lines.push("(its buttons cannot be pressed here)".to_owned());
        }
        if let Some(message) = message {
            self.fresh
                .extend(found.into_iter().map(|button| ShownButton {
                    button,
                    message,
                    version,
                }));
        }
        lines.retain(|line| !line.trim().is_empty());
        lines
    }
}

/// A line from the terminal itself, not from the bot.
pub fn note(text: String) -> (String, Vec<String>) {
    ("try".to_owned(), vec![text])
}

struct Names<'a> {
    people: &'a People,
}

impl Reader for Names<'_> {
    fn name(&self, id: &str) -> Option<String> {
        match id {
            CHANNEL => Some(CHANNEL_NAME.to_owned()),
            id => self.people.known(id).map(str::to_owned),
        }
    }

    fn now(&self) -> i64 {
        unix_now()
    }
}
