//! The AWS setup: region, credentials and endpoint, resolved once in the background after the
//! server listens, and named plainly when something is missing.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, SdkConfig};
use aws_sdk_apigateway::config::{
    Credentials, ProvideCredentials, Region, SharedCredentialsProvider,
};

use super::targets::TargetConfig;
use crate::core::ports::GatewayError;

/// How assumed-role sessions are named in the target account's CloudTrail.
const SESSION_NAME: &str = "throttle-bot";

/// The suffix every call's user agent ends with (`app/throttle-bot`): how `history` tells this
/// service's own calls in CloudTrail from other tools' made with the same identity.
pub const APP_NAME: &str = "throttle-bot";

pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(6);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Reads retry throttling this many times (a user is waiting; writes get more, see the gateway).
const MAX_ATTEMPTS: u32 = 6;
/// Short enough that all the attempts fit well inside the operation timeout, so a failure is
/// reported as what it is (throttled, unreachable) rather than as a timeout.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The shared SDK configuration and what is known about it.
pub struct Connection {
    pub config: SdkConfig,
    /// Where API Gateway calls go, for "could not reach" messages (never holds a secret).
    pub endpoint: String,
    /// `Err` when the region or the credentials could not be found.
    pub setup: Result<(), GatewayError>,
    /// The role assumed for these credentials, if any.
    role: Option<String>,
}

impl Connection {
    /// Loads the standard aws-config chain, then checks that it yields a region and credentials,
    /// logging where each came from (never the keys). For another target: its region, and the
    /// SDK's own assume-role provider on top of the chain when it names a role (credentials
    /// cached and refreshed by the SDK).
    pub async fn resolve(target: Option<&TargetConfig>) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .app_name(AppName::new(APP_NAME).expect("a valid app name"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_max_backoff(MAX_BACKOFF),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(OPERATION_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            );
        if let Some(target) = target {
            loader = loader.region(Region::new(target.region.clone()));
        }
        let base = loader.load().await;
        let role = target.and_then(|t| Some((t.role_arn.clone()?, t.external_id.clone())));
        let config = match &role {
            None => base,
            Some((arn, external_id)) => {
                let mut provider = AssumeRoleProvider::builder(arn.clone())
                    .session_name(SESSION_NAME)
                    .configure(&base);
                if let Some(region) = base.region() {
                    provider = provider.region(region.clone());
                }
                if let Some(id) = external_id {
                    provider = provider.external_id(id.clone());
                }
                let provider = provider.build().await;
                base.into_builder()
                    .credentials_provider(SharedCredentialsProvider::new(provider))
                    .build()
            }
        };
        let endpoint = endpoint(&config);
        let role = role.map(|(arn, _)| arn);
        let setup = check(&config, role.as_deref()).await;
        match &setup {
            Ok(()) => {}
            Err(error) => tracing::error!(%error, "AWS is not set up; commands will say so"),
        }
        Self {
            config,
            endpoint,
            setup,
            role,
        }
    }

    /// Checks the credentials again (after a call failed before reaching AWS).
    pub async fn recheck(&self) -> Result<(), GatewayError> {
        check(&self.config, self.role.as_deref()).await
    }
}

/// Checks that `config` yields a region and credentials; with `role`, that the role could be
/// assumed (named, with STS's error code, when it could not).
async fn check(config: &SdkConfig, role: Option<&str>) -> Result<(), GatewayError> {
    let Some(region) = config.region() else {
        return Err(GatewayError::NoRegion);
    };
    let region_source = if env_set("AWS_REGION") || env_set("AWS_DEFAULT_REGION") {
        "environment"
    } else {
        "profile or instance metadata"
    };
    let Some(provider) = config.credentials_provider() else {
        return Err(GatewayError::NoCredentials(
            "no credentials provider is configured".to_owned(),
        ));
    };
    match provider.provide_credentials().await {
        Ok(credentials) => {
            tracing::info!(
                region = %region,
                region_source,
                credentials_source = credentials_source(&credentials),
                endpoint = %endpoint(config),
                "AWS set up"
            );
            Ok(())
        }
        Err(error) => Err(match role {
            Some(role) => GatewayError::CannotAssume {
                role: role.to_owned(),
                why: refusal(&error),
            },
            None => GatewayError::NoCredentials(format!(
                "{} (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the service an IAM role)",
                aws_sdk_apigateway::error::DisplayErrorContext(&error)
            )),
        }),
    }
}

/// Why STS refused a role, in a word an operator can search for: its error code (`AccessDenied`,
/// `ExpiredToken`, `RegionDisabledException`), or the failure's own words when STS never
/// answered.
fn refusal(error: &(dyn std::error::Error + 'static)) -> String {
    use aws_sdk_sts::error::ProvideErrorMetadata;
    type Refused =
        aws_sdk_sts::error::SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError>;
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return match refused.code() {
                Some(code) => code.to_owned(),
                None => aws_sdk_sts::error::DisplayErrorContext(refused).to_string(),
            };
        }
        source = error.source();
    }
    aws_sdk_apigateway::error::DisplayErrorContext(error).to_string()
}

fn credentials_source(credentials: &Credentials) -> String {
    // `Credentials` has no getter for the provider's name, but its `Debug` (which redacts the
    // secret) starts with it: take that field only, never the rest.
    let debug = format!("{credentials:?}");
    debug
        .split("provider_name: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("unknown")
        .to_owned()
}

fn env_set(key: &str) -> bool {
    std::env::var(key).is_ok_and(|v| !v.trim().is_empty())
}

fn endpoint(config: &SdkConfig) -> String {
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL_API_GATEWAY")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return url;
    }
    match (config.endpoint_url(), config.region()) {
        (Some(url), _) => url.to_owned(),
        (None, Some(region)) => format!("https://apigateway.{region}.amazonaws.com"),
        (None, None) => "API Gateway (no region)".to_owned(),
    }
}
