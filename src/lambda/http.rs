//! Slack requests arriving as API Gateway or function URL events, answered by the same router.

use axum::body::Body;
use lambda_http::RequestExt;
use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt;
use serde_json::{Map, Value, json};

use crate::http::MAX_BODY_BYTES;

/// Runs the request through the router; returns the proxy-integration response.
/// API Gateway REST (payload 1.0), HTTP APIs and function URLs (2.0) all accept this shape.
pub async fn handle(router: axum::Router, request: LambdaRequest) -> Value {
    let (mut parts, body) = lambda_http::Request::from(request).into_parts();
    // Route on the path the client asked for, without a REST API's `/{stage}` prefix.
    let raw_path = parts.raw_http_path().to_owned();
    if !raw_path.is_empty()
        && let Ok(uri) = raw_path.parse()
    {
        parts.uri = uri;
    }
    let request = axum::http::Request::from_parts(parts, Body::from(body.to_vec()));
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), Value::from(value.to_str().ok()?))))
        .collect();
    json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "isBase64Encoded": false,
    })
}

/// The answer to a Slack request when the function has no signing secret.
pub fn not_configured() -> Value {
    tracing::error!("a Slack request arrived but SLACK_SIGNING_SECRET is not set");
    json!({ "statusCode": 503, "body": "", "isBase64Encoded": false })
}
