//! The AWS stand-in: one real moto server per test binary, and an SDK client for the tests' own
//! setup and checks.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use aws_sdk_apigateway::Client as AwsClient;

pub struct Moto {
    pub endpoint: String,
    _process: Mutex<Child>,
}

/// One moto server for this test binary, installed into a venv on first use if needed.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let (python, packages) = python_with_moto();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_server.py");
        let mut command = Command::new(python);
        if let Some(packages) = packages {
            command.env("PYTHONPATH", packages);
        }
        let mut child = command
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read moto's port");
        let port: u16 = line.trim().parse().expect("moto printed its port");
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _process: Mutex::new(child),
        }
    })
}

/// A Python that can import moto: `MOTO_PYTHON`, the system's, or one set up for the tests
/// (a venv under `target/`, or a `pip --target` folder where venv is unavailable).
fn python_with_moto() -> (PathBuf, Option<PathBuf>) {
    if let Some(python) = std::env::var_os("MOTO_PYTHON") {
        return (python.into(), None);
    }
    let has_moto = |python: &std::path::Path, path: Option<&PathBuf>| {
        let mut check = Command::new(python);
        if let Some(path) = path {
            check.env("PYTHONPATH", path);
        }
        check
            .args(["-c", "import moto.server, flask"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let system = PathBuf::from("python3");
    if has_moto(&system, None) {
        return (system, None);
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = tmp.join("moto-venv");
    let venv_python = venv.join("bin/python");
    let packages = tmp.join("moto-packages");
    let lock = std::fs::File::create(tmp.join("moto-install.lock")).expect("create install lock");
    lock.lock().expect("lock the moto install");
    if has_moto(&venv_python, None) {
        return (venv_python, None);
    }
    if has_moto(&system, Some(&packages)) {
        return (system, Some(packages));
    }
    let run = |command: &mut Command| command.status().is_ok_and(|s| s.success());
    let requirement = "moto[server]>=5,<6";
    eprintln!("installing {requirement} for the tests (once)…");
    if run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        && run(Command::new(&venv_python).args(["-m", "pip", "install", "--quiet", requirement]))
    {
        return (venv_python, None);
    }
    let installed = run(Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&packages)
        .arg(requirement));
    assert!(installed, "could not install {requirement} with pip");
    (system, Some(packages))
}

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

/// An EventBridge Scheduler client for the tests' own setup and checks, talking to moto.
pub async fn scheduler() -> aws_sdk_scheduler::Client {
    let config = aws_sdk_scheduler::Config::builder()
        .behavior_version(aws_sdk_scheduler::config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(aws_sdk_scheduler::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_scheduler::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_scheduler::Client::from_conf(config)
}

/// A CloudWatch client for the tests' own data points, talking to moto.
pub async fn cloudwatch() -> aws_sdk_cloudwatch::Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

/// Publishes what API Gateway would for a stage: per minute, `(seconds ago, requests, 4XX)`,
/// under a REST API's name (`4XXError`) or an HTTP API's id (`4xx`).
pub async fn publish_traffic(api: (&str, &str), stage: &str, minutes: &[(i64, f64, f64)]) {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let (dimension, value) = api;
    let errors = if dimension == "ApiId" {
        "4xx"
    } else {
        "4XXError"
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let dimensions = vec![
        Dimension::builder().name(dimension).value(value).build(),
        Dimension::builder().name("Stage").value(stage).build(),
    ];
    let mut request = cloudwatch()
        .await
        .put_metric_data()
        .namespace("AWS/ApiGateway");
    for (ago, requests, client_errors) in minutes {
        for (name, count) in [("Count", requests), (errors, client_errors)] {
            request = request.metric_data(
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dimensions.clone()))
                    .timestamp(DateTime::from_secs(now - ago))
                    .value(*count)
                    .build(),
            );
        }
    }
    request.send().await.expect("put metric data");
}

/// Creates a usage plan covering `stages` (API id, stage), with a plan-wide throttle if given;
/// returns its id.
pub async fn create_usage_plan(
    name: &str,
    stages: &[(&str, &str)],
    throttle: Option<(f64, i32)>,
) -> String {
    use aws_sdk_apigateway::types::{ApiStage, ThrottleSettings};
    let mut create = aws().await.create_usage_plan().name(name);
    for (api, stage) in stages {
        create = create.api_stages(ApiStage::builder().api_id(*api).stage(*stage).build());
    }
    if let Some((rate, burst)) = throttle {
        create = create.throttle(
            ThrottleSettings::builder()
                .rate_limit(rate)
                .burst_limit(burst)
                .build(),
        );
    }
    create
        .send()
        .await
        .expect("create usage plan")
        .id()
        .unwrap()
        .to_owned()
}

/// A usage plan's own throttle and each method throttle in its API stages (`api stage key`).
pub async fn plan_throttles(
    plan: &str,
) -> (
    Option<(f64, i32)>,
    std::collections::BTreeMap<String, (f64, i32)>,
) {
    let found = aws()
        .await
        .get_usage_plan()
        .usage_plan_id(plan)
        .send()
        .await
        .expect("get usage plan");
    let own = found.throttle().map(|t| (t.rate_limit(), t.burst_limit()));
    let mut methods = std::collections::BTreeMap::new();
    for stage in found.api_stages() {
        for (key, t) in stage.throttle().into_iter().flatten() {
            methods.insert(
                format!(
                    "{} {} {key}",
                    stage.api_id().unwrap_or_default(),
                    stage.stage().unwrap_or_default()
                ),
                (t.rate_limit(), t.burst_limit()),
            );
        }
    }
    (own, methods)
}

/// Sets a plan's own throttle directly, as someone in the console would.
pub async fn set_plan_throttle(plan: &str, rate: f64, burst: i32) {
    use aws_sdk_apigateway::types::{Op, PatchOperation};
    let replace = |field: &str, value: String| {
        PatchOperation::builder()
            .op(Op::Replace)
            .path(format!("/throttle/{field}"))
            .value(value)
            .build()
    };
    aws()
        .await
        .update_usage_plan()
        .usage_plan_id(plan)
        .patch_operations(replace("rateLimit", rate.to_string()))
        .patch_operations(replace("burstLimit", burst.to_string()))
        .send()
        .await
        .expect("update usage plan");
}
