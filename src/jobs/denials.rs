//! Audit notices of refusals made at once (no AWS call), at a bounded rate per person: a flood
//! of denied commands or presses must not starve the audit webhook.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::ChatId;
use crate::telemetry::LogBudget;

/// Notices per person, per minute.
const DENIAL_NOTICES_PER_MINUTE: u32 = 5;

#[derive(Default)]
pub struct DenialNotices(Mutex<HashMap<ChatId, LogBudget>>);

impl DenialNotices {
    /// Whether this person's refusal is audited now.
    pub fn admit(&self, user: &ChatId) -> bool {
        let mut budgets = self.0.lock().expect("denial budgets");
        // Bounded memory: a flood of distinct ids resets the books rather than growing them.
        if budgets.len() > 10_000 {
            budgets.clear();
        }
        budgets
            .entry(user.clone())
            .or_insert_with(|| LogBudget::new(DENIAL_NOTICES_PER_MINUTE, Duration::from_secs(60)))
            .admit()
            .is_some()
    }
}
