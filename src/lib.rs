//! throttle-bot: change AWS API Gateway stage throttling from a Slack slash command.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod config;
pub mod domain;
pub mod healthcheck;
pub mod http;
pub mod jobs;
pub mod lambda;
pub mod manifest;
pub mod metrics;
pub mod policy;
pub mod scheduled;
pub mod slack;
pub mod startup;
pub mod telemetry;
pub mod throttler;
