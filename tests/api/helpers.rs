use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_apigateway::Client as AwsClient;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

pub const SIGNING_SECRET: &str = "test-signing-secret-8f742231b10e";
pub const USER: &str = "U2CERLKJA";
pub const CHANNEL: &str = "C0123ABC";
pub const TEAM: &str = "T1DC2JH3J";
const WAIT: Duration = Duration::from_secs(20);

// ---------- moto ----------

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
    let aws = aws().await;
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

/// The stage-wide (rate, burst) override as GetStage reports it; None when not set.
pub async fn stage_limits(api: &str, stage: &str) -> Option<(f64, i32)> {
    setting_limits(api, stage, "*/*").await
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

// ---------- Slack stand-ins ----------

#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub body: Value,
}

#[derive(Clone, Default)]
struct CaptureState {
    posts: Arc<Mutex<Vec<Captured>>>,
    webhook_status: Arc<Mutex<Option<StatusCode>>>,
    webhook_delay: Arc<Mutex<Duration>>,
}

/// A local HTTP server that records every JSON POST: `/reply` stands in for `response_url`,
/// `/webhook` for the audit incoming webhook.
pub struct SlackStandIn {
    pub addr: SocketAddr,
    state: CaptureState,
}

impl SlackStandIn {
    pub async fn start() -> Self {
        let state = CaptureState::default();
        let app = axum::Router::new()
            .fallback(capture)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Makes the webhook answer with this status from now on.
    pub fn webhook_answers(&self, status: StatusCode) {
        *self.state.webhook_status.lock().unwrap() = Some(status);
    }

    /// Makes the webhook take this long to answer from now on.
    pub fn webhook_takes(&self, delay: Duration) {
        *self.state.webhook_delay.lock().unwrap() = delay;
    }

    pub fn posts_to(&self, path: &str) -> Vec<Value> {
        self.state
            .posts
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.path == path)
            .map(|c| c.body.clone())
            .collect()
    }

