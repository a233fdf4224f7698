//! Prometheus metrics: what operators watch on `/metrics`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A command's outcome label: one of a closed set the core names (never free text).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// Why a request was refused before it was read as a command.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Rejection {
    MissingHeader,
    MalformedHeader,
    StaleTimestamp,
    BadSignature,
    TooLarge,
    NotACommand,
    Replay,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingHeader => "missing_header",
            Self::MalformedHeader => "malformed_header",
            Self::StaleTimestamp => "stale_timestamp",
            Self::BadSignature => "bad_signature",
            Self::TooLarge => "too_large",
            Self::NotACommand => "not_a_command",
            Self::Replay => "replay",
        }
    }
}

impl EncodeLabelValue for Rejection {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// A change's outcome by the kind of API it was made on.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Change {
    api_kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: Rejection,
}

/// The service's counters and histograms, and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    commands: Family<Outcome, Counter>,
    changes: Family<Change, Counter>,
    rejected: Family<Reason, Counter>,
    aws_seconds: Histogram,
    webhook_failures: Counter,
    deadline_failures: Counter,
    socket_reconnects: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("throttle_bot");
        let commands = Family::<Outcome, Counter>::default();
        registry.register(
            "commands",
            "Slash commands by outcome (applied, an AWS failure kind, invalid, help)",
            commands.clone(),
        );
        let changes = Family::<Change, Counter>::default();
        registry.register(
            "changes",
            "Changes that reached API Gateway, by the kind of API (rest, http) and outcome (applied, unchanged)",
            changes.clone(),
        );
        let rejected = Family::<Reason, Counter>::default();
        registry.register(
            "rejected_requests",
            "Requests refused before parsing, by reason",
            rejected.clone(),
        );
        let aws_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 13));
        registry.register(
            "aws_call_duration_seconds",
            "Time taken by API Gateway calls, retries included",
            aws_seconds.clone(),
        );
        let webhook_failures = Counter::default();
        registry.register(
            "webhook_failures",
            "Audit notices the webhook did not accept",
            webhook_failures.clone(),
        );
        let deadline_failures = Counter::default();
        registry.register(
            "deadline_failures",
            "Timed changes whose restore could not be scheduled (a sweep or a person must finish it)",
            deadline_failures.clone(),
        );
        let socket_reconnects = Counter::default();
        registry.register(
            "socket_reconnects",
            "Socket Mode connections opened again (asked for by Slack, or after a dropped link)",
            socket_reconnects.clone(),
        );
        Self {
            socket_reconnects,
            registry,
            commands,
            changes,
            rejected,
            aws_seconds,
            webhook_failures,
            deadline_failures,
        }
    }

    pub fn command(&self, outcome: &'static str) {
        self.commands.get_or_create(&Outcome { outcome }).inc();
    }

    /// Counts a change that found its API, by the API's kind.
    pub fn change(&self, api_kind: &'static str, outcome: &'static str) {
        self.changes
            .get_or_create(&Change { api_kind, outcome })
            .inc();
    }

    pub fn rejected(&self, reason: Rejection) {
        self.rejected.get_or_create(&Reason { reason }).inc();
    }

    pub fn aws_call(&self, seconds: f64) {
        self.aws_seconds.observe(seconds);
    }

    pub fn webhook_failed(&self) {
        self.webhook_failures.inc();
    }

    pub fn socket_reconnected(&self) {
        self.socket_reconnects.inc();
    }

    pub fn deadline_failed(&self) {
        self.deadline_failures.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
