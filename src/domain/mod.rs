//! The throttling domain: what may be changed and to what. No HTTP, Slack or AWS types here.

mod change;
mod limits;
mod target;

pub use change::{ApplyError, ThrottleChange};
pub use limits::{BurstLimit, LimitError, RateLimit, ThrottleLimits};
pub use target::{ApiId, StageName, TargetError};
