//! Reading a policy file: TOML, every key known, every rule checked, errors with line numbers.

use serde::Deserialize;
use toml::Spanned;

use super::pattern::Pattern;
use super::{Bounds, Policy, Rule};
use crate::domain::ChatId;
use crate::domain::{BurstLimit, RateLimit, TargetAlias};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    team_id: Option<String>,
    readers: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    rule: Vec<Spanned<RuleFile>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: Option<String>,
    users: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    targets: Option<Vec<String>>,
    apis: Option<Vec<String>>,
    stages: Option<Vec<String>>,
    plans: Option<Vec<String>>,
    min_rate: Option<f64>,
    max_rate: Option<f64>,
    min_burst: Option<i64>,
    max_burst: Option<i64>,
    #[serde(default)]
    confirm: bool,
    approvers: Option<Vec<String>>,
    #[serde(default)]
    break_glass: bool,
}

/// Why one rule (or the `readers` list) was refused; the text goes to the operator as is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum RuleError {
    #[error("empty rule: give at least users, apis and stages")]
    Empty,
    #[error("`{0}` is missing")]
    Missing(String),
    #[error("`{0}` is empty")]
    EmptyList(String),
    #[error("in {key}: {error}")]
    Pattern {
        key: String,
        error: super::pattern::PatternError,
    },
    #[error("`{value}` in {key} is not {what} or \"*\"")]
    NotAnId {
        value: String,
        key: String,
        what: &'static str,
    },
    #[error("{0} must be a number ≥ 0")]
    Rate(&'static str),
    #[error("{0} must be a whole number from 0 to {max}", max = BurstLimit::MAX)]
    Burst(&'static str),
    #[error("min_{what} {min} is greater than max_{what} {max}")]
    MinAboveMax {
        what: &'static str,
        min: String,
        max: String,
    },
    #[error(
        "`{0}` in approvers is not a Slack user id (like U2CERLKJA); name people, not channels or \"*\""
    )]
    Approver(String),
    #[error("break_glass skips approval, so the rule needs `approvers`")]
    BreakGlassWithoutApprovers,
}

/// Why a policy was refused: where (file and line; line 0 for the file as a whole) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub origin: String,
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.origin, self.reason),
            line => write!(f, "{}: line {line}: {}", self.origin, self.reason),
        }
    }
}

impl std::error::Error for PolicyError {}

impl PolicyError {
    /// An error about the policy as a whole (no line).
    pub fn whole(origin: &str, reason: impl Into<String>) -> Self {
        Self {
            origin: origin.to_owned(),
            line: 0,
            reason: reason.into(),
        }
    }
}

/// Parses and checks a policy. `source` names it in errors (a path, or the variable's name).
pub fn parse(source: &str, text: &str) -> Result<Policy, PolicyError> {
    let fail = |offset: usize, reason: String| PolicyError {
        origin: source.to_owned(),
        line: line_of(text, offset),
        reason,
    };
    let file: PolicyFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        fail(offset, e.message().trim().to_owned())
    })?;
    let team_id = match file.team_id {
        Some(team) => match ChatId::parse(&team).filter(|_| team.starts_with(['T', 'E'])) {
            Some(id) => Some(id),
            None => {
                return Err(fail(
                    text.find("team_id").unwrap_or(0),
                    format!("team_id `{team}` is not a Slack workspace id (like T1DC2JH3J)"),
                ));
            }
        },
        None => None,
    };
    let mut rules = Vec::new();
    for (index, spanned) in file.rule.into_iter().enumerate() {
        let offset = spanned.span().start;
        let name = spanned
            .get_ref()
            .name
            .clone()
            .unwrap_or_else(|| format!("rule {}", index + 1));
        let rule = check_rule(name.clone(), spanned.into_inner())
            .map_err(|reason| fail(offset, format!("rule \"{name}\": {reason}")))?;
        rules.push(rule);
    }
    let readers = match file.readers {
        None => None,
        Some(spanned) => {
            let offset = spanned.span().start;
            let readers = ids(
                "readers",
                Some(spanned.into_inner()),
                &['U', 'W', 'C', 'G', 'D'],
                "a Slack user or channel id (like U2CERLKJA or C0123ABC)",
            )
            .map_err(|reason| fail(offset, reason.to_string()))?;
            Some(readers)
        }
    };
    Ok(Policy {
        team_id,
        readers,
        rules,
    })
}

