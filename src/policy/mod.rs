//! The access policy: who may change which stage, and by how much. Deny by default.

pub mod cli;
mod file;
mod pattern;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use file::{PolicyError, parse};
pub use pattern::Pattern;

use crate::domain::{Action, ThrottleChange};

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub team_id: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub users: Vec<String>,
    pub channels: Option<Vec<String>>,
    pub apis: Vec<Pattern>,
    pub stages: Vec<Pattern>,
    pub bounds: Bounds,
}

/// Inclusive bounds on the values a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bounds {
    pub min_rate: Option<f64>,
    pub max_rate: Option<f64>,
    pub min_burst: Option<i64>,
    pub max_burst: Option<i64>,
}

/// Who asks: the Slack user, channel and workspace.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user: &'a str,
    pub channel: Option<&'a str>,
    pub team: Option<&'a str>,
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Allow {
        rule: String,
    },
    Deny {
        reason: String,
    },
    /// A rule might match once the API's other identity (its id or name) is known.
    NeedsApiIdentity,
}

impl Policy {
    /// Whether a workspace may use the command at all.
    pub fn admits_team(&self, team: Option<&str>) -> Result<(), String> {
        match &self.team_id {
            Some(allowed) if team != Some(allowed.as_str()) => Err(format!(
                "this bot only accepts commands from workspace {allowed}"
            )),
            _ => Ok(()),
        }
    }

    /// Decides a change. `api_names` are what is known of the API: what the user typed, and,
    /// when `complete`, also its id and name.
    pub fn decide(
        &self,
        who: Subject<'_>,
        change: &ThrottleChange,
        api_names: &[&str],
        complete: bool,
    ) -> Decision {
        if let Err(reason) = self.admits_team(who.team) {
            return Decision::Deny { reason };
        }
        let stage = change.stage.as_str();
        let for_whom: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.admits_user(who.user) && r.admits_channel(who.channel))
            .filter(|r| r.stages.iter().any(|p| p.matches(stage)))
            .collect();
        let place = match who.channel {
            Some(channel) => format!("user {} in channel {channel}", who.user),
            None => format!("user {}", who.user),
        };
        if for_whom.is_empty() {
            return Decision::Deny {
                reason: format!("no rule lets {place} change stage `{stage}`"),
            };
        }
        let for_api: Vec<&Rule> = for_whom
            .into_iter()
            .filter(|r| {
                api_names
                    .iter()
                    .any(|n| r.apis.iter().any(|p| p.matches(n)))
            })
            .collect();
        if for_api.is_empty() {
            return if complete {
                Decision::Deny {
                    reason: format!(
                        "no rule lets {place} change API `{}` stage `{stage}`",
                        change.api
                    ),
                }
            } else {
                Decision::NeedsApiIdentity
            };
        }
        let mut refusals = Vec::new();
        for rule in for_api {
            match rule.bounds.check(&change.action) {
                Ok(()) => {
                    return Decision::Allow {
                        rule: rule.name.clone(),
                    };
                }
                Err(why) => refusals.push(format!("{why} (rule \"{}\")", rule.name)),
            }
        }
        Decision::Deny {
            reason: refusals.join("; "),
        }
    }

    /// The policy in plain words, one line a rule.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.team_id {
            Some(team) => lines.push(format!("Only commands from workspace {team} are accepted.")),
            None => lines.push("Commands from any workspace are accepted.".to_owned()),
        }
        for (i, rule) in self.rules.iter().enumerate() {
            lines.push(format!(
                "Rule {} \"{}\": {}",
                i + 1,
                rule.name,
                rule.describe()
            ));
        }
        lines.push(
            "Any other change is denied. `help` and `show` are open to everyone in the workspace."
                .to_owned(),
        );
        lines
    }
}

impl Rule {
    fn admits_user(&self, user: &str) -> bool {
        self.users.iter().any(|u| u == "*" || u == user)
    }

    fn admits_channel(&self, channel: Option<&str>) -> bool {
        match &self.channels {
            None => true,
            Some(allowed) => allowed
                .iter()
                .any(|c| c == "*" || Some(c.as_str()) == channel),
        }
    }

    fn describe(&self) -> String {
        let list = |items: Vec<String>, any: &str| -> String {
            if items.iter().any(|i| i == "*") {
                any.to_owned()
            } else {
                items.join(" or ")
            }
        };
        let users = list(self.users.clone(), "anyone");
        let channels = match &self.channels {
            None => "in any channel".to_owned(),
            Some(c) => format!("in {}", list(c.clone(), "any channel")),
        };
        let apis = list(
            self.apis.iter().map(ToString::to_string).collect(),
            "any API",
        );
        let stages = list(
            self.stages.iter().map(ToString::to_string).collect(),
            "any stage",
        );
        format!(
            "{users} {channels} may change {apis}, {stages}; {}",
            self.bounds.describe()
        )
    }
}

