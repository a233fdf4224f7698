//! The impact report: `IMPACT_AFTER` after a change (or a `restore`) that wrote to a stage, one
//! follow-up with the traffic before and after: threaded under the change message when it has
//! a timestamp (a press on a message in the channel) and a bot token can post there, else on
//! the command's `response_url` (valid 30 minutes). A server keeps it in a timer; a Lambda in a
//! one-time schedule, as it keeps a timed change's deadline. Informational: not waited for at
//! shutdown, and never retried.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::aws::ScheduleError;
use crate::core::clock::unix_now;
use crate::core::outcome::{Outcome, TimedDone};
use crate::core::requester::ReplyTo;
use crate::core::runner::Ask;
use crate::domain::{Level, ResolvedApi, StageName};
use crate::slack::render;

use super::AppRunner;

/// `response_url` stops working 30 minutes after the command.
const MAX_AFTER: Duration = Duration::from_secs(29 * 60);

/// One report to send later: where the change landed and when, and whom to tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub api: ResolvedApi,
    pub stage: StageName,
    pub level: Level,
    /// When the change landed (Unix seconds).
    pub at: i64,
    /// How many minutes before and after it the report compares.
    pub minutes: i64,
    /// How long after the change the report is due.
    pub after: Duration,
    pub reply_to: ReplyTo,
    /// The change message's channel and timestamp, when it has one to thread under.
    pub thread: Option<(String, String)>,
}

/// Why a report could not be kept for later: none will follow.
#[derive(Debug, thiserror::Error)]
pub enum ReportLaterError {
    #[error("needs SCHEDULER_ROLE_ARN, a signing secret and this function's ARN")]
    NotReady,
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// Keeps a report for later where no timer of this process can (a Lambda's one-time schedule).
pub trait ReportLater: Send + Sync {
    fn report_later<'a>(
        &'a self,
        report: &'a Report,
    ) -> Pin<Box<dyn Future<Output = Result<(), ReportLaterError>> + Send + 'a>>;
}

/// The report `outcome` calls for, if it wrote to a stage and someone waits on a reply address.
pub fn report_of(ask: &Ask, outcome: &Outcome, after: Duration) -> Option<Report> {
    if after.is_zero() {
        return None;
    }
    let reply_to = ask.origin.reply_to.clone()?;
    let (api, stage, level) = match outcome {
        Outcome::Change {
            change,
            result: Ok(applied),
        } if applied.changed => (
            applied.api.clone(),
            change.stage.clone(),
            change.level.clone(),
        ),
        Outcome::Timed {
            request,
            result: Ok(TimedDone::Restored { applied, .. }),
            ..
        } if applied.changed => (
            applied.api.clone(),
            request.stage.clone(),
            request.level.clone(),
        ),
        _ => return None,
    };
    let after = after.min(MAX_AFTER);
    let thread = match (&ask.origin.message_ts, ask.origin.requester.user()) {
        (Some(ts), Some(who)) => who.channel.as_ref().map(|c| (c.to_string(), ts.clone())),
        _ => None,
    };
    Some(Report {
        api,
        stage,
        level,
        at: unix_now(),
        minutes: after.as_secs().div_ceil(60).max(1) as i64,
        after,
        reply_to,
        thread,
    })
}

/// As a server: a timer in this process.
pub(super) fn schedule(runner: &Arc<AppRunner>, ask: &Ask, outcome: &Outcome, after: Duration) {
    let Some(report) = report_of(ask, outcome, after) else {
        return;
    };
    let runner = Arc::clone(runner);
    tokio::spawn(async move {
        crate::core::clock::sleep(report.after).await;
        send(&runner, &report).await;
    });
}

/// Reads the traffic and sends the report: in the thread when it can, else on the reply address.
pub async fn send(runner: &AppRunner, report: &Report) {
    let Report {
        api, stage, level, ..
    } = report;
    let message = match runner
        .impact(api, stage, level, report.at, report.minutes)
        .await
    {
        Ok((before, after)) => render::impact(api, stage, level, report.at, (&before, &after)),
        Err(error) => render::impact_unread(api, stage, &error.to_string()),
    };
    if let Some((channel, ts)) = &report.thread {
        match runner.teller().post_in_thread(channel, ts, &message).await {
            Ok(true) => {
                // The picture follows the report into its thread.
                let (at, minutes) = (report.at, report.minutes);
                runner
                    .impact_picture((channel, ts), api, (stage, level), at, minutes)
                    .await;
                return;
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, "could not thread the impact report; sending it on the command's reply address");
            }
        }
    }
    if let Err(error) = runner.teller().respond(&report.reply_to, &message).await {
        tracing::warn!(%error, "could not deliver the impact report");
    }
}
