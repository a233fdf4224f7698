//! From `serve`'s and every mode's arguments to checked configuration.

use std::sync::Arc;

use super::{PolicyArgs, ServeArgs, SocketArgs};
use crate::config::{ConfigError, ServeConfig, webhook};
use crate::http::server::Limits;
use crate::policy::{PolicyHandle, PolicySource};
use crate::slack::hosts::SlackHosts;
use crate::slack::signature::SigningSecret;

impl PolicyArgs {
    /// Loads the access policy these arguments name; a bad one, or none at all, is an error: a
    /// typo in the variable's name must not open every stage to everyone.
    pub fn load(&self) -> Result<PolicyHandle, ConfigError> {
        let source = PolicySource::from_settings(self.file.clone(), self.inline.clone())?;
        let handle = PolicyHandle::load(source)?;
        if handle.is_configured() {
            Ok(handle)
        } else {
            Err(ConfigError::NoPolicy)
        }
    }
}

impl TryFrom<ServeArgs> for ServeConfig {
    type Error = ConfigError;

    fn try_from(args: ServeArgs) -> Result<Self, Self::Error> {
        let signing_secret = args
            .signing_secret
            .and_then(SigningSecret::new)
            .ok_or(ConfigError::MissingSigningSecret)?;
        let slack_hosts = SlackHosts::from(&args.slack_hosts);
        let webhook = webhook(args.webhook_url.as_deref(), &slack_hosts)?;
        let web_api = args
            .web_api
            .web_api(&slack_hosts)
            .map_err(ConfigError::BadApiUrl)?;
        Ok(Self {
            signing_secret,
            webhook,
            listen_addr: args.listen_addr,
            shutdown_grace: args.shutdown_grace,
            policy: Arc::new(args.policy.load()?),
            aws: args.aws.settings()?,
            slack_hosts,
            metrics_addr: args.metrics_addr,
            max_jobs: args.max_jobs.max(1),
            confirm_cut_fraction: args.safety.confirm_cut_fraction,
            max_temporary: args.safety.max_temporary,
            confirm_below_traffic: args.safety.confirm_below_traffic,
            impact_after: args.safety.impact_after,
            web_api,
            sweep_interval: args.sweep_interval,
            sweep_apis: args.sweep_apis,
            limits: Limits {
                header_read: args.header_read_timeout,
                max_connections: args.max_connections.max(1),
                request: args.request_timeout,
            },
            socket: None,
        })
    }
}

impl TryFrom<SocketArgs> for ServeConfig {
    type Error = ConfigError;

    fn try_from(args: SocketArgs) -> Result<Self, Self::Error> {
        let token = args
            .app_token
            .as_deref()
            .and_then(crate::socket::AppToken::new)
            .ok_or(ConfigError::MissingAppToken)?;
        let api_url = args.serve.web_api.api_url.clone();
        let mut config = ServeConfig::try_from(args.serve)?;
        let settings = crate::socket::SocketSettings::new(
            token,
            &api_url,
            config.slack_hosts.clone(),
            usize::from(args.socket_connections),
        )
        .map_err(ConfigError::BadApiUrl)?;
        config.socket = Some(settings);
        Ok(config)
    }
}
