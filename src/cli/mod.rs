//! The command line and the operator's subcommands. Every flag can also be set from its
//! environment variable.

pub mod apply;
pub mod healthcheck;
pub mod policy;
mod serve;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::aws::GatewaySettings;
use crate::aws::targets::{self, TargetsError};
use crate::deadlines::SweepScope;
use crate::domain::Hold;
use crate::slack::hosts::{HostError, SlackHosts};
use crate::slack::web_api::{BotToken, DEFAULT_API_URL, WebApi};
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "throttle-bot",
    version,
    about = "Change AWS API Gateway throttling from Slack"
)]
pub struct Cli {
    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service that answers the Slack slash command.
    Serve(ServeArgs),
    /// Run the service through Slack's Socket Mode: it dials out to Slack, so it needs no
    /// public URL (`/healthz`, `/readyz` and `/metrics` are served on the listen address).
    Socket(SocketArgs),
    /// Set a stage's throttling once, as the original RateLimitCanary job did.
    ///
    /// Each value comes from its flag, else the event, else the environment variable
    /// (API_ID, STAGE_NAME, RATE_LIMIT, BURST_LIMIT), else the defaults 100 and 200.
    Apply(ApplyArgs),
    /// Run the AWS Lambda runtime loop (also the default when AWS_LAMBDA_RUNTIME_API is set).
    Lambda(LambdaArgs),
    /// Check an access policy file, or ask it whether a command would be allowed.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print the Slack app manifest with the service's public URL filled in.
    Manifest(ManifestArgs),
    /// Probe a running service's /healthz; exit 0 when healthy (for container HEALTHCHECKs).
    Healthcheck(HealthcheckArgs),
    /// Try the whole bot here, with no Slack and no AWS: a terminal in place of Slack and an
    /// account in memory (nothing in AWS changes). Reads a session from standard input when it
    /// is not a terminal, and prints the transcript.
    Try(TryArgs),
}

#[derive(Debug, Args)]
pub struct TryArgs {
    /// The access policy to try (default: the example policy, built in).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// API id (REST or HTTP API).
    #[arg(long)]
    pub api_id: Option<String>,
    /// Stage name.
    #[arg(long)]
    pub stage: Option<String>,
    /// Requests per second.
    #[arg(long)]
    pub rate: Option<String>,
    /// Burst size.
    #[arg(long)]
    pub burst: Option<String>,
    /// Make the change timed (`30m`, `1h30m`): the values before come back at its end.
    #[arg(long = "for", value_name = "DURATION")]
    pub hold: Option<String>,
    /// The longest a timed change may last.
    #[arg(long, env = "MAX_TEMPORARY", default_value = "24h", value_parser = parse_hold)]
    pub max_temporary: Hold,
    /// The schedule's event: JSON text, `-` for standard input, or `@FILE`.
    #[arg(long)]
    pub event: Option<String>,
    /// Incoming-webhook URL for notices on success and failure.
    #[arg(long, env = "SLACK_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    /// The service's signing secret: it seals a timed change's record (`--for`) so that the
    /// service's sweep trusts it. Without it, `--for` is refused.
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub slack_hosts: SlackHostArgs,
}

#[derive(Debug, Args)]
pub struct LambdaArgs {
    /// Slack app signing secret; needed only for slash commands over HTTP events.
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<String>,
    /// Incoming-webhook URL for audit notices.
    #[arg(long, env = "SLACK_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub slack_hosts: SlackHostArgs,

    #[command(flatten)]
    pub safety: SafetyArgs,

    #[command(flatten)]
    pub web_api: WebApiArgs,

    /// The role EventBridge Scheduler assumes to invoke this function at a timed change's end
    /// (it needs lambda:InvokeFunction on it). Without it, timed changes are refused.
    #[arg(long, env = "SCHEDULER_ROLE_ARN")]
    pub scheduler_role_arn: Option<String>,

    /// The EventBridge Scheduler group the one-time restore schedules go in.
    #[arg(long, env = "SCHEDULER_GROUP", default_value = "default")]
    pub scheduler_group: String,
}

/// Where the access policy comes from.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// TOML file with the access policy; SIGHUP reloads it. Required: without a policy (or
    /// `allow-all`, which must be named) the service refuses to start.
    #[arg(long = "policy", env = "THROTTLE_POLICY")]
    pub file: Option<String>,
    /// The access policy's TOML text itself, for Lambda and containers.
    #[arg(
        long = "policy-toml",
        env = "THROTTLE_POLICY_TOML",
        hide_env_values = true
    )]
    pub inline: Option<String>,
}

