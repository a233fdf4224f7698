//! What became of a request, typed, before anyone renders it for people, logs or metrics.

use super::errors::GatewayError;
use super::grammar::{ListRequest, PlanTimedRequest, ShowRequest, TimedKind, TimedRequest};
use super::plan::Risk;
use super::requester::Requester;
use super::requester::{ChatId, Via};
use crate::domain::{
    ApiId, ApiView, Applied, Configured, History, HoldError, Level, PlanApplied, PlanChange,
    PlanLevel, PlanRef, PlanView, QuotaExceeded, ResolvedApi, TargetApis, ThrottleChange, Timed,
    Unsealed,
};
use crate::policy::Denial;

/// Why a change that was allowed could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("refused: {0}; API Gateway would silently cap it")]
    AboveAccountLimit(#[from] QuotaExceeded),
    #[error(
        "an HTTP API stage cannot be left without limits (tools that try leave 0/0, which blocks every request), so `reset` writes the account's limits, and they could not be read (GetAccount needs `apigateway:GET` on `/account`); nothing was changed"
    )]
    NoAccountLimits,
    #[error("too many commands are running; nothing was changed, try again in a moment")]
    Busy,
    #[error(transparent)]
    Hold(#[from] HoldError),
    #[error(
        "this timed change's record does not fit a stage tag (a key of 128 characters, a value of 256): the level's resource path is too long, or too many timed changes are stacked at this level; end one with `restore`, or make the change without `for` and put it back by hand"
    )]
    NoRoomForRecord,
    #[error("timed changes cannot end by themselves here: {0}")]
    NoDeadlines(String),
    #[error("it has ended (its values before are being put back); make a new timed change instead")]
    Ended,
    #[error(
        "the level now holds {}, not the {} this timed change set: someone changed it since, so it was not extended",
        pair(found),
        pair(set)
    )]
    NoLongerHeld { set: Configured, found: Configured },
    #[error(
        "under rule \"{rule}\" a change needs approval, and so does keeping it longer; type the same values again `for <duration>` to ask an approver for the new end"
    )]
    NeedsApproval { rule: String },
    #[error(
        "the timed change's record could not be removed from the stage ({0}), so it would still put its values back at its end; nothing was changed, try again"
    )]
    RecordStays(String),
}

impl From<crate::core::plan::PlanError> for Failure {
    fn from(error: crate::core::plan::PlanError) -> Self {
        match error {
            crate::core::plan::PlanError::Quota(exceeded) => Self::AboveAccountLimit(exceeded),
            crate::core::plan::PlanError::NoAccountLimits => Self::NoAccountLimits,
        }
    }
}

/// `rate 5, burst 10`, or `nothing set`, for error text.
fn pair(values: &Configured) -> String {
    match (values.rate, values.burst) {
        (None, None) => "nothing set".to_owned(),
        (rate, burst) => format!(
            "rate {}, burst {}",
            rate.map_or("not set".to_owned(), |r| r.to_string()),
            burst.map_or("not set".to_owned(), |b| b.to_string())
        ),
    }
}

/// What became of the timed change at one level when someone extended or restored it, or its
/// deadline came.
#[derive(Debug, Clone, PartialEq)]
/// The same for a stage's level ([`Level`], [`Applied`]) and a usage plan's ([`PlanLevel`],
/// [`PlanApplied`]).
pub enum TimedDone<L = Level, A = Applied> {
    /// It now ends later (the new record).
    Extended(Box<Timed<L>>),
    /// The values before are back.
    Restored {
        record: Box<Timed<L>>,
        applied: Box<A>,
    },
    /// The level already held the values before; only the record was removed.
    AlreadyBack(Box<Timed<L>>),
    /// Someone changed the level since: nothing restored, the record removed, a person decides.
    Moved {
        record: Box<Timed<L>>,
        found: Configured,
    },
    /// Its record was written before the stage's last update (`updated`, Unix seconds): it
    /// no longer describes the stage, so nothing was restored; the record removed, a person
    /// decides (see [`Timed::written_for`]).
    Outdated { record: Box<Timed<L>>, updated: i64 },
    /// No timed change is in force at that level.
    NothingPending,
    /// Its deadline has not come (an earlier reminder of a change since extended).
    NotDue(Box<Timed<L>>),
}

