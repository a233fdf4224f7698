//! The access policy: who may change which stage, and by how much. Deny by default.
//!
//! Decided once per change, on the API as resolved (its id and name), before anything is
//! written. [`Policy::screen`] is the part that needs no API at all (workspace, person, stage,
//! values), so a command no rule could allow is refused at once, without calling AWS.

mod decision;
mod file;
mod pattern;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use decision::{AllowedRange, ApiIdentity, Bound, Breach, Denial, place};
pub use file::{PolicyError, parse};
pub use pattern::Pattern;

use crate::domain::{Action, BurstLimit, RateLimit, TargetAlias, ThrottleChange};
use crate::domain::{ChatId, ChatUser};

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub team_id: Option<ChatId>,
    /// Who may read API names and throttling (`show`, name suggestions): these users, or anyone
    /// in these channels. `None`: everyone in the workspace.
    pub readers: Option<Vec<Pattern>>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub users: Vec<Pattern>,
    /// `None`: any channel.
    pub channels: Option<Vec<Pattern>>,
    /// Which targets (accounts and regions) the rule reaches, by alias; `home` is the
    /// service's own. Only `home` when the rule does not say, so adding a target never widens
    /// an existing policy.
    pub targets: Vec<Pattern>,
    /// Empty in a rule for usage plans only.
    pub apis: Vec<Pattern>,
    pub stages: Vec<Pattern>,
    /// Usage plans (ids or names) the rule lets its users change, within the same bounds.
    /// Empty: none.
    pub plans: Vec<Pattern>,
    pub bounds: Bounds,
    /// Every change under this rule asks its author to confirm first.
    pub confirm: bool,
    /// Someone else, one of these, must approve a change under this rule.
    pub approvers: Vec<ChatId>,
    /// The rule's users may skip approval in an emergency with `--now` (loudly audited).
    pub break_glass: bool,
}

/// What the policy allows a change under, and on which conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub rule: String,
    pub confirm: bool,
    pub approvers: Vec<ChatId>,
    pub break_glass: bool,
}

impl Allowed {
    /// Whether `approver` may approve `author`'s change under these conditions: one of the
    /// approvers, and never the author.
    pub fn approval_by(&self, approver: &ChatId, author: &ChatId) -> Result<(), Denial> {
        if approver == author || !self.approvers.contains(approver) {
            return Err(Denial::NotAnApprover {
                user: approver.clone(),
                author: approver == author,
                approvers: self.approvers.clone(),
            });
        }
        Ok(())
    }

    /// Allowed without conditions (no policy, or a schedule).
    pub fn unconditionally(rule: &str) -> Self {
        Self {
            rule: rule.to_owned(),
            confirm: false,
            approvers: Vec::new(),
            break_glass: false,
        }
    }
}

/// Inclusive bounds on the values a rule allows, in the domain's own types.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bounds {
    pub min_rate: Option<RateLimit>,
    pub max_rate: Option<RateLimit>,
    pub min_burst: Option<BurstLimit>,
    pub max_burst: Option<BurstLimit>,
}

