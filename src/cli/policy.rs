//! `throttle-bot policy check` and `policy explain`: test a policy before deploying it.

use std::path::PathBuf;

use super::PolicyCommand;
use crate::core::grammar::{PlanRequest, Request, TextError, parse_text};
use crate::core::requester::{ChatId, ChatUser};
use crate::policy::{ApiIdentity, Denial, Policy, PolicyError, PolicySource};

/// Why the policy command could not answer (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum PolicyToolError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("`{text}`: {error}")]
    Text { text: String, error: TextError },
    #[error("`{0}` is not a Slack id (like U2CERLKJA)")]
    Id(String),
}

/// The text to print, and whether the answer is "valid" / "allowed".
pub fn run(command: PolicyCommand) -> Result<(String, bool), PolicyToolError> {
    match command {
        PolicyCommand::Check { file } => {
            let policy = load(&file)?;
            let mut lines = vec![format!("{file}: valid, {} rules.", policy.rules.len())];
            lines.extend(policy.describe());
            Ok((lines.join("\n"), true))
        }
        PolicyCommand::Explain {
            file,
            user,
            channel,
            team,
            words,
        } => {
            let policy = load(&file)?;
            let text = words.join(" ");
            let id =
                |raw: &str| ChatId::parse(raw).ok_or_else(|| PolicyToolError::Id(raw.to_owned()));
            let who = ChatUser {
                user: id(&user)?,
                channel: channel.as_deref().map(id).transpose()?,
                team: team.as_deref().map(id).transpose()?,
                command: "/throttle".to_owned(),
            };
            let request = parse_text(&text).map_err(|error| PolicyToolError::Text {
                text: text.clone(),
                error,
            })?;
            let change = match request {
                Request::Help => {
                    return Ok(match policy.admits_team(who.team.as_ref()) {
                        Ok(()) => ("ALLOWED: `help` is open to everyone.".to_owned(), true),
                        Err(denial) => (format!("DENIED: {denial}"), false),
                    });
                }
                Request::Show(_) | Request::List(_) => {
                    return Ok(match policy.may_read(&who) {
                        Ok(()) if policy.readers.is_none() => (
                            "ALLOWED: `show` is open to everyone in the workspace (no `readers`)."
                                .to_owned(),
                            true,
                        ),
                        Ok(()) => ("ALLOWED: listed in `readers`.".to_owned(), true),
                        Err(denial) => (format!("DENIED: {denial}."), false),
                    });
                }
                Request::Timed(_) => {
                    return Ok(match policy.admits_team(who.team.as_ref()) {
                        Ok(()) => (
                            "DEPENDS: `extend` and `restore` are judged on the values they leave at the level, which only the stage's record tells; `policy explain` reads no stage. Explain the change they leave instead (for example `<api> <stage> <rate> <burst>` or `reset <api> <stage>`).".to_owned(),
                            true,
                        ),
                        Err(denial) => (format!("DENIED: {denial}"), false),
                    });
                }
                Request::Plan(PlanRequest::Show(_)) => {
                    return Ok(match policy.may_read(&who) {
                        Ok(()) => ("ALLOWED: `show plan` is open to readers.".to_owned(), true),
                        Err(denial) => (format!("DENIED: {denial}."), false),
                    });
                }
                Request::Plan(PlanRequest::Timed(_)) => {
                    return Ok(match policy.admits_team(who.team.as_ref()) {
                        Ok(()) => (
                            "DEPENDS: `extend plan` and `restore plan` are judged on the values they leave at the level, which only the plan's record tells; `policy explain` reads no plan. Explain the change they leave instead (for example `plan <plan> <rate> <burst>` or `reset plan <plan>`).".to_owned(),
                            true,
                        ),
                        Err(denial) => (format!("DENIED: {denial}"), false),
                    });
                }
                Request::Plan(PlanRequest::Change(change)) => {
                    // As typed: the service also knows the plan's other identity (id or name).
                    let names = [change.plan.bare()];
                    return Ok(
                        match policy.decide_plan(&who, change.plan.target(), &names, &change.action)
                        {
                            Ok(allowed) => (format!("ALLOWED by {}.", named(&allowed.rule)), true),
                            Err(denial @ Denial::NoRuleForPlan { .. }) => (
                                format!(
                                    "DENIED as typed: {denial}. A rule that names this plan by its other identity (id or name) would still allow it; the service looks that up."
                                ),
                                false,
                            ),
                            Err(denial) => (format!("DENIED: {denial}."), false),
                        },
                    );
                }
                Request::Change(change) => change,
            };
            // No AWS call here: the API is judged by the text as typed. The service also
            // knows its other identity (id or name) and decides on both.
            Ok(
                match policy.decide(&who, ApiIdentity::AsTyped(&change.api), &change) {
                    Ok(allowed) if !allowed.approvers.is_empty() => {
                        let approvers: Vec<&str> =
                            allowed.approvers.iter().map(ChatId::as_str).collect();
                        let glass = if allowed.break_glass {
                            " In an emergency the author may add --now to apply it at once (loudly audited; a change that blocks traffic is still previewed)."
                        } else {
                            ""
                        };
                        (
                            format!(
                                "NEEDS APPROVAL by one of {} ({}), then applied.{glass}",
                                approvers.join(", "),
                                named(&allowed.rule)
                            ),
                            true,
                        )
                    }
                    Ok(allowed) if allowed.confirm => (
                        format!(
                            "NEEDS CONFIRMATION: {} asks its author to confirm every change, then applied.",
                            named(&allowed.rule)
                        ),
                        true,
                    ),
                    Ok(allowed) if blocks_traffic(&change) => (
                        format!(
                            "NEEDS CONFIRMATION: a rate or burst of 0 blocks traffic (allowed by {}).",
                            named(&allowed.rule)
                        ),
                        true,
                    ),
                    Ok(allowed) => (format!("ALLOWED by {}.", named(&allowed.rule)), true),
                    Err(denial @ Denial::NoRuleForApi { .. }) => (
                        format!(
                            "DENIED as typed: {denial}. A rule that names this API by its other identity (id or name) would still allow it; the service looks that up."
                        ),
                        false,
                    ),
                    Err(denial) => (format!("DENIED: {denial}."), false),
                },
            )
        }
    }
}

/// The rules that admitted a change: every one of them applies its conditions.
fn named(rules: &str) -> String {
    let names: Vec<String> = rules.split(" + ").map(|n| format!("\"{n}\"")).collect();
    match names.as_slice() {
        [one] => format!("rule {one}"),
        many => format!("rules {}, each of which applies", many.join(" + ")),
    }
}

/// A rate or burst of 0 always asks for confirmation (a cut needs the stage, which this
/// command does not read).
fn blocks_traffic(change: &crate::domain::ThrottleChange) -> bool {
    matches!(change.action, crate::domain::Action::Set(l) if l.rate.value() == 0.0 || l.burst.value() == 0)
}

fn load(file: &str) -> Result<Policy, PolicyError> {
    PolicySource::File(PathBuf::from(file))
        .load()?
        .ok_or_else(|| PolicyError::whole(file, "not a policy file"))
}
