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
}

/// One stage's throttling: stage-wide, and every per-method override.
#[derive(Debug, Clone, PartialEq)]
pub struct StageView {
    pub stage: String,
    pub stage_wide: Configured,
    pub methods: Vec<(Level, Configured)>,
}

/// An API's throttling across the stages asked for, with the account's quota for context.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiView {
    pub api: ResolvedApi,
    pub account: Option<AccountLimits>,
    pub stages: Vec<StageView>,
}

/// Why a change or view failed, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    #[error("API `{api}` or its stage `{stage}` was not found")]
    NotFound { api: String, stage: String },
    #[error("no REST API is named `{name}`{}", suggest(.suggestions))]
    UnknownApiName {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("{} REST APIs are named `{name}`; use one of their ids: {}", .candidates.len(), .candidates.join(", "))]
    AmbiguousApiName {
        name: String,
        candidates: Vec<String>,
    },
    #[error("refused: {0}; API Gateway would silently cap it")]
    AboveAccountLimit(String),
    #[error("not allowed: the service's AWS identity needs `{action}` on `{resource}`")]
    AccessDenied { action: String, resource: String },
    #[error("AWS is throttling API Gateway changes; it still refused after retries")]
    Throttled,
    #[error("AWS did not answer within {seconds} s; the change may or may not have been applied")]
    Timeout { seconds: u64 },
    #[error("API Gateway refused the change: {0}")]
    Rejected(String),
    #[error("another change to this stage was in progress; try again in a moment")]
    Conflict,
    #[error("could not reach AWS: {0}")]
    Unavailable(String),
}

fn suggest(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(
            " (did you mean {}?)",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl ApplyError {
    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound { .. } | Self::UnknownApiName { .. } => "not_found",
            Self::AmbiguousApiName { .. } => "ambiguous",
            Self::AboveAccountLimit(_) => "above_account_limit",
            Self::AccessDenied { .. } => "access_denied",
            Self::Throttled => "throttled",
            Self::Timeout { .. } => "timeout",
            Self::Rejected(_) => "rejected",
            Self::Conflict => "conflict",
            Self::Unavailable(_) => "unavailable",
        }
    }
}
