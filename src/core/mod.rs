//! The core: the request pipeline in plain Rust. It knows neither Slack, HTTP, Lambda nor the
//! AWS SDK; it reaches API Gateway and people through the two traits in [`ports`].

pub mod clock;
pub mod errors;
pub mod grammar;
pub mod outcome;
pub mod plan;
pub mod ports;
pub mod recent;
pub mod requester;
pub mod runner;
