//! `throttle-bot policy check` and `policy explain`: test a policy before deploying it.

use std::path::PathBuf;

use super::{Decision, PolicySource, Subject};
use crate::cli::PolicyCommand;
use crate::slack::command::{Request, parse_text};

/// The text to print, and whether the answer is "valid" / "allowed".
pub fn run(command: PolicyCommand) -> Result<(String, bool), String> {
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
            let who = Subject {
                user: &user,
                channel: channel.as_deref(),
                team: team.as_deref(),
            };
            match parse_text(&text).map_err(|e| format!("`{text}`: {e}"))? {
                Request::Help | Request::Show(_) => match policy.admits_team(who.team) {
                    Ok(()) => Ok((
                        "ALLOWED: `help` and `show` are open to everyone in the workspace."
                            .to_owned(),
                        true,
                    )),
                    Err(reason) => Ok((format!("DENIED: {reason}"), false)),
                },
                Request::Change(change) => {
                    match policy.decide(who, &change, &[change.api.as_str()], false) {
                        Decision::Allow { rule } => {
                            Ok((format!("ALLOWED by rule \"{rule}\"."), true))
                        }
                        Decision::Deny { reason } => Ok((format!("DENIED: {reason}."), false)),
                        Decision::NeedsApiIdentity => Ok((
                            format!(
                                "DENIED as typed: no rule names `{}`. A rule that names this API by its other identity (id or name) would still allow it; the service looks that up.",
                                change.api
                            ),
                            false,
                        )),
                    }
                }
            }
        }
    }
}

fn load(file: &str) -> Result<super::Policy, String> {
    PolicySource::File(PathBuf::from(file))
        .load()
        .map_err(|e| e.to_string())
}
