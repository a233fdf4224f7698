//! The AWS adapter: API Gateway (and, on Lambda, Lambda itself) through the AWS SDK,
//! configured by the standard aws-config chain.

mod connection;
mod fleet;
mod gateway;
mod invoker;
mod pacer;
pub mod partition;
mod plan_queue;
pub mod scheduler;
mod settings;
pub mod targets;
mod traffic;

pub use fleet::{ApiGateway, CallCount};
pub use gateway::{GatewaySettings, Readiness};
pub use invoker::SelfInvoker;
pub use scheduler::{OneTime, ScheduleError, Scheduler};
