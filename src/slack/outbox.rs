//! Where Slack-bound messages go under `throttle-bot try`: into the same process, which shows
//! them in a terminal, instead of over HTTP. A poster or Web API with an outbox opens no
//! connection at all; without one (every other mode) nothing here is used.

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::core::ports::TellError;

/// One message as it would have been sent: the URL it would have gone to (a `response_url`,
/// the audit webhook, a Web API method's URL) and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub url: String,
    pub body: Value,
}

/// The sending end, shared by the poster and the Web API.
#[derive(Debug, Clone)]
pub struct Outbox(mpsc::UnboundedSender<Posted>);

impl Outbox {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Posted>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self(sender), receiver)
    }

    /// Hands a message over as posted.
    pub fn post(&self, url: &str, body: &Value) -> Result<(), TellError> {
        self.0
            .send(Posted {
                url: url.to_owned(),
                body: body.clone(),
            })
            .map_err(|_| TellError::Transport("the terminal is gone"))
    }

    /// A Web API call handed over, answered as Slack answers one that worked.
    pub fn call(&self, url: &str, body: Value) -> Result<Value, TellError> {
        self.post(url, &body)?;
        Ok(json!({ "ok": true }))
    }
}
