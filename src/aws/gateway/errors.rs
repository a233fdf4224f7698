//! API Gateway's failures in terms an operator can act on: which IAM action on which
//! resource, which API or stage was not found, or that AWS could not be reached.

use aws_sdk_apigateway::error::{ProvideErrorMetadata, SdkError};

use super::{TargetGateway, WRITE_TIMEOUT};
use crate::aws::connection::OPERATION_TIMEOUT;
use crate::core::ports::GatewayError;
use crate::domain::{ApiId, StageName};

impl TargetGateway {
    /// A tagging call's failure in operator terms: tags have an IAM resource of their own.
    pub(super) async fn tagging_error<E, R>(
        &self,
        err: SdkError<E, R>,
        action: &str,
        not_found: Option<GatewayError>,
    ) -> GatewayError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let tags = crate::aws::partition::apigateway_arn(&self.region(), "/tags/*");
        let error = self.explain(err, action, &tags, not_found);
        self.named(error).await
    }

    /// A write's failure in operator terms (its timeout is the write's own): `action` on
    /// `resource` is what IAM must allow.
    pub(super) fn write_error<E, R>(
        &self,
        err: SdkError<E, R>,
        api: &ApiId,
        stage: &StageName,
        (action, resource): (&str, &str),
    ) -> GatewayError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let not_found = stage_not_found(api, stage);
        match self.explain(err, action, resource, Some(not_found)) {
            GatewayError::Timeout { .. } => GatewayError::Timeout {
                seconds: WRITE_TIMEOUT.as_secs(),
            },
            error => error,
        }
    }

    /// A failure before AWS answered may be a setup problem: name it if it is.
    pub(super) async fn named(&self, error: GatewayError) -> GatewayError {
        if !matches!(error, GatewayError::Unreachable { .. }) {
            return error;
        }
        let (connection, _) = self.connection().await;
        match connection.recheck().await {
            Err(setup) => setup,
            Ok(()) => error,
        }
    }

    pub(super) fn explain<E, R>(
        &self,
        err: SdkError<E, R>,
        action: &str,
        resource: &str,
        not_found: Option<GatewayError>,
    ) -> GatewayError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let endpoint = || {
            self.connection
                .get()
                .map_or_else(String::new, |(c, _)| c.endpoint.clone())
        };
        match &err {
            SdkError::TimeoutError(_) => {
                return GatewayError::Timeout {
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
                return GatewayError::Unreachable {
                    endpoint: endpoint(),
                    why: why.to_owned(),
                };
            }
            SdkError::ConstructionFailure(_) => {
                return GatewayError::Unreachable {
                    endpoint: endpoint(),
                    why: "could not build the request".to_owned(),
                };
            }
            _ => {}
        }
        let code = err.code().unwrap_or_default();
        match code {
            "NotFoundException" => not_found.unwrap_or_else(|| {
                GatewayError::Unexpected("NotFoundException on a listing".to_owned())
            }),
            "AccessDeniedException"
            | "UnauthorizedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException" => GatewayError::AccessDenied {
                action: action.to_owned(),
                resource: resource.to_owned(),
            },
            "TooManyRequestsException" | "LimitExceededException" | "ThrottlingException" => {
                GatewayError::Throttled
            }
            "ConflictException" => GatewayError::Conflict,
            "BadRequestException" => {
                GatewayError::Rejected(err.message().unwrap_or("bad request").to_owned())
            }
            _ => {
                tracing::warn!(code, error = %aws_sdk_apigateway::error::DisplayErrorContext(&err), "unexpected API Gateway error");
                GatewayError::Unexpected(if code.is_empty() {
                    "no error code".to_owned()
                } else {
                    code.to_owned()
                })
            }
        }
    }
}

/// "API or stage not found", for calls on one stage.
pub(super) fn stage_not_found(api: &ApiId, stage: &StageName) -> GatewayError {
    GatewayError::NotFound {
        api: api.to_string(),
        stage: stage.to_string(),
    }
}