impl Policy {
    /// Whether a workspace may use the command at all.
    pub fn admits_team(&self, team: Option<&ChatId>) -> Result<(), Denial> {
        match &self.team_id {
            Some(allowed) if team != Some(allowed) => Err(Denial::ForeignWorkspace {
                allowed: allowed.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether this person may read API names and throttling (`show`, name suggestions).
    pub fn may_read(&self, who: &ChatUser) -> Result<(), Denial> {
        self.admits_team(who.team.as_ref())?;
        let Some(readers) = &self.readers else {
            return Ok(());
        };
        let listed = |id: Option<&ChatId>| {
            id.is_some_and(|id| readers.iter().any(|p| p.matches(id.as_str())))
        };
        if listed(Some(&who.user)) || listed(who.channel.as_ref()) {
            Ok(())
        } else {
            Err(Denial::NotAReader {
                user: who.user.clone(),
                channel: who.channel.clone(),
            })
        }
    }

    /// What can be decided without knowing the API: refuses when no rule lets this person
    /// change this stage to these values, whatever the API.
    pub fn screen(&self, who: &ChatUser, change: &ThrottleChange) -> Result<(), Denial> {
        self.admits_team(who.team.as_ref())?;
        let rules = self.rules_for(who, change)?;
        within_bounds(&rules, &change.action).map(|_| ())
    }

    /// The decision on a change to this API: the rule that allows it, with its conditions.
    pub fn decide(
        &self,
        who: &ChatUser,
        api: ApiIdentity<'_>,
        change: &ThrottleChange,
    ) -> Result<Allowed, Denial> {
        self.admits_team(who.team.as_ref())?;
        let names = api.names();
        let target = api.target();
        let rules: Vec<&Rule> = self
            .rules_for(who, change)?
            .into_iter()
            .filter(|rule| rule.reaches(target, &names))
            .collect();
        if rules.is_empty() {
            return Err(Denial::NoRuleForApi {
                user: who.user.clone(),
                channel: who.channel.clone(),
                api: api.shown(),
                stage: change.stage.clone(),
            });
        }
        within_bounds(&rules, &change.action)
    }

    /// What can be decided on a usage plan change without reading the plan: refused when no
    /// rule lets this person change any plan in its target to these values.
    pub fn screen_plan(
        &self,
        who: &ChatUser,
        target: Option<&TargetAlias>,
        action: &Action,
    ) -> Result<(), Denial> {
        let rules = self.plan_rules(who, target, None)?;
        within_bounds(&rules, action).map(|_| ())
    }

    /// The decision on a change to a usage plan with these names (its id and its name) in
    /// this target: rules that list the plan, for this person, within bounds, with the
    /// conditions (confirmation, approvers) of every rule that admits it, as for stages.
    pub fn decide_plan(
        &self,
        who: &ChatUser,
        target: Option<&TargetAlias>,
        names: &[&str],
        action: &Action,
    ) -> Result<Allowed, Denial> {
        let rules = self.plan_rules(who, target, Some(names))?;
        within_bounds(&rules, action)
    }

    /// The rules for this person that reach plans in this target: those that list one of
    /// `names`, or (`None`: the plan not read yet) any plan; refused when there are none.
    fn plan_rules(
        &self,
        who: &ChatUser,
        target: Option<&TargetAlias>,
        names: Option<&[&str]>,
    ) -> Result<Vec<&Rule>, Denial> {
        self.admits_team(who.team.as_ref())?;
        let alias = TargetAlias::name(target);
        let lists = |rule: &Rule| match names {
            None => !rule.plans.is_empty(),
            Some(names) => names
                .iter()
                .any(|n| rule.plans.iter().any(|p| p.matches(n))),
        };
        let rules: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|rule| {
                rule.admits(who) && rule.targets.iter().any(|p| p.matches(alias)) && lists(rule)
            })
            .collect();
        if rules.is_empty() {
            let plan = match names {
                None => format!("{alias}:*"),
                Some(names) => {
                    let first = names.first().copied().unwrap_or_default();
                    match target {
                        Some(alias) => format!("{alias}:{first}"),
                        None => first.to_owned(),
                    }
                }
            };
            return Err(Denial::NoRuleForPlan {
                user: who.user.clone(),
                channel: who.channel.clone(),
                plan,
            });
        }
        Ok(rules)
    }

    /// Whether some rule could reach the API with these names (its id, and its name when
    /// known): what a sweep of this deployment reads by default, so that deployments sharing
    /// an account do not finish each other's timed changes.
    pub fn reaches(&self, target: Option<&TargetAlias>, names: &[&str]) -> bool {
        self.rules.iter().any(|rule| rule.reaches(target, names))
    }

    /// Whether some rule could reach the usage plan with these names (its id and name): what a
    /// sweep of this deployment reads of plans, for the same reason as [`Policy::reaches`].
    pub fn reaches_plan(&self, target: Option<&TargetAlias>, names: &[&str]) -> bool {
        let alias = TargetAlias::name(target);
        self.rules.iter().any(|rule| {
            rule.targets.iter().any(|p| p.matches(alias))
                && names
                    .iter()
                    .any(|n| rule.plans.iter().any(|p| p.matches(n)))
        })
    }

    /// Whether a decision may need an API's name as well as its id: only when some rule names
    /// APIs by something other than `*`.
    pub fn names_apis(&self) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.apis.iter().any(|p| *p != Pattern::Any))
    }

    /// The rules for this person, channel and stage; refused when there are none.
    fn rules_for(&self, who: &ChatUser, change: &ThrottleChange) -> Result<Vec<&Rule>, Denial> {
        let stage = change.stage.as_str();
        let rules: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.admits(who) && r.stages.iter().any(|p| p.matches(stage)))
            .collect();
        if rules.is_empty() {
            return Err(Denial::NoRuleForStage {
                user: who.user.clone(),
                channel: who.channel.clone(),
                stage: change.stage.clone(),
            });
        }
        Ok(rules)
    }

