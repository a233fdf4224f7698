//! The one log line each request ends with.

use std::time::Duration;

use crate::core::outcome::{Label, Outcome};
use crate::core::requester::Requester;
use crate::domain::TargetAlias;

/// One line per request, with who, what and how it ended. User text is debug-escaped.
pub(super) fn log_line(requester: &Requester, outcome: &Outcome, label: Label, took: Duration) {
    let source = requester.source();
    let (user, channel) = match requester.user() {
        Some(who) => (
            who.user.as_str(),
            who.channel.as_ref().map_or("", |c| c.as_str()),
        ),
        None => ("", ""),
    };
    let alarm = match requester {
        Requester::Alarm(name) => name.as_str(),
        _ => "",
    };
    let outcome_label = label.as_str();
    let latency_ms = took.as_millis() as u64;
    match outcome {
        Outcome::Change { change, result } => {
            let after = change.after();
            let (api, stage, level) = (
                change.api.to_string(),
                change.stage.as_str(),
                change.level.to_string(),
            );
            let rate = after.rate.unwrap_or(-1.0);
            let burst = after.burst.unwrap_or(-1);
            match result {
                Ok(applied) => tracing::info!(
                    source,
                    user,
                    channel,
                    alarm,
                    api,
                    api_kind = applied.api.kind.label(),
                    stage,
                    level,
                    rate,
                    burst,
                    outcome = outcome_label,
                    latency_ms,
                    "throttling command done"
                ),
                Err(error) => {
                    tracing::warn!(source, user, channel, alarm, api, stage, level, rate, burst, outcome = outcome_label, %error, latency_ms, "throttling command failed")
                }
            }
        }
        Outcome::Refused { change, denial, .. } => {
            let (api, stage, level) = change
                .as_ref()
                .map_or((String::new(), "", String::new()), |c| {
                    (c.api.to_string(), c.stage.as_str(), c.level.to_string())
                });
            tracing::warn!(source, user, channel, api, stage, level, outcome = outcome_label, reason = %denial, "throttling command denied by the access policy");
        }
        Outcome::Show { request, result } => match result {
            Ok(_) => tracing::info!(
                source,
                user,
                channel,
                api = %request.api,
                outcome = outcome_label,
                latency_ms,
                "show done"
            ),
            Err(error) => {
                tracing::warn!(source, user, channel, api = %request.api, outcome = outcome_label, %error, latency_ms, "show failed")
            }
        },
        Outcome::History { request, result } => match result {
            Ok(history) => tracing::info!(
                source,
                user,
                channel,
                api = %request.api,
                changes = history.entries.len(),
                outcome = outcome_label,
                latency_ms,
                "history read"
            ),
            Err(error) => {
                tracing::warn!(source, user, channel, api = %request.api, outcome = outcome_label, %error, latency_ms, "history failed")
            }
        },
        Outcome::Listed { request, result } => {
            let target = TargetAlias::name(request.target.as_ref());
            match result {
                Ok(listed) => tracing::info!(
                    source,
                    user,
                    channel,
                    target,
                    apis = listed.apis.len(),
                    outcome = outcome_label,
                    latency_ms,
                    "target listed"
                ),
                Err(error) => {
                    tracing::warn!(source, user, channel, target, outcome = outcome_label, %error, latency_ms, "target listing failed")
                }
            }
        }
        Outcome::PlanShown { plan, result } => match result {
            Ok(_) => {
                tracing::info!(source, user, channel, plan = %plan, outcome = outcome_label, latency_ms, "plan shown")
            }
            Err(error) => {
                tracing::warn!(source, user, channel, plan = %plan, outcome = outcome_label, %error, latency_ms, "plan show failed")
            }
        },
        Outcome::PlanGated {
            change, approvers, ..
        } => {
            let (plan, level) = (change.plan.to_string(), change.level.to_string());
            tracing::info!(
                source,
                user,
                channel,
                plan,
                level,
                approvers = approvers.len(),
                outcome = outcome_label,
                latency_ms,
                "usage plan change held for confirmation or approval"
            );
        }
        Outcome::PlanChanged { change, result } => {
            let (plan, level) = (change.plan.to_string(), change.level.to_string());
            let after = change.after();
            let (rate, burst) = (after.rate.unwrap_or(-1.0), after.burst.unwrap_or(-1));
            match result {
                Ok(_) => tracing::info!(
                    source,
                    user,
                    channel,
                    plan,
                    level,
                    rate,
                    burst,
                    outcome = outcome_label,
                    latency_ms,
                    "usage plan command done"
                ),
                Err(error) => {
                    tracing::warn!(source, user, channel, plan, level, rate, burst, outcome = outcome_label, %error, latency_ms, "usage plan command failed")
                }
            }
        }
        Outcome::PlanTimed {
            request, result, ..
        } => {
            let (plan, level) = (request.plan.to_string(), request.level.to_string());
            match result {
                Ok(_) => tracing::info!(
                    source,
                    user,
                    channel,
                    plan,
                    level,
                    outcome = outcome_label,
                    latency_ms,
                    "usage plan timed change step done"
                ),
                Err(error) => {
                    tracing::warn!(source, user, channel, plan, level, outcome = outcome_label, %error, latency_ms, "usage plan timed change step failed")
                }
            }
        }
        Outcome::Interrupted { .. } => tracing::error!(
            source,
            user,
            channel,
            outcome = outcome_label,
            "shutdown interrupted a command before it finished"
        ),
        Outcome::Invalid { reason } => tracing::warn!(
            source,
            alarm,
            outcome = outcome_label,
            reason,
            "throttling job failed"
        ),
        Outcome::Timed {
            request, result, ..
        } => {
            let (api, stage, level) = (
                request.api.to_string(),
                request.stage.as_str(),
                request.level.to_string(),
            );
            match result {
                Ok(_) => tracing::info!(
                    source,
                    user,
                    channel,
                    api,
                    stage,
                    level,
                    outcome = outcome_label,
                    latency_ms,
                    "timed change step done"
                ),
                Err(error) => {
                    tracing::warn!(source, user, channel, api, stage, level, outcome = outcome_label, %error, latency_ms, "timed change step failed")
                }
            }
        }
        Outcome::UntrustedPlan { plan, found } => tracing::warn!(
            plan,
            tags = found.len(),
            outcome = outcome_label,
            "found throttle-bot tags on a usage plan this service did not seal; nothing acts on them"
        ),
        Outcome::Untrusted { api, stage, found } => tracing::warn!(
            api = %api,
            stage,
            tags = found.len(),
            outcome = outcome_label,
            "found throttle-bot tags this service did not seal; nothing acts on them"
        ),
        Outcome::NeedsConfirmation { change, .. }
        | Outcome::AwaitingApproval { change, .. }
        | Outcome::Moved { change, .. } => tracing::info!(
            source,
            user,
            channel,
            api = %change.api,
            stage = change.stage.as_str(),
            level = change.level.to_string(),
            outcome = outcome_label,
            latency_ms,
            "throttling command not applied (yet)"
        ),
    }
}
