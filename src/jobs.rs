//! Where accepted requests run: after the acknowledgement as a server, or, on Lambda, before it
//! (nothing may run after a Lambda's response) or in an asynchronous invocation of itself.
//!
//! Every accepted command ends with exactly one final message on its reply address.
//! - As a server, a command runs in a tracked background task, so shutdown can wait for it.
//! - On Lambda, the change is made inline when it fits Slack's 3 s; otherwise the Lambda
//!   invokes itself asynchronously with the job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::aws::{ApiGateway, GatewaySettings, SelfInvoker};
use crate::core::grammar::{Request, parse_text};
use crate::core::outcome::{News, Outcome};
use crate::core::requester::{ChatId, ChatUser, ReplyTo, RequestId, Requester};
use crate::core::runner::{Ask, Origin, ReplyOnce, Runner, Work};
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::slack::SlackPoster;
use crate::slack::hosts::SlackHosts;

/// The pipeline with its production adapters.
pub type AppRunner = Runner<ApiGateway, SlackPoster>;

/// The pipeline for one process: API Gateway through the SDK, people through Slack.
pub fn app_runner(
    aws: GatewaySettings,
    slack: SlackPoster,
    policy: Arc<PolicyHandle>,
    metrics: Arc<Metrics>,
) -> Arc<AppRunner> {
    Arc::new(Runner::new(ApiGateway::new(aws), slack, policy, metrics))
}

/// How long shutdown may spend telling the users of interrupted commands.
const INTERRUPTED_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a Lambda waits for AWS before handing the job to an asynchronous invocation.
pub const INLINE_BUDGET: Duration = Duration::from_millis(2000);

pub enum Mode {
    Background,
    Lambda(Arc<SelfInvoker>),
}

/// What became of a submitted command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Running in the background; its final reply will follow.
    Running,
    /// Done: its final reply has been sent.
    Finished,
    /// Handed to an asynchronous invocation; its final reply will follow.
    Deferred,
}

/// The span that ties a request's log lines together, from acknowledgement to final message.
pub fn span(id: &RequestId) -> tracing::Span {
    tracing::info_span!("request", request_id = %id)
}

/// A background request and the flag that keeps it to one final message.
type Pending = (Ask, Arc<ReplyOnce>);

pub struct Jobs {
    tracker: TaskTracker,
    runner: Arc<AppRunner>,
    mode: Mode,
    /// Background commands not finished yet: enough to tell their users if shutdown cuts them short.
    pending: Arc<Mutex<HashMap<u64, Pending>>>,
    next_id: AtomicU64,
}

impl Jobs {
    pub fn new(runner: Arc<AppRunner>, mode: Mode) -> Self {
        Self {
            tracker: TaskTracker::new(),
            runner,
            mode,
            pending: Arc::default(),
            next_id: AtomicU64::new(0),
        }
    }

    pub fn runner(&self) -> &AppRunner {
        &self.runner
    }

    /// Starts a request. As a server it returns at once; on Lambda it may run the request.
    pub async fn submit(&self, ask: Ask) -> Submitted {
        match &self.mode {
            Mode::Background => {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let once = Arc::new(ReplyOnce::default());
                self.pending
                    .lock()
                    .expect("pending jobs")
                    .insert(id, (ask.clone(), Arc::clone(&once)));
                let runner = Arc::clone(&self.runner);
                let registry = Arc::clone(&self.pending);
                let span = span(&ask.id);
                self.tracker.spawn(
                    async move {
                        runner.run(&ask, &once).await;
                        registry.lock().expect("pending jobs").remove(&id);
                    }
                    .instrument(span),
                );
                Submitted::Running
            }
            Mode::Lambda(invoker) => {
                let span = span(&ask.id);
                self.run_or_defer(invoker, ask).instrument(span).await
            }
        }
    }

    async fn run_or_defer(&self, invoker: &SelfInvoker, ask: Ask) -> Submitted {
        let started = Instant::now();
        let once = ReplyOnce::default();
        // Changes are `replace`s, so an attempt cut short here is safe to redo.
        if let Ok(outcome) = tokio::time::timeout(INLINE_BUDGET, self.runner.perform(&ask)).await {
            self.runner
                .conclude(&ask.origin, &outcome, started.elapsed(), &once)
                .await;
            return Submitted::Finished;
        }
        match DeferredJob::new(&ask) {
            Some(job) => match invoker.invoke_async(job.to_payload()).await {
                Ok(()) => {
                    tracing::info!(
                        "AWS is slow: the command continues in an asynchronous invocation"
                    );
                    return Submitted::Deferred;
                }
                Err(error) => {
                    tracing::error!(%error, "could not invoke this function asynchronously; finishing the command inline");
                }
            },
            None => tracing::error!("this request cannot be deferred; finishing it inline"),
        }
        self.runner.run(&ask, &once).await;
        Submitted::Finished
    }

