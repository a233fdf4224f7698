//! A local stand-in for AWS Lambda: the Runtime API the binary polls in Lambda mode, and the
//! `Invoke` API (asynchronous invocations are queued back to the runtime, as Lambda does).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::helpers::{AwsProxy, Options, SlackStandIn, service_command};

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, Value)>,
    results: HashMap<String, Result<Value, Value>>,
    async_invocations: Vec<(String, Value)>,
    next_id: u64,
    /// The function's timeout, as Lambda gives it in each invocation's deadline (default 60 s).
    timeout_ms: Option<u128>,
    /// Send the deadline as `cargo lambda watch` does: the timeout itself, not a Unix time.
    deadline_as_duration: bool,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn enqueue(&self, event: Value) -> String {
        let mut inner = self.0.lock().unwrap();
        inner.next_id += 1;
        let id = format!("request-{}", inner.next_id);
        inner.queue.push_back((id.clone(), event));
        id
    }
}

/// The binary in Lambda mode, its Runtime API, and the Slack stand-ins.
pub struct LambdaHarness {
    pub slack: SlackStandIn,
    /// The recording proxy to moto, when `Options::record_aws` asked for one.
    pub aws: Option<AwsProxy>,
    shared: Shared,
    child: Child,
}

impl LambdaHarness {
    /// From now on, sends each deadline as the local emulator `cargo lambda watch` does.
    pub fn send_deadlines_as_durations(&self, timeout: Duration) {
        let mut inner = self.shared.0.lock().unwrap();
        inner.deadline_as_duration = true;
        inner.timeout_ms = Some(timeout.as_millis());
    }

    pub async fn start(options: Options, args: &[&str]) -> Self {
        let slack = SlackStandIn::start().await;
        let shared = Shared::default();
        shared.0.lock().unwrap().timeout_ms = options.lambda_timeout.map(|t| t.as_millis());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let mut command = service_command(Some(&slack), options.webhook);
        command
            .args(args)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "throttle-bot")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_ENDPOINT_URL_LAMBDA", format!("http://{addr}"));
        let aws = options
            .apply(&mut command, "AWS_ENDPOINT_URL_API_GATEWAY")
            .await;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start throttle-bot in Lambda mode");
        Self {
            slack,
            aws,
            shared,
            child,
        }
    }

    /// Invokes the function with `event`; Ok with its response, Err with its function error.
    pub async fn invoke(&self, event: Value) -> Result<Value, Value> {
        self.invoker().invoke(event).await
    }

    /// Waits for the result of an invocation queued by someone else (an async self-invocation).
    pub async fn result_of(&self, id: &str) -> Result<Value, Value> {
        self.invoker().result_of(id).await
    }

    /// A handle that can invoke the function from another task.
    pub fn invoker(&self) -> Invoker {
        Invoker(self.shared.clone())
    }

    /// The asynchronous invocations the function asked for: (request id, payload).
    pub fn async_invocations(&self) -> Vec<(String, Value)> {
        self.shared.0.lock().unwrap().async_invocations.clone()
    }

    /// The asynchronous invocations whose payload is a hand-off of this kind
    /// (`throttle_bot_job`, `throttle_bot_notice`).
    pub fn hand_offs(&self, kind: &str) -> Vec<(String, Value)> {
        self.async_invocations()
            .into_iter()
            .filter(|(_, payload)| payload.get(kind).is_some())
            .collect()
    }
}

/// Invokes the function, from any task.
pub struct Invoker(Shared);

impl Invoker {
    pub async fn invoke(&self, event: Value) -> Result<Value, Value> {
        let id = self.0.enqueue(event);
        self.result_of(&id).await
    }

    pub async fn result_of(&self, id: &str) -> Result<Value, Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(result) = self.0.0.lock().unwrap().results.get(id) {
                return result.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "no result for {id}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for LambdaHarness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn next(State(shared): State<Shared>) -> Response {
    loop {
        let next = {
            let mut inner = shared.0.lock().unwrap();
            let timeout = inner.timeout_ms.unwrap_or(60_000);
            let as_duration = inner.deadline_as_duration;
            inner
                .queue
                .pop_front()
                .map(|job| (job, timeout, as_duration))
        };
        if let Some(((id, event), timeout, as_duration)) = next {
            let mut headers = HeaderMap::new();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            let deadline = if as_duration { timeout } else { now + timeout };
            headers.insert(
                "lambda-runtime-aws-request-id",
                HeaderValue::from_str(&id).unwrap(),
            );
            headers.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from(deadline as u64),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static(
                    "arn:aws:lambda:us-east-1:123456789012:function:throttle-bot",
                ),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793"),
            );
            return (headers, axum::Json(event)).into_response();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn json_of(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    shared
        .0
        .lock()
        .unwrap()
        .results
        .insert(id, Ok(json_of(&body)));
    StatusCode::ACCEPTED
}

async fn error(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    shared
        .0
        .lock()
        .unwrap()
        .results
        .insert(id, Err(json_of(&body)));
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    shared
        .0
        .lock()
        .unwrap()
        .results
        .insert("init".to_owned(), Err(json_of(&body)));
    StatusCode::ACCEPTED
}

/// Lambda's Invoke API: an `Event` invocation is queued for the runtime and answered 202.
async fn invoke(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    assert_eq!(kind, "Event", "self-invocations must be asynchronous");
    let payload = json_of(&body);
    let id = shared.enqueue(payload.clone());
    shared
        .0
        .lock()
        .unwrap()
        .async_invocations
        .push((id, payload));
    StatusCode::ACCEPTED
}
