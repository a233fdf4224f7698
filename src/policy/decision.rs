//! The policy's refusals, structured: which rule, which bound, the allowed range. Chat adapters
//! render them; `Display` is the plain-words form for logs and the `policy` command.

use std::fmt;

use super::Bounds;
use crate::domain::ChatId;
use crate::domain::{ApiRef, BurstLimit, RateLimit, ResolvedApi, StageName, TargetAlias};

/// What is known of the API a change is for.
#[derive(Debug, Clone, Copy)]
pub enum ApiIdentity<'a> {
    /// Looked up: its id and, when listed, its name.
    Resolved(&'a ResolvedApi),
    /// Only the text the user typed (the `policy explain` command, which makes no AWS call).
    AsTyped(&'a ApiRef),
}

impl ApiIdentity<'_> {
    pub(super) fn names(&self) -> Vec<&str> {
        match self {
            Self::Resolved(api) => std::iter::once(api.id.id())
                .chain(api.name.as_deref())
                .collect(),
            Self::AsTyped(typed) => vec![typed.bare()],
        }
    }

    /// The target the API lives in; `None` for home.
    pub(super) fn target(&self) -> Option<&TargetAlias> {
        match self {
            Self::Resolved(api) => api.id.target(),
            Self::AsTyped(typed) => typed.target(),
        }
    }

    pub(super) fn shown(&self) -> String {
        match self {
            Self::Resolved(api) => api.id.to_string(),
            Self::AsTyped(typed) => typed.to_string(),
        }
    }
}

/// Why the policy refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Denial {
    ForeignWorkspace {
        allowed: ChatId,
    },
    NoRuleForStage {
        user: ChatId,
        channel: Option<ChatId>,
        stage: StageName,
    },
    NoRuleForApi {
        user: ChatId,
        channel: Option<ChatId>,
        api: String,
        stage: StageName,
    },
    NoRuleForPlan {
        user: ChatId,
        channel: Option<ChatId>,
        plan: String,
    },
    /// Rules match, but each refuses the values; one breach per rule.
    OutOfBounds(Vec<Breach>),
    /// Several rules admit the change and each needs approval, but no one is an approver
    /// under all of them.
    NoCommonApprover {
        rules: Vec<String>,
    },
    /// Approval must come from one of the rule's approvers, and not from the author.
    NotAnApprover {
        user: ChatId,
        author: bool,
        approvers: Vec<ChatId>,
    },
    /// `readers` is set and names neither this user nor this channel.
    NotAReader {
        user: ChatId,
        channel: Option<ChatId>,
    },
}

/// One rule's reason for refusing the values asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub rule: String,
    pub bound: Bound,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    RateBelow {
        rate: RateLimit,
        rates: AllowedRange<RateLimit>,
    },
    RateAbove {
        rate: RateLimit,
        rates: AllowedRange<RateLimit>,
    },
    BurstBelow {
        burst: BurstLimit,
        bursts: AllowedRange<BurstLimit>,
    },
    BurstAbove {
        burst: BurstLimit,
        bursts: AllowedRange<BurstLimit>,
    },
    /// A reset lifts the limit, which a rule with a maximum does not allow.
    ResetCapped { bounds: Bounds },
    /// A burst of 0 lets no request through whatever the rate: a rule that keeps the rate above
    /// zero keeps the burst at 1 or more too.
    BurstBlocksAll { min_rate: RateLimit },
}

/// An inclusive range; an open end reads `0` or `any`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllowedRange<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

impl<T: fmt::Display> fmt::Display for AllowedRange<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.min {
            Some(min) => write!(f, "allowed {min}–")?,
            None => f.write_str("allowed 0–")?,
        }
        match &self.max {
            Some(max) => write!(f, "{max}"),
            None => f.write_str("any"),
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RateBelow { rate, rates } => {
                write!(f, "rate {rate} is below the minimum ({rates} req/s)")
            }
            Self::RateAbove { rate, rates } => {
                write!(f, "rate {rate} is above the maximum ({rates} req/s)")
            }
            Self::BurstBelow { burst, bursts } => {
                write!(f, "burst {burst} is below the minimum ({bursts})")
            }
            Self::BurstAbove { burst, bursts } => {
                write!(f, "burst {burst} is above the maximum ({bursts})")
            }
            Self::BurstBlocksAll { min_rate } => write!(
                f,
                "burst 0 lets no request through, and the rule's minimum rate ({min_rate} req/s) implies a burst of at least 1"
            ),
            Self::ResetCapped { bounds } => write!(
                f,
                "reset lifts this level's limit, but the rule caps it ({})",
                bounds.describe()
            ),
        }
    }
}

/// "user U1 in channel C1", or "user U1".
pub fn place(user: &ChatId, channel: Option<&ChatId>) -> String {
    match channel {
        Some(channel) => format!("user {user} in channel {channel}"),
        None => format!("user {user}"),
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ForeignWorkspace { allowed } => {
                write!(f, "this bot only accepts commands from workspace {allowed}")
            }
            Self::NoRuleForStage {
                user,
                channel,
                stage,
            } => write!(
                f,
                "no rule lets {} change stage {stage}",
                place(user, channel.as_ref())
            ),
            Self::NoRuleForApi {
                user,
                channel,
                api,
                stage,
            } => write!(
                f,
                "no rule lets {} change API {api} stage {stage}",
                place(user, channel.as_ref())
            ),
            Self::NoRuleForPlan {
                user,
                channel,
                plan,
            } => write!(
                f,
                "no rule lets {} change usage plan {plan}",
                place(user, channel.as_ref())
            ),
            Self::NoCommonApprover { rules } => write!(
                f,
                "the rules {} all admit this change and each needs approval, but no one is an approver under all of them; the policy must be fixed",
                rules
                    .iter()
                    .map(|r| format!("\"{r}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::NotAnApprover {
                user, author: true, ..
            } => write!(
                f,
                "user {user} asked for this change and cannot also approve it"
            ),
            Self::NotAnApprover {
                user, approvers, ..
            } => {
                let names: Vec<&str> = approvers.iter().map(ChatId::as_str).collect();
                write!(
                    f,
                    "user {user} is not an approver of this change (approvers: {})",
                    names.join(", ")
                )
            }
            Self::NotAReader { user, channel } => write!(
                f,
                "{} may not read API names or throttling (not in the policy's readers)",
                place(user, channel.as_ref())
            ),
            Self::OutOfBounds(breaches) => {
                let reasons: Vec<String> = breaches
                    .iter()
                    .map(|b| format!("{} (rule \"{}\")", b.bound, b.rule))
                    .collect();
                f.write_str(&reasons.join("; "))
            }
        }
    }
}
