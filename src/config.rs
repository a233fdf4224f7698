//! Checked configuration for `serve`, built from the command line and environment.

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use crate::aws::GatewaySettings;
use crate::deadlines::SweepScope;
use crate::domain::Hold;
use crate::http::server::Limits;
use crate::policy::{PolicyError, PolicyHandle};
use crate::slack::hosts::{HostError, SlackHosts};
use crate::slack::poster::WebhookUrl;
use crate::slack::signature::SigningSecret;
use crate::slack::web_api::WebApi;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub signing_secret: SigningSecret,
    pub webhook: Option<WebhookUrl>,
    pub listen_addr: SocketAddr,
    pub shutdown_grace: Duration,
    pub policy: Arc<PolicyHandle>,
    pub aws: GatewaySettings,
    pub slack_hosts: SlackHosts,
    /// Where /healthz, /readyz and /metrics are served apart from Slack's routes, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    pub limits: Limits,
    /// Commands running at once; more are told to retry.
    pub max_jobs: usize,
    /// A cut of a level's own value by more than this share asks for confirmation.
    pub confirm_cut_fraction: f64,
    /// The longest a timed change may last.
    pub max_temporary: Hold,
    /// A rate below the last hour's busiest minute asks for confirmation.
    pub confirm_below_traffic: bool,
    /// How long after a change its impact report follows; zero: none.
    pub impact_after: Duration,
    /// Slack's Web API with the bot token, if one is set.
    pub web_api: Option<WebApi>,
    /// Between sweeps for ended timed changes.
    pub sweep_interval: Duration,
    pub sweep_apis: SweepScope,
    /// Under `socket`: how to reach Slack's Socket Mode (the Slack routes are then not served).
    pub socket: Option<crate::socket::SocketSettings>,
}

/// A setting that stops the service from starting. The text never repeats a secret's value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "SLACK_SIGNING_SECRET is not set; it is required to verify requests from Slack and to seal buttons and timed-change records"
    )]
    MissingSigningSecret,
    #[error(
        "SLACK_APP_TOKEN is not set; Socket Mode needs an app-level token (xapp-…, scope connections:write)"
    )]
    MissingAppToken,
    #[error(
        "SLACK_WEBHOOK_URL is not a Slack incoming-webhook URL (https://hooks.slack.com/services/…): {0}"
    )]
    BadWebhookUrl(HostError),
    #[error("SLACK_API_URL is not Slack's Web API (https://slack.com/api): {0}")]
    BadApiUrl(HostError),
    #[error("targets refused: {0}")]
    Targets(#[from] crate::aws::targets::TargetsError),
    #[error("access policy refused: {0}")]
    Policy(#[from] PolicyError),
    #[error(
        "no access policy: set THROTTLE_POLICY to a policy file (or THROTTLE_POLICY_TOML to its text), or THROTTLE_POLICY=allow-all to let everyone in the workspace change every stage"
    )]
    NoPolicy,
}

/// Says at start-up which access policy is in force.
pub fn announce_policy(policy: &PolicyHandle) {
    match policy.current() {
        Some(policy) => tracing::info!(rules = policy.rules.len(), "access policy loaded"),
        None => tracing::warn!(
            "THROTTLE_POLICY=allow-all: anyone in the workspace may change any stage within the account's limits"
        ),
    }
}

/// The optional webhook URL, checked.
pub fn webhook(raw: Option<&str>, hosts: &SlackHosts) -> Result<Option<WebhookUrl>, ConfigError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => WebhookUrl::parse(raw, hosts)
            .map(Some)
            .map_err(ConfigError::BadWebhookUrl),
    }
}

/// Warns, naming the setting, when local stand-ins may be reached over plain http.
pub fn announce_hosts(hosts: &SlackHosts) {
    if !hosts.insecure().is_empty() {
        tracing::warn!(
            hosts = hosts.insecure().join(","),
            "INSECURE_TEST_HOSTS is set: Slack messages may go over plain http to these hosts; never set it in production"
        );
    }
}
