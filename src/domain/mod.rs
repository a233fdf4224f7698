//! The throttling domain: what may be changed and to what. No HTTP, Slack or AWS types here.

mod change;
mod chat;
mod history;
mod limits;
mod methods;
mod plan;
mod sweep;
mod target;
pub mod text;
mod timed;
mod traffic;

pub use change::{
    Action, ApiView, Applied, Approval, ManagedBy, ResolvedApi, StageView, TargetApis,
    ThrottleChange,
};
pub use chat::{ChatId, ChatUser};
pub use history::{
    Asker, History, HistoryEntry, InForce, LevelChange, Lookback, LookbackError, Principal, Trail,
    TrailCall, TrailEvent, TrailWhat, Written,
};
pub use limits::{
    AccountLimits, BurstLimit, Configured, LimitError, QuotaExceeded, RateLimit, ThrottleLimits,
};
pub use methods::{ApiMethod, has_level, instead_of};
pub use plan::{PlanApplied, PlanChange, PlanLevel, PlanRef, PlanStage, PlanView};
pub use sweep::{
    Held, Holder, LEASE_KEY, Lease, LeaseStep, MARKER_KEY, is_record_key, lease_step,
    renewed_elsewhere,
};
pub use target::{
    ApiId, ApiKind, ApiName, ApiRef, HttpMethod, Level, ResourcePath, StageName, TargetAlias,
    TargetError,
};
pub use timed::{
    Aside, CLAIM_PREFIX, Claim, Due, Hold, HoldError, Layer, Place, RecordLevel, RecordSeal,
    STALE_AFTER_SECS, STAMP_SLACK_SECS, TAG_PREFIX, Timed, Unsealed, is_message_ts, set_aside,
    set_aside_outdated, set_aside_stale, unstamped,
};
pub use traffic::{Caveat, MetricsKey, Minute, Shortfall, Traffic, shortfall};