    /// Waits until `path` has received at least `count` posts.
    pub async fn wait_for(&self, path: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let posts = self.posts_to(path);
            if posts.len() >= count {
                return posts;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} received {} posts, expected {count}",
                posts.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn capture(
    State(state): State<CaptureState>,
    uri: Uri,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let path = uri.path().to_owned();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.posts.lock().unwrap().push(Captured {
        path: path.clone(),
        body,
    });
    if path == "/webhook" {
        let delay = *state.webhook_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
    }
    match (*state.webhook_status.lock().unwrap(), path.as_str()) {
        (Some(status), "/webhook") => (status, "rollup_error"),
        _ => (StatusCode::OK, "ok"),
    }
}

// ---------- the service under test ----------

pub struct TestApp {
    pub addr: SocketAddr,
    pub slack: SlackStandIn,
    /// The recording proxy to moto, when `Options::aws_delay` asked for one.
    pub aws: Option<AwsProxy>,
    pub http: reqwest::Client,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

pub struct Options {
    pub webhook: bool,
    /// Puts a proxy in front of moto that records every AWS call and holds it this long.
    pub aws_delay: Option<Duration>,
    pub extra_env: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            webhook: true,
            aws_delay: None,
            extra_env: Vec::new(),
        }
    }
}

/// A proxy in front of moto: records each call as `METHOD /path` and holds it `delay` first.
pub struct AwsProxy {
    pub url: String,
    calls: Arc<Mutex<Vec<String>>>,
}

impl AwsProxy {
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

type ProxyState = (Duration, reqwest::Client, Arc<Mutex<Vec<String>>>);

pub async fn aws_proxy(delay: Duration) -> AwsProxy {
    async fn forward(
        State((delay, client, calls)): State<ProxyState>,
        request: axum::extract::Request,
    ) -> axum::response::Response {
        calls
            .lock()
            .unwrap()
            .push(format!("{} {}", request.method(), request.uri().path()));
        tokio::time::sleep(delay).await;
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let target = format!("{}{}", moto().endpoint, parts.uri.path_and_query().unwrap());
        let mut headers = parts.headers.clone();
        headers.remove(axum::http::header::HOST);
        let answer = client
            .request(parts.method, target)
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.bytes().await.unwrap();
        let mut response = axum::response::Response::new(axum::body::Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().fallback(forward).with_state((
        delay,
        reqwest::Client::new(),
        Arc::clone(&calls),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    AwsProxy {
        url: format!("http://{addr}"),
        calls,
    }
}

/// The service's binary with a clean environment that points AWS at moto.
pub fn service_command(slack: Option<&SlackStandIn>, webhook: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_throttle-bot"));
    command
        .env_clear()
        .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LOG_FORMAT", "json");
    if let (Some(slack), true) = (slack, webhook) {
        command.env("SLACK_WEBHOOK_URL", slack.url("/webhook"));
    }
    command
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let slack = SlackStandIn::start().await;
        let mut command = service_command(Some(&slack), options.webhook);
        command.arg("serve");
        let aws = match options.aws_delay {
            Some(delay) => {
                let proxy = aws_proxy(delay).await;
                command.env("AWS_ENDPOINT_URL", &proxy.url);
                Some(proxy)
            }
            None => None,
        };
        for (key, value) in &options.extra_env {
            command.env(key, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start throttle-bot");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let addr = addr.split('"').next().unwrap_or(addr).trim().to_owned();
                    let _ = tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(WAIT))
            .await
            .unwrap()
            .expect("throttle-bot printed its address")
            .parse()
            .unwrap();
        Self {
            addr,
            slack,
            aws,
            http: reqwest::Client::new(),
            child,
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Sends SIGTERM, as a container runtime does to stop the service.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "could not send SIGTERM");
    }

    /// Sends SIGHUP, as an operator does to reload the policy.
    pub fn hangup(&self) {
        let sent = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "could not send SIGHUP");
    }

    /// Waits for the process to exit by itself; returns its exit status.
    pub async fn wait_for_exit(mut self) -> (std::process::ExitStatus, Self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "throttle-bot did not exit"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The form Slack would send for `/throttle <text>`, answering to our stand-in.
    pub fn command_form(&self, text: &str) -> String {
        slack_form(text, &self.slack.url("/reply"))
    }

    /// Posts `/throttle <text>` as another user, channel or workspace.
    pub async fn command_from(&self, from: From<'_>, text: &str) -> reqwest::Response {
        let body = serde_urlencoded::to_string([
            ("team_id", from.team),
            ("channel_id", from.channel),
            ("user_id", from.user),
            ("command", "/throttle"),
            ("text", text),
            ("response_url", &self.slack.url("/reply")),
        ])
        .unwrap();
        self.post_signed(body.into_bytes()).await
    }

    /// Posts `/throttle <text>` signed as Slack would sign it now.
    pub async fn command(&self, text: &str) -> reqwest::Response {
        let body = self.command_form(text);
        self.post_signed(body.into_bytes()).await
    }

    pub async fn post_signed(&self, body: Vec<u8>) -> reqwest::Response {
        let timestamp = now().to_string();
        let signature = sign(SIGNING_SECRET, &timestamp, &body);
        self.post_with(body, Some(&timestamp), Some(&signature))
            .await
    }

    pub async fn post_with(
        &self,
        body: Vec<u8>,
        timestamp: Option<&str>,
        signature: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url("/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(timestamp) = timestamp {
            request = request.header("x-slack-request-timestamp", timestamp);
        }
        if let Some(signature) = signature {
            request = request.header("x-slack-signature", signature);
        }
        request.send().await.expect("throttle-bot answered")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Who sends a command.
#[derive(Clone, Copy)]
pub struct From<'a> {
    pub user: &'a str,
    pub channel: &'a str,
    pub team: &'a str,
}

/// The default sender of [`TestApp::command`].
pub const ME: From<'static> = From {
    user: USER,
    channel: CHANNEL,
    team: TEAM,
};

/// The form Slack sends for `/throttle <text>`.
pub fn slack_form(text: &str, response_url: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "deprecated"),
        ("team_id", TEAM),
        ("team_domain", "testteam"),
        ("channel_id", CHANNEL),
        ("channel_name", "ops"),
        ("user_id", USER),
        ("user_name", "roadrunner"),
        ("command", "/throttle"),
        ("text", text),
        ("response_url", response_url),
        (
            "trigger_id",
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        ),
    ])
    .unwrap()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Unique names so tests can share one moto server.
pub fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// The text of a Slack message as a person sees it: the fallback `text`, unescaped.
pub fn shown(message: &Value) -> String {
    text_of(message)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of a Slack message: the fallback `text`, as sent.
pub fn text_of(message: &Value) -> String {
    message["text"].as_str().unwrap_or_default().to_owned()
}
