//! EventBridge Scheduler: one-time schedules that invoke a Lambda function at a given time, and
//! delete themselves once they have run.

use aws_config::BehaviorVersion;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::primitives::{DateTime, DateTimeFormat};
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};

/// EventBridge Scheduler's longest retry window (a day) and most retries (185).
const RETRY_FOR_SECS: i32 = 86_400;
const MAX_RETRIES: i32 = 185;
use tokio::sync::OnceCell;

/// Why a schedule was not created: AWS's error code, or "no answer".
#[derive(Debug, thiserror::Error)]
#[error("scheduler:CreateSchedule failed: {0}")]
pub struct ScheduleError(String);

/// Creates one-time schedules in one schedule group, invoked as one role.
pub struct Scheduler {
    group: String,
    role_arn: String,
    client: OnceCell<Client>,
}

/// One schedule: a name unique in its group, when, whom to invoke, and with what.
pub struct OneTime<'a> {
    pub name: &'a str,
    pub at: i64,
    pub target_arn: &'a str,
    pub input: &'a str,
}

impl Scheduler {
    pub fn new(group: String, role_arn: String) -> Self {
        Self {
            group,
            role_arn,
            client: OnceCell::new(),
        }
    }

    /// `at(…)` once, in UTC, with no flexible window; deleted after it runs. A schedule of the
    /// same name already there is the same deadline, already scheduled.
    pub async fn create(&self, schedule: OneTime<'_>) -> Result<(), ScheduleError> {
        let client = self
            .client
            .get_or_init(|| async {
                Client::new(&aws_config::defaults(BehaviorVersion::latest()).load().await)
            })
            .await;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| ScheduleError(e.to_string()))?;
        // A failed restore (AWS throttling, a claim held by another invocation) fails the
        // invocation: retried for a day, as often as the scheduler allows.
        let retries = RetryPolicy::builder()
            .maximum_event_age_in_seconds(RETRY_FOR_SECS)
            .maximum_retry_attempts(MAX_RETRIES)
            .build();
        let target = Target::builder()
            .arn(schedule.target_arn)
            .role_arn(&self.role_arn)
            .input(schedule.input)
            .retry_policy(retries)
            .build()
            .map_err(|e| ScheduleError(e.to_string()))?;
        let result = client
            .create_schedule()
            .name(schedule.name)
            .group_name(&self.group)
            .schedule_expression(at_expression(schedule.at))
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConflictException") => Ok(()),
            Err(err) => Err(ScheduleError(err.code().unwrap_or("no answer").to_owned())),
        }
    }
}

/// `at(2026-11-26T14:30:00)`: EventBridge Scheduler's one-time expression, in UTC.
pub fn at_expression(unix: i64) -> String {
    let utc = DateTime::from_secs(unix)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default();
    format!("at({})", utc.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_expressions_are_in_utc_without_a_zone_suffix() {
        assert_eq!(at_expression(0), "at(1970-01-01T00:00:00)");
        assert_eq!(at_expression(1_795_703_400), "at(2026-11-26T14:30:00)");
    }
}