impl Bounds {
    /// Whether an action's new values are within bounds. A reset removes the level's limit,
    /// so it is within a rule only when the rule sets no maximum.
    fn check(&self, action: &Action) -> Result<(), String> {
        let (rate, burst) = match action {
            Action::Set(limits) => (limits.rate.value(), i64::from(limits.burst.value())),
            Action::Reset => {
                return match (self.max_rate, self.max_burst) {
                    (None, None) => Ok(()),
                    _ => Err(format!(
                        "reset removes the limit, but the rule caps it ({})",
                        self.describe()
                    )),
                };
            }
        };
        let range = |min: Option<String>, max: Option<String>| {
            format!(
                "allowed {}–{}",
                min.unwrap_or_else(|| "0".to_owned()),
                max.unwrap_or_else(|| "any".to_owned())
            )
        };
        let rate_range = range(
            self.min_rate.map(|v| v.to_string()),
            self.max_rate.map(|v| v.to_string()),
        );
        let burst_range = range(
            self.min_burst.map(|v| v.to_string()),
            self.max_burst.map(|v| v.to_string()),
        );
        if self.min_rate.is_some_and(|min| rate < min) {
            return Err(format!(
                "rate {rate} is below the minimum ({rate_range} req/s)"
            ));
        }
        if self.max_rate.is_some_and(|max| rate > max) {
            return Err(format!(
                "rate {rate} is above the maximum ({rate_range} req/s)"
            ));
        }
        if self.min_burst.is_some_and(|min| burst < min) {
            return Err(format!(
                "burst {burst} is below the minimum ({burst_range})"
            ));
        }
        if self.max_burst.is_some_and(|max| burst > max) {
            return Err(format!(
                "burst {burst} is above the maximum ({burst_range})"
            ));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let range = |min: Option<String>, max: Option<String>, unit: &str| match (min, max) {
            (None, None) => format!("any {unit}"),
            (Some(min), None) => format!("{unit} at least {min}"),
            (None, Some(max)) => format!("{unit} at most {max}"),
            (Some(min), Some(max)) => format!("{unit} {min}–{max}"),
        };
        format!(
            "{}, {}",
            range(
                self.min_rate.map(|v| v.to_string()),
                self.max_rate.map(|v| v.to_string()),
                "rate"
            ),
            range(
                self.min_burst.map(|v| v.to_string()),
                self.max_burst.map(|v| v.to_string()),
                "burst"
            )
        )
    }
}

/// Where the policy comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicySource {
    File(PathBuf),
    Inline(String),
}

impl PolicySource {
    /// From `THROTTLE_POLICY` (a file) or `THROTTLE_POLICY_TOML` (the text); not both.
    pub fn from_settings(
        file: Option<String>,
        inline: Option<String>,
    ) -> Result<Option<Self>, String> {
        let file = file.filter(|f| !f.trim().is_empty());
        let inline = inline.filter(|t| !t.trim().is_empty());
        match (file, inline) {
            (Some(_), Some(_)) => {
                Err("set THROTTLE_POLICY or THROTTLE_POLICY_TOML, not both".to_owned())
            }
            (Some(file), None) => Ok(Some(Self::File(PathBuf::from(file)))),
            (None, Some(text)) => Ok(Some(Self::Inline(text))),
            (None, None) => Ok(None),
        }
    }

    pub fn load(&self) -> Result<Policy, PolicyError> {
        match self {
            Self::File(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
                    origin: name.clone(),
                    line: 0,
                    reason: format!("cannot read it ({e})"),
                })?;
                parse(&name, &text)
            }
            Self::Inline(text) => parse("THROTTLE_POLICY_TOML", text),
        }
    }
}

/// The policy in force, swapped whole on reload.
#[derive(Debug)]
pub struct PolicyHandle {
    source: Option<PolicySource>,
    current: RwLock<Option<Arc<Policy>>>,
}

impl PolicyHandle {
    /// Loads the policy once; a bad one is an error (the service must not start).
    pub fn load(source: Option<PolicySource>) -> Result<Self, PolicyError> {
        let current = source.as_ref().map(PolicySource::load).transpose()?;
        Ok(Self {
            source,
            current: RwLock::new(current.map(Arc::new)),
        })
    }

    /// No policy: every change is allowed within the account's limits.
    pub fn none() -> Self {
        Self {
            source: None,
            current: RwLock::new(None),
        }
    }

    pub fn current(&self) -> Option<Arc<Policy>> {
        self.current.read().expect("policy lock").clone()
    }

