//! The two ports of the core: what it needs from API Gateway, and how it tells people. Production
//! has one adapter for each (`aws::ApiGateway`, `slack::SlackTeller`); core tests use in-memory ones.

use std::future::Future;
use std::pin::Pin;

use super::outcome::News;
use super::requester::ReplyTo;
use crate::domain::{AccountLimits, Action, ApiId, Level, ResolvedApi, StageName, StageView};

/// A timed change's deadline: where and when its restore must run.
#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    pub api: ApiId,
    pub stage: StageName,
    pub level: Level,
    /// Unix seconds.
    pub at: i64,
}

/// Why a deadline could not be handed on (the record on the stage stays, so a sweep or a
/// person can still finish the restore).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeadlineError(pub String);

/// Makes a timed change's restore run at its deadline: a timer in this process, or a one-time
/// schedule that invokes a Lambda. Boxed so the runner can hold whichever the process has.
pub trait Deadlines: Send + Sync {
    /// Whether deadlines can be kept at all; a timed change is refused before any write if not.
    fn ready(&self) -> Result<(), DeadlineError> {
        Ok(())
    }

    fn remind<'a>(
        &'a self,
        reminder: &'a Reminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>>;
}

/// What the core needs from API Gateway. Each call is one management API call at most (cached
/// where the adapter says so); errors are already in terms an operator can act on.
pub trait Gateway: Send + Sync {
    /// The API with this exact name (the list of APIs is cached; a miss refreshes it once).
    fn find_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<ResolvedApi, GatewayError>> + Send;

    /// The name of the API with this id, from the (cached) list of APIs; `None` if unlisted.
    fn name_of(
        &self,
        id: &ApiId,
    ) -> impl Future<Output = Result<Option<String>, GatewayError>> + Send;

    /// The name of the API with this id if the cached list already knows it; never calls AWS.
    fn known_name(&self, id: &ApiId) -> Option<String>;

    /// One stage's throttling as it is now.
    fn read_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> impl Future<Output = Result<StageView, GatewayError>> + Send;

    /// Every stage's throttling.
    fn read_stages(
        &self,
        api: &ApiId,
    ) -> impl Future<Output = Result<Vec<StageView>, GatewayError>> + Send;

    /// Sets (or removes, for a reset) the limits at one level of one stage.
    fn write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// Every REST API's id, from the (cached) list of APIs.
    fn apis(&self) -> impl Future<Output = Result<Vec<ApiId>, GatewayError>> + Send;

    /// Sets one tag on a stage (where a timed change keeps its record).
    fn tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// Removes one tag from a stage; removing a tag that is not there is not an error.
    fn untag(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// The account's regional quota (cached); `None` when it cannot be read.
    fn account_limits(&self) -> impl Future<Output = Option<AccountLimits>> + Send;
}

/// Why a call to API Gateway failed, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatewayError {
    #[error("API `{api}` or its stage `{stage}` was not found")]
    NotFound { api: String, stage: String },
    #[error("API `{api}` was not found")]
    ApiNotFound { api: String },
    #[error("no REST API is named `{name}`{}", suggest(.suggestions))]
    UnknownApiName {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("{}", ambiguous(name, candidates))]
    AmbiguousApiName {
        name: String,
        candidates: Vec<String>,
    },
    #[error("not allowed: the service's AWS identity needs `{action}` on `{resource}`")]
    AccessDenied { action: String, resource: String },
    #[error(
        "AWS is throttling API Gateway calls (the account's budget is shared with every deploy pipeline) and still refused after retries; try again in a minute"
    )]
    Throttled,
    #[error("AWS did not answer within {seconds} s; the change may or may not have been applied")]
    Timeout { seconds: u64 },
    #[error("API Gateway refused the change: {0}")]
    Rejected(String),
    #[error("another change to this stage was in progress; try again in a moment")]
    Conflict,
    #[error("no AWS region: set AWS_REGION")]
    NoRegion,
    #[error("no AWS credentials found: {0}")]
    NoCredentials(String),
    #[error("could not reach API Gateway at {endpoint}: {why}")]
    Unreachable { endpoint: String, why: String },
    #[error("unexpected answer from API Gateway: {0}")]
    Unexpected(String),
}

fn ambiguous(name: &str, candidates: &[String]) -> String {
    if candidates.is_empty() {
        format!("several REST APIs are named `{name}`; use the API's id")
    } else {
        format!(
            "{} REST APIs are named `{name}`; use one of their ids: {}",
            candidates.len(),
            candidates.join(", ")
        )
    }
}

fn suggest(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        format!(" (did you mean {}?)", quoted.join(", "))
    }
}

impl GatewayError {
    /// The same error without other APIs' names or ids (for someone who may not read them).
    pub fn without_other_apis(self) -> Self {
        match self {
            Self::UnknownApiName { name, .. } => Self::UnknownApiName {
                name,
                suggestions: Vec::new(),
            },
            Self::AmbiguousApiName { name, .. } => Self::AmbiguousApiName {
                name,
                candidates: Vec::new(),
            },
            other => other,
        }
    }

    /// Whether the API or stage does not exist (as opposed to a failure to find out).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. } | Self::ApiNotFound { .. } | Self::UnknownApiName { .. }
        )
    }
}

/// How the core tells people: the person who asked (on their reply address) and the audit
/// channel. Delivery failures come back typed; the core logs them once.
pub trait Teller: Send + Sync {
    fn reply(
        &self,
        to: &ReplyTo,
        news: &News<'_>,
    ) -> impl Future<Output = Result<(), TellError>> + Send;

    /// Sends the audit notice; `Ok(false)` when no audit channel is configured.
    fn audit(&self, news: &News<'_>) -> impl Future<Output = Result<bool, TellError>> + Send;

    /// Posts news nobody waits on (a timed change's end) in a chat channel; `Ok(false)` when
    /// this teller cannot post there (no bot token).
    /// Threaded under the message with timestamp `thread` when given.
    fn announce(
        &self,
        channel: &str,
        thread: Option<&str>,
        news: &News<'_>,
    ) -> impl Future<Output = Result<bool, TellError>> + Send;
}

/// Why a message was not delivered. Never contains the address (it is a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TellError {
    #[error("the chat service answered HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(&'static str),
    #[error("the reply address is not one of the chat service's: {0}")]
    Address(&'static str),
    #[error("the chat service refused the message: {0}")]
    Refused(String),
}
