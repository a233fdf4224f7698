//! A recording proxy in front of moto: proves which AWS calls were (not) made, and can hold
//! every call until the test releases it (AWS "slow" for exactly as long as a test needs).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use tokio::sync::watch;

use super::{WAIT, moto};

/// A proxy in front of moto that records each call as `METHOD /path`.
pub struct AwsProxy {
    pub url: String,
    calls: Arc<Mutex<Vec<String>>>,
    /// The same, once moto has answered each.
    answered: Arc<Mutex<Vec<String>>>,
    gate: watch::Sender<Gate>,
    budget: Arc<Mutex<Option<Bucket>>>,
}

/// API Gateway's management budget, as AWS describes it: a token bucket per account (about 10
/// calls per second, bursts of 40); a call without a token gets `429 TooManyRequestsException`.
/// moto does not model it, so this proxy does.
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: std::time::Instant,
    refused: usize,
}

/// Which calls the proxy lets through now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    Open,
    HoldAll,
    HoldWrites,
}

impl AwsProxy {
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Holds every call from now on until [`AwsProxy::release`].
    pub fn hold(&self) {
        self.gate.send_replace(Gate::HoldAll);
    }

    /// Holds only writes (anything but GET): reads are answered at once.
    pub fn hold_writes(&self) {
        self.gate.send_replace(Gate::HoldWrites);
    }

    pub fn release(&self) {
        self.gate.send_replace(Gate::Open);
    }

    /// Enforces an account budget of `rate` calls per second with bursts of `burst` from now on.
    pub fn limit_to(&self, rate: f64, burst: f64) {
        *self.budget.lock().unwrap() = Some(Bucket {
            rate,
            capacity: burst,
            tokens: burst,
            last: std::time::Instant::now(),
            refused: 0,
        });
    }

    /// How many calls the budget refused.
    pub fn refused(&self) -> usize {
        self.budget
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0, |b| b.refused)
    }

    /// Waits until at least `count` calls starting with `prefix` (`PATCH`, `GET /restapis`) have
    /// arrived.
    pub async fn wait_for_calls_matching(&self, prefix: &str, count: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self
            .calls()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
            < count
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "AWS never received {count} {prefix} calls: {:?}",
                self.calls()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Waits until moto has answered at least `count` calls starting with `prefix`: what a
    /// test does next cannot overtake them.
    pub async fn wait_for_answers_matching(&self, prefix: &str, count: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let answered = || {
            let answered = self.answered.lock().unwrap();
            answered.iter().filter(|c| c.starts_with(prefix)).count()
        };
        while answered() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "AWS never answered {count} {prefix} calls: {:?}",
                self.calls()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Waits until at least `count` calls have arrived (answered or held).
    pub async fn wait_for_calls(&self, count: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "AWS received {} calls, expected {count}: {calls:?}",
                calls.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

#[derive(Clone)]
struct ProxyState {
    client: reqwest::Client,
    calls: Arc<Mutex<Vec<String>>>,
    answered: Arc<Mutex<Vec<String>>>,
    gate: watch::Receiver<Gate>,
    budget: Arc<Mutex<Option<Bucket>>>,
}

impl ProxyState {
    /// Whether a token is left for this call.
    fn within_budget(&self) -> bool {
        let mut budget = self.budget.lock().unwrap();
        let Some(bucket) = budget.as_mut() else {
            return true;
        };
        let now = std::time::Instant::now();
        let earned = now.duration_since(bucket.last).as_secs_f64() * bucket.rate;
        bucket.tokens = (bucket.tokens + earned).min(bucket.capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            bucket.refused += 1;
            false
        }
    }
}

pub async fn aws_proxy() -> AwsProxy {
    async fn forward(
        State(mut state): State<ProxyState>,
        request: axum::extract::Request,
    ) -> axum::response::Response {
        let call = format!("{} {}", request.method(), request.uri().path());
        state.calls.lock().unwrap().push(call.clone());
        let write = request.method() != axum::http::Method::GET;
        let _ = state
            .gate
            .wait_for(|gate| match gate {
                Gate::Open => true,
                Gate::HoldAll => false,
                Gate::HoldWrites => !write,
            })
            .await;
        if !state.within_budget() {
            let mut response = axum::response::Response::new(axum::body::Body::from(
                r#"{"message":"Too Many Requests"}"#,
            ));
            *response.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
            let headers = response.headers_mut();
            headers.insert(
                "x-amzn-errortype",
                "TooManyRequestsException".parse().unwrap(),
            );
            headers.insert("content-type", "application/json".parse().unwrap());
            return response;
        }
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let target = format!("{}{}", moto().endpoint, parts.uri.path_and_query().unwrap());
        let mut headers = parts.headers.clone();
        headers.remove(axum::http::header::HOST);
        let answer = state
            .client
            .request(parts.method, target)
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.bytes().await.unwrap();
        state.answered.lock().unwrap().push(call);
        let mut response = axum::response::Response::new(axum::body::Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let answered = Arc::new(Mutex::new(Vec::new()));
    let (gate, watching) = watch::channel(Gate::Open);
    let budget = Arc::new(Mutex::new(None));
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(ProxyState {
            client: reqwest::Client::new(),
            calls: Arc::clone(&calls),
            answered: Arc::clone(&answered),
            gate: watching,
            budget: Arc::clone(&budget),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    AwsProxy {
        url: format!("http://{addr}"),
        calls,
        answered,
        gate,
        budget,
    }
}
