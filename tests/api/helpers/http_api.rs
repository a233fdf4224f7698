//! HTTP APIs (API Gateway v2) in moto, for the tests' own setup and checks. moto serves
//! CreateApi, CreateRoute, CreateStage, GetStage and GetApis itself; UpdateStage,
//! DeleteRouteSettings and a stage's tags come from the stand-in in
//! `tests/support/moto_server.py` (moto 5 does not implement them).

use aws_sdk_apigatewayv2::Client;
use aws_sdk_apigatewayv2::operation::get_stage::GetStageOutput;
use aws_sdk_apigatewayv2::types::{ProtocolType, RouteSettings};

use super::moto;

pub async fn aws_v2() -> Client {
    let config = aws_sdk_apigatewayv2::Config::builder()
        .behavior_version(aws_sdk_apigatewayv2::config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(aws_sdk_apigatewayv2::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_apigatewayv2::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    Client::from_conf(config)
}

/// Creates an HTTP API with these routes and one stage whose `DefaultRouteSettings` are
/// `defaults` (detailed metrics on, and throttling when given); returns the API id.
pub async fn create_http_api(
    name: &str,
    stage: &str,
    routes: &[&str],
    throttling: Option<(f64, i32)>,
) -> String {
    let aws = aws_v2().await;
    let id = aws
        .create_api()
        .name(name)
        .protocol_type(ProtocolType::Http)
        .send()
        .await
        .expect("create HTTP API")
        .api_id()
        .unwrap()
        .to_owned();
    for route in routes {
        aws.create_route()
            .api_id(&id)
            .route_key(*route)
            .send()
            .await
            .expect("create route");
    }
    let mut defaults = RouteSettings::builder().detailed_metrics_enabled(true);
    if let Some((rate, burst)) = throttling {
        defaults = defaults
            .throttling_rate_limit(rate)
            .throttling_burst_limit(burst);
    }
    aws.create_stage()
        .api_id(&id)
        .stage_name(stage)
        .default_route_settings(defaults.build())
        .send()
        .await
        .expect("create stage");
    id
}

/// Creates a WebSocket API; returns its id.
pub async fn create_websocket_api(name: &str) -> String {
    aws_v2()
        .await
        .create_api()
        .name(name)
        .protocol_type(ProtocolType::Websocket)
        .route_selection_expression("$request.body.action")
        .send()
        .await
        .expect("create WebSocket API")
        .api_id()
        .unwrap()
        .to_owned()
}

/// The stage as GetStage reports it.
pub async fn http_stage(api: &str, stage: &str) -> GetStageOutput {
    aws_v2()
        .await
        .get_stage()
        .api_id(api)
        .stage_name(stage)
        .send()
        .await
        .expect("get HTTP API stage")
}

/// A settings object's (rate, burst); `None` where the fields are absent.
pub fn throttling(settings: Option<&RouteSettings>) -> Option<(f64, i32)> {
    let settings = settings?;
    Some((
        settings.throttling_rate_limit()?,
        settings.throttling_burst_limit()?,
    ))
}