/// What became of a usage plan's timed change.
pub type PlanTimedDone = TimedDone<PlanLevel, PlanApplied>;

/// Why a change to a usage plan was not made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanFailure {
    #[error("{0}")]
    Denied(Denial),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(
        "API `{api}` stage `{stage}` is not in this usage plan; add it to the plan first (a plan throttles only the API stages it covers)"
    )]
    NotInPlan { api: String, stage: String },
    /// What stops a timed change (its duration, its record, its deadline), as for stages.
    #[error(transparent)]
    Timed(Failure),
}

/// The end of one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A change was attempted: made, found unnecessary, or failed.
    Change {
        change: ThrottleChange,
        result: Result<Applied, Failure>,
    },
    /// The access policy refused; `change` is `None` when the whole workspace is refused.
    Refused {
        text: String,
        change: Option<ThrottleChange>,
        denial: Denial,
    },
    /// `show`: the throttling read, or why it could not be.
    Show {
        request: ShowRequest,
        result: Result<ApiView, GatewayError>,
    },
    /// `history`: who changed the API's stages, and when, or why it could not be read.
    History {
        request: ShowRequest,
        result: Result<History, GatewayError>,
    },
    /// `show <alias>:`: a target's APIs, or why they could not be listed.
    Listed {
        request: ListRequest,
        result: Result<TargetApis, GatewayError>,
    },
    /// `show plan …`: a usage plan as it is now, or why it could not be read.
    PlanShown {
        plan: PlanRef,
        result: Result<PlanView, GatewayError>,
    },
    /// A change to a usage plan: made, found unnecessary, refused or failed.
    PlanChanged {
        change: PlanChange,
        result: Result<PlanApplied, PlanFailure>,
    },
    /// `extend plan …`, `restore plan …`, or a deadline, at one level of a plan; `plan` once
    /// it was read.
    PlanTimed {
        request: PlanTimedRequest,
        plan: Option<PlanView>,
        result: Result<PlanTimedDone, PlanFailure>,
        /// Where the timed change was made, and its message, once its record was read.
        channel: Option<String>,
        thread: Option<String>,
    },
    /// A usage plan change a rule gates: a preview for its author (no approvers), or a
    /// request for one of `approvers`; nothing applied yet.
    PlanGated {
        change: PlanChange,
        planned: PlanApplied,
        approvers: Vec<ChatId>,
    },
    /// Shutdown cut the request short; `text` is what was typed.
    Interrupted { text: String },
    /// A scheduled or alarm job whose parameters do not make a change.
    Invalid { reason: String },
    /// Risky: shown to its author with Apply and Cancel; nothing applied yet.
    NeedsConfirmation {
        change: ThrottleChange,
        planned: Applied,
        risk: Option<Risk>,
    },
    /// Under a rule with approvers: posted for approval; nothing applied yet.
    AwaitingApproval {
        change: ThrottleChange,
        planned: Applied,
        approvers: Vec<ChatId>,
        rule: String,
    },
    /// `extend`, `restore`, or a deadline, at one level; `api` once it was found.
    Timed {
        request: TimedRequest,
        api: Option<ResolvedApi>,
        result: Result<TimedDone, Failure>,
        /// The channel the timed change was made in, once its record was read, and the
        /// message about it to thread under, when known.
        channel: Option<String>,
        thread: Option<String>,
    },
    /// `throttle-bot:` records on a stage that this service did not seal: never acted on,
    /// reported once so that a person decides.
    Untrusted {
        api: ApiId,
        stage: String,
        found: Vec<Unsealed>,
    },
    /// The same on a usage plan (its id, with its target).
    UntrustedPlan { plan: String, found: Vec<Unsealed> },
    /// The level no longer holds the values the person saw: nothing applied.
    Moved {
        change: ThrottleChange,
        api: ResolvedApi,
        expected: Configured,
        found: Configured,
    },
}

/// An outcome with who asked and how, as the telling port receives it.
#[derive(Debug, Clone, Copy)]
pub struct News<'a> {
    pub requester: &'a Requester,
    pub via: Via,
    pub outcome: &'a Outcome,
}

