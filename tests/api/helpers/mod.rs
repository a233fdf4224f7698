//! What the black-box tests share, one job a module: the AWS stand-in (moto) and each service
//! the tests use in it, the Slack stand-in, the recording proxy, spawning the service, and
//! signing like Slack.

mod app;
mod cloudwatch;
mod http_api;
mod moto;
mod proxy;
mod rest_api;
mod router;
mod scheduler;
mod signing;
mod slack;
mod socket;
mod usage_plans;
mod views;

use std::time::Duration;

pub use app::*;
pub use cloudwatch::*;
pub use http_api::*;
pub use moto::*;
pub use proxy::*;
pub use rest_api::*;
pub use router::*;
pub use scheduler::*;
pub use signing::*;
pub use slack::*;
pub use socket::*;
pub use usage_plans::*;
pub use views::*;

/// How long a test waits for something to happen before it fails.
pub const WAIT: Duration = Duration::from_secs(20);
