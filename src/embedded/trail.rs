//! The account's own CloudTrail: every throttling write and tag the bot makes here is recorded
//! as an event by the bot's role, and the sample fleet starts with changes made outside the bot
//! (a pipeline, a person in the console), so `history` has something to tell.

use std::sync::Mutex;

use crate::core::clock::unix_now;
use crate::domain::{
    Action, Configured, Level, LevelChange, Principal, Trail, TrailCall, TrailEvent, TrailWhat,
    Written,
};

/// The account the embedded APIs live in.
pub const ACCOUNT: &str = "123456789012";

/// Events by API id, oldest first.
#[derive(Default)]
pub struct Recorded(Mutex<Vec<(String, TrailEvent)>>);

/// The bot's own identity here: a session of its role.
fn bot() -> Principal {
    Principal::Role {
        account: ACCOUNT.to_owned(),
        role: "throttle-bot".to_owned(),
        session: "try".to_owned(),
    }
}

impl Recorded {
    /// One call, as CloudTrail records it.
    pub fn record(&self, api: &str, stage: &str, call: TrailCall, what: TrailWhat) {
        self.record_by(api, stage, (unix_now(), bot(), true), call, what);
    }

    /// One call made at `at` by `who` (`by_bot`: through this service).
    pub fn record_by(
        &self,
        api: &str,
        stage: &str,
        (at, who, by_bot): (i64, Principal, bool),
        call: TrailCall,
        what: TrailWhat,
    ) {
        let mut events = self.0.lock().unwrap();
        let event = TrailEvent {
            id: format!("try-{}", events.len() + 1),
            call,
            at,
            principal: who,
            by_bot,
            bot_agent: by_bot,
            stage: stage.to_owned(),
            what,
        };
        events.push((api.to_owned(), event));
    }

    /// A level's throttle set or removed.
    pub fn wrote(&self, api: &str, stage: &str, level: &Level, action: &Action, call: TrailCall) {
        let change = match action {
            Action::Set(limits) => LevelChange {
                level: level.clone(),
                rate: Written::To(limits.rate.value()),
                burst: Written::To(limits.burst.value()),
                before: None,
            },
            Action::Reset => LevelChange::removed(level.clone()),
        };
        self.record(api, stage, call, TrailWhat::Levels(vec![change]));
    }

    /// The events on `api` (only `stage`, when given) since `since`, newest first.
    pub fn since(&self, api: &str, stage: Option<&str>, since: i64) -> Trail {
        let events = self.0.lock().unwrap();
        Trail {
            events: events
                .iter()
                .rev()
                .filter(|(held, event)| {
                    held == api
                        && event.at >= since
                        && stage.is_none_or(|stage| event.stage == stage)
                })
                .map(|(_, event)| event.clone())
                .collect(),
            unread: Vec::new(),
        }
    }
}

/// A change made outside the bot, setting a stage's limits.
pub fn outside(values: Configured) -> TrailWhat {
    let to = |value: Option<f64>| value.map_or(Written::Unset, Written::To);
    TrailWhat::Levels(vec![LevelChange {
        level: Level::Stage,
        rate: to(values.rate),
        burst: values.burst.map_or(Written::Unset, Written::To),
        before: None,
    }])
}