    /// The policy in plain words, one line a rule.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.team_id {
            Some(team) => lines.push(format!("Only commands from workspace {team} are accepted.")),
            None => lines.push("Commands from any workspace are accepted.".to_owned()),
        }
        match &self.readers {
            Some(readers) => {
                let list: Vec<String> = readers.iter().map(ToString::to_string).collect();
                lines.push(format!(
                    "`show` and API names are open to {} only.",
                    list.join(" or ")
                ));
            }
            None => lines.push(
                "`show` and API names are open to everyone in the workspace (no `readers`)."
                    .to_owned(),
            ),
        }
        for (i, rule) in self.rules.iter().enumerate() {
            lines.push(format!(
                "Rule {} \"{}\": {}",
                i + 1,
                rule.name,
                rule.describe()
            ));
        }
        lines.push("Any other change is denied. `help` is open to everyone.".to_owned());
        lines
    }
}

/// The first rule whose bounds admit the action, or every rule's reason for refusing it.
/// Every rule that admits the values applies its conditions: confirmation if any asks for it;
/// approval if any names approvers, by someone every such rule names; break glass only if
/// every such rule grants it. So a rule earlier in the file never waives a later one's.
fn within_bounds(rules: &[&Rule], action: &Action) -> Result<Allowed, Denial> {
    let mut breaches = Vec::new();
    let mut admitting = Vec::new();
    for rule in rules {
        match rule.bounds.check(action) {
            Ok(()) => admitting.push(*rule),
            Err(bound) => breaches.push(Breach {
                rule: rule.name.clone(),
                bound,
            }),
        }
    }
    if admitting.is_empty() {
        return Err(Denial::OutOfBounds(breaches));
    }
    let gated: Vec<&Rule> = admitting
        .iter()
        .copied()
        .filter(|rule| !rule.approvers.is_empty())
        .collect();
    let approvers: Vec<ChatId> = match gated.first() {
        Some(first) => first
            .approvers
            .iter()
            .filter(|a| gated.iter().all(|rule| rule.approvers.contains(a)))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    if !gated.is_empty() && approvers.is_empty() {
        return Err(Denial::NoCommonApprover {
            rules: gated.iter().map(|rule| rule.name.clone()).collect(),
        });
    }
    let names: Vec<&str> = admitting.iter().map(|rule| rule.name.as_str()).collect();
    Ok(Allowed {
        rule: names.join(" + "),
        confirm: admitting.iter().any(|rule| rule.confirm),
        approvers,
        break_glass: !gated.is_empty() && gated.iter().all(|rule| rule.break_glass),
    })
}

impl Rule {
    /// Whether the rule covers an API of these names (its id, and its name when known) in
    /// this target.
    fn reaches(&self, target: Option<&TargetAlias>, names: &[&str]) -> bool {
        let alias = TargetAlias::name(target);
        self.targets.iter().any(|p| p.matches(alias))
            && names.iter().any(|n| self.apis.iter().any(|p| p.matches(n)))
    }

    fn admits(&self, who: &ChatUser) -> bool {
        let user = self.users.iter().any(|p| p.matches(who.user.as_str()));
        let channel = match (&self.channels, &who.channel) {
            (None, _) => true,
            (Some(allowed), Some(channel)) => allowed.iter().any(|p| p.matches(channel.as_str())),
            (Some(allowed), None) => allowed.contains(&Pattern::Any),
        };
        user && channel
    }

    fn describe(&self) -> String {
        let list = |items: &[Pattern], any: &str| -> String {
            if items.contains(&Pattern::Any) {
                any.to_owned()
            } else {
                let words: Vec<String> = items.iter().map(ToString::to_string).collect();
                words.join(" or ")
            }
        };
        let channels = match &self.channels {
            None => "in any channel".to_owned(),
            Some(c) => format!("in {}", list(c, "any channel")),
        };
        let targets = if self.targets == [Pattern::Exact(TargetAlias::HOME.to_owned())] {
            String::new()
        } else {
            format!(" in target {}", list(&self.targets, "any target"))
        };
        let what = match (self.apis.is_empty(), self.plans.is_empty()) {
            (false, true) => format!(
                "{}, {}",
                list(&self.apis, "any API"),
                list(&self.stages, "any stage")
            ),
            (true, _) => format!("usage plan {}", list(&self.plans, "any usage plan")),
            (false, false) => format!(
                "{}, {}, and usage plan {}",
                list(&self.apis, "any API"),
                list(&self.stages, "any stage"),
                list(&self.plans, "any usage plan")
            ),
        };
        let mut text = format!(
            "{} {channels} may change {what}{targets}; {}",
            list(&self.users, "anyone"),
            self.bounds.describe()
        );
        if self.confirm {
            text.push_str("; each change is confirmed first");
        }
        if !self.approvers.is_empty() {
            let names: Vec<&str> = self.approvers.iter().map(ChatId::as_str).collect();
            text.push_str(&format!("; approved by one of {}", names.join(", ")));
        }
        if self.break_glass {
            text.push_str(" (or applied at once with --now, loudly audited)");
        }
        text
    }
}

impl Bounds {
    /// Whether an action's new values are within bounds. A reset removes the level's limit,
    /// so it is within a rule only when the rule sets no maximum.
    fn check(&self, action: &Action) -> Result<(), Bound> {
        let limits = match action {
            Action::Set(limits) => limits,
            Action::Reset if self.max_rate.is_none() && self.max_burst.is_none() => return Ok(()),
            Action::Reset => return Err(Bound::ResetCapped { bounds: *self }),
        };
        let rates = AllowedRange {
            min: self.min_rate,
            max: self.max_rate,
        };
        let bursts = AllowedRange {
            min: self.min_burst,
            max: self.max_burst,
        };
        let (rate, burst) = (limits.rate, limits.burst);
        if self.min_rate.is_some_and(|min| rate < min) {
            return Err(Bound::RateBelow { rate, rates });
        }
        if self.max_rate.is_some_and(|max| rate > max) {
            return Err(Bound::RateAbove { rate, rates });
        }
        if self.min_burst.is_some_and(|min| burst < min) {
            return Err(Bound::BurstBelow { burst, bursts });
        }
        if self.max_burst.is_some_and(|max| burst > max) {
            return Err(Bound::BurstAbove { burst, bursts });
        }
        if let Some(min_rate) = self.min_rate.filter(|m| m.value() > 0.0)
            && burst.value() == 0
        {
            return Err(Bound::BurstBlocksAll { min_rate });
        }
        Ok(())
    }

    fn describe(&self) -> String {
        fn range<T: std::fmt::Display>(min: Option<T>, max: Option<T>, unit: &str) -> String {
            match (min, max) {
                (None, None) => format!("any {unit}"),
                (Some(min), None) => format!("{unit} at least {min}"),
                (None, Some(max)) => format!("{unit} at most {max}"),
                (Some(min), Some(max)) => format!("{unit} {min}–{max}"),
            }
        }
        format!(
            "{}, {}",
            range(self.min_rate, self.max_rate, "rate"),
            range(self.min_burst, self.max_burst, "burst")
        )
    }
}

/// The `THROTTLE_POLICY` value that lets everyone in the workspace change every stage. Without
/// a policy the service refuses to start, so this is always a deliberate choice.
pub const ALLOW_ALL: &str = "allow-all";

/// Where the policy comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicySource {
    File(PathBuf),
    Inline(String),
    /// `THROTTLE_POLICY=allow-all`: no rules, every change allowed within the account's limits.
    AllowAll,
}

