//! Prometheus metrics: what operators watch on `/metrics`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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

/// One target's sweep (its alias as configured, `home` for the service's own account and
/// region): nothing secret, and one series per target.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SweepTarget {
    target: String,
}

/// A target's sweeps by how they went: `tagging` (found through the tagging API), `listing`
/// (every API listed, the fallback), `leased` (another replica holds the lease), `failed`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SweepPath {
    target: String,
    path: &'static str,
}

/// A target's calls in its last sweep by budget: `apigateway` (the management budget) or
/// `tagging` (the Resource Groups Tagging API's own quota).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SweepCalls {
    target: String,
    api: &'static str,
}

/// What one sweep of one target cost and found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swept {
    /// `tagging` or `listing`.
    pub path: &'static str,
    pub seconds: f64,
    pub management_calls: u64,
    pub tagging_calls: u64,
    /// Timed-change records found (due or not).
    pub records: u64,
}

/// The sweep's figures per target: the last sweep's duration, calls and records found, and
/// how many sweeps went which way.
struct SweepMetrics {
    seconds: Family<SweepTarget, Gauge<f64, std::sync::atomic::AtomicU64>>,
    calls: Family<SweepCalls, Gauge>,
    records: Family<SweepTarget, Gauge>,
    sweeps: Family<SweepPath, Counter>,
}

impl SweepMetrics {
    fn register(registry: &mut Registry) -> Self {
        let sweep = Self {
            seconds: Family::default(),
            calls: Family::default(),
            records: Family::default(),
            sweeps: Family::default(),
        };
        registry.register(
            "sweep_duration_seconds",
            "How long the last sweep of each target took to find its timed changes' records (restores not included)",
            sweep.seconds.clone(),
        );
        registry.register(
            "sweep_calls",
            "AWS calls the last sweep of each target made to find the records, by API (apigateway: the management budget; tagging: its own quota)",
            sweep.calls.clone(),
        );
        registry.register(
            "sweep_records",
            "Timed-change records the last sweep of each target found",
            sweep.records.clone(),
        );
        registry.register(
            "sweeps",
            "Sweeps of each target by path (tagging, listing, leased: another replica sweeps, failed)",
            sweep.sweeps.clone(),
        );
        sweep
    }
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
    sweep: SweepMetrics,
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
        let sweep = SweepMetrics::register(&mut registry);
        Self {
            socket_reconnects,
            sweep,
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

    /// One target's sweep that read its records (`target`: its alias, or `home`).
    pub fn swept(&self, target: &str, swept: Swept) {
        let at = || SweepTarget {
            target: target.to_owned(),
        };
        self.sweep.seconds.get_or_create(&at()).set(swept.seconds);
        let calls = |api| SweepCalls {
            target: target.to_owned(),
            api,
        };
        let as_gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.sweep
            .calls
            .get_or_create(&calls("apigateway"))
            .set(as_gauge(swept.management_calls));
        self.sweep
            .calls
            .get_or_create(&calls("tagging"))
            .set(as_gauge(swept.tagging_calls));
        self.sweep
            .records
            .get_or_create(&at())
            .set(as_gauge(swept.records));
        self.sweep_went(target, swept.path);
    }

    /// Counts one sweep of a target by path (`leased` and `failed` read no records).
    pub fn sweep_went(&self, target: &str, path: &'static str) {
        self.sweep
            .sweeps
            .get_or_create(&SweepPath {
                target: target.to_owned(),
                path,
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_sweep_is_shown_by_duration_calls_per_budget_and_records() {
        let metrics = Metrics::new();
        metrics.swept(
            "prod",
            Swept {
                path: "tagging",
                seconds: 0.25,
                management_calls: 7,
                tagging_calls: 2,
                records: 5,
            },
        );
        metrics.sweep_went("home", "leased");
        let shown = metrics.render();
        for line in [
            r#"throttle_bot_sweep_duration_seconds{target="prod"} 0.25"#,
            r#"throttle_bot_sweep_calls{target="prod",api="apigateway"} 7"#,
            r#"throttle_bot_sweep_calls{target="prod",api="tagging"} 2"#,
            r#"throttle_bot_sweep_records{target="prod"} 5"#,
            r#"throttle_bot_sweeps_total{target="prod",path="tagging"} 1"#,
            r#"throttle_bot_sweeps_total{target="home",path="leased"} 1"#,
        ] {
            assert!(shown.contains(line), "{line} in {shown}");
        }
    }
}