/// Where Slack messages may go besides Slack's own hosts: nowhere, except in tests.
#[derive(Debug, Clone, Args)]
pub struct SlackHostArgs {
    /// Comma-separated `host` or `host:port` entries allowed over plain http for response URLs,
    /// the webhook and the Web API: local stand-ins in tests. Never set it in production.
    /// Loopback hosts only; anything else is refused at start-up.
    #[arg(long, env = "INSECURE_TEST_HOSTS", value_parser = SlackHosts::validate_setting)]
    pub insecure_test_hosts: Option<String>,
}

impl From<&SlackHostArgs> for SlackHosts {
    fn from(args: &SlackHostArgs) -> Self {
        SlackHosts::from_setting(args.insecure_test_hosts.as_deref())
    }
}

/// When a change asks its author to confirm.
#[derive(Debug, Clone, Args)]
pub struct SafetyArgs {
    /// A change that cuts a rate or burst set at its level by more than this share (0–1) is
    /// shown for confirmation first, as is one that blocks traffic.
    #[arg(long, env = "CONFIRM_CUT_FRACTION", default_value_t = 0.5, value_parser = parse_fraction)]
    pub confirm_cut_fraction: f64,
    /// The longest a timed change (`for 30m`) may last: `90s`, `30m`, `2h`, `1h30m`.
    #[arg(long, env = "MAX_TEMPORARY", default_value = "24h", value_parser = parse_hold)]
    pub max_temporary: Hold,
    /// A rate below the last hour's busiest minute (CloudWatch) is shown for confirmation
    /// first, with the share of that minute it would have rejected.
    #[arg(long, env = "CONFIRM_BELOW_TRAFFIC", default_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub confirm_below_traffic: bool,
    /// After a change, report the traffic before and after it this much later (`5m`, `90s`;
    /// `0` turns the report off).
    #[arg(long, env = "IMPACT_AFTER", default_value = "5m", value_parser = parse_after)]
    pub impact_after: Duration,
}

fn parse_after(raw: &str) -> Result<Duration, String> {
    match raw.trim() {
        "0" => Ok(Duration::ZERO),
        raw => Hold::parse(raw)
            .map(|hold| Duration::from_secs(hold.secs()))
            .map_err(|e| e.to_string()),
    }
}

fn parse_hold(raw: &str) -> Result<Hold, String> {
    Hold::parse(raw).map_err(|e| e.to_string())
}

/// Slack's Web API, for messages after a command's `response_url` has expired.
#[derive(Debug, Clone, Args)]
pub struct WebApiArgs {
    /// Bot token (`xoxb-…`, scope `chat:write`): a timed change's end is posted in the channel
    /// it was made in. Without it, only the audit webhook hears of it.
    #[arg(long, env = "SLACK_BOT_TOKEN", hide_env_values = true)]
    pub bot_token: Option<String>,
    /// The Web API's base URL; tests point it at a local stand-in.
    #[arg(long, env = "SLACK_API_URL", default_value = DEFAULT_API_URL)]
    pub api_url: String,
}

impl WebApiArgs {
    /// The Web API, if a bot token is set; an API URL off Slack's hosts is an error.
    pub fn web_api(&self, hosts: &SlackHosts) -> Result<Option<WebApi>, HostError> {
        match self.bot_token.as_deref().and_then(BotToken::new) {
            Some(token) => WebApi::new(token, &self.api_url, hosts).map(Some),
            None => Ok(None),
        }
    }
}

fn parse_fraction(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("`{raw}` is not a fraction from 0 to 1")),
    }
}

/// How this process uses API Gateway's management API.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Management API calls per second this process makes at most, on average. The account's
    /// budget, about 10 per second with bursts of 40, is shared with every deploy pipeline in
    /// the account.
    #[arg(long, env = "AWS_CALLS_PER_SECOND", default_value_t = 5.0, value_parser = parse_rate)]
    pub calls_per_second: f64,
    /// Management API calls this process may make at once after a quiet spell (the bucket's
    /// size); a quiet service's change then never waits for the pace.
    #[arg(long, env = "AWS_CALLS_BURST", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=40))]
    pub calls_burst: u32,
    /// Seconds before the same name, missing from the cached list of APIs, may refresh it
    /// again.
    #[arg(long, env = "API_LIST_REFRESH_SECS", default_value = "5", value_parser = parse_secs)]
    pub api_list_refresh: Duration,
    /// A TOML file of other accounts and regions to reach (`[[target]]` with `alias`,
    /// `region`, and optionally `role_arn` and `external_id`), named in commands as
    /// `alias:api`. Without it, the service's own account and region only.
    #[arg(long, env = "THROTTLE_TARGETS")]
    pub targets_file: Option<String>,
    /// Seconds between UpdateUsagePlan calls in one account (AWS allows about one every 20 s);
    /// a change that must wait for its turn is told so, with the wait.
    #[arg(long, env = "PLAN_CALLS_INTERVAL_SECS", default_value = "20", value_parser = parse_secs)]
    pub plan_spacing: Duration,
    /// The targets file's text, instead of THROTTLE_TARGETS.
    #[arg(long, env = "THROTTLE_TARGETS_TOML", hide_env_values = true)]
    pub targets_toml: Option<String>,
}

