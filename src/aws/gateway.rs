use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigateway::types::{Op, PatchOperation};
use tokio::sync::OnceCell;

use crate::domain::{ApiId, ApplyError, StageName, ThrottleChange};

const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(6);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_ATTEMPTS: u32 = 4;

const STAGE_RATE_PATH: &str = "/*/*/throttling/rateLimit";
const STAGE_BURST_PATH: &str = "/*/*/throttling/burstLimit";

/// API Gateway, reached through one SDK client built on first use (or by [`ApiGateway::warm_up`]).
///
/// Building the client may probe the network (IMDS for the region), so it never runs
/// before the server listens.
#[derive(Default)]
pub struct ApiGateway {
    client: OnceCell<Client>,
}

/// A stage's stage-wide throttling as API Gateway reports it; `None` when not set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageThrottling {
    pub rate: Option<f64>,
    pub burst: Option<i32>,
}

impl ApiGateway {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the client now, so that the first command does not wait for it.
    pub async fn warm_up(&self) {
        self.client().await;
    }

    /// Whether the client has been built.
    pub fn is_ready(&self) -> bool {
        self.client.initialized()
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let config = aws_config::defaults(BehaviorVersion::latest())
                    .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_timeout(OPERATION_TIMEOUT)
                            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                            .connect_timeout(CONNECT_TIMEOUT)
                            .build(),
                    )
                    .load()
                    .await;
                Client::new(&config)
            })
            .await
    }

    /// Sets the stage-wide rate and burst with two `replace` operations in one `UpdateStage`.
    pub async fn apply(&self, change: &ThrottleChange) -> Result<(), ApplyError> {
        let client = self.client().await;
        let replace = |path: &str, value: String| {
            PatchOperation::builder()
                .op(Op::Replace)
                .path(path)
                .value(value)
                .build()
        };
        client
            .update_stage()
            .rest_api_id(change.api.as_str())
            .stage_name(change.stage.as_str())
            .patch_operations(replace(STAGE_RATE_PATH, change.limits.rate.to_string()))
            .patch_operations(replace(STAGE_BURST_PATH, change.limits.burst.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| {
                self.explain(err, client, "apigateway:PATCH", &change.api, &change.stage)
            })
    }

    /// Reads a stage's stage-wide throttling.
    pub async fn stage_throttling(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> Result<StageThrottling, ApplyError> {
        let client = self.client().await;
        let found = client
            .get_stage()
            .rest_api_id(api.as_str())
            .stage_name(stage.as_str())
            .send()
            .await
            .map_err(|err| self.explain(err, client, "apigateway:GET", api, stage))?;
        let stage_wide = found.method_settings().and_then(|m| m.get("*/*"));
        Ok(StageThrottling {
            rate: stage_wide.map(|s| s.throttling_rate_limit()),
            burst: stage_wide.map(|s| s.throttling_burst_limit()),
        })
    }

    fn explain<E, R>(
        &self,
        err: SdkError<E, R>,
        client: &Client,
        action: &str,
        api: &ApiId,
        stage: &StageName,
    ) -> ApplyError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match &err {
            SdkError::TimeoutError(_) => {
                return ApplyError::Timeout {
                    seconds: OPERATION_TIMEOUT.as_secs(),
                };
            }
            SdkError::DispatchFailure(failure) => {
                let why = if failure.is_timeout() {
                    "connection timed out"
                } else if failure.is_io() {
                    "network error"
                } else {
                    "could not send the request"
                };
                return ApplyError::Unavailable(why.to_owned());
            }
            SdkError::ConstructionFailure(_) => {
                return ApplyError::Unavailable(
                    "no AWS credentials or region configured".to_owned(),
                );
            }
            _ => {}
        }
        let code = err.code().unwrap_or_default();
        match code {
            "NotFoundException" => ApplyError::NotFound {
                api: api.to_string(),
                stage: stage.to_string(),
            },
            "AccessDeniedException"
            | "UnauthorizedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException" => {
                let region = client
                    .config()
                    .region()
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "REGION".to_owned());
                ApplyError::AccessDenied {
                    action: action.to_owned(),
                    resource: format!(
                        "arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}"
                    ),
                }
            }
            "TooManyRequestsException" | "LimitExceededException" | "ThrottlingException" => {
                ApplyError::Throttled
            }
            "ConflictException" => ApplyError::Conflict,
            "BadRequestException" => {
                ApplyError::Rejected(err.message().unwrap_or("bad request").to_owned())
            }
            _ => {
                tracing::warn!(code, error = %aws_sdk_apigateway::error::DisplayErrorContext(&err), "unexpected API Gateway error");
                ApplyError::Unavailable(if code.is_empty() {
                    "unexpected response".to_owned()
                } else {
                    code.to_owned()
                })
            }
        }
    }
}
