//! REST APIs (API Gateway v1) in moto, for the tests' own setup and checks: creating APIs and
//! their stages, reading and setting a stage's limits and tags, and the same in other accounts.

use aws_sdk_apigateway::Client as AwsClient;

use super::moto;

/// An API Gateway client for the tests' own setup and checks, talking to moto.
pub async fn aws() -> AwsClient {
    let config = aws_sdk_apigateway::Config::builder()
        .behavior_version(aws_sdk_apigateway::config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(aws_sdk_apigateway::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_apigateway::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    AwsClient::from_conf(config)
}

/// Creates a REST API with one deployed stage; returns the API id.
pub async fn create_api(name: &str, stage: &str) -> String {
    create_api_with_stages(name, &[stage]).await
}

/// Creates a REST API deployed to each of `stages`; returns the API id.
pub async fn create_api_with_stages(name: &str, stages: &[&str]) -> String {
    create_api_on(&aws().await, name, stages).await
}

/// Creates a REST API deployed to each of `stages` with this client (in its account).
pub async fn create_api_on(aws: &AwsClient, name: &str, stages: &[&str]) -> String {
    let api = aws
        .create_rest_api()
        .name(name)
        .send()
        .await
        .expect("create API");
    let id = api.id().unwrap().to_owned();
    let root = aws
        .get_resources()
        .rest_api_id(&id)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id().map(str::to_owned))
        .unwrap();
    aws.put_method()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .expect("put method");
    aws.put_integration()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .send()
        .await
        .expect("put integration");
    // The methods the tests set per-method limits on: throttle-bot refuses a method the API
    // does not have (a setting there would throttle nothing).
    let pets = add_resource(aws, &id, &root, "pets", &["GET", "POST"]).await;
    add_resource(aws, &id, &pets, "{id}", &["GET"]).await;
    for stage in stages {
        aws.create_deployment()
            .rest_api_id(&id)
            .stage_name(*stage)
            .send()
            .await
            .expect("deploy stage");
    }
    id
}

/// Adds a resource under `parent` with these methods; returns its id.
pub async fn add_resource(
    aws: &AwsClient,
    api: &str,
    parent: &str,
    part: &str,
    methods: &[&str],
) -> String {
    let resource = aws
        .create_resource()
        .rest_api_id(api)
        .parent_id(parent)
        .path_part(part)
        .send()
        .await
        .expect("create resource");
    let id = resource.id().unwrap().to_owned();
    for method in methods {
        aws.put_method()
            .rest_api_id(api)
            .resource_id(&id)
            .http_method(*method)
            .authorization_type("NONE")
            .send()
            .await
            .expect("put method");
    }
    id
}

/// The stage-wide (rate, burst) override as GetStage reports it; None when not set.
pub async fn stage_limits(api: &str, stage: &str) -> Option<(f64, i32)> {
    setting_limits(api, stage, "*/*").await
}

/// The stage-wide (rate, burst) override as this client's account sees it; `Err` when the
/// account has no such stage.
pub async fn stage_limits_on(
    aws: &AwsClient,
    api: &str,
    stage: &str,
) -> Result<Option<(f64, i32)>, String> {
    let found = aws
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .map_err(|e| aws_sdk_apigateway::error::DisplayErrorContext(e).to_string())?;
    Ok(found
        .method_settings()
        .and_then(|m| m.get("*/*"))
        .map(|s| (s.throttling_rate_limit(), s.throttling_burst_limit())))
}

/// The (rate, burst) of one method setting key, e.g. `~1pets~1{id}/GET`; None when absent.
pub async fn setting_limits(api: &str, stage: &str, key: &str) -> Option<(f64, i32)> {
    let found = aws()
        .await
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .expect("get stage");
    found
        .method_settings()
        .and_then(|m| m.get(key))
        .map(|s| (s.throttling_rate_limit(), s.throttling_burst_limit()))
}

/// The stage's tags as GetStage reports them.
pub async fn stage_tags(api: &str, stage: &str) -> std::collections::HashMap<String, String> {
    aws()
        .await
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .expect("get stage")
        .tags()
        .cloned()
        .unwrap_or_default()
}

/// Sets the stage-wide limits directly, as someone in the console or a pipeline would.
pub async fn set_stage_limits(api: &str, stage: &str, rate: f64, burst: i32) {
    use aws_sdk_apigateway::types::{Op, PatchOperation};
    let replace = |field: &str, value: String| {
        PatchOperation::builder()
            .op(Op::Replace)
            .path(format!("/*/*/throttling/{field}"))
            .value(value)
            .build()
    };
    aws()
        .await
        .update_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .patch_operations(replace("rateLimit", rate.to_string()))
        .patch_operations(replace("burstLimit", burst.to_string()))
        .send()
        .await
        .expect("update stage");
}

/// An API Gateway client in another account, through moto's STS: the role's account is the
/// one moto keeps the client's resources in, as AWS would.
pub async fn aws_in(account: &str) -> AwsClient {
    use aws_config::sts::AssumeRoleProvider;
    use aws_sdk_apigateway::config::{Credentials, Region, SharedCredentialsProvider};
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    let role = AssumeRoleProvider::builder(role_arn(account, "throttle-bot"))
        .session_name("tests")
        .configure(&base)
        .build()
        .await;
    let config = base
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(role))
        .build();
    AwsClient::new(&config)
}

/// A role's ARN in `account`.
pub fn role_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}
