use super::{
    AccountLimits, ApiId, ApiKind, ApiRef, Aside, Claim, Configured, Hold, Level, MARKER_KEY,
    Place, RecordSeal, StageName, ThrottleLimits, Timed, Traffic, Unsealed,
};

/// What to do at a level: set limits, or remove our override so the level inherits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Set(ThrottleLimits),
    Reset,
}

/// One throttling change as asked for: on this API's stage, at this level, do this.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleChange {
    pub api: ApiRef,
    pub stage: StageName,
    pub level: Level,
    pub action: Action,
    /// For a timed change: how long until the values before come back.
    pub hold: Option<Hold>,
}

impl ThrottleChange {
    /// The configured values the action leaves at its level.
    pub fn after(&self) -> Configured {
        match self.action {
            Action::Set(limits) => limits.into(),
            Action::Reset => Configured::default(),
        }
    }
}

/// The API a change or view was resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedApi {
    pub id: ApiId,
    pub name: Option<String>,
    pub kind: ApiKind,
}

/// What a change did: the values at its level before and after, and whether it called
/// UpdateStage (`changed` is false when the stage already had the asked-for values).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub api: ResolvedApi,
    pub before: Configured,
    pub after: Configured,
    pub changed: bool,
    /// The values the level now inherits, for reset: the stage's, or the account's.
    pub inherited: Option<Configured>,
    /// Whether someone else approved it, or approval was skipped in an emergency.
    pub approval: Approval,
    /// Infrastructure as code that may overwrite the change on its next deployment.
    pub managed_by: Option<ManagedBy>,
    /// For a timed change: when (Unix seconds) it ends.
    pub until: Option<i64>,
    /// For a timed change: what comes back at each step from its end, if nothing intervenes
    /// (a timed change under it, then the values from before the first).
    pub steps: Vec<(i64, Configured)>,
    /// For a change for good over a timed one: when that one would have ended. Its record is
    /// removed, so nothing is put back then.
    pub replaces_timed: Option<i64>,
    /// The older timed changes under that one, which end with it (when each was to end, and
    /// who set it): told, so that no layer someone else set or approved ends unsaid.
    pub replaces_below: Vec<(i64, String)>,
}

/// A second pair of eyes on a change, as far as the policy asked for one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Approval {
    #[default]
    NotNeeded,
    /// Approved by this user (a chat id).
    By(String),
    /// Applied at once under this rule's break glass; approval was skipped.
    Skipped { rule: String },
}

/// One stage's throttling: stage-wide, and every per-method override.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageView {
    pub stage: String,
    /// The kind of API the stage belongs to (its adapter knows; REST unless it says).
    pub kind: ApiKind,
    pub stage_wide: Configured,
    pub methods: Vec<(Level, Configured)>,
    /// Infrastructure as code that deploys this stage, as far as its tags tell.
    pub managed_by: Option<ManagedBy>,
    /// The stage's `throttle-bot:` tags as read: untrusted until [`StageView::open`] checks
    /// their seals.
    pub tags: Vec<(String, String)>,
    /// Timed changes in force, as recorded (and sealed by this service) in the stage's tags.
    pub timed: Vec<Timed>,
    /// Processes' claims to run due restores, from the stage's tags.
    pub claims: Vec<Claim>,
    /// `throttle-bot:` records this service did not seal: never acted on.
    pub unsealed: Vec<Unsealed>,
    /// The last hour's traffic at the stage (`Level::Stage`) and its levels, where read.
    pub traffic: Vec<(Level, Traffic)>,
    /// When API Gateway says the stage was last updated (Unix seconds), where it says: a
    /// record written before that is not acted on (see [`Timed::written_for`]).
    pub updated: Option<i64>,
}

/// A tool whose next deployment of a stage may put its own throttling back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagedBy {
    /// CloudFormation, and so CDK and SAM: the stage's `aws:cloudformation:stack-name` tag.
    CloudFormation { stack: String },
    /// A `ManagedBy`-style tag naming a tool (Terraform, Pulumi, …).
    Tagged { tool: String },
}

impl ManagedBy {
    /// What a stage's tags say about who deploys it.
    pub fn from_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let mut tagged = None;
        for (key, value) in tags {
            if key == "aws:cloudformation:stack-name" && !value.is_empty() {
                return Some(Self::CloudFormation {
                    stack: value.to_owned(),
                });
            }
            let normalised: String = key
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if normalised == "managedby" && !value.is_empty() {
                tagged = Some(Self::Tagged {
                    tool: value.to_owned(),
                });
            }
        }
        tagged
    }
}

