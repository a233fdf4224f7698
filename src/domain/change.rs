use super::{AccountLimits, ApiId, ApiRef, Configured, Level, StageName, ThrottleLimits};

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
#[derive(Debug, Clone, PartialEq)]
pub struct StageView {
    pub stage: String,
    pub stage_wide: Configured,
    pub methods: Vec<(Level, Configured)>,
}

impl StageView {
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
}

/// An API's throttling across the stages asked for, with the account's quota for context.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiView {
    pub api: ResolvedApi,
    pub account: Option<AccountLimits>,
    pub stages: Vec<StageView>,
}
