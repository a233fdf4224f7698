use super::{ApiId, StageName, ThrottleLimits};

/// One stage-wide throttling change: set this API's stage to these limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleChange {
    pub api: ApiId,
    pub stage: StageName,
    pub limits: ThrottleLimits,
}

/// Why a change was not applied, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    #[error("API `{api}` or its stage `{stage}` was not found")]
    NotFound { api: String, stage: String },
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

impl ApplyError {
    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::AccessDenied { .. } => "access_denied",
            Self::Throttled => "throttled",
            Self::Timeout { .. } => "timeout",
            Self::Rejected(_) => "rejected",
            Self::Conflict => "conflict",
            Self::Unavailable(_) => "unavailable",
        }
    }
}
