//! Builds the service from its configuration and runs it until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::core::ports::Deadlines;
use crate::deadlines::{TimerQueue, Timers};
use crate::http::replay::ReplayGuard;
use crate::http::server::serve;
use crate::http::{AppState, ops_router, router, slack_router};
use crate::jobs::{AppRunner, Jobs, Mode, app_runner};
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::slack::SlackPoster;
use crate::slack::signature::SigningSecret;
use crate::telemetry::LogBudget;

pub struct Application {
    listener: TcpListener,
    ops_listener: Option<TcpListener>,
    state: AppState,
    config: ServeConfig,
    timers: TimerQueue,
}

impl Application {
    /// Binds the listener; makes no network call.
    pub async fn build(config: ServeConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let ops_listener = match config.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let (deadlines, timers) = Timers::new();
        let mut state = state(
            &config,
            Mode::Background {
                max_jobs: config.max_jobs,
                impact_after: config.impact_after,
            },
            Arc::new(deadlines),
        );
        if config.socket.is_some() {
            state.socket = Some(Arc::new(crate::http::SocketStatus::default()));
        }
        Ok(Self {
            listener,
            ops_listener,
            state,
            config,
            timers,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets running commands finish within the grace
    /// period. Stops the same way, and returns `Err`, when another replica of this service is
    /// found running (one replica per Slack app).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = self.local_addr()?;
        if self.config.webhook.is_none() {
            tracing::warn!("SLACK_WEBHOOK_URL is not set: audit notices are off");
        }
        crate::config::announce_policy(&self.config.policy);
        crate::config::announce_hosts(&self.config.slack_hosts);
        reload_policy_on_sighup(Arc::clone(&self.config.policy));
        tracing::info!("listening on http://{addr}");
        if self.config.socket.is_some() {
            tracing::info!(
                "Slack is reached through Socket Mode; this address serves health and metrics only"
            );
        }

        let jobs = Arc::clone(&self.state.jobs);
        tokio::spawn(async move { jobs.runner().gateway().warm_up().await });
        if self.config.web_api.is_none() {
            tracing::info!(
                "SLACK_BOT_TOKEN is not set: the end of a timed change goes to the audit webhook only"
            );
        }
        // A second replica stops the service: found by Socket Mode's count of connections, or
        // by the sweep (another process renewed its lease while this one waited).
        let (refuse, mut refusals) = tokio::sync::mpsc::unbounded_channel::<Refusal>();
        let refuse_sweep = refuse.clone();
        let jobs = Arc::clone(&self.state.jobs);
        let grace = self.config.shutdown_grace;
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        // The sweep's task, awaited at shutdown while it releases its leases.
        let sweeping: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>> = Arc::default();
        let start_deadlines = {
            let (runner, timers) = (self.state.jobs.shared_runner(), self.timers);
            let (every, scope) = (self.config.sweep_interval, self.config.sweep_apis.clone());
            let (tracker, stop) = (self.state.jobs.tracker(), stopped.clone());
            let sweeping = Arc::clone(&sweeping);
            move || {
                let refuse = move |another| {
                    let _ = refuse_sweep.send(Refusal::Sweep(another));
                };
                let handle =
                    crate::deadlines::start(runner, timers, every, scope, tracker, stop, refuse);
                *sweeping.lock().expect("sweep task") = handle;
            }
        };
        // Under Socket Mode, Slack's routes are not served: payloads come through the socket,
        // and the deadlines start once Slack showed this process the app to itself.
        let socket = match (&self.config.socket, &self.state.socket) {
            (Some(settings), Some(status)) => {
                let run = crate::socket::run(
                    Arc::new(self.state.clone()),
                    settings.clone(),
                    Arc::clone(status),
                    stopped.clone(),
                    start_deadlines,
                );
                Some(tokio::spawn(async move {
                    if let Err(error) = run.await {
                        let _ = refuse.send(Refusal::Socket(error));
                    }
                }))
            }
            _ => {
                start_deadlines();
                None
            }
        };
        let slack_routes = match self.ops_listener {
            Some(ops_listener) => {
                tracing::info!("ops endpoints on http://{}", ops_listener.local_addr()?);
                let ops = ops_router(self.state.clone());
                let mut stopped = stopped.clone();
                let until = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                tokio::spawn(serve(ops_listener, ops, self.config.limits, until, grace));
                match socket {
                    Some(_) => axum::Router::new(),
                    None => slack_router(self.state),
                }
            }
            None if socket.is_some() => ops_router(self.state),
            None => router(self.state),
        };
        let refused: Arc<std::sync::Mutex<Option<Refusal>>> = Arc::default();
        let refusal = Arc::clone(&refused);
        // The connection drain and the commands in flight share one grace period, from the
        // moment the stop begins.
        let stop_began: Arc<std::sync::Mutex<Option<tokio::time::Instant>>> = Arc::default();
        let began = Arc::clone(&stop_began);
        let signalled = async move {
            tokio::select! {
                () = shutdown => {}
                Some(found) = refusals.recv() => {
                    tracing::error!(error = %found, "stopping");
                    *refusal.lock().expect("refusal") = Some(found);
                }
            }
            *began.lock().expect("stop time") = Some(tokio::time::Instant::now());
            stopping.send_replace(true);
        };
        serve(
            self.listener,
            slack_routes,
            self.config.limits,
            signalled,
            grace,
        )
        .await;

        let began = stop_began.lock().expect("stop time").take();
        let deadline = began.unwrap_or_else(tokio::time::Instant::now) + grace;
        if let Some(socket) = socket {
            // The stop signal closes every connection; nothing new arrives after this.
            let _ = socket.await;
        }
        let running = jobs.in_flight();
        if running > 0 {
            tracing::info!(running, "stopped accepting; finishing commands in flight");
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        // Meanwhile the sweep ends and releases its leases, so a replacement sweeps at once.
        let sweep = sweeping.lock().expect("sweep task").take();
        let released = async move {
            if let Some(sweep) = sweep {
                let _ = tokio::time::timeout_at(deadline, sweep).await;
            }
        };
        let (interrupted, ()) = tokio::join!(jobs.drain(left), released);
        if interrupted > 0 {
            tracing::error!(
                interrupted,
                "shutdown grace period ended with commands still running; their users were told"
            );
        }
        tracing::info!("stopped");
        match refused.lock().expect("refusal").take() {
            Some(found) => Err(std::io::Error::other(found)),
            None => Ok(()),
        }
    }
}

/// Why a replica stops: another replica of this service runs (one replica per Slack app).
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error(transparent)]
    Socket(#[from] crate::socket::SocketError),
    #[error(transparent)]
    Sweep(#[from] crate::deadlines::AnotherReplica),
}

/// Everything the handlers share, for a server or a Lambda function.
pub fn state(config: &ServeConfig, mode: Mode, deadlines: Arc<dyn Deadlines>) -> AppState {
    let metrics = Arc::new(Metrics::new());
    let runner = app_runner(
        config.aws.clone(),
        SlackPoster::new(config.webhook.clone(), config.slack_hosts.clone())
            .with_buttons(&config.signing_secret)
            .with_web_api(config.web_api.clone()),
        Arc::clone(&config.policy),
        Arc::clone(&metrics),
        Some(&config.signing_secret),
    )
    .with_cut_fraction(config.confirm_cut_fraction)
    .with_max_temporary(config.max_temporary)
    .with_traffic_checks(config.confirm_below_traffic)
    .with_deadlines(deadlines);
    state_around(Arc::new(runner), &config.signing_secret, metrics, mode)
}

/// The handlers' state around a runner already built (`try` builds one on the embedded
/// account), with the metrics it counts in.
pub fn state_around(
    runner: Arc<AppRunner>,
    secret: &SigningSecret,
    metrics: Arc<Metrics>,
    mode: Mode,
) -> AppState {
    AppState {
        secret: Arc::new(secret.clone()),
        jobs: Arc::new(Jobs::new(runner, mode)),
        metrics,
        rejection_log: Arc::new(rejection_log()),
        replays: Arc::new(ReplayGuard::new(REPLAY_MEMORY)),
        presses: Arc::new(press_ledger()),
        socket: None,
    }
}

/// Presses remembered for as long as a button works.
pub fn press_ledger() -> ReplayGuard {
    ReplayGuard::remembering(REPLAY_MEMORY, crate::slack::buttons::UNDO_TTL_SECS)
}

/// Signed requests remembered against replays (a few MB at most).
pub const REPLAY_MEMORY: usize = 50_000;

/// At most 5 lines a minute for requests anyone can send at will (unsigned, malformed).
pub fn rejection_log() -> LogBudget {
    LogBudget::new(5, std::time::Duration::from_secs(60))
}

/// Re-reads the policy file on each SIGHUP; a bad file is logged and the old policy stays.
fn reload_policy_on_sighup(policy: Arc<PolicyHandle>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match policy.reload() {
                Ok(rules) => tracing::info!(rules, "access policy reloaded"),
                Err(error) => {
                    tracing::error!(%error, "policy reload rejected; the previous policy stays in force")
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = policy;
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
