use aws_config::BehaviorVersion;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use tokio::sync::OnceCell;

/// Why the asynchronous invocation failed: AWS's error code, or "no answer".
#[derive(Debug, thiserror::Error)]
#[error("lambda:InvokeFunction failed: {0}")]
pub struct InvokeError(String);

/// Invokes this Lambda function again, asynchronously (`InvocationType::Event`).
pub struct SelfInvoker {
    function_name: String,
    client: OnceCell<Client>,
}

impl SelfInvoker {
    /// The function this invokes (this function's own name).
    pub fn function_name(&self) -> &str {
        &self.function_name
    }

    pub fn new(function_name: String) -> Self {
        Self {
            function_name,
            client: OnceCell::new(),
        }
    }

    pub async fn invoke_async(&self, payload: Vec<u8>) -> Result<(), InvokeError> {
        let client = self
            .client
            .get_or_init(|| async {
                Client::new(&aws_config::defaults(BehaviorVersion::latest()).load().await)
            })
            .await;
        client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| {
                use aws_sdk_lambda::error::ProvideErrorMetadata;
                InvokeError(err.code().unwrap_or("no answer").to_owned())
            })
    }
}