impl PolicySource {
    /// From `THROTTLE_POLICY` (a file, or `allow-all`) or `THROTTLE_POLICY_TOML` (the text);
    /// not both. `None` when neither is set.
    pub fn from_settings(
        file: Option<String>,
        inline: Option<String>,
    ) -> Result<Option<Self>, PolicyError> {
        let file = file.filter(|f| !f.trim().is_empty());
        let inline = inline.filter(|t| !t.trim().is_empty());
        match (file, inline) {
            (Some(_), Some(_)) => Err(PolicyError::whole(
                "settings",
                "set THROTTLE_POLICY or THROTTLE_POLICY_TOML, not both",
            )),
            (Some(file), None) if file.trim() == ALLOW_ALL => Ok(Some(Self::AllowAll)),
            (Some(file), None) => Ok(Some(Self::File(PathBuf::from(file)))),
            (None, Some(text)) => Ok(Some(Self::Inline(text))),
            (None, None) => Ok(None),
        }
    }

    /// The policy; `None` for allow-all.
    pub fn load(&self) -> Result<Option<Policy>, PolicyError> {
        match self {
            Self::AllowAll => Ok(None),
            Self::File(path) => Self::read(path).map(Some),
            Self::Inline(text) => parse("THROTTLE_POLICY_TOML", text).map(Some),
        }
    }

