//! The AWS adapter: API Gateway (and, on Lambda, Lambda itself) through the AWS SDK,
//! configured by the standard aws-config chain.

mod connection;
mod gateway;
mod invoker;
mod pacer;
pub mod scheduler;
mod settings;
mod traffic;

pub use gateway::{ApiGateway, GatewaySettings, Readiness};
pub use invoker::SelfInvoker;
pub use scheduler::{OneTime, ScheduleError, Scheduler};