/// The `outcome` label of the commands counter; a closed set, never free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    Applied,
    Unchanged,
    Denied,
    Invalid,
    Help,
    Show,
    Interrupted,
    Busy,
    AwaitingConfirmation,
    AwaitingApproval,
    Moved,
    Untrusted,
    Extended,
    Restored,
    NothingPending,
    NotDue,
    TooLong,
    NotFound,
    Ambiguous,
    AboveAccountLimit,
    AccessDenied,
    Throttled,
    Timeout,
    Rejected,
    Conflict,
    NoRegion,
    NoCredentials,
    Unreachable,
    Unexpected,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Unchanged => "unchanged",
            Self::Denied => "denied",
            Self::Invalid => "invalid",
            Self::Help => "help",
            Self::Show => "show",
            Self::Interrupted => "interrupted",
            Self::Busy => "busy",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Moved => "moved",
            Self::Untrusted => "untrusted_record",
            Self::Extended => "extended",
            Self::Restored => "restored",
            Self::NothingPending => "nothing_pending",
            Self::NotDue => "not_due",
            Self::TooLong => "too_long",
            Self::NotFound => "not_found",
            Self::Ambiguous => "ambiguous",
            Self::AboveAccountLimit => "above_account_limit",
            Self::AccessDenied => "access_denied",
            Self::Throttled => "throttled",
            Self::Timeout => "timeout",
            Self::Rejected => "rejected",
            Self::Conflict => "conflict",
            Self::NoRegion => "no_region",
            Self::NoCredentials => "no_credentials",
            Self::Unreachable => "unreachable",
            Self::Unexpected => "unexpected",
        }
    }

    pub fn of_gateway(error: &GatewayError) -> Self {
        match error {
            GatewayError::NotFound { .. }
            | GatewayError::ApiNotFound { .. }
            | GatewayError::NoDefaultStage { .. }
            | GatewayError::UnknownApiName { .. }
            | GatewayError::TooManyApis { .. }
            | GatewayError::UnknownTarget { .. }
            | GatewayError::NoSuchMethod { .. }
            | GatewayError::UnknownPlan { .. } => Self::NotFound,
            GatewayError::AmbiguousApiName { .. } | GatewayError::AmbiguousPlan { .. } => {
                Self::Ambiguous
            }
            GatewayError::AccessDenied { .. } => Self::AccessDenied,
            GatewayError::Throttled => Self::Throttled,
            GatewayError::Timeout { .. } => Self::Timeout,
            GatewayError::Rejected(_) => Self::Rejected,
            GatewayError::Conflict | GatewayError::PlanMoved { .. } => Self::Conflict,
            GatewayError::NoRegion => Self::NoRegion,
            GatewayError::NoCredentials(_) | GatewayError::CannotAssume { .. } => {
                Self::NoCredentials
            }
            GatewayError::Unreachable { .. } => Self::Unreachable,
            GatewayError::Unexpected(_) => Self::Unexpected,
            GatewayError::WebSocketApi { .. } | GatewayError::Level(_) => Self::Invalid,
        }
    }

    fn of_timed<L, A>(done: &TimedDone<L, A>) -> Self {
        match done {
            TimedDone::Extended(_) => Self::Extended,
            TimedDone::Restored { .. } => Self::Restored,
            TimedDone::AlreadyBack(_) => Self::Unchanged,
            TimedDone::Moved { .. } | TimedDone::Outdated { .. } => Self::Moved,
            TimedDone::NothingPending => Self::NothingPending,
            TimedDone::NotDue(_) => Self::NotDue,
        }
    }

    fn of_failure(failure: &Failure) -> Self {
        match failure {
            Failure::Gateway(error) => Self::of_gateway(error),
            Failure::AboveAccountLimit(_) => Self::AboveAccountLimit,
            Failure::NoAccountLimits | Failure::RecordStays(_) => Self::Unexpected,
            Failure::Busy => Self::Busy,
            Failure::Hold(_) | Failure::NoRoomForRecord => Self::TooLong,
            Failure::NoDeadlines(_) => Self::Invalid,
            Failure::Ended => Self::NotDue,
            Failure::NoLongerHeld { .. } => Self::Moved,
            Failure::NeedsApproval { .. } => Self::Denied,
        }
    }
}

impl Outcome {
    /// Whether it failed for a reason that may pass (AWS throttled it, timed out or could not
    /// be reached, or this process was busy): the same request may be tried again.
    pub fn may_pass(&self) -> bool {
        matches!(
            self.label(),
            Label::Throttled | Label::Timeout | Label::Unreachable | Label::Busy
        )
    }