    fn read(path: &std::path::Path) -> Result<Policy, PolicyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError::whole(&name, format!("cannot read it ({e})")))?;
        parse(&name, &text)
    }
}

/// Why a reload did not happen; the policy in force stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    #[error("THROTTLE_POLICY_TOML cannot be reloaded; restart to change it")]
    Inline,
    #[error("THROTTLE_POLICY=allow-all has nothing to reload; point it at a policy file")]
    AllowAll,
    #[error("no THROTTLE_POLICY file is configured")]
    NoFile,
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
        let current = match &source {
            Some(source) => source.load()?,
            None => None,
        };
        Ok(Self {
            source,
            current: RwLock::new(current.map(Arc::new)),
        })
    }

    /// Whether any policy was configured, `allow-all` included.
    pub fn is_configured(&self) -> bool {
        self.source.is_some()
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
    pub fn reload(&self) -> Result<usize, ReloadError> {
        match &self.source {
            Some(PolicySource::File(path)) => {
                let policy = PolicySource::read(path)?;
                let rules = policy.rules.len();
                *self.current.write().expect("policy lock") = Some(Arc::new(policy));
                Ok(rules)
            }
            Some(PolicySource::Inline(_)) => Err(ReloadError::Inline),
            Some(PolicySource::AllowAll) => Err(ReloadError::AllowAll),
            None => Err(ReloadError::NoFile),
        }
    }
}

#[cfg(test)]
mod tests;