    /// Re-reads the policy file. A bad file leaves the old policy in force.
    pub fn reload(&self) -> Result<usize, String> {
        match &self.source {
            Some(source @ PolicySource::File(_)) => {
                let policy = source.load().map_err(|e| e.to_string())?;
                let rules = policy.rules.len();
                *self.current.write().expect("policy lock") = Some(Arc::new(policy));
                Ok(rules)
            }
            Some(PolicySource::Inline(_)) => {
                Err("THROTTLE_POLICY_TOML cannot be reloaded; restart to change it".to_owned())
            }
            None => Err("no THROTTLE_POLICY file is configured".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::command::{Request, parse_text};

    const POLICY: &str = r#"
team_id = "T1DC2JH3J"

[[rule]]
name = "ops tune test"
users = ["*"]
channels = ["C0123ABC"]
apis = ["*"]
stages = ["test", "dev-*"]
max_rate = 1000
max_burst = 2000

[[rule]]
name = "SRE prod"
users = ["U2CERLKJA"]
apis = ["petstore", "a1b2c3d4e5"]
stages = ["prod"]
min_rate = 1
max_rate = 5000
max_burst = 5000
"#;

    fn policy() -> Policy {
        parse("test", POLICY).unwrap()
    }

    fn change(text: &str) -> ThrottleChange {
        let Ok(Request::Change(change)) = parse_text(text) else {
            panic!("{text}")
        };
        change
    }

    fn decide(user: &str, channel: &str, text: &str) -> Decision {
        let change = change(text);
        let who = Subject {
            user,
            channel: Some(channel),
            team: Some("T1DC2JH3J"),
        };
        policy().decide(who, &change, &[change.api.as_str()], true)
    }

    #[test]
    fn a_matching_rule_within_bounds_allows() {
        assert_eq!(
            decide("U999", "C0123ABC", "orders dev-2 500 1000"),
            Decision::Allow {
                rule: "ops tune test".to_owned()
            }
        );
        assert_eq!(
            decide("U2CERLKJA", "C9", "petstore prod 1 10"),
            Decision::Allow {
                rule: "SRE prod".to_owned()
            }
        );
    }

    #[test]
    fn anything_unmatched_is_denied() {
        assert!(matches!(
            decide("U999", "C9", "orders test 5 5"),
            Decision::Deny { .. }
        ));
        assert!(matches!(
            decide("U999", "C0123ABC", "petstore prod 5 5"),
            Decision::Deny { .. }
        ));
        assert!(matches!(
            decide("U2CERLKJA", "C9", "other prod 5 5"),
            Decision::Deny { .. }
        ));
    }

    #[test]
    fn bounds_are_inclusive_and_named_when_exceeded() {
        assert!(matches!(
            decide("U2CERLKJA", "C9", "petstore prod 5000 5000"),
            Decision::Allow { .. }
        ));
        let Decision::Deny { reason } = decide("U2CERLKJA", "C9", "petstore prod 0 10") else {
            panic!()
        };
        assert!(
            reason.contains("rate 0 is below the minimum (allowed 1–5000 req/s)"),
            "{reason}"
        );
        let Decision::Deny { reason } = decide("U2CERLKJA", "C9", "petstore prod 10 6000") else {
            panic!()
        };
        assert!(
            reason.contains("burst 6000 is above the maximum (allowed 0–5000)"),
            "{reason}"
        );
    }

    #[test]
    fn a_reset_needs_a_rule_without_a_maximum() {
        let Decision::Deny { reason } = decide("U2CERLKJA", "C9", "reset petstore prod") else {
            panic!()
        };
        assert!(reason.contains("reset removes the limit"), "{reason}");
    }

    #[test]
    fn another_workspace_is_refused() {
        let change = change("orders test 5 5");
        let who = Subject {
            user: "U1",
            channel: Some("C0123ABC"),
            team: Some("TOTHER"),
        };
        let Decision::Deny { reason } = policy().decide(who, &change, &["orders"], true) else {
            panic!()
        };
        assert!(reason.contains("workspace T1DC2JH3J"), "{reason}");
    }

    #[test]
    fn an_api_known_only_by_id_asks_for_its_name_before_denying() {
        let policy = parse(
            "t",
            "[[rule]]\nusers = [\"*\"]\napis = [\"petstore\"]\nstages = [\"prod\"]\n",
        )
        .unwrap();
        let change = change("zzzzzzzzzz prod 5 5");
        let who = Subject {
            user: "U1",
            channel: None,
            team: None,
        };
        assert_eq!(
            policy.decide(who, &change, &["zzzzzzzzzz"], false),
            Decision::NeedsApiIdentity
        );
        assert!(matches!(
            policy.decide(who, &change, &["zzzzzzzzzz", "petstore"], true),
            Decision::Allow { .. }
        ));
    }

    #[test]
    fn the_policy_reads_as_plain_words() {
        let lines = policy().describe();
        assert_eq!(
            lines[0],
            "Only commands from workspace T1DC2JH3J are accepted."
        );
        assert_eq!(
            lines[1],
            "Rule 1 \"ops tune test\": anyone in C0123ABC may change any API, test or dev-*; rate at most 1000, burst at most 2000"
        );
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("Any other change is denied")
        );
    }
}
