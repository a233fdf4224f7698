//! Slack requests arriving as API Gateway or function URL events, answered by the same router,
//! in the response shape of the event that asked.

use axum::body::Body;
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::request::{LambdaRequest, RequestOrigin};
use lambda_http::tower::ServiceExt;
use serde_json::{Value, json};

use crate::http::{MAX_BODY_BYTES, SIGNING_HEADERS};
use crate::jobs::InvocationDeadline;
use axum::http::HeaderValue;

/// Runs the request through the router; returns the proxy-integration response in the shape
/// its origin expects: payload 1.0 (with `multiValueHeaders`) for REST APIs, 2.0 for HTTP APIs
/// and function URLs, as `lambda_http`'s own response types do.
pub async fn handle(
    router: axum::Router,
    request: LambdaRequest,
    deadline: InvocationDeadline,
) -> Value {
    let origin = request.request_origin();
    let signing = every_signing_header(&request);
    let (mut parts, body) = lambda_http::Request::from(request).into_parts();
    // lambda_http keeps one value of a header that `multiValueHeaders` repeats; put them all
    // back, so the signature check refuses duplicates exactly as it does for `serve`.
    for (name, values) in signing {
        parts.headers.remove(name);
        for value in values {
            parts.headers.append(name, value);
        }
    }
    // Route on the path the client asked for, without a REST API's `/{stage}` prefix.
    let raw_path = parts.raw_http_path().to_owned();
    if !raw_path.is_empty()
        && let Ok(uri) = raw_path.parse()
    {
        parts.uri = uri;
    }
    parts.extensions.insert(deadline);
    let request = axum::http::Request::from_parts(parts, Body::from(body.to_vec()));
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, limit = MAX_BODY_BYTES, "the answer was larger than the limit; sending it without a body");
            Default::default()
        }
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let body = (!text.is_empty()).then_some(lambda_http::Body::Text(text));
    let status_code = i64::from(parts.status.as_u16());
    let answer = match origin {
        RequestOrigin::ApiGatewayV1 => {
            let mut answer = ApiGatewayProxyResponse::default();
            answer.status_code = status_code;
            // REST APIs merge `headers` into `multiValueHeaders`; give each once.
            answer.multi_value_headers = parts.headers;
            answer.body = body;
            serde_json::to_value(answer)
        }
        _ => {
            let mut answer = ApiGatewayV2httpResponse::default();
            answer.status_code = status_code;
            answer.headers = parts.headers;
            answer.body = body;
            serde_json::to_value(answer)
        }
    };
    answer.unwrap_or_else(|error| {
        tracing::error!(%error, "could not encode the Lambda HTTP answer");
        json!({ "statusCode": 500 })
    })
}

/// Every value a REST API event carries for each signing header.
fn every_signing_header(request: &LambdaRequest) -> Vec<(&'static str, Vec<HeaderValue>)> {
    let LambdaRequest::ApiGatewayV1(event) = request else {
        return Vec::new();
    };
    SIGNING_HEADERS
        .iter()
        .map(|name| {
            let values = event
                .multi_value_headers
                .get_all(*name)
                .iter()
                .cloned()
                .collect();
            (*name, values)
        })
        .filter(|(_, values): &(_, Vec<HeaderValue>)| values.len() > 1)
        .collect()
}

/// The answer to a Slack request when the function has no signing secret.
pub fn not_configured() -> Value {
    tracing::error!("a Slack request arrived but SLACK_SIGNING_SECRET is not set");
    json!({ "statusCode": 503, "body": "", "isBase64Encoded": false })
}