fn check_rule(name: String, raw: RuleFile) -> Result<Rule, RuleError> {
    let empty = raw.users.is_none()
        && raw.channels.is_none()
        && raw.apis.is_none()
        && raw.stages.is_none()
        && raw.plans.is_none()
        && raw.min_rate.is_none()
        && raw.max_rate.is_none()
        && raw.min_burst.is_none()
        && raw.max_burst.is_none();
    if empty {
        return Err(RuleError::Empty);
    }
    let users = ids(
        "users",
        raw.users,
        &['U', 'W'],
        "a Slack user id (like U2CERLKJA)",
    )?;
    let channels = match raw.channels {
        None => None,
        Some(channels) => Some(ids(
            "channels",
            Some(channels),
            &['C', 'G', 'D'],
            "a Slack channel id (like C0123ABC)",
        )?),
    };
    let patterns = |key: &str, values: Option<Vec<String>>| -> Result<Vec<Pattern>, RuleError> {
        required(key, values)?
            .iter()
            .map(|v| pattern(key, v))
            .collect()
    };
    let rate = |key: &'static str, value: Option<f64>| {
        value
            .map(|v| RateLimit::new(v).map_err(|_| RuleError::Rate(key)))
            .transpose()
    };
    let burst = |key: &'static str, value: Option<i64>| {
        value
            .map(|v| BurstLimit::new(v).map_err(|_| RuleError::Burst(key)))
            .transpose()
    };
    let bounds = Bounds {
        min_rate: rate("min_rate", raw.min_rate)?,
        max_rate: rate("max_rate", raw.max_rate)?,
        min_burst: burst("min_burst", raw.min_burst)?,
        max_burst: burst("max_burst", raw.max_burst)?,
    };
    if let (Some(min), Some(max)) = (bounds.min_rate, bounds.max_rate)
        && min > max
    {
        return Err(RuleError::MinAboveMax {
            what: "rate",
            min: min.to_string(),
            max: max.to_string(),
        });
    }
    if let (Some(min), Some(max)) = (bounds.min_burst, bounds.max_burst)
        && min > max
    {
        return Err(RuleError::MinAboveMax {
            what: "burst",
            min: min.to_string(),
            max: max.to_string(),
        });
    }
    let approvers = match raw.approvers {
        None => Vec::new(),
        Some(list) => {
            let list = required("approvers", Some(list))?;
            let mut approvers = Vec::new();
            for approver in list {
                match ChatId::parse(&approver).filter(|_| approver.starts_with(['U', 'W'])) {
                    Some(id) => approvers.push(id),
                    None => return Err(RuleError::Approver(approver)),
                }
            }
            approvers
        }
    };
    if raw.break_glass && approvers.is_empty() {
        return Err(RuleError::BreakGlassWithoutApprovers);
    }
    let targets = match raw.targets {
        None => vec![Pattern::Exact(TargetAlias::HOME.to_owned())],
        Some(list) => required("targets", Some(list))?
            .iter()
            .map(|value| target_pattern(value))
            .collect::<Result<_, _>>()?,
    };
    // A rule for usage plans only needs no `apis` and `stages`; any other rule needs both.
    let plans_only = raw.plans.is_some() && raw.apis.is_none() && raw.stages.is_none();
    let (apis, stages) = if plans_only {
        (Vec::new(), Vec::new())
    } else {
        (patterns("apis", raw.apis)?, patterns("stages", raw.stages)?)
    };
    let plans = match raw.plans {
        None => Vec::new(),
        Some(plans) => patterns("plans", Some(plans))?,
    };
    Ok(Rule {
        name,
        users,
        channels,
        targets,
        apis,
        stages,
        plans,
        bounds,
        confirm: raw.confirm,
        approvers,
        break_glass: raw.break_glass,
    })
}

/// An alias of the targets file (or `home`), `*`, or a prefix ending in `*`.
fn target_pattern(value: &str) -> Result<Pattern, RuleError> {
    let pattern = pattern("targets", value)?;
    match &pattern {
        Pattern::Exact(alias) if TargetAlias::parse(alias).is_err() => Err(RuleError::NotAnId {
            value: value.to_owned(),
            key: "targets".to_owned(),
            what: "a target alias (lower-case letters, digits and `-`; `home` for the service's own)",
        }),
        _ => Ok(pattern),
    }
}

fn pattern(key: &str, value: &str) -> Result<Pattern, RuleError> {
    Pattern::parse(value).map_err(|error| RuleError::Pattern {
        key: key.to_owned(),
        error,
    })
}

fn required(key: &str, values: Option<Vec<String>>) -> Result<Vec<String>, RuleError> {
    match values {
        None => Err(RuleError::Missing(key.to_owned())),
        Some(values) if values.is_empty() => Err(RuleError::EmptyList(key.to_owned())),
        Some(values) => Ok(values.into_iter().map(|v| v.trim().to_owned()).collect()),
    }
}

