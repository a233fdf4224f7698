//! throttle-bot: change AWS API Gateway stage throttling from Slack.
//!
//! - `core` — the request pipeline (grammar, requester, planning, ports, runner); no Slack,
//!   HTTP, Lambda or AWS SDK in it.
//! - `domain` — validated throttling types; `policy` — who may change what.
//! - adapters: `aws` (API Gateway through the SDK), `slack` (signatures, forms, messages,
//!   posting), `http` (the axum routes), `socket` (Slack's Socket Mode, into the same
//!   handlers), `lambda` (the Lambda runtime loop), `cli` (operator
//!   subcommands), `scheduled` (the RateLimitCanary job).
//! - `embedded` — an API Gateway account in memory (the runner's tests, `throttle-bot try`);
//!   `terminal` — `try`'s conversation, a terminal in place of Slack.
//! - wiring: `config`, `startup`, `jobs` (where requests run), `metrics`, `telemetry`.

pub mod aws;
pub mod cli;
pub mod config;
pub mod core;
pub mod deadlines;
pub mod domain;
pub mod embedded;
pub mod http;
pub mod jobs;
pub mod lambda;
pub mod metrics;
pub mod policy;
pub mod scheduled;
pub mod slack;
pub mod socket;
pub mod startup;
pub mod telemetry;
pub mod terminal;