    pub fn label(&self) -> Label {
        match self {
            Self::Change { result: Ok(a), .. } if a.changed => Label::Applied,
            Self::Change { result: Ok(_), .. } => Label::Unchanged,
            Self::Change { result: Err(e), .. } => Label::of_failure(e),
            Self::Refused { .. } => Label::Denied,
            Self::Show { result: Ok(_), .. } => Label::Show,
            Self::Show { result: Err(e), .. } | Self::History { result: Err(e), .. } => {
                Label::of_gateway(e)
            }
            Self::History { result: Ok(_), .. } => Label::Show,
            Self::Listed { result: Ok(_), .. } | Self::PlanShown { result: Ok(_), .. } => {
                Label::Show
            }
            Self::PlanShown { result: Err(e), .. } => Label::of_gateway(e),
            Self::PlanGated { approvers, .. } if approvers.is_empty() => {
                Label::AwaitingConfirmation
            }
            Self::PlanGated { .. } => Label::AwaitingApproval,
            Self::PlanChanged { result: Ok(a), .. } if a.changed => Label::Applied,
            Self::PlanChanged { result: Ok(_), .. } => Label::Unchanged,
            Self::PlanChanged {
                result: Err(PlanFailure::Denied(_)),
                ..
            } => Label::Denied,
            Self::PlanChanged {
                result: Err(PlanFailure::Gateway(e)),
                ..
            } => Label::of_gateway(e),
            Self::PlanChanged {
                result: Err(PlanFailure::NotInPlan { .. }),
                ..
            } => Label::NotFound,
            Self::PlanChanged {
                result: Err(PlanFailure::Timed(e)),
                ..
            } => Label::of_failure(e),
            Self::PlanTimed { result, .. } => match result {
                Ok(done) => Label::of_timed(done),
                Err(PlanFailure::Denied(_)) => Label::Denied,
                Err(PlanFailure::Gateway(e)) => Label::of_gateway(e),
                Err(PlanFailure::NotInPlan { .. }) => Label::NotFound,
                Err(PlanFailure::Timed(e)) => Label::of_failure(e),
            },
            Self::Listed { result: Err(e), .. } => Label::of_gateway(e),
            Self::Interrupted { .. } => Label::Interrupted,
            Self::Invalid { .. } => Label::Invalid,
            Self::NeedsConfirmation { .. } => Label::AwaitingConfirmation,
            Self::AwaitingApproval { .. } => Label::AwaitingApproval,
            Self::Moved { .. } => Label::Moved,
            Self::Untrusted { .. } | Self::UntrustedPlan { .. } => Label::Untrusted,
            Self::Timed { result, .. } => match result {
                Ok(done) => Label::of_timed(done),
                Err(e) => Label::of_failure(e),
            },
        }
    }

    /// Whether the audit channel hears of it: every change attempt and refusal, not reads, nor
    /// a preview only its author sees.
    pub fn is_audited(&self) -> bool {
        !matches!(
            self,
            Self::Show { .. }
                | Self::History { .. }
                | Self::Listed { .. }
                | Self::PlanShown { .. }
                | Self::NeedsConfirmation { .. }
                | Self::Timed {
                    result: Ok(TimedDone::NothingPending | TimedDone::NotDue(_)),
                    ..
                }
                | Self::PlanTimed {
                    result: Ok(TimedDone::NothingPending | TimedDone::NotDue(_)),
                    ..
                }
        ) && !matches!(self, Self::PlanGated { approvers, .. } if approvers.is_empty())
            && !self.is_quiet_deadline()
    }

    /// A deadline that found the values already back (another replica restored them, or
    /// someone undid the change): whoever did has told people already.
    fn is_quiet_deadline(&self) -> bool {
        matches!(
            self,
            Self::Timed {
                request: TimedRequest {
                    kind: TimedKind::Deadline,
                    ..
                },
                result: Ok(TimedDone::AlreadyBack(_)),
                ..
            } | Self::PlanTimed {
                request: PlanTimedRequest {
                    kind: TimedKind::Deadline,
                    ..
                },
                result: Ok(TimedDone::AlreadyBack(_)),
                ..
            }
        )
    }
}
