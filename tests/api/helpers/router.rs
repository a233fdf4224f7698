//! The service's router in this process, for cheap cases that need no AWS and no real socket:
//! requests go through `tower::ServiceExt::oneshot`, exactly as axum would route them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use throttle_bot::aws::GatewaySettings;
use throttle_bot::config::ServeConfig;
use throttle_bot::http::server::Limits;
use throttle_bot::jobs::Mode;
use throttle_bot::policy::PolicyHandle;
use throttle_bot::slack::hosts::SlackHosts;
use throttle_bot::slack::signature::SigningSecret;
use tower::ServiceExt;

use super::signing::{SIGNING_SECRET, now, sign, slack_form};

/// An answer from the in-process router.
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

pub struct InProcess {
    router: axum::Router,
}

impl InProcess {
    /// The router with no policy and no webhook; AWS is never reached by these cases.
    pub fn new() -> Self {
        let config = ServeConfig {
            signing_secret: SigningSecret::new(SIGNING_SECRET).unwrap(),
            webhook: None,
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            shutdown_grace: Duration::from_secs(1),
            policy: Arc::new(PolicyHandle::none()),
            aws: GatewaySettings::default(),
            slack_hosts: SlackHosts::default(),
            metrics_addr: None,
            limits: Limits::default(),
            max_jobs: 8,
            confirm_cut_fraction: 0.5,
            max_temporary: throttle_bot::domain::Hold::DEFAULT_MAX,
            confirm_below_traffic: false,
            impact_after: std::time::Duration::ZERO,
            web_api: None,
            sweep_interval: Duration::from_secs(300),
            sweep_apis: throttle_bot::deadlines::SweepScope::None,
            socket: None,
        };
        // No timed change is made here, so its deadlines go nowhere.
        let (deadlines, _timers) = throttle_bot::deadlines::Timers::new();
        Self {
            router: throttle_bot::http::router(throttle_bot::startup::state(
                &config,
                Mode::Background {
                    max_jobs: 8,
                    impact_after: std::time::Duration::ZERO,
                },
                Arc::new(deadlines),
            )),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Answer { status, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// Posts a body to the slash-command route with these headers (either may be missing).
    pub async fn post(
        &self,
        body: Vec<u8>,
        timestamp: Option<&str>,
        signature: Option<&str>,
    ) -> Answer {
        let mut request = Request::post("/slack/commands")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(timestamp) = timestamp {
            request = request.header("x-slack-request-timestamp", timestamp);
        }
        if let Some(signature) = signature {
            request = request.header("x-slack-signature", signature);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    pub async fn post_signed(&self, body: Vec<u8>) -> Answer {
        let timestamp = now().to_string();
        let signature = sign(SIGNING_SECRET, &timestamp, &body);
        self.post(body, Some(&timestamp), Some(&signature)).await
    }

    /// `/throttle <text>`, signed, from the default sender.
    pub async fn command(&self, text: &str) -> Answer {
        self.command_answering_to(text, "https://hooks.slack.com/commands/T1/1/x")
            .await
    }

    pub async fn command_answering_to(&self, text: &str, response_url: &str) -> Answer {
        self.post_signed(slack_form(text, response_url).into_bytes())
            .await
    }
}
