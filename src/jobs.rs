//! Accepted Slack commands run here, after (or, on Lambda, before) the acknowledgement.
//!
//! Every accepted command ends with exactly one final message on its `response_url`.
//! - As a server, a command runs in a tracked background task, so shutdown can wait for it.
//! - On Lambda, nothing may run after the response: the change is made inline when it fits
//!   Slack's 3 s; otherwise the Lambda invokes itself asynchronously with the job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;

use crate::aws::SelfInvoker;
use crate::slack::command::{Invocation, Request, ResponseUrl, SlackId, parse_text};
use crate::throttler::{ReplyOnce, Throttler, Work};

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

/// A background command not finished yet: enough to tell its user if shutdown cuts it short.
struct Pending {
    text: String,
    who: Invocation,
    once: Arc<ReplyOnce>,
}

pub struct Jobs {
    tracker: TaskTracker,
    throttler: Arc<Throttler>,
    mode: Mode,
    pending: Arc<Mutex<HashMap<u64, Pending>>>,
    next_id: AtomicU64,
}

impl Jobs {
    pub fn new(throttler: Arc<Throttler>, mode: Mode) -> Self {
        Self {
            tracker: TaskTracker::new(),
            throttler,
            mode,
            pending: Arc::default(),
            next_id: AtomicU64::new(0),
        }
    }

    pub fn throttler(&self) -> &Throttler {
        &self.throttler
    }

    /// Starts a command. As a server it returns at once; on Lambda it may run the command.
    pub async fn submit(&self, work: Work, who: Invocation, text: &str) -> Submitted {
        match &self.mode {
            Mode::Background => {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let once = Arc::new(ReplyOnce::default());
                let pending = Pending {
                    text: text.to_owned(),
                    who: who.clone(),
                    once: Arc::clone(&once),
                };
                self.pending
                    .lock()
                    .expect("pending jobs")
                    .insert(id, pending);
                let throttler = Arc::clone(&self.throttler);
                let registry = Arc::clone(&self.pending);
                self.tracker.spawn(async move {
                    throttler.run_command(&work, &who, &once).await;
                    registry.lock().expect("pending jobs").remove(&id);
                });
                Submitted::Running
            }
            Mode::Lambda(invoker) => self.run_or_defer(invoker, work, who, text).await,
        }
    }

    async fn run_or_defer(
        &self,
        invoker: &SelfInvoker,
        work: Work,
        who: Invocation,
        text: &str,
    ) -> Submitted {
        let started = Instant::now();
        let once = ReplyOnce::default();
        // Changes are `replace`s, so an attempt cut short here is safe to redo.
        if let Ok(done) =
            tokio::time::timeout(INLINE_BUDGET, self.throttler.perform(&work, &who)).await
        {
            self.throttler
                .report_command(&work, &who, done, started.elapsed(), &once)
                .await;
            return Submitted::Finished;
        }
        let job = DeferredJob::new(text, &who);
        match invoker.invoke_async(job.to_payload()).await {
            Ok(()) => {
                tracing::info!("AWS is slow: the command continues in an asynchronous invocation");
                Submitted::Deferred
            }
            Err(error) => {
                tracing::error!(%error, "could not invoke this function asynchronously; finishing the command inline");
                self.throttler.run_command(&work, &who, &once).await;
                Submitted::Finished
            }
        }
    }

    /// Sends an audit notice without delaying the reply: in the background as a server, before
    /// the response on Lambda (nothing may run after it).
    pub async fn audit(&self, notice: serde_json::Value) {
        match &self.mode {
            Mode::Background => {
                let throttler = Arc::clone(&self.throttler);
                self.tracker
                    .spawn(async move { throttler.audit(&notice).await });
            }
            Mode::Lambda(_) => self.throttler.audit(&notice).await,
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
        for pending in unfinished {
            let throttler = Arc::clone(&self.throttler);
            replies.spawn(async move {
                let report =
                    throttler.report_interrupted(&pending.text, &pending.who, &pending.once);
                let _ = tokio::time::timeout(INTERRUPTED_REPLY_TIMEOUT, report).await;
            });
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
}

/// The key that marks an invocation's payload as a deferred job.
pub const DEFERRED_JOB_KEY: &str = "throttle_bot_job";

impl DeferredJob {
    pub fn new(text: &str, who: &Invocation) -> Self {
        Self {
            text: text.to_owned(),
            user_id: who.user_id.as_str().to_owned(),
            channel_id: who.channel_id.as_ref().map(|c| c.as_str().to_owned()),
            team_id: who.team_id.as_ref().map(|t| t.as_str().to_owned()),
            command: who.command.clone(),
            response_url: who.response_url.url().to_string(),
        }
    }

    pub fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ DEFERRED_JOB_KEY: self }))
            .expect("a job serialises to JSON")
    }

    /// The work and invocation again, validated as when they first arrived.
    pub fn into_parts(self) -> Result<(Work, Invocation), String> {
        let bad = |what: &str| format!("deferred job has an invalid {what}");
        let work = match parse_text(&self.text).map_err(|e| e.to_string())? {
            Request::Change(change) => Work::Change(change),
            Request::Show(show) => Work::Show(show),
            Request::Help => return Err(bad("text")),
        };
        let who = Invocation {
            user_id: SlackId::parse(&self.user_id).ok_or_else(|| bad("user_id"))?,
            channel_id: self.channel_id.as_deref().and_then(SlackId::parse),
            team_id: self.team_id.as_deref().and_then(SlackId::parse),
            command: self.command,
            response_url: ResponseUrl::parse(&self.response_url)
                .ok_or_else(|| bad("response_url"))?,
        };
        Ok((work, who))
    }
}
