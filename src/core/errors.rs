//! The errors of the core's two ports, below both the ports and the outcomes that carry them.

/// Why a call to API Gateway failed, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatewayError {
    #[error("API `{api}` or its stage `{stage}` was not found")]
    NotFound { api: String, stage: String },
    #[error("API `{api}` was not found")]
    ApiNotFound { api: String },
    #[error(
        "`{api}` is a REST API, which has no `$default` stage: `$default` is an HTTP API's default stage (a REST API's stages are named with letters, digits, `-` and `_`)"
    )]
    NoDefaultStage { api: String },
    #[error("no REST or HTTP API is named `{name}`{}", suggest(.suggestions))]
    UnknownApiName {
        name: String,
        suggestions: Vec<String>,
    },
    #[error(
        "no API named `{name}` among the first {listed} APIs listed here: this account and region has more than a listing holds in memory, so name the API by its id"
    )]
    TooManyApis { name: String, listed: usize },
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
    #[error(
        "`{api}` is a WebSocket API; throttle-bot changes REST and HTTP APIs (a WebSocket API's throttling is its stage's and routes' settings, outside this tool)"
    )]
    WebSocketApi { api: String },
    #[error("{}", no_method(api, level, instead))]
    NoSuchMethod {
        api: String,
        level: String,
        instead: Vec<String>,
    },
    #[error(transparent)]
    Level(#[from] crate::domain::TargetError),
    #[error("no target is called `{alias}`; the targets are {}", known.join(", "))]
    UnknownTarget { alias: String, known: Vec<String> },
    #[error("could not assume {role} : {why}")]
    CannotAssume { role: String, why: String },
    #[error("no usage plan has the id or name `{plan}`{}", some_plans(known))]
    UnknownPlan { plan: String, known: Vec<String> },
    #[error("{} usage plans are named `{plan}`; use one of their ids: {}", ids.len(), ids.join(", "))]
    AmbiguousPlan { plan: String, ids: Vec<String> },
    #[error(
        "usage plan `{plan}` changed since it was read for this change (it is now {now}); nothing was written: look again and retry"
    )]
    PlanMoved { plan: String, now: String },
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
        format!("several APIs are named `{name}`; use the API's id")
    } else {
        format!(
            "{} APIs are named `{name}`; use one of their ids: {}",
            candidates.len(),
            candidates.join(", ")
        )
    }
}

fn no_method(api: &str, level: &str, instead: &[String]) -> String {
    // A few close ones read as the name suggestions do; a small API's whole list as such.
    let instead = match instead.len() {
        0..=3 => suggest(instead),
        _ => {
            let quoted: Vec<String> = instead.iter().map(|m| format!("`{m}`")).collect();
            format!(" (its methods: {})", quoted.join(", "))
        }
    };
    format!("`{api}` has no method `{level}`, so a limit there would throttle no request{instead}")
}

fn some_plans(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        format!(" (plans here include {})", quoted.join(", "))
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
            Self::UnknownPlan { plan, .. } => Self::UnknownPlan {
                plan,
                known: Vec::new(),
            },
            Self::AmbiguousPlan { plan, .. } => Self::AmbiguousPlan {
                plan,
                ids: Vec::new(),
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

/// Why a stage's traffic could not be read (no permission, no answer in time, …). Said in one
/// line where traffic would be shown; never in the way of a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrafficError(pub String);

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
