//! The impact report, as a server runs it: `IMPACT_AFTER` after a change (or a `restore`) that
//! wrote to a stage, one follow-up with the traffic before and after: threaded under the change
//! message when it has a timestamp (a press on a message in the channel) and a bot token can
//! post there, else on the command's `response_url` (valid 30 minutes). Informational: not
//! waited for at shutdown, and never retried.

use std::sync::Arc;
use std::time::Duration;

use crate::core::clock::unix_now;
use crate::core::outcome::{Outcome, TimedDone};
use crate::core::runner::Ask;
use crate::slack::render;

use super::AppRunner;

/// `response_url` stops working 30 minutes after the command.
const MAX_AFTER: Duration = Duration::from_secs(29 * 60);

/// Starts the report for `outcome`, if it wrote to a stage and someone waits on a reply address.
pub(super) fn schedule(runner: &Arc<AppRunner>, ask: &Ask, outcome: &Outcome, after: Duration) {
    if after.is_zero() {
        return;
    }
    let Some(reply_to) = ask.origin.reply_to.clone() else {
        return;
    };
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
        _ => return,
    };
    let after = after.min(MAX_AFTER);
    let minutes = after.as_secs().div_ceil(60).max(1) as i64;
    let at = unix_now();
    let runner = Arc::clone(runner);
    let thread = match (&ask.origin.message_ts, ask.origin.requester.user()) {
        (Some(ts), Some(who)) => who.channel.as_ref().map(|c| (c.to_string(), ts.clone())),
        _ => None,
    };
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let message = match runner.impact(&api, &stage, &level, at, minutes).await {
            Ok((before, after)) => render::impact(&api, &stage, &level, at, (&before, &after)),
            Err(error) => render::impact_unread(&api, &stage, &error.to_string()),
        };
        if let Some((channel, ts)) = &thread {
            match runner.teller().post_in_thread(channel, ts, &message).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "could not thread the impact report; sending it on the command's reply address");
                }
            }
        }
        if let Err(error) = runner.teller().respond(&reply_to, &message).await {
            tracing::warn!(%error, "could not deliver the impact report");
        }
    });
}