impl StageView {
    /// Whether the stage has settings of its own at `level` (even "not set" ones): API
    /// Gateway has seen that level, so there is no need to ask whether the API has it.
    pub fn knows(&self, level: &Level) -> bool {
        *level == Level::Stage || self.methods.iter().any(|(at, _)| at == level)
    }

    /// The values configured at `level`; not set when the stage has no override there.
    pub fn at(&self, level: &Level) -> Configured {
        match level {
            Level::Stage => self.stage_wide,
            level => self
                .methods
                .iter()
                .find(|(at, _)| at == level)
                .map(|(_, configured)| *configured)
                .unwrap_or_default(),
        }
    }

    /// Reads the records and claims among the stage's tags: only those sealed by `seal` for
    /// this API and stage count; the others are set aside for a person.
    pub fn open(&mut self, seal: Option<&RecordSeal>, api: &ApiId) {
        let (mut timed, mut claims, mut unsealed) = (Vec::new(), Vec::new(), Vec::new());
        if let Ok(stage) = StageName::parse(&self.stage) {
            let place = Place::Stage { api, stage: &stage };
            for (key, value) in &self.tags {
                // The marker only says that the stage holds records.
                if key == MARKER_KEY {
                    continue;
                }
                if let Some(claim) = Claim::from_tag(key, value, seal, place) {
                    claims.push(claim);
                    continue;
                }
                match Timed::from_tag(key, value, seal, place) {
                    Some(Ok(record)) => timed.push(record),
                    Some(Err(found)) => unsealed.push(found),
                    None => {}
                }
            }
        }
        timed.sort_by_key(|t: &Timed| t.until);
        unsealed.sort_by(|a: &Unsealed, b: &Unsealed| a.key.cmp(&b.key));
        (self.timed, self.claims, self.unsealed) = (timed, claims, unsealed);
    }

    /// The timed change in force at `level`, if any.
    pub fn timed_at(&self, level: &Level) -> Option<&Timed> {
        self.timed.iter().find(|t| &t.level == level)
    }

    /// The records [`StageView::open`] and the staleness checks set aside as written before
    /// the stage's last update, opened again (they are this service's own) with that update's
    /// time: for their end to be told, never to be acted on.
    pub fn outdated(&self, seal: Option<&RecordSeal>, api: &ApiId) -> Vec<(Timed, i64)> {
        let Ok(stage) = StageName::parse(&self.stage) else {
            return Vec::new();
        };
        let place = Place::Stage { api, stage: &stage };
        self.unsealed
            .iter()
            .filter_map(|found| match found.aside {
                Some(Aside::Outdated { updated, .. }) => {
                    let record = Timed::from_tag(&found.key, &found.value, seal, place)?.ok()?;
                    Some((record, updated))
                }
                _ => None,
            })
            .collect()
    }

    /// The timed changes in force at the other levels.
    pub fn others(&self, level: &Level) -> Vec<Timed> {
        let others = self.timed.iter().filter(|t| &t.level != level);
        others.cloned().collect()
    }
}

/// An API's throttling across the stages asked for, with the account's quota for context.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiView {
    pub api: ResolvedApi,
    pub account: Option<AccountLimits>,
    pub stages: Vec<StageView>,
    /// Why the stages' traffic could not be read, when it could not (said in one line).
    pub traffic_unread: Option<String>,
}

/// A target's APIs (`show prod:`), each with its stages' names when they were read.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetApis {
    pub apis: Vec<(ResolvedApi, Option<Vec<String>>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infrastructure_as_code_is_recognised_from_a_stages_tags() {
        type Case = (Vec<(&'static str, &'static str)>, Option<ManagedBy>);
        let cases: Vec<Case> = vec![
            (
                vec![
                    ("aws:cloudformation:stack-name", "orders-prod"),
                    ("team", "x"),
                ],
                Some(ManagedBy::CloudFormation {
                    stack: "orders-prod".to_owned(),
                }),
            ),
            (
                vec![("ManagedBy", "terraform")],
                Some(ManagedBy::Tagged {
                    tool: "terraform".to_owned(),
                }),
            ),
            (
                vec![
                    ("managed-by", "Pulumi"),
                    ("aws:cloudformation:stack-name", "s"),
                ],
                Some(ManagedBy::CloudFormation {
                    stack: "s".to_owned(),
                }),
            ),
            (vec![("managed_by", "")], None),
            (vec![("team", "payments")], None),
            (vec![], None),
        ];
        for (tags, expected) in cases {
            assert_eq!(
                ManagedBy::from_tags(tags.iter().copied()),
                expected,
                "{tags:?}"
            );
        }
    }
}