impl AwsArgs {
    /// The gateway's settings; a targets file that cannot be read or is wrong stops start-up.
    pub fn settings(&self) -> Result<GatewaySettings, TargetsError> {
        let targets = targets::load(self.targets_file.as_deref(), self.targets_toml.as_deref())?;
        if !targets.is_empty() {
            let aliases: Vec<&str> = targets.iter().map(|t| t.alias.as_str()).collect();
            tracing::info!(targets = %aliases.join(", "), "other accounts and regions configured");
        }
        Ok(GatewaySettings {
            calls_per_second: self.calls_per_second,
            calls_burst: self.calls_burst,
            list_refresh: self.api_list_refresh,
            targets,
            plan_spacing: self.plan_spacing,
            // Set with the seal, from the signing secret (`jobs::app_runner`).
            records_mark: None,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy and print its rules in plain words.
    Check {
        /// The policy file (default: THROTTLE_POLICY).
        #[arg(env = "THROTTLE_POLICY")]
        file: String,
    },
    /// Say whether a slash command would be allowed, and by which rule.
    Explain {
        /// The policy file (default: THROTTLE_POLICY).
        #[arg(long, env = "THROTTLE_POLICY")]
        file: String,
        /// Slack user id of who would run it.
        #[arg(long)]
        user: String,
        /// Slack channel id it would be run in.
        #[arg(long)]
        channel: Option<String>,
        /// Slack workspace id it would come from.
        #[arg(long)]
        team: Option<String>,
        /// The command's text, e.g. `petstore prod 50 100`.
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The service's public base URL, e.g. https://bot.example.com
    #[arg(
        long,
        required_unless_present = "socket_mode",
        conflicts_with = "socket_mode"
    )]
    pub url: Option<String>,
    /// The Socket Mode variant: no request URLs (for `throttle-bot socket`).
    #[arg(long)]
    pub socket_mode: bool,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The address the service listens on; the probe goes to its port on 127.0.0.1.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:3000")]
    pub listen_addr: SocketAddr,
    /// The separate listener for /healthz, when the service has one; probed instead.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

#[derive(Debug, Args)]
pub struct SocketArgs {
    /// App-level token (`xapp-…`, scope `connections:write`) that opens Socket Mode
    /// connections.
    #[arg(long, env = "SLACK_APP_TOKEN", hide_env_values = true)]
    pub app_token: Option<String>,
    /// How many connections to hold at once (1–10; Slack spreads envelopes across them).
    #[arg(long, env = "SOCKET_CONNECTIONS", default_value = "1", value_parser = clap::value_parser!(u8).range(1..=10))]
    pub socket_connections: u8,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Slack app signing secret (required).
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<String>,

    /// Incoming-webhook URL for audit notices; notices are skipped when unset.
    #[arg(long, env = "SLACK_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,

    /// Address and port to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:3000")]
    pub listen_addr: SocketAddr,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub slack_hosts: SlackHostArgs,

    #[command(flatten)]
    pub safety: SafetyArgs,

    #[command(flatten)]
    pub web_api: WebApiArgs,

    /// Seconds between sweeps of every stage's timed changes (also one at start-up): a change
    /// whose process died is restored by the next sweep once overdue by this much.
    #[arg(long, env = "SWEEP_INTERVAL_SECS", default_value = "300", value_parser = parse_positive_secs)]
    pub sweep_interval: Duration,

    /// Which APIs the sweep reads: `all`, `none` (restores only what this process made), or a
    /// comma-separated list of API ids (REST or HTTP).
    #[arg(long, env = "SWEEP_APIS", default_value = "all", value_parser = SweepScope::parse)]
    pub sweep_apis: SweepScope,

    /// A separate address for /healthz, /readyz and /metrics; they then leave the Slack-facing
    /// listener.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value = "10", value_parser = parse_secs)]
    pub header_read_timeout: Duration,

    /// Open connections at once; more are closed as they arrive.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Commands running at once; more are told to try again.
    #[arg(long, env = "MAX_JOBS", default_value_t = 64)]
    pub max_jobs: usize,

    /// Seconds a whole request may take, from its headers to its answer.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value = "20", value_parser = parse_secs)]
    pub request_timeout: Duration,

    /// Seconds to let running commands finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value = "25", value_parser = parse_secs)]
    pub shutdown_grace: Duration,
}

fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{raw}` is not a number of calls per second above 0"
        )),
    }
}

fn parse_positive_secs(raw: &str) -> Result<Duration, String> {
    match raw.parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(format!("`{raw}` is not a whole number of seconds above 0")),
    }
}

fn parse_secs(raw: &str) -> Result<Duration, String> {
    raw.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("`{raw}` is not a whole number of seconds"))
}
