//! Spawning the real binary against moto and the Slack stand-in, and talking to it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::proxy::{AwsProxy, aws_proxy};
use super::signing::{SIGNING_SECRET, Sender, now, press_form, sign, slack_form};
use super::slack::SlackStandIn;
use super::{WAIT, moto};

pub struct TestApp {
    pub addr: SocketAddr,
    pub slack: SlackStandIn,
    /// The recording proxy to moto, when `Options::record_aws` asked for one.
    pub aws: Option<AwsProxy>,
    pub http: reqwest::Client,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

pub struct Options {
    pub webhook: bool,
    /// Puts a proxy in front of moto that records every AWS call (and can hold them).
    pub record_aws: bool,
    pub extra_env: Vec<(&'static str, String)>,
    /// Settings the test removes from the service's usual environment.
    pub removed_env: Vec<&'static str>,
    /// For a Lambda harness: the function's timeout (each invocation's deadline); 60 s if unset.
    pub lambda_timeout: Option<Duration>,
    /// The mode the service runs in: `serve` unless a test says `socket`.
    pub subcommand: &'static str,
}

impl Options {
    /// Puts these options on the service's command: the recording proxy (if asked for) as the
    /// API Gateway endpoint named by `endpoint_var`, and the extra and removed settings.
    pub async fn apply(&self, command: &mut Command, endpoint_var: &str) -> Option<AwsProxy> {
        let aws = match self.record_aws {
            true => {
                let proxy = aws_proxy().await;
                command.env(endpoint_var, &proxy.url);
                Some(proxy)
            }
            false => None,
        };
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        for key in &self.removed_env {
            command.env_remove(key);
        }
        aws
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            webhook: true,
            record_aws: false,
            extra_env: Vec::new(),
            removed_env: Vec::new(),
            lambda_timeout: None,
            subcommand: "serve",
        }
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
        .env("LOG_FORMAT", "json")
        .env("THROTTLE_POLICY", "allow-all")
        // Every test shares one moto: a process sweeps other tests' stages only when asked to.
        .env("SWEEP_APIS", "none")
        // The Slack stand-ins listen on plain http here.
        .env("INSECURE_TEST_HOSTS", "127.0.0.1");
    if let (Some(slack), true) = (slack, webhook) {
        command.env("SLACK_WEBHOOK_URL", slack.url("/webhook"));
    }
    // Used only with a SLACK_BOT_TOKEN.
    if let Some(slack) = slack {
        command.env("SLACK_API_URL", slack.url("/api"));
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
        command.arg(options.subcommand);
        let aws = options.apply(&mut command, "AWS_ENDPOINT_URL").await;
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

    /// The recording proxy; the test must have asked for it with `Options::record_aws`.
    pub fn aws(&self) -> &AwsProxy {
        self.aws.as_ref().expect("Options::record_aws")
    }

    /// Stops the service the way an orchestrator does and waits until it has exited: every
    /// job it accepted has then ended, so nothing more can be posted.
    pub async fn stop(self) -> Self {
        self.terminate();
        let (status, app) = self.wait_for_exit().await;
        assert!(
            status.success(),
            "exits 0 after a graceful shutdown: {status:?}"
        );
        app
    }

    /// Waits until `needle` appears in at least `count` log lines.
    pub async fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.logs().iter().filter(|l| l.contains(needle)).count() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{needle:?} was not logged {count} times: {:?}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls `/readyz` until it has decided (no longer "starting"); returns status and reason.
    pub async fn readiness(&self) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let answer = self.http.get(self.url("/readyz")).send().await.unwrap();
            let status = answer.status().as_u16();
            let body = answer.text().await.unwrap();
            if !body.starts_with("starting") {
                return (status, body);
            }
            assert!(tokio::time::Instant::now() < deadline, "/readyz: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

    /// The exit status if the process has exited by itself, else `None` (it keeps running).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
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
    pub async fn command_from(&self, from: Sender<'_>, text: &str) -> reqwest::Response {
        let body = serde_urlencoded::to_string([
            ("team_id", from.team),
            ("channel_id", from.channel),
            ("user_id", from.user),
            ("command", "/throttle"),
            ("text", text),
            ("response_url", &self.slack.url("/reply")),
            (
                "trigger_id",
                &super::signing::unique("398738663015.47445629121"),
            ),
        ])
        .unwrap();
        self.post_signed(body.into_bytes()).await
    }

    /// Presses the button labelled `label` in `message` as `user`, the way Slack sends a
    /// `block_actions` interaction; the answer goes to the stand-in's `/actions`.
    pub async fn press(
        &self,
        message: &serde_json::Value,
        label: &str,
        user: &str,
    ) -> reqwest::Response {
        let body = press_form(message, label, user, &self.slack.url("/actions"));
        self.press_with(body).await
    }

    /// Posts a press form (as `press_form` makes it, perhaps altered) signed as Slack would.
    pub async fn press_with(&self, body: String) -> reqwest::Response {
        let timestamp = now().to_string();
        let signature = sign(SIGNING_SECRET, &timestamp, body.as_bytes());
        self.http
            .post(self.url("/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .expect("throttle-bot answered")
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
