//! What the black-box tests share, one job a module: the AWS stand-in (moto), the Slack
//! stand-in, the recording proxy, spawning the service, and signing like Slack.

mod app;
mod http_api;
mod moto;
mod proxy;
mod router;
mod signing;
mod slack;
mod socket;

use std::time::Duration;

pub use app::*;
pub use http_api::*;
pub use moto::*;
pub use proxy::*;
pub use router::*;
pub use signing::*;
pub use slack::*;
pub use socket::*;

/// How long a test waits for something to happen before it fails.
pub const WAIT: Duration = Duration::from_secs(20);