/// A list of ids, each exact or `*`: one wildcard mechanism, the same [`Pattern`] as names.
fn ids(
    key: &str,
    values: Option<Vec<String>>,
    prefixes: &[char],
    what: &'static str,
) -> Result<Vec<Pattern>, RuleError> {
    required(key, values)?
        .into_iter()
        .map(|value| {
            let valid = value == "*"
                || (value.len() >= 2
                    && value.starts_with(prefixes)
                    && ChatId::parse(&value).is_some());
            if valid {
                pattern(key, &value)
            } else {
                Err(RuleError::NotAnId {
                    value,
                    key: key.to_owned(),
                    what,
                })
            }
        })
        .collect()
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
team_id = "T1DC2JH3J"

[[rule]]
name = "anyone in #ops may tune test stages"
users = ["*"]
channels = ["C0123ABC"]
apis = ["*"]
stages = ["test", "dev-*"]
max_rate = 1000
max_burst = 2000
min_rate = 0
min_burst = 0

[[rule]]
name = "SRE may change prod, never to zero"
users = ["U2CERLKJA", "U0SRE0002"]
apis = ["petstore"]
stages = ["prod"]
min_rate = 1
max_rate = 5000
max_burst = 5000
"#;

    fn error(text: &str) -> PolicyError {
        parse("policy.toml", text).unwrap_err()
    }

    #[test]
    fn the_documented_example_parses() {
        let policy = parse("policy.toml", EXAMPLE).unwrap();
        assert_eq!(
            policy.team_id.as_ref().map(ChatId::as_str),
            Some("T1DC2JH3J")
        );
        assert_eq!(policy.rules.len(), 2);
        assert_eq!(policy.rules[1].bounds.min_rate, RateLimit::new(1.0).ok());
    }

    #[test]
    fn toml_errors_name_the_line() {
        let e = error("[[rule]]\nusers = [\"*\"\n");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.to_string().starts_with("policy.toml: line 2: "), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let e = error("[[rule]]\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\nmax_rps = 5\n");
        assert_eq!(e.line, 5, "{e}");
        assert!(e.reason.contains("max_rps"), "{e}");
        let e = error("[[rules]]\nusers = [\"*\"]\n");
        assert!(e.reason.contains("rules"), "{e}");
    }

    #[test]
    fn empty_rules_and_missing_keys_are_refused() {
        let e = error("team_id = \"T1\"\n\n[[rule]]\n");
        assert!(e.reason.contains("empty rule"), "{e}");
        let e = error("[[rule]]\nname = \"x\"\nusers = [\"*\"]\nstages = [\"*\"]\n");
        assert!(e.reason.contains("`apis` is missing"), "{e}");
        assert_eq!(e.line, 1, "the rule's line: {e}");
    }

    #[test]
    fn min_above_max_is_refused() {
        let e = error(
            "[[rule]]\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\nmin_rate = 10\nmax_rate = 5\n",
        );
        assert!(
            e.reason.contains("min_rate 10 is greater than max_rate 5"),
            "{e}"
        );
        let e = error(
            "[[rule]]\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\nmin_burst = 10\nmax_burst = 5\n",
        );
        assert!(
            e.reason
                .contains("min_burst 10 is greater than max_burst 5"),
            "{e}"
        );
    }

    #[test]
    fn ids_and_patterns_are_checked() {
        let e = error("[[rule]]\nusers = [\"alice\"]\napis = [\"*\"]\nstages = [\"*\"]\n");
        assert!(e.reason.contains("not a Slack user id"), "{e}");
        let e = error("[[rule]]\nusers = [\"*\"]\napis = [\"a*b\"]\nstages = [\"*\"]\n");
        assert!(e.reason.contains("in apis"), "{e}");
        let e = error("team_id = \"acme\"\n");
        assert!(e.reason.contains("team_id"), "{e}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_text_is_a_policy_or_an_error_with_a_line_without_panicking(text in "\\PC{0,300}") {
                if let Err(error) = parse("p.toml", &text) {
                    prop_assert!(error.line <= text.lines().count() + 1);
                }
            }

            #[test]
            fn any_bounds_in_a_rule_are_accepted_or_refused_without_panicking(
                min_rate in any::<f64>(),
                max_rate in any::<f64>(),
                min_burst in any::<i64>(),
                max_burst in any::<i64>(),
            ) {
                let text = format!(
                    "[[rule]]\nusers=[\"*\"]\napis=[\"*\"]\nstages=[\"*\"]\nmin_rate={min_rate:?}\nmax_rate={max_rate:?}\nmin_burst={min_burst}\nmax_burst={max_burst}\n"
                );
                if let Ok(policy) = parse("p.toml", &text) {
                    let bounds = policy.rules[0].bounds;
                    prop_assert!(bounds.min_rate <= bounds.max_rate);
                    prop_assert!(bounds.min_burst <= bounds.max_burst);
                }
            }
        }
    }
}
