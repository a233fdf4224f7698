//! EventBridge Scheduler in moto: the one-time schedules a Lambda leaves, for the tests' checks.

use super::moto;

/// An EventBridge Scheduler client for the tests' own setup and checks, talking to moto.
pub async fn scheduler() -> aws_sdk_scheduler::Client {
    let config = aws_sdk_scheduler::Config::builder()
        .behavior_version(aws_sdk_scheduler::config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(aws_sdk_scheduler::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_scheduler::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_scheduler::Client::from_conf(config)
}
