//! The AWS adapter: API Gateway through the AWS SDK, configured by the standard aws-config chain.

mod gateway;

pub use gateway::{ApiGateway, StageThrottling};