    /// Ends a request that was refused before any work: counts and logs it now, and sends the
    /// audit notice without delaying the reply (in the background as a server, before the
    /// response on Lambda, where nothing may run after it).
    pub async fn refused(&self, id: RequestId, requester: Requester, outcome: Outcome) {
        let span = span(&id);
        span.in_scope(|| self.runner.record(&requester, &outcome, Duration::ZERO));
        let runner = Arc::clone(&self.runner);
        let audit = async move {
            let news = News {
                requester: &requester,
                outcome: &outcome,
            };
            runner.audit(&news).await;
        }
        .instrument(span);
        match &self.mode {
            Mode::Background => {
                self.tracker.spawn(audit);
            }
            Mode::Lambda(_) => audit.await,
        }
    }

    /// How many background commands are still running.
    pub fn in_flight(&self) -> usize {
        self.tracker.len()
    }

    /// Stops taking jobs and waits for those running, up to `deadline`. Commands still
    /// running then get their final message now, saying they were interrupted. Returns how
    /// many were.
    pub async fn drain(&self, deadline: Duration) -> usize {
        self.tracker.close();
        if tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
        {
            return 0;
        }
        let unfinished: Vec<Pending> = self
            .pending
            .lock()
            .expect("pending jobs")
            .drain()
            .map(|(_, pending)| pending)
            .collect();
        let count = unfinished.len();
        let mut replies = tokio::task::JoinSet::new();
        for (ask, once) in unfinished {
            let runner = Arc::clone(&self.runner);
            let span = span(&ask.id);
            replies.spawn(
                async move {
                    let outcome = Outcome::Interrupted {
                        text: ask.text.clone(),
                    };
                    let report = runner.conclude(&ask.origin, &outcome, Duration::ZERO, &once);
                    let _ = tokio::time::timeout(INTERRUPTED_REPLY_TIMEOUT, report).await;
                }
                .instrument(span),
            );
        }
        replies.join_all().await;
        count
    }
}

/// A Slack command handed from one Lambda invocation to the next, as JSON: the command's text
/// and where it came from, checked again on arrival exactly as the first time.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeferredJob {
    text: String,
    user_id: String,
    channel_id: Option<String>,
    team_id: Option<String>,
    command: String,
    response_url: String,
    #[serde(default)]
    request_id: Option<String>,
}

/// The key that marks an invocation's payload as a deferred job.
pub const DEFERRED_JOB_KEY: &str = "throttle_bot_job";

/// Why a deferred job's payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeferredJobError {
    #[error("deferred job has an invalid {0}")]
    Invalid(&'static str),
}

impl DeferredJob {
    /// The job for a person's request; `None` for requesters nobody waits on.
    pub fn new(ask: &Ask) -> Option<Self> {
        let who = ask.origin.requester.user()?;
        Some(Self {
            text: ask.text.clone(),
            user_id: who.user.to_string(),
            channel_id: who.channel.as_ref().map(ToString::to_string),
            team_id: who.team.as_ref().map(ToString::to_string),
            command: who.command.clone(),
            response_url: ask.origin.reply_to.as_ref()?.as_str().to_owned(),
            request_id: Some(ask.id.to_string()),
        })
    }

    pub fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ DEFERRED_JOB_KEY: self }))
            .expect("a job serialises to JSON")
    }

    /// The request again, validated as when it first arrived.
    pub fn into_ask(self, hosts: &SlackHosts) -> Result<Ask, DeferredJobError> {
        let work = match parse_text(&self.text) {
            Ok(Request::Change(change)) => Work::Change(change),
            Ok(Request::Show(show)) => Work::Show(show),
            Ok(Request::Help) | Err(_) => return Err(DeferredJobError::Invalid("text")),
        };
        let who = ChatUser {
            user: ChatId::parse(&self.user_id).ok_or(DeferredJobError::Invalid("user_id"))?,
            channel: self.channel_id.as_deref().and_then(ChatId::parse),
            team: self.team_id.as_deref().and_then(ChatId::parse),
            command: self.command,
        };
        let reply_to = hosts
            .check_hook(&self.response_url)
            .map_err(|_| DeferredJobError::Invalid("response_url"))?;
        Ok(Ask {
            id: self
                .request_id
                .as_deref()
                .and_then(RequestId::parse)
                .unwrap_or_default(),
            origin: Origin {
                requester: Requester::User(who),
                reply_to: Some(ReplyTo::new(reply_to.as_str())),
            },
            text: self.text,
            work,
        })
    }
}
